//! The author's self-test: every step of a lesson on a real cluster, checking that each check
//! fails before the step's solution and passes after it (a check that already passes before
//! the learner has done anything checks nothing), and that the checks hold however a learner
//! gets there: the solution's SQL run twice, run on the wrong target, and the lesson done in
//! either console mode (see [`super::verify_robust`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::evaluate::Attempt;
use super::model::{Check, Lesson, Step};
use super::probe::{Query, judge_step, judge_step_until, patience};
use super::settle::run_actions;
use super::template::{fill, vars};
use super::verify_robust as robust;
use crate::lifecycle::Cluster;
use crate::telemetry::model::Snapshot;

pub use super::verify_console::{Console, Mark, Mode};

/// How long checks get to pass after a solution when none says `within`.
pub const DEFAULT_PATIENCE: Duration = Duration::from_secs(15);

/// How long a solution's SQL may run before the checks are judged alongside it: a commit
/// waiting for a synchronous standby never ends by itself.
pub const BLOCKING_SQL: Duration = Duration::from_secs(2);

/// What verify needs of a running cluster.
pub struct Bench<'a> {
    pub cluster: &'a Cluster,
    pub query: &'a dyn Query,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub console: &'a Console,
    /// Called after an action that changes the cluster's shape (scale).
    pub reshaped: &'a (dyn Fn() + Send + Sync),
}

/// How one run through a lesson goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pass {
    /// The console mode a step that does not declare one is done in.
    pub mode: Mode,
    /// Also run each solution twice and on a wrong target.
    pub robust: bool,
}

impl Pass {
    /// The passes every lesson gets: sticky with the robustness checks, then fresh.
    pub const ALL: [Pass; 2] = [
        Pass {
            mode: Mode::Sticky,
            robust: true,
        },
        Pass {
            mode: Mode::Fresh,
            robust: false,
        },
    ];
    /// `--quick`: each check fails before the solution and passes after it, sticky, once.
    pub const QUICK: [Pass; 1] = [Pass {
        mode: Mode::Sticky,
        robust: false,
    }];
}

/// The console mode `step` is done in when the console was left in `left` (by the pass, or
/// by the last step that named one): the mode a step declares wins, as the app switches to
/// it when the step opens; else the mode a `ran` check asks for, which the learner sets
/// (F7) as the step's text says.
pub fn step_mode(step: &Step, left: Mode) -> Mode {
    let asked = step.checks.iter().find_map(|c| match c {
        Check::Ran(r) => r.session,
        _ => None,
    });
    step.session.or(asked).unwrap_or(left)
}

/// The outcome of one step.
#[derive(Clone, Debug, PartialEq)]
pub struct StepReport {
    pub id: String,
    /// Each problem on a line of its own; empty when the step is sound.
    pub problems: Vec<String>,
    pub took: Duration,
}

/// The report name of the lesson's own setup.
pub const LESSON_SETUP: &str = "(lesson setup)";

/// Runs the lesson's setup, then each step in order; stops at the first step whose setup or
/// solution cannot run, since later steps build on it.
pub async fn lesson(
    bench: &Bench<'_>,
    lesson: &Lesson,
    pass: Pass,
    each: &mut (dyn FnMut(&StepReport) + Send),
) -> Vec<StepReport> {
    let mut reports = Vec::new();
    // The learner starts the lesson in the pass's mode; a step that names one switches the
    // console to it, and it stays so, as in the app, until another step names one.
    bench.console.set_mode(pass.mode);
    match run_actions(bench.cluster, &lesson.setup, true, bench.reshaped).await {
        Err(f) => {
            let report = StepReport {
                id: LESSON_SETUP.into(),
                problems: vec![format!("setup action {} failed: {}", f.label, f.error)],
                took: Duration::ZERO,
            };
            each(&report);
            reports.push(report);
            return reports;
        }
        Ok(ran) => {
            if let Some(why) = ran.unsettled {
                let report = StepReport {
                    id: LESSON_SETUP.into(),
                    problems: vec![why],
                    took: Duration::ZERO,
                };
                each(&report);
                reports.push(report);
            }
        }
    }
    for step in &lesson.steps {
        let mode = step_mode(step, bench.console.mode());
        let mut report = self::step(bench, step, pass).await;
        if mode == Mode::Fresh {
            for p in &mut report.problems {
                *p = format!("in fresh console mode, {p}");
            }
        }
        each(&report);
        let fatal = report.problems.iter().any(|p| p.contains(CANNOT_RUN));
        reports.push(report);
        if fatal {
            break;
        }
    }
    reports
}

const CANNOT_RUN: &str = "cannot run";

/// The solution's SQL with the cluster's values filled in.
fn solution_sql(bench: &Bench<'_>, step: &Step) -> Option<String> {
    let sql = step.solution.as_ref()?.sql.as_ref()?;
    Some(match bench.cluster.current_record() {
        Ok(r) => fill(sql, &vars(&r.topology(), bench.cluster.rt.as_ref())),
        Err(_) => sql.clone(),
    })
}

async fn step(bench: &Bench<'_>, step: &Step, pass: Pass) -> StepReport {
    let started = Instant::now();
    let mut problems = Vec::new();
    match run_actions(bench.cluster, &step.setup, true, bench.reshaped).await {
        Err(f) => {
            problems.push(format!(
                "{CANNOT_RUN} setup action {}: {}",
                f.label, f.error
            ));
            return StepReport {
                id: step.id.clone(),
                problems,
                took: started.elapsed(),
            };
        }
        Ok(ran) => problems.extend(ran.unsettled),
    }
    bench
        .console
        .set_mode(step_mode(step, bench.console.mode()));
    let snap = fresh_snapshot(&bench.snapshots).await;

    let before = judge_step(bench.query, step, &Attempt::default(), &snap).await;
    for (i, v) in before.iter().enumerate() {
        if v.pass {
            problems.push(format!(
                "check {} ({}) passes before the solution: {}",
                i + 1,
                describe(&step.checks[i]),
                v.detail
            ));
        }
    }
    let sql = solution_sql(bench, step);
    if let (true, Some(sql)) = (pass.robust, &sql) {
        let red: Vec<bool> = before.iter().map(|v| !v.pass).collect();
        problems.extend(robust::wrong_target(bench, step, sql, &red, &snap).await);
    }

    let mark = bench.console.mark();
    if let Some(sql) = &sql {
        match bench.console.run(bench.cluster, &step.target, sql).await {
            Ok(done) => {
                let _ = tokio::time::timeout(BLOCKING_SQL, done).await;
            }
            Err(e) => {
                problems.push(format!("{CANNOT_RUN} the solution's SQL: {e}"));
            }
        }
    }
    if let Some(solution) = &step.solution {
        if let Err(f) = run_actions(bench.cluster, &solution.actions, false, bench.reshaped).await {
            problems.push(format!(
                "{CANNOT_RUN} solution action {}: {}",
                f.label, f.error
            ));
        }
    }
    let quiz_answer = step.quiz.as_ref().map(|q| q.answer);
    let after = judge_after(bench, step, mark, quiz_answer).await;
    let sound_after = after.iter().all(|v| v.pass);
    for (i, v) in after.iter().enumerate() {
        if !v.pass {
            problems.push(format!(
                "check {} ({}) still fails after the solution: {}",
                i + 1,
                describe(&step.checks[i]),
                v.detail
            ));
        }
    }
    if let (true, true, Some(sql)) = (pass.robust, sound_after, &sql) {
        problems.extend(robust::again(bench, step, sql, mark, quiz_answer).await);
    }
    // A statement still blocked (a synchronous commit) would hold up the next step.
    bench.console.cancel();
    StepReport {
        id: step.id.clone(),
        problems,
        took: started.elapsed(),
    }
}

/// The step's checks, retried until they pass or the step's patience runs out, on the runs
/// since `mark`.
pub(super) async fn judge_after(
    bench: &Bench<'_>,
    step: &Step,
    mark: Mark,
    quiz_answer: Option<usize>,
) -> Vec<super::evaluate::Verdict> {
    let attempt = || Attempt {
        runs: bench.console.runs_since(mark),
        quiz_answer,
    };
    let deadline = Instant::now() + patience(step, DEFAULT_PATIENCE);
    judge_step_until(bench.query, step, &attempt, &bench.snapshots, deadline).await
}

/// A snapshot with every node polled, taken after now.
pub(super) async fn fresh_snapshot(snapshots: &watch::Receiver<Arc<Snapshot>>) -> Arc<Snapshot> {
    let mut rx = snapshots.clone();
    let since = now_ms();
    let wait = async {
        loop {
            {
                let snap = rx.borrow_and_update();
                if snap.taken_at_ms > since && snap.complete() {
                    return snap.clone();
                }
            }
            if rx.changed().await.is_err() {
                return rx.borrow().clone();
            }
        }
    };
    match tokio::time::timeout(Duration::from_secs(10), wait).await {
        Ok(snap) => snap,
        Err(_) => snapshots.borrow().clone(),
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A check in a few words, for reports.
pub fn describe(check: &Check) -> String {
    match check {
        Check::Sql(s) => format!("sql on {}", s.target.label()),
        Check::Ran(r) => format!("ran “{}”", r.matches),
        Check::Telemetry(_) => "telemetry".into(),
        Check::Quiz => "quiz".into(),
    }
}

/// Whether every report is clean.
pub fn all_sound(reports: &[StepReport]) -> bool {
    reports.iter().all(|r| r.problems.is_empty())
}
