//! What `lessons verify` does beyond fail-before/pass-after, to prove a step's checks hold
//! however a learner gets there: the solution's SQL run a second time must leave them green,
//! and run on a wrong target (the other role) must leave them red.

use super::evaluate::Attempt;
use super::model::{Check, Step};
use super::probe::judge_step;
use super::settle::{SETTLE_WITHIN, settle};
use super::verify::{BLOCKING_SQL, Bench, Mark, describe, fresh_snapshot, judge_after};
use crate::sql::Target;
use crate::sql::meta::{self, Meta};
use crate::telemetry::model::Snapshot;

/// A target where the solution's SQL must not count: the other role. The write endpoint and
/// the primary get the read endpoint (a replica), the read endpoint and a replica get the write
/// endpoint (the primary); `None` for a URL, or when the cluster has no such other node.
pub fn other_role(right: &Target, primary: Option<&str>, has_replicas: bool) -> Option<Target> {
    match right {
        Target::Write => has_replicas.then_some(Target::Read),
        Target::Read => primary.is_some().then_some(Target::Write),
        Target::Node(n) if Some(n.as_str()) == primary => has_replicas.then_some(Target::Read),
        Target::Node(_) => primary.is_some().then_some(Target::Write),
        Target::Url(_) => None,
    }
}

/// Where the step means its SQL to run: the target of its first targeted `ran` check, else
/// the step's own.
fn meant(step: &Step) -> &Target {
    step.checks
        .iter()
        .find_map(|c| match c {
            Check::Ran(r) => r.target.as_ref(),
            _ => None,
        })
        .unwrap_or(&step.target)
}

/// Runs `sql` on a wrong target before the solution and returns a problem for each check that
/// was red before (`red`) and turns green: a check that passes for the wrong work.
pub(super) async fn wrong_target(
    bench: &Bench<'_>,
    step: &Step,
    sql: &str,
    red: &[bool],
    snap: &Snapshot,
) -> Vec<String> {
    // `\connect URL` goes where the URL says, whatever the console points at.
    if matches!(meta::parse(sql).into_sql(), Err(Meta::Connect(_))) {
        return Vec::new();
    }
    let right = meant(step);
    let primary = snap.primary().map(|p| p.name.clone());
    let has_replicas = snap
        .nodes
        .iter()
        .any(|n| n.role == crate::cluster::status::Role::Replica && n.reachable);
    let Some(wrong) = other_role(right, primary.as_deref(), has_replicas) else {
        return Vec::new();
    };
    let mark = bench.console.mark();
    if let Ok(done) = bench.console.run(bench.cluster, &wrong, sql).await {
        let _ = tokio::time::timeout(BLOCKING_SQL, done).await;
    }
    // The cancel may also end a statement the step before left running: that one is not
    // the wrong work, so only runs started here count.
    bench.console.cancel();
    // Whatever the wrong work changed has reached the replicas before it is judged.
    let _ = settle(bench.cluster, SETTLE_WITHIN).await;
    let attempt = Attempt {
        runs: bench.console.runs_started_since(mark),
        quiz_answer: None,
    };
    let snap = fresh_snapshot(&bench.snapshots).await;
    let verdicts = judge_step(bench.query, step, &attempt, &snap).await;
    let did = format!(
        "with the solution's SQL run on {} instead of {}",
        wrong.label(),
        right.label()
    );
    verdicts
        .iter()
        .enumerate()
        .filter(|(i, v)| v.pass && red.get(*i).copied().unwrap_or(false))
        .map(|(i, v)| {
            format!(
                "{did}, check {} ({}) passes: {}",
                i + 1,
                describe(&step.checks[i]),
                v.detail
            )
        })
        .collect()
}

/// Runs `sql` once more, as a learner who repeats it, and returns a problem for each check
/// that no longer passes; the runs since `mark` count, the first one's too.
pub(super) async fn again(
    bench: &Bench<'_>,
    step: &Step,
    sql: &str,
    mark: Mark,
    quiz_answer: Option<usize>,
) -> Vec<String> {
    match bench.console.run(bench.cluster, &step.target, sql).await {
        Ok(done) => {
            let _ = tokio::time::timeout(BLOCKING_SQL, done).await;
        }
        Err(e) => return vec![format!("cannot run the solution's SQL a second time: {e}")],
    }
    let after = judge_after(bench, step, mark, quiz_answer).await;
    after
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.pass)
        .map(|(i, v)| {
            format!(
                "after the solution's SQL ran a second time, check {} ({}) fails: {}",
                i + 1,
                describe(&step.checks[i]),
                v.detail
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wrong_target_has_the_other_role() {
        let p = Some("pg1");
        assert_eq!(other_role(&Target::Write, p, true), Some(Target::Read));
        assert_eq!(other_role(&Target::Read, p, true), Some(Target::Write));
        let pg1 = Target::Node("pg1".into());
        assert_eq!(other_role(&pg1, p, true), Some(Target::Read));
        let pg3 = Target::Node("pg3".into());
        assert_eq!(other_role(&pg3, p, true), Some(Target::Write));
        // After a failover the old primary is a replica like any other.
        assert_eq!(other_role(&pg1, Some("pg2"), true), Some(Target::Write));
        assert_eq!(other_role(&Target::Write, p, false), None);
        assert_eq!(other_role(&Target::Url("host=x".into()), p, true), None);
    }
}
