//! `update` for the tutorial: opening steps, judging their checks, hints, quizzes, the
//! solution, moving between steps and lessons.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent};

use super::editor::Editor;
use super::msg::{Effect, Fresh};
use super::state::{Focus, Overlay, State};
use super::update_class::{locked, report, report_checked, report_opened};
use crate::classroom::queue::EventKind;
use crate::lesson::course::{Busy, Course, REJUDGE_EVERY};
use crate::lesson::evaluate::{Run, Verdict};
use crate::lesson::model::{Action, ConsoleMode};
use crate::lesson::probe::patience;
use crate::lesson::progress::StepOutcome;

/// How long a solution's SQL may run before its actions go ahead anyway (a commit waiting
/// for a synchronous standby never ends by itself).
pub const SOLUTION_SQL_GRACE: Duration = Duration::from_secs(2);

fn save(course: &Course) -> Effect {
    Effect::SaveProgress(Box::new(course.progress.clone()))
}

/// The cluster is up: open where the learner left off. A lesson never started gets its setup,
/// on the cluster as it is: the app never replaces a cluster it did not start a lesson on.
pub fn on_ready(state: &mut State) -> Vec<Effect> {
    let Some((l, s)) = state.course.at else {
        return Vec::new();
    };
    let started = state
        .course
        .lessons
        .get(l)
        .is_some_and(|lesson| state.course.progress.lessons.contains_key(&lesson.id));
    open(state, l, s, !started, Fresh::Never)
}

/// Opens step `s` of lesson `l`. `starting` runs the lesson's own setup first.
pub fn open(state: &mut State, l: usize, s: usize, starting: bool, fresh: Fresh) -> Vec<Effect> {
    let now = state.now;
    let c = &mut state.course;
    let Some(lesson) = c.lessons.get(l).cloned() else {
        return Vec::new();
    };
    let Some(step) = lesson.steps.get(s).cloned() else {
        return Vec::new();
    };
    c.bank_time(now.at);
    c.at = Some((l, s));
    c.reset_step_state();
    // What the class was told to wait for belonged to the old step too.
    if let Some(class) = &mut state.class {
        class.new_step();
    }
    // Whatever the previous step was waiting for is no longer this step's business, nor is
    // a run that waited for its setup.
    state.console.queued_run = false;
    let c = &mut state.course;
    c.busy = None;
    c.opened_at = Some(now.at);
    c.progress.current_lesson = Some(lesson.id.clone());
    c.progress
        .lessons
        .entry(lesson.id.clone())
        .or_default()
        .current_step = Some(step.id.clone());
    let done = c.step_done().is_some();
    state.lesson.scroll = 0;
    state.console.target = step.target.clone();
    if let Some(mode) = step.session.filter(|m| m.is_fresh() != state.console.fresh) {
        state.console.fresh = mode.is_fresh();
        state.console.output.info = Some(console_switched(mode).into());
    }
    if let Some(sql) = &step.sql {
        state.console.editor = Editor::from_text(&state.course.fill(sql));
    }
    let mut actions = Vec::new();
    if starting {
        // The cluster the lesson is written for first (a no-op when it has that size).
        actions.push(Action::Scale {
            replicas: lesson.replicas,
        });
        actions.extend(lesson.setup.iter().cloned());
    }
    // Setup sets the scene for doing the step; a step already done is only being reread.
    if !done {
        actions.extend(step.setup.iter().cloned());
    }
    let mut effects = vec![save(&state.course)];
    effects.extend(report_opened(state, l, s, starting));
    if actions.is_empty() && fresh == Fresh::Never {
        effects.extend(judge(state, Duration::ZERO));
    } else {
        let c = &mut state.course;
        c.busy = Some(if fresh == Fresh::Never {
            Busy::Preparing(
                actions
                    .iter()
                    .map(|a| a.label())
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        } else {
            Busy::Starting(lesson.id.clone())
        });
        effects.push(Effect::Prepare {
            round: c.round.current(),
            fresh,
            lesson: lesson.id.clone(),
            actions,
        });
    }
    effects
}

/// The one line a step's `session` leaves in the console when it changes the mode.
fn console_switched(mode: ConsoleMode) -> &'static str {
    match mode {
        ConsoleMode::Sticky => {
            "this step needs one sticky connection, so a transaction stays open between runs: \
             the console keeps its connection now (F7 switches)"
        }
        ConsoleMode::Fresh => {
            "this step needs a fresh connection for every run: the console opens a new one \
             each time now (F7 switches)"
        }
    }
}

/// Judges what needs no I/O now and asks for the `sql` checks, retried for `wait`.
pub fn judge(state: &mut State, wait: Duration) -> Vec<Effect> {
    let snap = state.dash.snapshot.clone();
    let c = &mut state.course;
    if c.busy.is_some() || c.step().is_none() {
        return Vec::new();
    }
    let mut effects = Vec::new();
    if c.judge_local(snap.as_deref()) {
        let judging = c.start_judging(state.now.at);
        effects.push(Effect::JudgeSql {
            judging,
            checks: c.sql_checks(),
            patience: wait,
        });
        if let Some(class) = &mut state.class {
            if std::mem::take(&mut class.check_asked) {
                class.report_after = Some(judging);
            }
        }
    } else if state
        .class
        .as_mut()
        .is_some_and(|class| std::mem::take(&mut class.check_asked))
    {
        effects.extend(report_checked(state));
    }
    effects.extend(passed(state));
    effects
}

/// Records the step when every check passes.
fn passed(state: &mut State) -> Vec<Effect> {
    let before = state.course.step_done();
    if !state.course.record_if_passed(state.now) {
        return Vec::new();
    }
    let mut effects = vec![save(&state.course)];
    let after = state.course.step_done();
    // Passing a step done earlier again is no news for the class.
    if after != before {
        let c = &state.course;
        let record = c
            .lesson()
            .zip(c.step())
            .and_then(|(l, s)| c.progress.step(&l.id, &s.id));
        let detail = serde_json::json!({
            "seconds": record.map_or(0, |r| r.seconds),
            "hints": record.map_or(0, |r| r.hints_used),
        });
        let kind = match after {
            Some(StepOutcome::SolvedWithHelp) => EventKind::SolvedWithHelp,
            _ => EventKind::Passed,
        };
        effects.extend(report(state, kind, detail));
    }
    effects
}

/// A statement the learner ran has finished: it may satisfy a `ran` check, and it may have
/// changed what `sql` checks see (given the time replication needs).
///
/// A statement left running when the learner moved on (a commit waiting for a standby, say)
/// counts for the step open when it ends: ending it, by cancelling it or by letting it
/// finish, is what that step asked for.
pub fn on_run_finished(
    state: &mut State,
    text: String,
    target: crate::sql::Target,
    sqlstate: Option<String>,
    fresh: bool,
) -> Vec<Effect> {
    let c = &state.course;
    if c.step().is_none() {
        return Vec::new();
    }
    let left_running = !c.round.is_current(c.run_round);
    state.course.attempt.runs.push(Run {
        text,
        target,
        sqlstate,
        fresh,
    });
    if let Some(class) = &mut state.class {
        class.check_asked = true;
    }
    // A solution's actions follow the solution's own SQL, never an older statement.
    let mut effects = if left_running {
        Vec::new()
    } else {
        solution_actions(state)
    };
    let wait = state
        .course
        .step()
        .map_or(Duration::ZERO, |s| patience(s, Duration::ZERO));
    effects.extend(judge(state, wait));
    effects
}

/// Telemetry moved: telemetry checks are judged on every snapshot; `sql` checks when an
/// event happened or a while has passed.
pub fn on_snapshot(state: &mut State) -> Vec<Effect> {
    let Some(snap) = state.dash.snapshot.clone() else {
        return Vec::new();
    };
    state.course.learn_addresses(&snap);
    let now = state.now;
    let mut effects = Vec::new();
    if state
        .course
        .pending_since
        .is_some_and(|t| now.since(t) >= SOLUTION_SQL_GRACE)
    {
        effects.extend(solution_actions(state));
    }
    let c = &mut state.course;
    if c.busy.is_some() || c.step().is_none() {
        return effects;
    }
    let newest = snap.events.last().map_or(0, |e| e.at_ms);
    let moved = newest > c.last_event_ms;
    c.last_event_ms = c.last_event_ms.max(newest);
    let due = c.last_judged.is_none_or(|t| now.since(t) >= REJUDGE_EVERY);
    let has_sql = c.judge_local(Some(&snap));
    if has_sql && !c.judging && (moved || due) {
        let judging = c.start_judging(now.at);
        effects.push(Effect::JudgeSql {
            judging,
            checks: c.sql_checks(),
            patience: Duration::ZERO,
        });
    }
    effects.extend(passed(state));
    effects
}

/// Answers of judging `judging`; only the newest judging's count.
pub fn on_sql_verdicts(
    state: &mut State,
    judging: u64,
    verdicts: Vec<(usize, Verdict)>,
    last: bool,
) -> Vec<Effect> {
    let taken = state.course.apply_sql_verdicts(judging, verdicts, last);
    let mut effects = Vec::new();
    if let Some(class) = state.class.as_mut().filter(|_| taken && last) {
        // The judging asked for, or a newer one that replaced it, is done.
        if class.report_after.is_some_and(|asked| judging >= asked) {
            class.report_after = None;
            effects.extend(report_checked(state));
        }
    }
    effects.extend(passed(state));
    effects
}

/// Setup or solution actions are done (or failed: the pane says why).
pub fn on_prepared(state: &mut State, round: u64, result: Result<String, String>) -> Vec<Effect> {
    let c = &mut state.course;
    if !c.round.is_current(round) {
        return Vec::new();
    }
    c.busy = None;
    if let Err(e) = result {
        c.notice = Some(e);
    }
    let wait = c
        .step()
        .map_or(Duration::ZERO, |s| patience(s, Duration::from_secs(5)));
    let mut effects = judge(state, wait);
    if std::mem::take(&mut state.console.queued_run) {
        effects.extend(super::update_console::run(state));
    }
    effects
}

/// The cluster made anew for round `round` is attached: its actions run on it now. When it
/// could not be made, the step says why, as when its setup fails.
pub fn on_recreated(
    state: &mut State,
    round: u64,
    actions: Vec<Action>,
    result: Result<(), String>,
) -> Vec<Effect> {
    if !state.course.round.is_current(round) {
        return Vec::new();
    }
    match result {
        Ok(()) => vec![Effect::Prepare {
            round,
            fresh: Fresh::Never,
            lesson: String::new(),
            actions,
        }],
        Err(e) => on_prepared(state, round, Err(e)),
    }
}

pub fn check_now(state: &mut State) -> Vec<Effect> {
    state.course.judging = false;
    if let Some(class) = &mut state.class {
        class.check_asked = true;
        class.unread = 0;
    }
    let wait = state
        .course
        .step()
        .map_or(Duration::ZERO, |s| patience(s, Duration::ZERO));
    judge(state, wait)
}

pub fn hint(state: &mut State) -> Vec<Effect> {
    let c = &mut state.course;
    let (Some(lesson), Some(step)) = (c.lesson().cloned(), c.step().cloned()) else {
        return Vec::new();
    };
    if c.hints_shown >= step.hints.len() {
        return Vec::new();
    }
    c.hints_shown += 1;
    let record = c.progress.step_mut(&lesson.id, &step.id);
    record.hints_used = record.hints_used.max(c.hints_shown as u32);
    state.focus = Focus::Lesson;
    let detail = serde_json::json!({ "shown": c.hints_shown, "of": step.hints.len() });
    if let Some(class) = &mut state.class {
        class.unread = 0;
    }
    let mut effects = vec![save(&state.course)];
    effects.extend(report(state, EventKind::Hint, detail));
    effects
}

pub fn answer(state: &mut State, choice: usize) -> Vec<Effect> {
    let c = &mut state.course;
    let (Some(lesson), Some(step)) = (c.lesson().cloned(), c.step().cloned()) else {
        return Vec::new();
    };
    let Some(quiz) = &step.quiz else {
        return Vec::new();
    };
    if choice >= quiz.choices.len() {
        return Vec::new();
    }
    c.attempt.quiz_answer = Some(choice);
    c.progress.step_mut(&lesson.id, &step.id).quiz_answer = Some(choice);
    let mut effects = vec![save(&state.course)];
    effects.extend(judge(state, Duration::ZERO));
    effects
}

/// F9, confirmed: the solution's SQL runs in the console where the learner sees it, its
/// actions after it; the step then counts as solved with help.
pub fn solve(state: &mut State) -> Vec<Effect> {
    let Some(step) = state.course.step().cloned() else {
        return Vec::new();
    };
    let mut effects = Vec::new();
    if state.console.running.is_some() && step.solution.as_ref().is_some_and(|s| s.sql.is_some()) {
        state.console.output.info =
            Some("a statement is still running: cancel it (Ctrl-C) first".into());
        return effects;
    }
    state.course.helped = true;
    if let Some(quiz) = &step.quiz {
        effects.extend(answer(state, quiz.answer));
    }
    let Some(solution) = step.solution.clone() else {
        return effects;
    };
    let actions = solution.actions.clone();
    match &solution.sql {
        Some(sql) => {
            state.console.target = step.target.clone();
            state.console.editor = Editor::from_text(&state.course.fill(sql));
            state.focus = Focus::Editor;
            if !actions.is_empty() {
                state.course.pending_actions = Some(actions);
                state.course.pending_since = Some(state.now.at);
            }
            effects.extend(super::update_console::run(state));
        }
        None => {
            state.course.pending_actions = Some(actions);
            effects.extend(solution_actions(state));
        }
    }
    effects
}

/// Runs the solution's actions that waited for its SQL.
fn solution_actions(state: &mut State) -> Vec<Effect> {
    let c = &mut state.course;
    let Some(actions) = c.pending_actions.take() else {
        return Vec::new();
    };
    c.pending_since = None;
    c.busy = Some(Busy::Solving);
    vec![Effect::Prepare {
        round: c.round.current(),
        fresh: Fresh::Never,
        lesson: c.lesson().map(|l| l.id.clone()).unwrap_or_default(),
        actions,
    }]
}

/// Ctrl-N: the next step, or the next lesson after the last step.
pub fn next(state: &mut State) -> Vec<Effect> {
    let Some((l, s)) = state.course.at else {
        return Vec::new();
    };
    let steps = state.course.lessons.get(l).map_or(0, |x| x.steps.len());
    if s + 1 < steps {
        return open(state, l, s + 1, false, Fresh::Never);
    }
    if l + 1 < state.course.lessons.len() {
        return open_lesson(state, l + 1, false);
    }
    state.overlay = Overlay::Lessons { selected: l };
    Vec::new()
}

/// Ctrl-P: the previous step of this lesson.
pub fn prev(state: &mut State) -> Vec<Effect> {
    match state.course.at {
        Some((l, s)) if s > 0 => open(state, l, s - 1, false, Fresh::Never),
        _ => Vec::new(),
    }
}

/// Opens lesson `l` where the learner was in it; unfinished prerequisites ask first unless
/// `anyway`.
pub fn open_lesson(state: &mut State, l: usize, anyway: bool) -> Vec<Effect> {
    if state.course.at.map(|(i, _)| i) == Some(l) {
        return Vec::new();
    }
    if let Some(why) = locked(state, l) {
        state.course.notice = Some(why);
        return Vec::new();
    }
    let missing = state.course.missing_requirements(l);
    if !anyway && !missing.is_empty() {
        state.overlay = Overlay::ConfirmOpen { lesson: l, missing };
        return Vec::new();
    }
    let Some(lesson) = state.course.lessons.get(l).cloned() else {
        return Vec::new();
    };
    let started = state.course.progress.lessons.contains_key(&lesson.id);
    let s = state
        .course
        .progress
        .first_unfinished_step(&lesson)
        .unwrap_or(0);
    // A lesson under way goes on on the cluster as it is: it may be mid-failover on purpose.
    if started {
        open(state, l, s, false, Fresh::Never)
    } else {
        open(state, l, s, true, Fresh::IfChanged)
    }
}

/// Forgets the lesson's progress and starts it again on a fresh cluster.
pub fn reset(state: &mut State, l: usize) -> Vec<Effect> {
    let Some(lesson) = state.course.lessons.get(l).cloned() else {
        return Vec::new();
    };
    if state.course.at.map(|(i, _)| i) != Some(l) {
        if let Some(why) = locked(state, l) {
            state.course.notice = Some(why);
            return Vec::new();
        }
    }
    // Time on the step open now belongs to it before its lesson is forgotten.
    state.course.bank_time(state.now.at);
    state.course.progress.reset_lesson(&lesson.id);
    state.course.busy = None;
    let mut effects = open(state, l, 0, true, Fresh::Always);
    state.course.busy = Some(Busy::Recreating(lesson.id.clone()));
    effects.push(save(&state.course));
    effects
}

/// Keys of the lesson list.
pub fn lessons_key(state: &mut State, k: KeyEvent) -> Vec<Effect> {
    let Overlay::Lessons { selected } = &mut state.overlay else {
        return Vec::new();
    };
    let n = state.course.lessons.len();
    match k.code {
        KeyCode::Esc | KeyCode::Char('q') => state.overlay = Overlay::None,
        KeyCode::Up => *selected = selected.saturating_sub(1),
        KeyCode::Down => *selected = (*selected + 1).min(n.saturating_sub(1)),
        // The list says why a locked lesson does not open.
        KeyCode::Enter
            if state.course.locked_by_pace(*selected)
                && state.course.at.map(|(i, _)| i) != Some(*selected) => {}
        KeyCode::Enter => {
            let l = *selected;
            state.overlay = Overlay::None;
            return open_lesson(state, l, false);
        }
        KeyCode::Char('r') => {
            let l = *selected;
            state.overlay = Overlay::ConfirmReset { lesson: l };
        }
        _ => {}
    }
    Vec::new()
}

/// The answer to one of the tutorial's yes/no questions.
pub fn confirm_key(state: &mut State, k: KeyEvent) -> Vec<Effect> {
    let yes = matches!(k.code, KeyCode::Char('y') | KeyCode::Char('Y'));
    let overlay = std::mem::replace(&mut state.overlay, Overlay::None);
    if !yes {
        return Vec::new();
    }
    match overlay {
        Overlay::ConfirmSolve => solve(state),
        Overlay::ConfirmReset { lesson } => reset(state, lesson),
        Overlay::ConfirmOpen { lesson, .. } => open_lesson(state, lesson, true),
        _ => Vec::new(),
    }
}

/// Digits in the lesson pane answer the quiz: 1 is the first choice. `s` shows the reference
/// solution of a step already done (and hides it again); it changes nothing recorded.
pub fn lesson_pane_key(state: &mut State, k: KeyEvent) -> Option<Vec<Effect>> {
    match k.code {
        KeyCode::Char(c @ '1'..='9') => {
            let choice = c as usize - '1' as usize;
            Some(answer(state, choice))
        }
        KeyCode::Char('s') if state.course.step_done().is_some() => {
            let c = &mut state.course;
            c.solution_shown = !c.solution_shown && c.step().is_some_and(|s| s.solution.is_some());
            Some(Vec::new())
        }
        _ => None,
    }
}

#[cfg(test)]
#[path = "update_course_tests/mod.rs"]
mod tests;
