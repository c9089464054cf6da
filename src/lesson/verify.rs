//! The author's self-test: every step of a lesson on a real cluster, checking that each check
//! fails before the step's solution and passes after it. A check that already passes before
//! the learner has done anything checks nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::act;
use super::evaluate::{Attempt, Run};
use super::model::{Check, Lesson, Step};
use super::probe::{Query, judge_step, judge_step_until, patience};
use super::template::{fill, vars};
use crate::lifecycle::Cluster;
use crate::sql::meta::{self, Meta};
use crate::sql::session::{SessionConfig, SqlSession};
use crate::sql::{Address, Endpoint, SqlEvent, Target};
use crate::telemetry::model::Snapshot;

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

/// The outcome of one step.
#[derive(Clone, Debug, PartialEq)]
pub struct StepReport {
    pub id: String,
    /// Each problem on a line of its own; empty when the step is sound.
    pub problems: Vec<String>,
    pub took: Duration,
}

/// Runs the lesson's setup, then each step in order; stops at the first step whose setup or
/// solution cannot run, since later steps build on it.
pub async fn lesson(
    bench: &Bench<'_>,
    lesson: &Lesson,
    each: &mut (dyn FnMut(&StepReport) + Send),
) -> Vec<StepReport> {
    let mut reports = Vec::new();
    for action in &lesson.setup {
        if let Err(e) = act::run(bench.cluster, action).await {
            let report = StepReport {
                id: "(lesson setup)".into(),
                problems: vec![format!("setup action {} failed: {e}", action.label())],
                took: Duration::ZERO,
            };
            each(&report);
            reports.push(report);
            return reports;
        }
        reshape_after(bench, action);
    }
    for step in &lesson.steps {
        let report = self::step(bench, step).await;
        each(&report);
        let fatal = report.problems.iter().any(|p| p.starts_with(CANNOT_RUN));
        reports.push(report);
        if fatal {
            break;
        }
    }
    reports
}

const CANNOT_RUN: &str = "cannot run";

fn reshape_after(bench: &Bench<'_>, action: &super::model::Action) {
    if matches!(action, super::model::Action::Scale { .. }) {
        (bench.reshaped)();
    }
}

async fn step(bench: &Bench<'_>, step: &Step) -> StepReport {
    let started = Instant::now();
    let mut problems = Vec::new();
    for action in &step.setup {
        if let Err(e) = act::run(bench.cluster, action).await {
            problems.push(format!("{CANNOT_RUN} setup action {}: {e}", action.label()));
            return StepReport {
                id: step.id.clone(),
                problems,
                took: started.elapsed(),
            };
        }
        reshape_after(bench, action);
    }
    let snap = fresh_snapshot(&bench.snapshots).await;
    let mark = bench.console.mark();

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

    let mut quiz_answer = None;
    if let Some(solution) = &step.solution {
        if let Some(sql) = &solution.sql {
            let sql = match bench.cluster.current_record() {
                Ok(r) => fill(sql, &vars(&r.topology(), bench.cluster.rt.as_ref())),
                Err(_) => sql.clone(),
            };
            match bench.console.run(bench.cluster, &step.target, &sql).await {
                Ok(done) => {
                    let _ = tokio::time::timeout(BLOCKING_SQL, done).await;
                }
                Err(e) => {
                    problems.push(format!("{CANNOT_RUN} the solution's SQL: {e}"));
                }
            }
        }
        for action in &solution.actions {
            if let Err(e) = act::run(bench.cluster, action).await {
                problems.push(format!(
                    "{CANNOT_RUN} solution action {}: {e}",
                    action.label()
                ));
            }
            reshape_after(bench, action);
        }
    }
    if let Some(q) = &step.quiz {
        quiz_answer = Some(q.answer);
    }
    let attempt = || Attempt {
        runs: bench.console.runs_since(mark),
        quiz_answer,
    };
    let deadline = Instant::now() + patience(step, DEFAULT_PATIENCE);
    let after = judge_step_until(bench.query, step, &attempt, &bench.snapshots, deadline).await;
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
    // A statement still blocked (a synchronous commit) would hold up the next step.
    bench.console.cancel();
    StepReport {
        id: step.id.clone(),
        problems,
        took: started.elapsed(),
    }
}

/// A snapshot with every node polled, taken after now.
async fn fresh_snapshot(snapshots: &watch::Receiver<Arc<Snapshot>>) -> Arc<Snapshot> {
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

/// The console as a learner uses it, driven by verify: one sticky session, and a record of
/// every run and how it ended.
pub struct Console {
    session: SqlSession,
    state: Arc<Mutex<Ledger>>,
}

#[derive(Default)]
struct Ledger {
    next_id: u64,
    pending: HashMap<u64, (String, Target, Option<tokio::sync::oneshot::Sender<()>>)>,
    runs: Vec<Run>,
}

fn ledger(state: &Mutex<Ledger>) -> std::sync::MutexGuard<'_, Ledger> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Console {
    pub fn spawn(credentials: crate::settings::Credentials) -> Console {
        let (tx, mut rx) = mpsc::channel(64);
        let session = SqlSession::spawn(credentials, SessionConfig::default(), tx);
        let state = Arc::new(Mutex::new(Ledger::default()));
        let sink = state.clone();
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                if let SqlEvent::Finished { id, error, .. } = ev {
                    let mut l = ledger(&sink);
                    if let Some((text, target, done)) = l.pending.remove(&id) {
                        l.runs.push(Run {
                            text,
                            target,
                            sqlstate: error.map(|e| e.sqlstate.unwrap_or_default()),
                        });
                        if let Some(done) = done {
                            let _ = done.send(());
                        }
                    }
                }
            }
        });
        Console { session, state }
    }

    /// Sends `text` to `target`, as the console's F5 would: backslash commands that query
    /// (`\dt`, `\d NAME`) become their SQL, and `\connect URL` opens a new session on the
    /// URL and shows where it landed (recorded with the URL as its target, like the console
    /// does). The receiver fires when the run has finished.
    pub async fn run(
        &self,
        cluster: &Cluster,
        target: &Target,
        text: &str,
    ) -> Result<tokio::sync::oneshot::Receiver<()>, String> {
        let (sql, connect) = match meta::parse(text).into_sql() {
            Ok(sql) => (sql, None),
            Err(Meta::Connect(url)) => {
                crate::sql::url::parse(&url).map_err(|e| format!("\\connect: {e}"))?;
                (meta::connect_probe_sql().to_string(), Some(url))
            }
            _ => {
                return Err(format!(
                    "{}: only SQL, \\dt, \\d NAME and \\connect run anything",
                    text.trim()
                ));
            }
        };
        let endpoint = match connect {
            Some(url) => Endpoint::url(url),
            None => {
                let record = cluster.current_record().map_err(|e| e.to_string())?;
                Endpoint::for_target(target, cluster.rt.as_ref(), &record.topology())
                    .ok_or_else(|| format!("no node {} in the cluster", target.label()))?
            }
        };
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let id = {
            let mut l = ledger(&self.state);
            l.next_id += 1;
            let id = l.next_id;
            let recorded = (text.to_string(), endpoint.target.clone(), Some(done_tx));
            l.pending.insert(id, recorded);
            id
        };
        if matches!(endpoint.address, Address::Url(_)) {
            self.session.reconnect(id, endpoint, sql).await;
        } else {
            self.session.run(id, endpoint, sql, false).await;
        }
        Ok(done_rx)
    }

    pub fn cancel(&self) {
        self.session.cancel();
    }

    /// A position in the record of runs: [`Console::runs_since`] returns what came after.
    pub fn mark(&self) -> usize {
        ledger(&self.state).runs.len()
    }

    pub fn runs_since(&self, mark: usize) -> Vec<Run> {
        ledger(&self.state)
            .runs
            .get(mark..)
            .map(<[Run]>::to_vec)
            .unwrap_or_default()
    }
}

/// Whether every report is clean.
pub fn all_sound(reports: &[StepReport]) -> bool {
    reports.iter().all(|r| r.problems.is_empty())
}
