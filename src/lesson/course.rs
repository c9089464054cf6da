//! The tutorial inside the app: which lesson and step are open, how their checks stand, and
//! what the learner has done there. Plain data; `update` drives it through the functions here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::clock::Now;
use super::evaluate::{Attempt, Verdict};
use super::generation::Generation;
use super::model::{Action, Check, Lesson, SqlCheck, Step};
use super::progress::{LearnerProgress, StepOutcome};
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
    /// Lesson and step setup actions, on the cluster as it is.
    Preparing(String),
    /// A lesson's start, which makes the cluster anew first unless it is already as the
    /// lesson starts (the lesson's id).
    Starting(String),
    /// The cluster is being made anew for a lesson's start.
    Recreating(String),
    /// The step's solution actions.
    Solving,
}

impl Busy {
    pub fn label(&self) -> String {
        match self {
            Busy::Preparing(what) => format!("preparing: {what}"),
            Busy::Starting(lesson) => format!("preparing: {lesson} setup"),
            Busy::Recreating(lesson) => {
                format!("starting {lesson} on a fresh cluster (a few seconds)")
            }
            Busy::Solving => "running the solution's actions".into(),
        }
    }
}

/// A line about the learner's progress file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileNote {
    pub text: String,
    /// Something is wrong (shown as a warning) rather than news that it is right again.
    pub trouble: bool,
}

impl FileNote {
    pub fn trouble(text: impl Into<String>) -> FileNote {
        FileNote {
            text: text.into(),
            trouble: true,
        }
    }

    pub fn news(text: impl Into<String>) -> FileNote {
        FileNote {
            text: text.into(),
            trouble: false,
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
    /// The reference solution is on screen: only once the step is done, and it is no help.
    pub solution_shown: bool,
    /// The solution was run on this step: passing it counts as solved with help.
    pub helped: bool,
    /// Actions of a solution whose SQL is still running: they follow it.
    pub pending_actions: Option<Vec<Action>>,
    /// When the solution's SQL was sent.
    pub pending_since: Option<Instant>,
    /// The open step's generation: setup answers (`Prepared`) and runs started for an
    /// older step are dropped.
    pub round: Generation,
    /// The round the console's run in flight was started in.
    pub run_round: u64,
    /// The newest `sql` judging; answers of older ones (older steps' included) are dropped.
    pub judgings: Generation,
    /// A judging is running (until its last answer).
    pub judging: bool,
    pub last_judged: Option<Instant>,
    /// The newest telemetry event seen, to notice changes.
    pub last_event_ms: u64,
    pub busy: Option<Busy>,
    /// The last problem with the open step (an action that failed); cleared when a step opens.
    pub notice: Option<String>,
    /// How the progress file stands (entries that did not load, a save that failed, the save
    /// that worked again): kept across steps while it is trouble.
    pub progress_note: Option<FileNote>,
    pub opened_at: Option<Instant>,
    /// The step has been recorded as done during this visit.
    pub recorded: bool,
    /// Why the lessons could not be loaded; the app then runs as a free console.
    pub load_error: Option<String>,
    /// What `{{pg1}}`, `{{write}}`, `{{user}}` … stand for on this cluster.
    pub vars: super::template::Vars,
    /// Lessons unlocked by the instructor of the learner's class, up to this number
    /// (1-based); `None`: all.
    pub pace: Option<u32>,
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
            solution_shown: false,
            helped: false,
            pending_actions: None,
            pending_since: None,
            round: Generation::default(),
            run_round: 0,
            judgings: Generation::default(),
            judging: false,
            last_judged: None,
            last_event_ms: 0,
            busy: None,
            notice: None,
            progress_note: None,
            opened_at: None,
            recorded: false,
            load_error: None,
            vars: super::template::Vars::new(),
            pace: None,
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
        super::template::fill(text, &self.vars)
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
        self.solution_shown = false;
        self.pending_actions = None;
        self.pending_since = None;
        self.round.advance();
        // Judgings still running belong to the step that was open.
        self.judgings.advance();
        self.judging = false;
        self.last_judged = None;
        self.recorded = false;
        self.notice = None;
        // Good news about the file has been seen by now; trouble stays until it is over.
        if self.progress_note.as_ref().is_some_and(|n| !n.trouble) {
            self.progress_note = None;
        }
    }

    /// Whether the instructor's pace keeps lesson `l` closed for now.
    pub fn locked_by_pace(&self, l: usize) -> bool {
        self.pace.is_some_and(|n| l >= n as usize)
    }

    /// Judges every check that needs no query; returns whether `sql` checks exist.
    pub fn judge_local(&mut self, snap: Option<&Snapshot>) -> bool {
        let Some(step) = self.step().cloned() else {
            return false;
        };
        let mut has_sql = false;
        for (i, check) in step.checks.iter().enumerate() {
            match super::evaluate::judge_local(check, &self.attempt, step.quiz.as_ref(), snap) {
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

    /// A new judging of the open step's `sql` checks, at `now`: its tag, for the answers.
    pub fn start_judging(&mut self, now: Instant) -> u64 {
        self.judging = true;
        self.last_judged = Some(now);
        self.judgings.advance()
    }

    /// Results of the `sql` checks of judging `judging`; returns whether they were taken
    /// (those of a judging that is not the newest are stale, and ignored).
    pub fn apply_sql_verdicts(
        &mut self,
        judging: u64,
        verdicts: Vec<(usize, Verdict)>,
        last: bool,
    ) -> bool {
        if !self.judgings.is_current(judging) {
            return false;
        }
        for (i, v) in verdicts {
            if let Some(slot) = self.checks.get_mut(i) {
                *slot = CheckState::Judged(v);
            }
        }
        if last {
            self.judging = false;
        }
        true
    }

    pub fn all_passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(CheckState::passed)
    }

    /// Records the open step as done (once per visit) when every check passes; returns
    /// whether it did.
    pub fn record_if_passed(&mut self, now: Now) -> bool {
        if self.recorded || self.busy.is_some() || !self.all_passed() {
            return false;
        }
        let (Some(lesson), Some(step)) = (self.lesson().cloned(), self.step().cloned()) else {
            return false;
        };
        let spent = self.opened_at.map_or(0, |t| now.since(t).as_secs());
        let helped = self.helped;
        let record = self.progress.step_mut(&lesson.id, &step.id);
        if record.outcome.is_none() || helped {
            record.outcome = Some(if helped {
                StepOutcome::SolvedWithHelp
            } else {
                StepOutcome::Passed
            });
            record.finished_at = Some(now.unix);
        }
        record.seconds += spent;
        self.opened_at = Some(now.at);
        self.recorded = true;
        true
    }

    /// Adds the time spent on the open step until `now` to its record (when leaving it).
    pub fn bank_time(&mut self, now: Instant) {
        let spent = self
            .opened_at
            .take()
            .map_or(0, |t| now.saturating_duration_since(t).as_secs());
        if let (Some(l), Some(s)) = (self.lesson().cloned(), self.step().cloned()) {
            if spent > 0 {
                self.progress.step_mut(&l.id, &s.id).seconds += spent;
            }
        }
    }
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
