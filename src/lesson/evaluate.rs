//! Judging checks: pure functions from what was observed to a verdict the learner can read.
//! The I/O that gathers the observations lives in [`super::probe`].

use super::model::{Check, Expect, Quiz, RanCheck, RanOutcome, TelemetryCheck};
use crate::cluster::status::{NodeState, Role};
use crate::sql::Target;
use crate::telemetry::model::Snapshot;

/// One check's outcome, with a line that says what was seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub pass: bool,
    pub detail: String,
}

impl Verdict {
    pub fn pass(detail: impl Into<String>) -> Verdict {
        Verdict {
            pass: true,
            detail: detail.into(),
        }
    }

    pub fn fail(detail: impl Into<String>) -> Verdict {
        Verdict {
            pass: false,
            detail: detail.into(),
        }
    }
}

/// A statement the learner ran in the console while a step was open, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub text: String,
    /// Where it ran.
    pub target: Target,
    /// `None` when it succeeded.
    pub sqlstate: Option<String>,
    /// It ran on a connection of its own (the console's fresh mode).
    pub fresh: bool,
}

/// What the learner has done on the open step, as far as checks care.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attempt {
    pub runs: Vec<Run>,
    pub quiz_answer: Option<usize>,
}

/// A check that needs no I/O, judged now; `None` for `sql` checks, which need a query.
pub fn judge_local(
    check: &Check,
    attempt: &Attempt,
    quiz: Option<&Quiz>,
    snap: Option<&Snapshot>,
) -> Option<Verdict> {
    match check {
        Check::Sql(_) => None,
        Check::Ran(r) => Some(ran(r, &attempt.runs)),
        Check::Telemetry(t) => Some(match snap {
            Some(s) => telemetry(t, s),
            None => Verdict::fail("waiting for the first telemetry snapshot"),
        }),
        Check::Quiz => Some(match (quiz, attempt.quiz_answer) {
            (None, _) => Verdict::fail("the step has no quiz"),
            (Some(_), None) => Verdict::fail("answer the question"),
            (Some(q), Some(a)) if q.is_right(a) => Verdict::pass("answered right"),
            (Some(_), Some(_)) => Verdict::fail("not that answer: try another"),
        }),
    }
}

pub fn ran(check: &RanCheck, runs: &[Run]) -> Verdict {
    let wanted = match &check.outcome {
        RanOutcome::Success => "succeed".to_string(),
        RanOutcome::Sqlstate(code) => format!("fail with SQLSTATE {code}"),
    };
    let happened = match &check.outcome {
        RanOutcome::Success => "it succeeded".to_string(),
        RanOutcome::Sqlstate(code) => format!("it failed with SQLSTATE {code}, as it should"),
    };
    if runs
        .iter()
        .any(|r| check.satisfied_by(&r.text, &r.target, r.sqlstate.as_deref(), r.fresh))
    {
        return Verdict::pass(happened);
    }
    let matching: Vec<&Run> = runs
        .iter()
        .filter(|r| {
            r.text
                .to_lowercase()
                .contains(&check.matches.to_lowercase())
        })
        .collect();
    let on = check
        .target
        .as_ref()
        .map(|t| format!(" on {}", t.label()))
        .unwrap_or_default();
    match matching.last() {
        None => Verdict::fail(format!("not run{on} yet")),
        Some(last) if check.target.as_ref().is_some_and(|t| *t != last.target) => {
            Verdict::fail(format!("it ran on {}; run it{on}", last.target.label()))
        }
        Some(last) if check.session.is_some_and(|m| m.is_fresh() != last.fresh) => {
            Verdict::fail(if last.fresh {
                "it ran on a fresh connection; press F7 for the sticky session and run it again"
            } else {
                "it ran on the sticky session; press F7 for a fresh connection per run and run \
                 it again"
            })
        }
        Some(last) => Verdict::fail(format!(
            "it {}; it should {wanted}",
            match &last.sqlstate {
                None => "succeeded".to_string(),
                Some(code) => format!("failed with SQLSTATE {code}"),
            }
        )),
    }
}

pub fn telemetry(check: &TelemetryCheck, snap: &Snapshot) -> Verdict {
    let verdict = |pass: bool, detail: String| Verdict { pass, detail };
    match check {
        TelemetryCheck::StreamingReplicas(cmp) => {
            let n = snap
                .nodes
                .iter()
                .filter(|n| n.lag.as_ref().is_some_and(|l| l.streaming))
                .count();
            verdict(
                cmp.holds(n as f64),
                format!(
                    "{n} replica{} streaming (wanted {} {})",
                    if n == 1 { "" } else { "s" },
                    cmp.op.symbol(),
                    cmp.value
                ),
            )
        }
        TelemetryCheck::Role { node, is } => match snap.node(node) {
            None => Verdict::fail(format!("{node} is not in the cluster")),
            Some(n) => {
                // A stopped node keeps the role it last had; it plays none now.
                let seen = match (n.role, n.state) {
                    (_, state) if state != NodeState::Running => state.as_str().to_string(),
                    (Role::Unknown, _) => "unknown".to_string(),
                    (role, _) => role.as_str().to_string(),
                };
                verdict(
                    n.state == NodeState::Running && n.role == *is,
                    format!("{node} is {seen} (wanted {})", is.as_str()),
                )
            }
        },
        TelemetryCheck::Haproxy {
            backend,
            server,
            status,
        } => {
            let row = snap
                .haproxy
                .servers
                .iter()
                .find(|s| s.backend == backend.name() && s.server == *server);
            match row {
                None if snap.haproxy.is_down() => Verdict::fail(
                    snap.haproxy
                        .error
                        .clone()
                        .unwrap_or_else(|| "HAProxy is down".into()),
                ),
                None => Verdict::fail(format!(
                    "HAProxy's {} backend has no server {server}",
                    backend.name()
                )),
                Some(r) => verdict(
                    status.matches(&r.status),
                    format!(
                        "{server} is {} in {} (wanted {})",
                        r.status,
                        backend.name(),
                        status.as_str()
                    ),
                ),
            }
        }
        TelemetryCheck::BytesBehind { node, stage, bound } => {
            match snap.node(node).and_then(|n| n.lag.as_ref()) {
                None => Verdict::fail(format!(
                    "no lag figures for {node}: it is not streaming from the primary"
                )),
                Some(lag) => {
                    let bytes = stage.bytes(lag);
                    let wanted = match bound {
                        super::model::Bound::Above(n) => format!("above {n}"),
                        super::model::Bound::Below(n) => format!("below {n}"),
                    };
                    verdict(
                        bound.holds(bytes),
                        format!(
                            "{node} is {bytes} bytes behind at {} (wanted {wanted})",
                            stage.as_str()
                        ),
                    )
                }
            }
        }
        TelemetryCheck::ReplayPaused { node, is } => {
            match snap.node(node).and_then(|n| n.lag.as_ref()) {
                None => Verdict::fail(format!(
                    "no replay figures for {node}: it is not streaming from the primary"
                )),
                Some(lag) => verdict(
                    lag.replay_paused == *is,
                    format!(
                        "replay on {node} is {} (wanted {})",
                        paused_word(lag.replay_paused),
                        paused_word(*is)
                    ),
                ),
            }
        }
    }
}

fn paused_word(paused: bool) -> &'static str {
    if paused { "paused" } else { "running" }
}

/// A row as psql would list it: `(2, hello, NULL)`.
fn tuple(row: &[Option<String>]) -> String {
    let values: Vec<&str> = row.iter().map(|v| v.as_deref().unwrap_or("NULL")).collect();
    format!("({})", values.join(", "))
}

/// Rows as the server printed them, against what a `sql` check expects.
pub fn rows(expect: &Expect, rows: &[Vec<Option<String>>]) -> Verdict {
    let first = rows.first().and_then(|r| r.first());
    let shown = |v: Option<&Option<String>>| match v {
        None => "no rows".to_string(),
        Some(None) => "NULL".to_string(),
        Some(Some(s)) => format!("{s:?}"),
    };
    match expect {
        Expect::Value(want) => match first {
            Some(Some(got)) if got == want => Verdict::pass(format!("got {want:?}")),
            other => Verdict::fail(format!("got {}, wanted {want:?}", shown(other))),
        },
        Expect::Compare(cmp) => match first {
            Some(Some(text)) => match text.trim().parse::<f64>() {
                Ok(n) => Verdict {
                    pass: cmp.holds(n),
                    detail: format!("got {text}, wanted {} {}", cmp.op.symbol(), cmp.value),
                },
                Err(_) => Verdict::fail(format!("got {text:?}, which is not a number")),
            },
            other => Verdict::fail(format!(
                "got {}, wanted a number {} {}",
                shown(other),
                cmp.op.symbol(),
                cmp.value
            )),
        },
        Expect::Rows(want) => {
            if rows == want.as_slice() {
                Verdict::pass(format!("got the {} expected rows", want.len()))
            } else if rows.len() != want.len() {
                Verdict::fail(format!(
                    "got {} row{}, wanted {}",
                    rows.len(),
                    if rows.len() == 1 { "" } else { "s" },
                    want.len()
                ))
            } else {
                let at = rows.iter().zip(want).position(|(a, b)| a != b).unwrap_or(0);
                Verdict::fail(format!(
                    "row {} is {}, wanted {}",
                    at + 1,
                    tuple(&rows[at]),
                    tuple(&want[at])
                ))
            }
        }
    }
}
