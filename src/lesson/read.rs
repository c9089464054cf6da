//! The lesson's head, its steps and their quizzes, read from toml's spanned tree: each item is
//! deserialized on its own and checked, and every mistake is kept with its position.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, Deserializer};

use super::crossfile::Located;
use super::error::{LessonError, Pos};
use super::model::{Check, DEFAULT_REPLICAS, FORMAT, Lesson, Quiz, Solution, Step};
use super::raw::{RawLesson, RawQuiz, RawStep};
use super::read_sql::RunBy;
use super::span::{Span, Value, integer, join, locate, missing_field};
use crate::settings::{MAX_REPLICAS, MIN_REPLICAS};
use crate::sql::Target;

pub(super) fn parse_located(file: &str, text: &str) -> Result<(Lesson, Located), Vec<LessonError>> {
    let (doc, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        return Err(syntax
            .iter()
            .map(|e| LessonError {
                file: file.to_string(),
                pos: e.span().map(|s| Pos::at(text, s.start)),
                field: String::new(),
                message: e.message().trim().to_string(),
            })
            .collect());
    }
    let root_span = doc.span();
    let doc = doc.into_inner();
    let mut p = Parser {
        file,
        text,
        doc: &doc,
        errors: Vec::new(),
    };
    let lesson = p.lesson(root_span);
    let mut errors = p.errors;
    match lesson {
        Some(found) if errors.is_empty() => Ok(found),
        _ => {
            errors.sort_by_key(|(offset, _)| *offset);
            let mut errors: Vec<LessonError> = errors.into_iter().map(|(_, e)| e).collect();
            if errors.is_empty() {
                // Not reached: every path that gives up has said why. Never return an empty list.
                errors.push(LessonError {
                    file: file.to_string(),
                    pos: None,
                    field: String::new(),
                    message: "the lesson could not be read".into(),
                });
            }
            Err(errors)
        }
    }
}

pub(super) struct Parser<'d, 'a> {
    file: &'d str,
    text: &'a str,
    doc: &'d DeTable<'a>,
    /// With the byte offset they point at, to sort them.
    errors: Vec<(usize, LessonError)>,
}

impl<'d, 'a> Parser<'d, 'a> {
    /// The file's text at `span`, as written.
    pub(super) fn source(&self, span: Span) -> Option<&'a str> {
        self.text.get(span)
    }

    pub(super) fn error(&mut self, span: Span, field: &str, message: impl Into<String>) {
        self.errors.push((
            span.start,
            LessonError {
                file: self.file.to_string(),
                pos: Some(Pos::at(self.text, span.start)),
                field: field.to_string(),
                message: message.into(),
            },
        ));
    }

    /// A structural error from toml: its span names the field, unless it is a missing field,
    /// whose span is the table that lacks it.
    fn toml_error(&mut self, e: &toml::de::Error, item: &str) {
        let message = e.message().trim().to_string();
        let Some(span) = e.span() else {
            self.errors.push((
                0,
                LessonError {
                    file: self.file.to_string(),
                    pos: None,
                    field: item.to_string(),
                    message,
                },
            ));
            return;
        };
        let field = match missing_field(&message) {
            Some(name) => {
                let table = locate(self.doc, &span, true).unwrap_or_else(|| item.to_string());
                join(&table, name)
            }
            None => locate(self.doc, &span, false).unwrap_or_else(|| item.to_string()),
        };
        self.error(span, &field, message);
    }

    pub(super) fn table(&mut self, path: &str, v: &'d Value<'a>) -> Option<&'d DeTable<'a>> {
        match v.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                self.error(
                    v.span(),
                    path,
                    format!("invalid type: {}, expected a table", other.type_str()),
                );
                None
            }
        }
    }

    pub(super) fn array(
        &mut self,
        path: &str,
        v: &'d Value<'a>,
    ) -> Option<Vec<(String, &'d Value<'a>)>> {
        match v.get_ref() {
            DeValue::Array(a) => Some(
                a.iter()
                    .enumerate()
                    .map(|(i, item)| (format!("{path}[{i}]"), item))
                    .collect(),
            ),
            other => {
                self.error(
                    v.span(),
                    path,
                    format!("invalid type: {}, expected an array", other.type_str()),
                );
                None
            }
        }
    }

    /// Deserializes the table `v` (at `path`) into `T`.
    pub(super) fn de<T: DeserializeOwned>(&mut self, path: &str, v: &'d Value<'a>) -> Option<T> {
        let table = self.table(path, v)?;
        self.de_table(path, v.span(), table)
    }

    fn de_table<T: DeserializeOwned>(
        &mut self,
        path: &str,
        span: Span,
        table: &DeTable<'a>,
    ) -> Option<T> {
        match T::deserialize(Deserializer::from(Spanned::new(span, table.clone()))) {
            Ok(t) => Some(t),
            Err(e) => {
                self.toml_error(&e, path);
                None
            }
        }
    }

    fn lesson(&mut self, root_span: Span) -> Option<(Lesson, Located)> {
        let doc = self.doc;
        // The format decides how to read the rest: check it before anything else.
        let Some(format) = doc.get("format") else {
            self.error(
                0..0,
                "format",
                format!("missing field `format`: a lesson file starts with `format = {FORMAT}`"),
            );
            return None;
        };
        match integer(format.get_ref()) {
            Some(FORMAT) => {}
            Some(n) => {
                self.error(
                    format.span(),
                    "format",
                    format!(
                        "unsupported format {n}: this version of replica-lab reads format {FORMAT}"
                    ),
                );
                return None;
            }
            None => {
                self.error(
                    format.span(),
                    "format",
                    format!(
                        "invalid type: {}, expected the integer {FORMAT}",
                        format.get_ref().type_str()
                    ),
                );
                return None;
            }
        }
        let head: Option<RawLesson> = self.de_table("", root_span, doc);
        let setup = match doc.get("setup") {
            Some(s) => self.actions("setup", s),
            None => Some(Vec::new()),
        };
        let steps = match doc.get("steps") {
            Some(v) => self.steps(v),
            None => {
                self.error(
                    0..0,
                    "steps",
                    "missing field `steps`: a lesson needs at least one [[steps]] table",
                );
                None
            }
        };
        let head = head?;
        let id = self.id(&head.id, "id", "02-write-read");
        self.text_field(&head.title, "title");
        self.text_field(&head.summary, "summary");
        let mut requires = Vec::new();
        if let Some(list) = &head.requires {
            for (i, req) in list.get_ref().iter().enumerate() {
                let field = format!("requires[{i}]");
                let name = self.id(req, &field, "01-topology");
                if name == id {
                    self.error(req.span(), &field, "a lesson cannot require itself");
                } else if requires.iter().any(|(r, _)| *r == name) {
                    self.error(req.span(), &field, format!("{name:?} is listed twice"));
                } else {
                    requires.push((name, Pos::at(self.text, req.span().start)));
                }
            }
        }
        let replicas = match &head.replicas {
            None => Some(DEFAULT_REPLICAS),
            Some(r) => {
                let n = *r.get_ref();
                let ok = u8::try_from(n)
                    .ok()
                    .filter(|v| (MIN_REPLICAS..=MAX_REPLICAS).contains(v));
                if ok.is_none() {
                    self.error(
                        r.span(),
                        "replicas",
                        format!("{n} replicas is out of range: {MIN_REPLICAS} to {MAX_REPLICAS}"),
                    );
                }
                ok
            }
        };
        let steps = steps?;
        let setup = setup?;
        let replicas = replicas?;
        let located = Located {
            id: Pos::at(self.text, head.id.span().start),
            requires,
        };
        let mut lesson = Lesson {
            format: FORMAT,
            id,
            title: head.title.into_inner(),
            summary: head.summary.into_inner(),
            requires: located.requires.iter().map(|(r, _)| r.clone()).collect(),
            replicas,
            setup,
            steps,
        };
        super::template::fill_lesson_constants(&mut lesson);
        Some((lesson, located))
    }

    pub(super) fn steps(&mut self, v: &'d Value<'a>) -> Option<Vec<Step>> {
        let items = self.array("steps", v)?;
        if items.is_empty() {
            self.error(v.span(), "steps", "a lesson needs at least one step");
        }
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut steps = Vec::new();
        let mut complete = true;
        for (path, item) in items {
            match self.step(&path, item) {
                Some((step, id_span)) => {
                    if let Some(other) = seen.get(&step.id) {
                        self.error(
                            id_span,
                            &format!("{path}.id"),
                            format!("duplicate step id {:?}: {other} has it too", step.id),
                        );
                    } else {
                        seen.insert(step.id.clone(), path.clone());
                    }
                    steps.push(step);
                }
                None => complete = false,
            }
        }
        complete.then_some(steps)
    }

    fn step(&mut self, path: &str, v: &'d Value<'a>) -> Option<(Step, Span)> {
        let table = self.table(path, v)?;
        let raw: Option<RawStep> = self.de(path, v);
        let setup = match table.get("setup") {
            Some(s) => self.actions(&format!("{path}.setup"), s),
            None => Some(Vec::new()),
        };
        let solution_actions = match table
            .get("solution")
            .and_then(|s| s.get_ref().as_table())
            .and_then(|t| t.get("actions"))
        {
            Some(a) => self.actions(&format!("{path}.solution.actions"), a),
            None => Some(Vec::new()),
        };
        let checks_value = table.get("checks");
        let checks = match checks_value {
            Some(c) => self.checks(&format!("{path}.checks"), c),
            None => Some(Vec::new()),
        };
        let raw = raw?;

        let id = self.id(&raw.id, &format!("{path}.id"), "create-table");
        self.text_field(&raw.title, &format!("{path}.title"));
        self.text_field(&raw.text, &format!("{path}.text"));
        let target = match &raw.target {
            Some(t) => self.step_target(t, &format!("{path}.target")),
            None => Some(Target::Write),
        };
        let session = match &raw.session {
            Some(m) => self.console_mode(m, &format!("{path}.session")).map(Some),
            None => Some(None),
        };
        if let Some(sql) = &raw.sql {
            self.optional_text(sql, &format!("{path}.sql"));
            self.sql(sql, &format!("{path}.sql"), RunBy::Console);
        }
        if raw.hints.get_ref().is_empty() {
            self.error(
                raw.hints.span(),
                &format!("{path}.hints"),
                "a step needs at least one hint",
            );
        }
        for (i, hint) in raw.hints.get_ref().iter().enumerate() {
            self.text_field(hint, &format!("{path}.hints[{i}]"));
        }
        let quiz = match &raw.quiz {
            Some(q) => self.quiz(&format!("{path}.quiz"), q),
            None => None,
        };

        let mut checks = checks?;
        let checks_path = format!("{path}.checks");
        if checks.is_empty() {
            if raw.quiz.is_some() {
                // A step with only a quiz is done when the quiz is answered.
                checks.push((Check::Quiz, v.span()));
            } else {
                let span = checks_value.map_or(v.span(), |c| c.span());
                self.error(
                    span,
                    &checks_path,
                    "a step needs at least one check, or a quiz",
                );
            }
        }
        let quiz_checks: Vec<(usize, Span)> = checks
            .iter()
            .enumerate()
            .filter(|(_, (c, _))| *c == Check::Quiz)
            .map(|(i, (_, span))| (i, span.clone()))
            .collect();
        match &raw.quiz {
            None => {
                for (i, span) in &quiz_checks {
                    self.error(
                        span.clone(),
                        &format!("{checks_path}[{i}]"),
                        "a quiz check needs a quiz on its step: add [steps.quiz]",
                    );
                }
            }
            Some(q) if quiz_checks.is_empty() => self.error(
                q.span(),
                &format!("{path}.quiz"),
                "this quiz would not count: add { kind = \"quiz\" } to the step's checks",
            ),
            Some(_) => {
                for (i, span) in quiz_checks.iter().skip(1) {
                    self.error(
                        span.clone(),
                        &format!("{checks_path}[{i}]"),
                        "the quiz is already checked once: remove this check",
                    );
                }
            }
        }

        let needs_solution = checks.iter().any(|(c, _)| *c != Check::Quiz);
        let solution = match &raw.solution {
            Some(s) => {
                let has_actions = s.get_ref().actions.is_some();
                match &s.get_ref().sql {
                    Some(sql) => {
                        let field = format!("{path}.solution.sql");
                        self.text_field(sql, &field);
                        self.sql(sql, &field, RunBy::Console);
                    }
                    None if !has_actions => self.error(
                        s.span(),
                        &format!("{path}.solution"),
                        "a solution needs `sql`, `actions`, or both",
                    ),
                    None => {}
                }
                solution_actions.map(|actions| Solution {
                    sql: s.get_ref().sql.as_ref().map(|q| q.get_ref().clone()),
                    actions,
                })
            }
            None => {
                if needs_solution {
                    self.error(
                        v.span(),
                        &format!("{path}.solution"),
                        "missing field `solution`: add [steps.solution] with the `sql` or \
                         `actions` that do the step",
                    );
                }
                None
            }
        };
        let step = Step {
            id,
            title: raw.title.into_inner(),
            text: raw.text.into_inner(),
            target: target?,
            session: session?,
            sql: raw.sql.map(Spanned::into_inner),
            hints: raw
                .hints
                .into_inner()
                .into_iter()
                .map(Spanned::into_inner)
                .collect(),
            setup: setup?,
            solution,
            checks: checks.into_iter().map(|(c, _)| c).collect(),
            quiz,
        };
        Some((step, raw.id.span()))
    }

    fn quiz(&mut self, path: &str, q: &Spanned<RawQuiz>) -> Option<Quiz> {
        let raw = q.get_ref();
        self.text_field(&raw.question, &format!("{path}.question"));
        self.text_field(&raw.explain, &format!("{path}.explain"));
        let choices = raw.choices.get_ref();
        if choices.len() < 2 {
            self.error(
                raw.choices.span(),
                &format!("{path}.choices"),
                "a quiz needs at least two choices",
            );
        }
        for (i, c) in choices.iter().enumerate() {
            let field = format!("{path}.choices[{i}]");
            self.text_field(c, &field);
            if choices[..i].iter().any(|o| o.get_ref() == c.get_ref()) {
                self.error(c.span(), &field, "the same choice is listed twice");
            }
        }
        let answer = *raw.answer.get_ref();
        let index = usize::try_from(answer).ok().filter(|&a| a < choices.len());
        if index.is_none() {
            let message = if choices.is_empty() {
                format!("answer {answer} is out of range: there are no choices")
            } else {
                format!(
                    "answer {answer} is out of range: the choices are numbered 0 to {}",
                    choices.len() - 1
                )
            };
            self.error(raw.answer.span(), &format!("{path}.answer"), message);
        }
        Some(Quiz {
            question: raw.question.get_ref().clone(),
            choices: choices.iter().map(|c| c.get_ref().clone()).collect(),
            answer: index?,
            explain: raw.explain.get_ref().clone(),
        })
    }
}
