//! `{{pg1}}`, `{{write}}`, `{{user}}` … in a lesson's text and SQL: filled in with the
//! learner's own cluster, whose addresses and login differ from machine to machine.
//! `{{replicas}}` is the lesson's own `replicas`, put in when the lesson is read.

use std::collections::BTreeMap;

use super::model::{Action, Check, Lesson};
use super::validate::node_number;
use crate::cluster::topology::Topology;
use crate::runtime::ClusterRuntime;
use crate::settings::Credentials;

/// A placeholder's name → its value.
pub type Vars = BTreeMap<String, String>;

/// The placeholder for the number of replicas the lesson is written for.
pub const REPLICAS: &str = "replicas";

/// Names a lesson may use: `write`, `read` (endpoints as host:port), `pg1`…`pg10` (a node as
/// a client reaches it, host:port), `user`, `password`, `database`, and `replicas` (the
/// lesson's own).
pub fn known(name: &str) -> bool {
    matches!(
        name,
        "write" | "read" | "user" | "password" | "database" | REPLICAS
    ) || node_number(name).is_some()
}

/// Puts the lesson's `replicas` in place of `{{replicas}}` in every text and SQL it holds, so
/// that what the text says of the cluster's size is the size the lesson starts on.
pub fn fill_lesson_constants(lesson: &mut Lesson) {
    let mut v = Vars::new();
    v.insert(REPLICAS.into(), lesson.replicas.to_string());
    let put = |s: &mut String| {
        if s.contains("{{") {
            *s = fill(s, &v);
        }
    };
    let put_actions = |actions: &mut Vec<Action>| {
        for a in actions {
            if let Action::Sql { sql, .. } = a {
                put(sql);
            }
        }
    };
    put(&mut lesson.title);
    put(&mut lesson.summary);
    put_actions(&mut lesson.setup);
    for step in &mut lesson.steps {
        put(&mut step.title);
        put(&mut step.text);
        step.sql.iter_mut().for_each(put);
        step.hints.iter_mut().for_each(put);
        put_actions(&mut step.setup);
        if let Some(solution) = &mut step.solution {
            solution.sql.iter_mut().for_each(put);
            put_actions(&mut solution.actions);
        }
        for check in &mut step.checks {
            match check {
                Check::Sql(c) => put(&mut c.query),
                Check::Ran(r) => put(&mut r.matches),
                Check::Telemetry(_) | Check::Quiz => {}
            }
        }
        if let Some(quiz) = &mut step.quiz {
            put(&mut quiz.question);
            quiz.choices.iter_mut().for_each(put);
            put(&mut quiz.explain);
        }
    }
}

/// A piece of a text: written as it is, or a complete `{{name}}`.
enum Piece<'a> {
    Text(&'a str),
    /// `whole` is `{{ name }}` as written, starting at byte `at` of the text.
    Placeholder {
        at: usize,
        whole: &'a str,
        name: &'a str,
    },
}

/// `text` cut into pieces, each with the byte offset it starts at. An unclosed `{{` is text.
fn pieces(text: &str) -> Vec<(usize, Piece<'_>)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(start) = text[from..].find("{{").map(|i| from + i) {
        let Some(end) = text[start + 2..].find("}}").map(|i| start + 2 + i) else {
            break;
        };
        if start > from {
            out.push((from, Piece::Text(&text[from..start])));
        }
        let piece = Piece::Placeholder {
            at: start,
            whole: &text[start..end + 2],
            name: text[start + 2..end].trim(),
        };
        out.push((start, piece));
        from = end + 2;
    }
    if from < text.len() {
        out.push((from, Piece::Text(&text[from..])));
    }
    out
}

/// The placeholders in `text`, in order.
pub fn names(text: &str) -> Vec<&str> {
    pieces(text)
        .into_iter()
        .filter_map(|(_, p)| match p {
            Piece::Placeholder { name, .. } => Some(name),
            Piece::Text(_) => None,
        })
        .collect()
}

/// `text` with every known placeholder replaced; one without a value stays as written.
pub fn fill(text: &str, vars: &Vars) -> String {
    fill_traced(text, vars).0
}

/// [`fill`], and for each byte of the result the offset in `text` it came from: a value put
/// in for a placeholder comes from the placeholder's `{{`.
pub fn fill_traced(text: &str, vars: &Vars) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(text.len());
    let mut origin = Vec::with_capacity(text.len());
    for (at, piece) in pieces(text) {
        match piece {
            Piece::Text(t) => {
                out.push_str(t);
                origin.extend(at..at + t.len());
            }
            Piece::Placeholder { at, whole, name } => match vars.get(name) {
                Some(v) => {
                    out.push_str(v);
                    origin.extend(std::iter::repeat_n(at, v.len()));
                }
                None => {
                    out.push_str(whole);
                    origin.extend(at..at + whole.len());
                }
            },
        }
    }
    (out, origin)
}

/// The values for a cluster: its endpoints, each node as a client reaches it, the login.
pub fn vars(topo: &Topology, rt: &dyn ClusterRuntime) -> Vars {
    let mut v = credentials(&topo.credentials);
    v.insert("write".into(), topo.endpoints.write.to_string());
    v.insert("read".into(), topo.endpoints.read.to_string());
    for n in &topo.nodes {
        v.insert(n.name.clone(), rt.client_addr(n).to_string());
    }
    v
}

pub fn credentials(c: &Credentials) -> Vars {
    let mut v = Vars::new();
    v.insert("user".into(), c.user.clone());
    v.insert("password".into(), c.password.clone());
    v.insert("database".into(), c.database.clone());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_what_it_knows_and_leaves_the_rest() {
        let mut v = Vars::new();
        v.insert("pg1".into(), "127.0.0.11:5432".into());
        v.insert("user".into(), "me".into());
        assert_eq!(
            fill("\\c postgresql://{{user}}@{{pg1}},{{ pg2 }}/db", &v),
            "\\c postgresql://me@127.0.0.11:5432,{{ pg2 }}/db"
        );
        assert_eq!(fill("no braces", &v), "no braces");
        assert_eq!(fill("open {{pg1", &v), "open {{pg1");
        assert_eq!(names("{{pg1}} and {{ write }} {{x"), ["pg1", "write"]);
        assert!(known("pg10") && known("write") && !known("pg11") && !known("host"));
        assert!(known("replicas") && !known("replica"));
        assert_eq!(fill("{{}} {{user}}}}", &v), "{{}} me}}");
    }

    #[test]
    fn a_traced_fill_says_where_each_byte_came_from() {
        let mut v = Vars::new();
        v.insert("user".into(), "alice".into());
        let (text, origin) = fill_traced("a{{user}}b{{x}}c", &v);
        assert_eq!(text, "aaliceb{{x}}c");
        assert_eq!(origin.len(), text.len());
        // `a`, then alice from the `{{` at 1, then `b` at 9, `{{x}}` as written, `c` at 15.
        assert_eq!(origin, [0, 1, 1, 1, 1, 1, 9, 10, 11, 12, 13, 14, 15]);
        assert_eq!(fill_traced("", &v), (String::new(), Vec::new()));
    }

    #[test]
    fn the_replicas_placeholder_is_the_lessons_own_count() {
        let text = r#"
format = 1
id = "01-size"
title = "{{replicas}} replicas"
summary = "A cluster of {{replicas}}."
replicas = 2

[[steps]]
id = "one"
title = "One"
text = "With {{ replicas }} replicas, on {{read}}."
hints = ["Ask all {{replicas}}."]

[steps.solution]
sql = "SELECT {{replicas}};"

[[steps.checks]]
kind = "sql"
target = "primary"
query = "SELECT count(*) >= {{replicas}} FROM pg_stat_replication"
expect = true

[[steps.checks]]
kind = "quiz"

[steps.quiz]
question = "How many of the {{replicas}}?"
choices = ["{{replicas}}", "none"]
answer = 0
explain = "All {{replicas}}."
"#;
        let lesson = super::super::parse("01-size.toml", text).expect("a valid lesson");
        assert_eq!(lesson.title, "2 replicas");
        assert_eq!(lesson.summary, "A cluster of 2.");
        let step = &lesson.steps[0];
        // Only `replicas` is put in when the file is read; the cluster's own come later.
        assert_eq!(step.text, "With 2 replicas, on {{read}}.");
        assert_eq!(step.hints, ["Ask all 2."]);
        let solution = step.solution.as_ref().expect("a solution");
        assert_eq!(solution.sql.as_deref(), Some("SELECT 2;"));
        assert!(matches!(
            &step.checks[0],
            Check::Sql(c) if c.query == "SELECT count(*) >= 2 FROM pg_stat_replication"
        ));
        let quiz = step.quiz.as_ref().expect("a quiz");
        assert_eq!(quiz.question, "How many of the 2?");
        assert_eq!(quiz.choices, ["2", "none"]);
        assert_eq!(quiz.explain, "All 2.");
    }
}
