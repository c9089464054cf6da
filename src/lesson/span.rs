//! Spans and paths in toml's tree: which field an error's span points at.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

pub(super) type Span = Range<usize>;
pub(super) type Value<'a> = Spanned<DeValue<'a>>;

pub(super) fn integer(v: &DeValue<'_>) -> Option<i64> {
    match v {
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
        _ => None,
    }
}

/// The name in toml's "missing field `name`".
pub(super) fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

pub(super) fn join(path: &str, key: &str) -> String {
    let key = if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_string()
    } else {
        format!("{key:?}")
    };
    if path.is_empty() {
        key
    } else {
        format!("{path}.{key}")
    }
}

/// The path of the deepest key or value whose span holds `span` (`exact`: is `span`).
pub(super) fn locate(doc: &DeTable<'_>, span: &Span, exact: bool) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    walk_table(doc, "", 0, span, exact, &mut best);
    best.map(|(_, path)| path)
}

fn walk_table(
    table: &DeTable<'_>,
    prefix: &str,
    depth: usize,
    span: &Span,
    exact: bool,
    best: &mut Option<(usize, String)>,
) {
    for (k, v) in table.iter() {
        let path = join(prefix, k.get_ref());
        let hit = if exact {
            v.span() == *span
        } else {
            holds(&k.span(), span) || holds(&v.span(), span)
        };
        consider(hit, depth, &path, best);
        walk_value(v, &path, depth + 1, span, exact, best);
    }
}

fn walk_value(
    v: &Spanned<DeValue<'_>>,
    path: &str,
    depth: usize,
    span: &Span,
    exact: bool,
    best: &mut Option<(usize, String)>,
) {
    match v.get_ref() {
        DeValue::Table(t) => walk_table(t, path, depth, span, exact, best),
        DeValue::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                let p = format!("{path}[{i}]");
                let hit = if exact {
                    item.span() == *span
                } else {
                    holds(&item.span(), span)
                };
                consider(hit, depth, &p, best);
                walk_value(item, &p, depth + 1, span, exact, best);
            }
        }
        _ => {}
    }
}

fn consider(hit: bool, depth: usize, path: &str, best: &mut Option<(usize, String)>) {
    if hit && best.as_ref().is_none_or(|(d, _)| depth >= *d) {
        *best = Some((depth, path.to_string()));
    }
}

fn holds(outer: &Span, inner: &Span) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}
