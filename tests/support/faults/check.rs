//! The invariants, as pure functions over what a run recorded. Each returns the violations it
//! finds, naming the step (window) they happened in; none of them waits or asks anything.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::observe::{Decided, ReadObs, ReadOutcome, Seen, StatusView, WriteObs, WriteOutcome};
use super::plan::{Expect, Model, Proc, Step};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The step whose window it happened in.
    pub window: usize,
    pub check: &'static str,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step {} [{}] {}", self.window, self.check, self.detail)
    }
}

fn violation(window: usize, check: &'static str, detail: String) -> Violation {
    Violation {
        window,
        check,
        detail,
    }
}

/// `(window, node) → count`, for one tally line per node and step instead of one per write.
fn tally<'a>(items: impl Iterator<Item = (usize, &'a str)>) -> BTreeMap<(usize, String), usize> {
    let mut out = BTreeMap::new();
    for (w, n) in items {
        *out.entry((w, n.to_string())).or_insert(0) += 1;
    }
    out
}

/// No write through the write endpoint may reach a standby.
pub fn writes_reach_only_the_primary(writes: &[WriteObs]) -> Vec<Violation> {
    let refused = writes.iter().filter_map(|w| match &w.outcome {
        WriteOutcome::ReadOnly { node } => Some((w.window, node.as_deref().unwrap_or("?"))),
        _ => None,
    });
    tally(refused)
        .into_iter()
        .map(|((w, node), n)| {
            violation(
                w,
                "write-to-standby",
                format!("the write endpoint sent {n} write(s) to standby {node}"),
            )
        })
        .collect()
}

/// No read through the read endpoint may be answered by a primary.
pub fn reads_reach_only_standbys(reads: &[ReadObs]) -> Vec<Violation> {
    let primaries = reads.iter().filter_map(|r| match &r.outcome {
        ReadOutcome::Answered {
            node,
            in_recovery: false,
        } => Some((r.window, node.as_str())),
        _ => None,
    });
    tally(primaries)
        .into_iter()
        .map(|((w, node), n)| {
            violation(
                w,
                "read-from-primary",
                format!("the read endpoint sent {n} connection(s) to {node}, not in recovery"),
            )
        })
        .collect()
}

/// One writer at a time: in step `w` writes may be acknowledged by the primary the record
/// named before the step and, once the step promoted another, by that one only. An
/// acknowledgement by anyone else, or by the old primary after the new one took writes, means
/// two nodes took writes through the endpoint.
/// `authority[w]` is the record's primary after step `w`; `initial` the one before step 0.
pub fn one_writer_at_a_time(
    writes: &[WriteObs],
    initial: Option<&str>,
    authority: &[Option<String>],
) -> Vec<Violation> {
    let mut by_window: BTreeMap<usize, Vec<&WriteObs>> = BTreeMap::new();
    for w in writes.iter().filter(|w| w.acked_by().is_some()) {
        by_window.entry(w.window).or_default().push(w);
    }
    let mut out = Vec::new();
    for (window, mut acks) in by_window {
        acks.sort_by_key(|w| w.at_ms);
        let before = match window {
            0 => initial,
            w => authority.get(w - 1).and_then(|a| a.as_deref()),
        };
        let after = authority.get(window).and_then(|a| a.as_deref()).or(before);
        let mut new_seen = false;
        let mut bad: BTreeMap<String, usize> = BTreeMap::new();
        for a in acks {
            let node = a.acked_by().unwrap_or("?");
            let ok = if Some(node) == after {
                new_seen = true;
                true
            } else {
                Some(node) == before && !new_seen
            };
            if !ok {
                *bad.entry(node.to_string()).or_insert(0) += 1;
            }
        }
        for (node, n) in bad {
            out.push(violation(
                window,
                "two-writers",
                format!(
                    "{n} write(s) acknowledged by {node} while the primary was {} (before the \
                     step: {})",
                    after.unwrap_or("none"),
                    before.unwrap_or("none")
                ),
            ));
        }
    }
    out
}

/// Two primaries in `status` must both be flagged split brain, and all but one fenced.
pub fn split_brain_is_flagged(
    window: usize,
    status: &StatusView,
    fenced: &BTreeSet<String>,
) -> Vec<Violation> {
    let primaries: Vec<_> = status
        .nodes
        .iter()
        .filter(|n| n.role == "primary")
        .collect();
    if primaries.len() < 2 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let names: Vec<&str> = primaries.iter().map(|n| n.name.as_str()).collect();
    for p in &primaries {
        if !p.flags.iter().any(|f| f == "split_brain") {
            out.push(violation(
                window,
                "split-brain-unflagged",
                format!(
                    "{} is one of the primaries {names:?} but not flagged split_brain",
                    p.name
                ),
            ));
        }
    }
    let unfenced: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !fenced.contains(*n))
        .collect();
    if unfenced.len() > 1 {
        out.push(violation(
            window,
            "split-brain",
            format!("primaries {unfenced:?} are all unfenced"),
        ));
    }
    out
}

/// Asked directly, at most one unfenced node may accept writes.
pub fn one_writable_node(
    window: usize,
    seen: &[(String, Seen)],
    fenced: &BTreeSet<String>,
) -> Vec<Violation> {
    let writable: Vec<&str> = seen
        .iter()
        .filter(|(n, s)| s.writable() && !fenced.contains(n))
        .map(|(n, _)| n.as_str())
        .collect();
    if writable.len() > 1 {
        vec![violation(
            window,
            "split-brain",
            format!("unfenced nodes {writable:?} all accept writes, asked directly"),
        )]
    } else {
        Vec::new()
    }
}

/// A fenced node is held out of both backends.
pub fn fences_hold(
    window: usize,
    status: &StatusView,
    fenced: &BTreeSet<String>,
) -> Vec<Violation> {
    let mut out = Vec::new();
    for node in fenced {
        for backend in ["write", "read"] {
            if let Some(s) = status.proxy(backend, node).filter(|s| s.starts_with("UP")) {
                out.push(violation(
                    window,
                    "fence-leaks",
                    format!("fenced {node} is {s} in HAProxy's {backend} backend"),
                ));
            }
        }
    }
    out
}

/// What `status --json` says of each node matches what the node answers directly. Only a
/// node that answered the same way before and after the status was taken counts, so a node
/// that changes in between is not called a lie.
pub fn status_tells_the_truth(
    window: usize,
    status: &StatusView,
    before: &[(String, Seen)],
    after: &[(String, Seen)],
) -> Vec<Violation> {
    let mut out = Vec::new();
    for n in &status.nodes {
        let find = |seen: &[(String, Seen)]| {
            seen.iter()
                .find(|(name, _)| *name == n.name)
                .map(|(_, s)| s.clone())
        };
        let (Some(a), Some(b)) = (find(before), find(after)) else {
            continue;
        };
        let says = format!("status says {} {}", n.role, n.state);
        match (&a, &b) {
            (
                Seen::Answered {
                    name,
                    in_recovery: r1,
                },
                Seen::Answered {
                    name: name2,
                    in_recovery: r2,
                },
            ) if name == name2 && r1 == r2 => {
                let role = if *r1 { "replica" } else { "primary" };
                if *name != n.name {
                    out.push(violation(
                        window,
                        "status-lies",
                        format!("{}'s address answers as {name}", n.name),
                    ));
                } else if n.role != role || n.state != "running" {
                    out.push(violation(
                        window,
                        "status-lies",
                        format!("{}: {says}, but it answers as a running {role}", n.name),
                    ));
                }
            }
            (Seen::Silent { why }, Seen::Silent { .. }) if n.state == "running" => {
                out.push(violation(
                    window,
                    "status-lies",
                    format!("{}: {says}, but it does not answer ({why})", n.name),
                ));
            }
            _ => {}
        }
    }
    out
}

/// A standby `status` says streams from `primary` has every row the primary acknowledged
/// [`TAIL_MS`] before `now_ms` (ids grow with time, so its highest id tells). `has` holds
/// each standby's highest id, asked directly.
pub fn streaming_standbys_keep_up(
    window: usize,
    now_ms: u64,
    writes: &[WriteObs],
    status: &StatusView,
    primary: &str,
    has: &[(String, i64)],
) -> Vec<Violation> {
    let Some(due) = writes
        .iter()
        .filter(|w| w.acked_by() == Some(primary) && w.at_ms + TAIL_MS <= now_ms)
        .map(|w| w.id)
        .max()
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (node, max) in has {
        let streaming = status.node(node).is_some_and(|n| {
            n.role == "replica"
                && n.streaming == Some(true)
                && !n.flags.iter().any(|f| f == "replay_paused")
        });
        if streaming && *max < due {
            out.push(violation(
                window,
                "stale-standby",
                format!(
                    "{node} is said to stream from {primary} but lacks what it acknowledged \
                     {} s ago (has ids up to {max}, {primary} acknowledged {due})",
                    TAIL_MS / 1000
                ),
            ));
        }
    }
    out
}

/// How long a running, unfenced standby may go without streaming from a running primary
/// before it is said not to follow: a restarted or rewound one streams within a second or two.
pub const FOLLOW_MS: u64 = 10_000;

/// The unfenced standbys that run but do not stream, while the record's primary runs.
pub fn not_streaming(status: &StatusView, fenced: &BTreeSet<String>, primary: &str) -> Vec<String> {
    let primary_runs = status
        .node(primary)
        .is_some_and(|p| p.role == "primary" && p.state == "running");
    if !primary_runs {
        return Vec::new();
    }
    status
        .nodes
        .iter()
        .filter(|n| n.name != primary && !fenced.contains(&n.name))
        .filter(|n| n.role == "replica" && n.state == "running" && n.streaming != Some(true))
        .map(|n| n.name.clone())
        .collect()
}

/// A standby seen not streaming since `since_ms` (and still at `now_ms`) for [`FOLLOW_MS`]
/// does not follow the primary.
pub fn follows_the_primary(
    window: usize,
    node: &str,
    since_ms: u64,
    now_ms: u64,
) -> Option<Violation> {
    (now_ms.saturating_sub(since_ms) >= FOLLOW_MS).then(|| {
        violation(
            window,
            "not-following",
            format!(
                "{node} runs as a standby but has not streamed from the primary for {:.0} s",
                (now_ms - since_ms) as f64 / 1000.0
            ),
        )
    })
}

/// Where the cluster is not what `model` says (nodes, their processes, the primary, the
/// fences); `None` when it is.
pub fn model_differs(model: &Model, status: &StatusView, decided: &Decided) -> Option<String> {
    let names: Vec<String> = model.nodes.iter().map(|n| n.name()).collect();
    let seen: Vec<String> = status.nodes.iter().map(|n| n.name.clone()).collect();
    if names != seen {
        return Some(format!("nodes {seen:?}, the model has {names:?}"));
    }
    for n in &model.nodes {
        let state = status.node(&n.name()).map_or("", |s| s.state.as_str());
        let same = match n.proc {
            Proc::Running => state == "running" || (n.cut && state == "unreachable"),
            Proc::Paused => state == "paused",
            Proc::Stopped => state == "stopped",
        };
        if !same {
            return Some(format!(
                "{} is {state}, the model has {:?}",
                n.name(),
                n.proc
            ));
        }
    }
    let primary = format!("pg{}", model.authority);
    if decided.primary.as_deref() != Some(primary.as_str()) {
        return Some(format!(
            "the primary is {:?}, the model has {primary}",
            decided.primary
        ));
    }
    let fenced: BTreeSet<String> = model
        .nodes
        .iter()
        .filter(|n| n.fenced)
        .map(|n| n.name())
        .collect();
    if fenced != decided.fenced {
        return Some(format!(
            "fenced {:?}, the model has {fenced:?}",
            decided.fenced
        ));
    }
    None
}

/// A step the app must refuse was refused.
pub fn refused_what_it_must(step: &Step, succeeded: bool) -> Option<Violation> {
    (step.expect == Expect::Refuse && succeeded).then(|| {
        violation(
            step.index,
            "not-refused",
            format!("`{step}` succeeded; it must be refused"),
        )
    })
}

/// A loss the app owned up to: commits `node` acknowledged that the new primary lacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LossReport {
    pub window: usize,
    /// `None`: the message named no node, so every node's rows are excused.
    pub node: Option<String>,
    /// Only the asynchronous tail: the commits a dead primary made just before it died.
    pub tail: bool,
}

/// How far back from a dead primary's last acknowledgement "commits no standby had received"
/// may reach: a standby that streams is milliseconds behind, so rows older than this were
/// either received or never streamed at all, and their loss is more than the tail.
pub const TAIL_MS: u64 = 2000;

/// The losses a step's output reports: `lost: … that pgA had …` and
/// `pgA was down: commits it acknowledged … are not on pgB`.
pub fn losses_reported(window: usize, output: &str) -> Vec<LossReport> {
    let mut out = Vec::new();
    for line in output.lines().map(str::trim) {
        let (node, tail) = if let Some(rest) = line.strip_prefix("lost:") {
            let node = rest
                .split(" that ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next());
            (node.map(String::from), false)
        } else if line.contains(" was down: commits it acknowledged") {
            (line.split_whitespace().next().map(String::from), true)
        } else if line.contains("lost") {
            (None, false)
        } else {
            continue;
        };
        out.push(LossReport { window, node, tail });
    }
    out
}

/// Missing rows a reported loss covers: `(step written in, node, ids)`.
pub type Excused = Vec<(usize, String, Vec<i64>)>;

/// When `node` last acknowledged a write, in step `window` or before.
fn last_ack(writes: &[WriteObs], node: &str, window: usize) -> u64 {
    writes
        .iter()
        .filter(|w| w.window <= window && w.acked_by() == Some(node))
        .map(|w| w.at_ms)
        .max()
        .unwrap_or(0)
}

/// Every acknowledged row is on the final primary, unless a loss was reported at or after the
/// step it was written in, for the node that acknowledged it; a report of the asynchronous
/// tail covers only that node's last [`TAIL_MS`] of acknowledgements before the report.
/// Returns the violations and the missing rows a report excused.
pub fn acknowledged_rows_survive(
    writes: &[WriteObs],
    on_primary: &BTreeSet<i64>,
    losses: &[LossReport],
) -> (Vec<Violation>, Excused) {
    let mut excused: BTreeMap<(usize, String), Vec<i64>> = BTreeMap::new();
    let mut missing: BTreeMap<(usize, String), Vec<i64>> = BTreeMap::new();
    for w in writes {
        let Some(node) = w.acked_by() else { continue };
        if on_primary.contains(&w.id) {
            continue;
        }
        let reported = losses.iter().any(|l| {
            l.window >= w.window
                && l.node.as_deref().is_none_or(|n| n == node)
                && (!l.tail || w.at_ms + TAIL_MS >= last_ack(writes, node, l.window))
        });
        if reported {
            excused
                .entry((w.window, node.to_string()))
                .or_default()
                .push(w.id);
        } else {
            missing
                .entry((w.window, node.to_string()))
                .or_default()
                .push(w.id);
        }
    }
    let out = missing
        .into_iter()
        .map(|((window, node), ids)| {
            let shown: Vec<String> = ids.iter().take(5).map(i64::to_string).collect();
            violation(
                window,
                "lost-rows",
                format!(
                    "{} row(s) acknowledged by {node} are not on the final primary, and no \
                     loss was reported (ids {}{})",
                    ids.len(),
                    shown.join(", "),
                    if ids.len() > 5 { ", …" } else { "" }
                ),
            )
        })
        .collect();
    let excused = excused.into_iter().map(|((w, n), c)| (w, n, c)).collect();
    (out, excused)
}

/// After the repairs at the end the cluster is whole: one primary, the record's, and every
/// other node a replica that streams from it.
pub fn whole_at_the_end(
    window: usize,
    status: &StatusView,
    primary: Option<&str>,
) -> Vec<Violation> {
    let mut out = Vec::new();
    let primaries: Vec<&str> = status
        .nodes
        .iter()
        .filter(|n| n.role == "primary")
        .map(|n| n.name.as_str())
        .collect();
    if primaries.len() != 1 || primaries.first().copied() != primary {
        out.push(violation(
            window,
            "not-whole",
            format!(
                "primaries {primaries:?}; the record names {}",
                primary.unwrap_or("none")
            ),
        ));
    }
    for n in status
        .nodes
        .iter()
        .filter(|n| Some(n.name.as_str()) != primary)
    {
        if n.role != "replica" || n.streaming != Some(true) {
            out.push(violation(
                window,
                "not-whole",
                format!(
                    "{} is {} {}, streaming {:?}, after the repairs",
                    n.name, n.role, n.state, n.streaming
                ),
            ));
        }
    }
    out
}

/// HAProxy agrees with the roles: a step is over when this holds (or its time is up).
pub fn settled(status: &StatusView, fenced: &BTreeSet<String>) -> bool {
    // No rows: HAProxy is down, and nothing will change until something starts it.
    status.haproxy.is_empty()
        || status.nodes.iter().all(|n| {
            let up = |backend| status.proxy(backend, &n.name).is_some_and(|s| s == "UP");
            let down = |backend| {
                status
                    .proxy(backend, &n.name)
                    .is_none_or(|s| s.starts_with("DOWN") || s.starts_with("MAINT"))
            };
            let serving = n.state == "running" && !fenced.contains(&n.name);
            match n.role.as_str() {
                "primary" if serving => up("write") && down("read"),
                "replica" if serving => up("read") && down("write"),
                _ => down("write") && down("read"),
            }
        })
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
