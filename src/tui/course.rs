//! The tutorial inside the app: which lesson and step are open, how their checks stand, and
//! what the learner has done there. Plain data; `update` drives it through the functions here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::classroom::reporter::ReporterState;
use crate::lesson::evaluate::{Attempt, Verdict};
use crate::lesson::model::{Action, Check, Lesson, SqlCheck, Step};
use crate::lesson::progress::{LearnerProgress, StepOutcome};
use crate::telemetry::model::Snapshot;

/// How often `sql` checks are tried again while a step is open and nothing else prompts it:
/// the cluster can change from outside (another terminal, a node that dies).
pub const REJUDGE_EVERY: Duration = Duration::from_secs(3);

/// One check of the open step, as the pane shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckState {
    /// Not judged since the step opened.
    Pending,
    Judged(Verdict),
}

impl CheckState {
    pub fn passed(&self) -> bool {
        matches!(self, CheckState::Judged(v) if v.pass)
    }
}

/// Something the cluster is doing for the tutorial; checks wait for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Busy {
    /// Lesson and step setup actions.
    Preparing(String),
    /// The cluster is being made anew for a lesson's start.
    Recreating(String),
    /// The step's solution actions.
    Solving,
}

impl Busy {
    pub fn label(&self) -> String {
        match self {
            Busy::Preparing(what) => format!("preparing: {what}"),
            Busy::Recreating(lesson) => {
                format!("starting {lesson} on a fresh cluster (a few seconds)")
            }
            Busy::Solving => "running the solution's actions".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Course {
    pub lessons: Arc<Vec<Lesson>>,
    pub progress: LearnerProgress,
    /// The open lesson and step, by index; `None` without lessons.
    pub at: Option<(usize, usize)>,
    /// One per check of the open step.
    pub checks: Vec<CheckState>,
    pub attempt: Attempt,
    /// Hints on screen for the open step.
    pub hints_shown: usize,
    /// The solution was run on this step: passing it counts as solved with help.
    pub helped: bool,
    /// Actions of a solution whose SQL is still running: they follow it.
    pub pending_actions: Option<Vec<Action>>,
    /// When the solution's SQL was sent.
    pub pending_since: Option<Instant>,
    /// The generation of `sql` check results the course waits for; older ones are dropped.
    pub judge_gen: u64,
    /// The generation the console's run in flight was started in.
    pub run_round: u64,
    pub judging: bool,
    pub last_judged: Option<Instant>,
    /// The newest telemetry event seen, to notice changes.
    pub last_event_ms: u64,
    pub busy: Option<Busy>,
    /// The last problem with the tutorial itself (an action that failed, a save that did not).
    pub notice: Option<String>,
    pub opened_at: Option<Instant>,
    /// The step has been recorded as done during this visit.
    pub recorded: bool,
    /// Why the lessons could not be loaded; the app then runs as a free console.
    pub load_error: Option<String>,
    /// What `{{pg1}}`, `{{write}}`, `{{user}}` … stand for on this cluster.
    pub vars: crate::lesson::template::Vars,
    /// The class this learner reports to, when they joined one.
    pub class: Option<Class>,
}

impl Course {
    /// Opens where the learner left off: the current lesson's current (or first unfinished)
    /// step, else the first lesson not complete.
    pub fn new(lessons: Vec<Lesson>, progress: LearnerProgress) -> Course {
        let at = resume_point(&lessons, &progress);
        Course {
            lessons: Arc::new(lessons),
            progress,
            at,
            checks: Vec::new(),
            attempt: Attempt::default(),
            hints_shown: 0,
            helped: false,
            pending_actions: None,
            pending_since: None,
            judge_gen: 0,
            run_round: 0,
            judging: false,
            last_judged: None,
            last_event_ms: 0,
            busy: None,
            notice: None,
            opened_at: None,
            recorded: false,
            load_error: None,
            vars: crate::lesson::template::Vars::new(),
            class: None,
        }
    }

    /// No lessons: the app is a free console with the welcome text.
    pub fn without_lessons(load_error: Option<String>) -> Course {
        Course {
            load_error,
            ..Course::new(Vec::new(), LearnerProgress::default())
        }
    }

    pub fn lesson(&self) -> Option<&Lesson> {
        self.at.and_then(|(l, _)| self.lessons.get(l))
    }

    pub fn step(&self) -> Option<&Step> {
        let (l, s) = self.at?;
        self.lessons.get(l)?.steps.get(s)
    }

    /// Whether the open step has been done, now or earlier.
    pub fn step_done(&self) -> Option<StepOutcome> {
        let (lesson, step) = (self.lesson()?, self.step()?);
        self.progress.step(&lesson.id, &step.id)?.outcome
    }

    /// Lessons named in `requires` of lesson `i` that are not complete yet.
    pub fn missing_requirements(&self, i: usize) -> Vec<String> {
        let Some(lesson) = self.lessons.get(i) else {
            return Vec::new();
        };
        lesson
            .requires
            .iter()
            .filter(|r| {
                self.lessons
                    .iter()
                    .find(|l| &l.id == *r)
                    .is_some_and(|l| !self.progress.is_complete(l))
            })
            .cloned()
            .collect()
    }

    /// `text` with the cluster's addresses and login in place of its placeholders.
    pub fn fill(&self, text: &str) -> String {
        crate::lesson::template::fill(text, &self.vars)
    }

    /// Keeps the placeholders' values in step with the cluster (a failover moves nothing,
    /// but scaling adds nodes).
    pub fn learn_addresses(&mut self, snap: &Snapshot) {
        self.vars
            .insert("write".into(), snap.endpoints.write.clone());
        self.vars.insert("read".into(), snap.endpoints.read.clone());
        for n in &snap.nodes {
            self.vars.insert(n.name.clone(), n.connect.clone());
        }
    }

    /// Forgets the judging and the attempt of the step that was open; `at` is the new step.
    pub fn reset_step_state(&mut self) {
        let n = self.step().map_or(0, |s| s.checks.len());
        self.checks = vec![CheckState::Pending; n];
        self.attempt = Attempt::default();
        let hints = match (self.lesson(), self.step()) {
            (Some(l), Some(s)) => self
                .progress
                .step(&l.id, &s.id)
                .map_or(0, |r| r.hints_used as usize),
            _ => 0,
        };
        self.hints_shown = hints;
        self.attempt.quiz_answer = match (self.lesson(), self.step()) {
            (Some(l), Some(s)) => self.progress.step(&l.id, &s.id).and_then(|r| r.quiz_answer),
            _ => None,
        };
        self.helped = false;
        self.pending_actions = None;
        self.pending_since = None;
        self.judge_gen += 1;
        self.judging = false;
        self.last_judged = None;
        self.recorded = false;
        self.notice = None;
        if let Some(class) = &mut self.class {
            class.new_step();
        }
    }

    /// Whether the instructor's pace keeps lesson `l` closed for now.
    pub fn locked_by_pace(&self, l: usize) -> bool {
        self.class
            .as_ref()
            .and_then(|c| c.pace)
            .is_some_and(|n| l >= n as usize)
    }

    /// Judges every check that needs no query; returns whether `sql` checks exist.
    pub fn judge_local(&mut self, snap: Option<&Snapshot>) -> bool {
        let Some(step) = self.step().cloned() else {
            return false;
        };
        let mut has_sql = false;
        for (i, check) in step.checks.iter().enumerate() {
            match crate::lesson::evaluate::judge_local(
                check,
                &self.attempt,
                step.quiz.as_ref(),
                snap,
            ) {
                Some(v) => {
                    if let Some(slot) = self.checks.get_mut(i) {
                        *slot = CheckState::Judged(v);
                    }
                }
                None => has_sql = true,
            }
        }
        has_sql
    }

    /// The open step's `sql` checks with their positions.
    pub fn sql_checks(&self) -> Vec<(usize, SqlCheck)> {
        self.step()
            .map(|s| {
                s.checks
                    .iter()
                    .enumerate()
                    .filter_map(|(i, c)| match c {
                        Check::Sql(q) => Some((i, q.clone())),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Results of `sql` checks of generation `round`; stale generations are ignored.
    pub fn apply_sql_verdicts(&mut self, round: u64, verdicts: Vec<(usize, Verdict)>, last: bool) {
        if round != self.judge_gen {
            return;
        }
        for (i, v) in verdicts {
            if let Some(slot) = self.checks.get_mut(i) {
                *slot = CheckState::Judged(v);
            }
        }
        if last {
            self.judging = false;
        }
    }

    pub fn all_passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(CheckState::passed)
    }

    /// Records the open step as done (once per visit) when every check passes; returns
    /// whether it did.
    pub fn record_if_passed(&mut self, now_unix: u64) -> bool {
        if self.recorded || self.busy.is_some() || !self.all_passed() {
            return false;
        }
        let (Some(lesson), Some(step)) = (self.lesson().cloned(), self.step().cloned()) else {
            return false;
        };
        let spent = self.opened_at.map_or(0, |t| t.elapsed().as_secs());
        let helped = self.helped;
        let record = self.progress.step_mut(&lesson.id, &step.id);
        if record.outcome.is_none() || helped {
            record.outcome = Some(if helped {
                StepOutcome::SolvedWithHelp
            } else {
                StepOutcome::Passed
            });
            record.finished_at = Some(now_unix);
        }
        record.seconds += spent;
        self.opened_at = Some(Instant::now());
        self.recorded = true;
        true
    }

    /// Adds the time spent on the open step so far to its record (when leaving it).
    pub fn bank_time(&mut self) {
        let spent = self.opened_at.take().map_or(0, |t| t.elapsed().as_secs());
        if let (Some(l), Some(s)) = (self.lesson().cloned(), self.step().cloned()) {
            if spent > 0 {
                self.progress.step_mut(&l.id, &s.id).seconds += spent;
            }
        }
    }
}

/// The class the learner joined, as the app shows it, and what reporting to it needs to
/// remember between messages.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Class {
    /// The learner's name in the class.
    pub name: String,
    pub allow_drills: bool,
    pub status: ReporterState,
    /// The instructor's latest message: in the lesson pane until the next one.
    pub broadcast: Option<String>,
    /// Messages not looked at yet (the title bar's badge).
    pub unread: usize,
    /// Lessons unlocked up to this number (1-based); `None`: all.
    pub pace: Option<u32>,
    pub drill: Option<DrillRun>,
    /// The lesson last reported opened.
    pub lesson_reported: Option<usize>,
    /// A statement or F3 asked for judging: its outcome is reported as `checked`.
    pub check_asked: bool,
    /// `sql` judgings started and finished in this step, to know when the asked one is done
    /// (each ends with exactly one last answer).
    pub judgings_started: u64,
    pub judgings_ended: u64,
    /// Report `checked` once this many judgings have ended.
    pub report_after: Option<u64>,
}

impl Class {
    pub fn new(name: String, allow_drills: bool) -> Class {
        Class {
            name,
            allow_drills,
            ..Class::default()
        }
    }

    /// A new step: judgings of the old one no longer count.
    pub fn new_step(&mut self) {
        // A drill that is over has been seen on the step it happened on.
        if self.drill.as_ref().is_some_and(|d| d.outcome.is_some()) {
            self.drill = None;
        }
        self.check_asked = false;
        self.judgings_started = 0;
        self.judgings_ended = 0;
        self.report_after = None;
    }

    /// The title bar's word on delivery: `✓`, `12 queued`, `hub unreachable`.
    pub fn delivery(&self) -> String {
        let s = &self.status;
        let queued = match s.queued {
            0 => String::new(),
            n => format!("{n} queued"),
        };
        match (s.connected, s.last_error.is_some()) {
            (true, _) if queued.is_empty() => "✓".into(),
            (true, _) => queued,
            (false, true) if queued.is_empty() => "hub unreachable".into(),
            (false, true) => format!("hub unreachable · {queued}"),
            (false, false) if queued.is_empty() => "connecting…".into(),
            (false, false) => format!("connecting… · {queued}"),
        }
    }
}

/// A drill the instructor started, on this learner's cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrillRun {
    pub id: i64,
    pub action: String,
    pub note: String,
    /// What is done to the cluster, e.g. `kill pg1`.
    pub what: String,
    /// `None` while it runs; why it was skipped or failed, or what it did.
    pub outcome: Option<Result<String, String>>,
}

/// Where to resume: the current lesson's current or first unfinished step, else the first
/// lesson not complete, else the last step of the last lesson.
pub fn resume_point(lessons: &[Lesson], progress: &LearnerProgress) -> Option<(usize, usize)> {
    if lessons.is_empty() {
        return None;
    }
    let current = progress
        .current_lesson
        .as_ref()
        .and_then(|id| lessons.iter().position(|l| &l.id == id));
    if let Some(i) = current {
        let lesson = &lessons[i];
        let named = progress
            .lessons
            .get(&lesson.id)
            .and_then(|r| r.current_step.as_ref())
            .and_then(|id| lesson.steps.iter().position(|s| &s.id == id));
        let step = named
            .or_else(|| progress.first_unfinished_step(lesson))
            .unwrap_or(0);
        return Some((i, step));
    }
    match lessons.iter().position(|l| !progress.is_complete(l)) {
        Some(i) => Some((i, progress.first_unfinished_step(&lessons[i]).unwrap_or(0))),
        None => Some((lessons.len() - 1, 0)),
    }
}

/// Whether the cluster is as a lesson expects to find it at its start: `nodes` nodes all
/// running, `pg1` primary, every replica streaming asynchronously with replay running.
/// Anything else (a failover, a stopped node, a synchronous standby) calls for a fresh one.
pub fn in_start_shape(snap: &Snapshot, nodes: usize) -> bool {
    use crate::cluster::status::{NodeState, Role};
    snap.nodes.len() == nodes
        && snap.nodes.iter().all(|n| n.state == NodeState::Running)
        && snap.node("pg1").is_some_and(|n| n.role == Role::Primary)
        && snap.nodes.iter().filter(|n| n.name != "pg1").all(|n| {
            n.role == Role::Replica
                && n.lag
                    .as_ref()
                    .is_some_and(|l| l.streaming && !l.replay_paused)
                && n.sync_state.as_deref().is_none_or(|s| s == "async")
        })
}
