//! The checks on single values: ids, text, node names, targets and durations.

use std::time::Duration;

use toml::Spanned;

use super::model::{CheckTarget, ConsoleMode, MAX_NODE};
use super::read::Parser;
use crate::cluster::topology::node_index;
use crate::sql::Target;

impl Parser<'_, '_> {
    /// A kebab-case id; returns it whether or not it is valid, having reported it if not.
    pub(super) fn id(&mut self, id: &Spanned<String>, path: &str, example: &str) -> String {
        let text = id.get_ref();
        if !is_kebab(text) {
            self.error(
                id.span(),
                path,
                format!(
                    "invalid id {text:?}: use lowercase letters, digits and single hyphens, like {example}"
                ),
            );
        }
        text.clone()
    }

    pub(super) fn text_field(&mut self, s: &Spanned<String>, path: &str) {
        if s.get_ref().trim().is_empty() {
            self.error(s.span(), path, "must not be empty");
        }
        self.placeholders(s, path);
    }

    pub(super) fn optional_text(&mut self, s: &Spanned<String>, path: &str) {
        if s.get_ref().trim().is_empty() {
            self.error(s.span(), path, "must not be empty: leave it out instead");
        }
        self.placeholders(s, path);
    }

    /// `{{name}}` must name something the app can fill in.
    fn placeholders(&mut self, s: &Spanned<String>, path: &str) {
        for name in super::template::names(s.get_ref()) {
            if !super::template::known(name) {
                self.error(
                    s.span(),
                    path,
                    format!(
                        "unknown placeholder {{{{{name}}}}}: use {{{{write}}}}, {{{{read}}}}, \
                         {{{{pg1}}}}…{{{{pg{MAX_NODE}}}}}, {{{{user}}}}, {{{{password}}}}, {{{{database}}}} \
                         or {{{{replicas}}}}"
                    ),
                );
            }
        }
    }

    pub(super) fn node(&mut self, s: &Spanned<String>, path: &str) -> Option<String> {
        let name = s.get_ref();
        if node_number(name).is_some() {
            Some(name.clone())
        } else {
            self.error(
                s.span(),
                path,
                format!("unknown node {name:?}: nodes are pg1…pg{MAX_NODE}"),
            );
            None
        }
    }

    pub(super) fn step_target(&mut self, s: &Spanned<String>, path: &str) -> Option<Target> {
        match s.get_ref().as_str() {
            "write" => Some(Target::Write),
            "read" => Some(Target::Read),
            name if node_number(name).is_some() => Some(Target::Node(name.to_string())),
            name => {
                self.error(s.span(), path, unknown_target(name, "write, read"));
                None
            }
        }
    }

    pub(super) fn console_mode(&mut self, s: &Spanned<String>, path: &str) -> Option<ConsoleMode> {
        match s.get_ref().as_str() {
            "sticky" => Some(ConsoleMode::Sticky),
            "fresh" => Some(ConsoleMode::Fresh),
            other => {
                self.error(
                    s.span(),
                    path,
                    format!(
                        "session {other:?} is not a console mode: write \"sticky\" (one \
                         connection kept) or \"fresh\" (a new one per run)"
                    ),
                );
                None
            }
        }
    }

    pub(super) fn check_target(&mut self, s: &Spanned<String>, path: &str) -> Option<CheckTarget> {
        match s.get_ref().as_str() {
            "write" => Some(CheckTarget::Write),
            "read" => Some(CheckTarget::Read),
            "primary" => Some(CheckTarget::Primary),
            "replicas" => Some(CheckTarget::Replicas),
            name if node_number(name).is_some() => Some(CheckTarget::Node(name.to_string())),
            name => {
                self.error(
                    s.span(),
                    path,
                    unknown_target(name, "write, read, primary, replicas"),
                );
                None
            }
        }
    }
}

fn unknown_target(name: &str, named: &str) -> String {
    if looks_like_node(name) {
        format!("unknown node {name:?}: nodes are pg1…pg{MAX_NODE}")
    } else {
        format!("unknown target {name:?}: use {named} or pg1…pg{MAX_NODE}")
    }
}

/// `pg` and digits: meant as a node, whether or not the number is in range.
fn looks_like_node(name: &str) -> bool {
    name.strip_prefix("pg")
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// The number of a node name in range: `pg1` → 1 … `pg10` → 10.
pub(crate) fn node_number(name: &str) -> Option<u32> {
    node_index(name).map(u32::from).filter(|n| *n <= MAX_NODE)
}

pub(super) fn is_kebab(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// `500ms`, `10s`, `1m`.
pub(super) fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = s.split_at(split);
    let n: u64 = number.parse().ok()?;
    match unit.trim() {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" | "min" => n.checked_mul(60).map(Duration::from_secs),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names() {
        assert_eq!(node_number("pg1"), Some(1));
        assert_eq!(node_number("pg10"), Some(10));
        for bad in ["pg0", "pg11", "pg01", "pg", "pg1a", "PG1", "pg-1", "pg+1"] {
            assert_eq!(node_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m"), Some(Duration::from_secs(60)));
        for bad in ["10", "s", "1.5s", "ten", "-1s", "10 h", ""] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(parse_duration("99999999999999999999m"), None);
    }

    #[test]
    fn kebab_ids() {
        for good in ["01-topology", "a", "step-2"] {
            assert!(is_kebab(good), "{good}");
        }
        for bad in ["", "-a", "a-", "a--b", "A", "a_b", "a b", "é"] {
            assert!(!is_kebab(bad), "{bad}");
        }
    }
}
