//! A step's checks: the kind of each, and the sql, ran and quiz checks.

use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::model::{Check, CmpOp, Compare, Expect, MAX_WITHIN, RanCheck, RanOutcome, SqlCheck};
use super::raw::{RawCompare, RawQuizCheck, RawRanCheck, RawSqlCheck};
use super::read::Parser;
use super::read_sql::RunBy;
use super::span::{Span, Value, integer, join};
use super::validate::parse_duration;

const EXPECTATIONS: [&str; 3] = ["expect", "expect_rows", "compare"];

impl<'d, 'a> Parser<'d, 'a> {
    pub(super) fn checks(&mut self, path: &str, v: &'d Value<'a>) -> Option<Vec<(Check, Span)>> {
        let items = self.array(path, v)?;
        let mut checks = Vec::new();
        let mut complete = true;
        for (p, item) in items {
            match self.check(&p, item) {
                Some(c) => checks.push((c, item.span())),
                None => complete = false,
            }
        }
        complete.then_some(checks)
    }

    fn check(&mut self, path: &str, v: &'d Value<'a>) -> Option<Check> {
        let table = self.table(path, v)?;
        let kind_path = format!("{path}.kind");
        let Some(kind) = table.get("kind") else {
            self.error(
                v.span(),
                &kind_path,
                "missing field `kind`: use sql, ran, telemetry or quiz",
            );
            return None;
        };
        let Some(name) = kind.get_ref().as_str() else {
            self.error(
                kind.span(),
                &kind_path,
                format!(
                    "invalid type: {}, expected a string",
                    kind.get_ref().type_str()
                ),
            );
            return None;
        };
        match name {
            "sql" => self.sql_check(path, v, table),
            "ran" => self.ran_check(path, v),
            "telemetry" => self.telemetry_check(path, v, table),
            "quiz" => {
                let _: RawQuizCheck = self.de(path, v)?;
                Some(Check::Quiz)
            }
            other => {
                self.error(
                    kind.span(),
                    &kind_path,
                    format!("unknown check kind {other:?}: use sql, ran, telemetry or quiz"),
                );
                None
            }
        }
    }

    /// The keys of `table` among `names`, in file order.
    fn present(table: &'d DeTable<'a>, names: &[&str]) -> Vec<(String, Span, &'d Value<'a>)> {
        let mut found: Vec<(String, Span, &'d Value<'a>)> = table
            .iter()
            .filter(|(k, _)| names.contains(&k.get_ref().as_ref()))
            .map(|(k, v)| (k.get_ref().to_string(), k.span(), v))
            .collect();
        found.sort_by_key(|(_, span, _)| span.start);
        found
    }

    /// At most one of `names` may be in `table`; reports the extra ones.
    pub(super) fn one_of(
        &mut self,
        path: &str,
        table: &'d DeTable<'a>,
        names: &[&str],
        what: &str,
    ) -> Option<(String, &'d Value<'a>)> {
        let found = Self::present(table, names);
        let mut iter = found.into_iter();
        let first = iter.next()?;
        for (name, span, _) in iter {
            self.error(
                span,
                &join(path, &name),
                format!("{what}; this one also has `{}`", first.0),
            );
        }
        Some((first.0, first.2))
    }

    fn sql_check(&mut self, path: &str, v: &'d Value<'a>, table: &'d DeTable<'a>) -> Option<Check> {
        let raw: RawSqlCheck = self.de(path, v)?;
        let target = self.check_target(&raw.target, &format!("{path}.target"));
        let query_path = format!("{path}.query");
        self.text_field(&raw.query, &query_path);
        self.sql(&raw.query, &query_path, RunBy::Server);
        let within = match &raw.within {
            Some(w) => Some(self.within(w, &format!("{path}.within"))?),
            None => None,
        };
        let chosen = self.one_of(
            path,
            table,
            &EXPECTATIONS,
            "a sql check takes exactly one of `expect`, `expect_rows` or `compare`",
        );
        let Some((name, value)) = chosen else {
            self.error(
                v.span(),
                &format!("{path}.expect"),
                "a sql check needs one of `expect` (one value), `expect_rows` or `compare`",
            );
            return None;
        };
        let field = join(path, &name);
        let expect = match name.as_str() {
            "expect" => match self.cell(&field, value)? {
                Some(text) => Expect::Value(text),
                None => {
                    self.error(
                        value.span(),
                        &field,
                        "`expect` is one value and cannot be NULL: use expect_rows = [[{ null = true }]]",
                    );
                    return None;
                }
            },
            "expect_rows" => Expect::Rows(self.rows(&field, value)?),
            _ => {
                let compare = raw.compare.as_ref()?;
                Expect::Compare(self.compare(compare, &field)?)
            }
        };
        Some(Check::Sql(SqlCheck {
            target: target?,
            query: raw.query.into_inner(),
            expect,
            within,
        }))
    }

    fn rows(&mut self, path: &str, v: &'d Value<'a>) -> Option<Vec<Vec<Option<String>>>> {
        let mut rows = Vec::new();
        let mut width: Option<usize> = None;
        for (row_path, row) in self.array(path, v)? {
            let mut cells = Vec::new();
            for (cell_path, cell) in self.array(&row_path, row)? {
                cells.push(self.cell(&cell_path, cell)?);
            }
            match width {
                Some(w) if w != cells.len() => {
                    self.error(
                        row.span(),
                        &row_path,
                        format!(
                            "this row has {} values and the first has {w}: every row has one value per column",
                            cells.len()
                        ),
                    );
                    return None;
                }
                _ => width = Some(cells.len()),
            }
            rows.push(cells);
        }
        Some(rows)
    }

    /// One expected value, as PostgreSQL prints it; `None` is NULL (`{ null = true }`).
    fn cell(&mut self, path: &str, v: &'d Value<'a>) -> Option<Option<String>> {
        match v.get_ref() {
            DeValue::String(s) => Some(Some(s.to_string())),
            DeValue::Integer(_) => match integer(v.get_ref()) {
                Some(n) => Some(Some(n.to_string())),
                None => {
                    self.error(v.span(), path, "integer out of range: write it as a string");
                    None
                }
            },
            DeValue::Boolean(b) => Some(Some(if *b { "t" } else { "f" }.to_string())),
            DeValue::Table(t)
                if t.len() == 1
                    && t.get("null").map(|n| n.get_ref().as_bool()) == Some(Some(true)) =>
            {
                Some(None)
            }
            DeValue::Float(_) => {
                self.error(
                    v.span(),
                    path,
                    "write a decimal as a string, exactly as PostgreSQL prints it (\"1.50\")",
                );
                None
            }
            other => {
                self.error(
                    v.span(),
                    path,
                    format!(
                        "invalid type: {}, expected a string, an integer, a boolean or {{ null = true }}",
                        other.type_str()
                    ),
                );
                None
            }
        }
    }

    pub(super) fn compare(&mut self, c: &Spanned<RawCompare>, path: &str) -> Option<Compare> {
        let raw = c.get_ref();
        let op = CmpOp::from_symbol(raw.op.get_ref());
        if op.is_none() {
            self.error(
                raw.op.span(),
                &format!("{path}.op"),
                format!(
                    "unknown comparison {:?}: use <, <=, =, >=, > or !=",
                    raw.op.get_ref()
                ),
            );
        }
        let value = *raw.value.get_ref();
        if !value.is_finite() {
            self.error(
                raw.value.span(),
                &format!("{path}.value"),
                "compare with a finite number",
            );
            return None;
        }
        Some(Compare { op: op?, value })
    }

    fn within(&mut self, w: &Spanned<String>, path: &str) -> Option<Duration> {
        let text = w.get_ref();
        match parse_duration(text) {
            None => {
                self.error(
                    w.span(),
                    path,
                    format!(
                        "invalid duration {text:?}: write it like \"10s\", \"500ms\" or \"1m\""
                    ),
                );
                None
            }
            Some(d) if d.is_zero() => {
                self.error(
                    w.span(),
                    path,
                    "within must be longer than 0: leave it out to check once",
                );
                None
            }
            Some(d) if d > MAX_WITHIN => {
                self.error(
                    w.span(),
                    path,
                    format!(
                        "within {text:?} is too long: at most {}s",
                        MAX_WITHIN.as_secs()
                    ),
                );
                None
            }
            Some(d) => Some(d),
        }
    }

    fn ran_check(&mut self, path: &str, v: &'d Value<'a>) -> Option<Check> {
        let raw: RawRanCheck = self.de(path, v)?;
        self.text_field(&raw.matches, &format!("{path}.matches"));
        let outcome = match (&raw.sqlstate, &raw.success) {
            (Some(state), Some(success)) => {
                let (span, name) = if success.span().start > state.span().start {
                    (success.span(), "success")
                } else {
                    (state.span(), "sqlstate")
                };
                self.error(
                    span,
                    &format!("{path}.{name}"),
                    "a ran check takes `sqlstate` or `success = true`, not both",
                );
                return None;
            }
            (None, None) => {
                self.error(
                    v.span(),
                    &format!("{path}.success"),
                    "a ran check needs `success = true`, or `sqlstate = \"…\"` for a statement that must fail",
                );
                return None;
            }
            (None, Some(success)) => {
                if !*success.get_ref() {
                    self.error(
                        success.span(),
                        &format!("{path}.success"),
                        "`success = false` says too little: name the failure with `sqlstate`",
                    );
                    return None;
                }
                RanOutcome::Success
            }
            (Some(state), None) => {
                let code = state.get_ref();
                let valid = code.len() == 5
                    && code
                        .chars()
                        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase());
                if !valid {
                    self.error(
                        state.span(),
                        &format!("{path}.sqlstate"),
                        format!(
                            "invalid SQLSTATE {code:?}: five digits or capital letters, like \"25006\""
                        ),
                    );
                    return None;
                }
                RanOutcome::Sqlstate(code.clone())
            }
        };
        let target = match &raw.target {
            Some(t) => Some(self.step_target(t, &format!("{path}.target"))?),
            None => None,
        };
        let session = match &raw.session {
            Some(m) => Some(self.console_mode(m, &format!("{path}.session"))?),
            None => None,
        };
        Some(Check::Ran(RanCheck {
            matches: raw.matches.into_inner(),
            outcome,
            target,
            session,
        }))
    }
}
