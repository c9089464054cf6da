//! The tutorial's `update`, driven by the messages and keys the app sends, on two small
//! lessons written here.
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::cluster::node_op::NodeOp;
use crate::cluster::state::RuntimeKind;
use crate::cluster::status::{EndpointsView, Role};
use crate::lesson::evaluate::{Run, Verdict};
use crate::lesson::model::{Action, CheckTarget, CmpOp, Compare, Expect, Lesson, SqlCheck};
use crate::lesson::progress::{LearnerProgress, StepOutcome};
use crate::sql::{SqlError, SqlEvent, Target, TxState};
use crate::telemetry::model::{Event, EventKind, Lag, NodeTelemetry, Snapshot};
use crate::tui::course::{Busy, CheckState, Course};
use crate::tui::keys::Keymap;
use crate::tui::msg::{Effect, Fresh, Msg, Startup};
use crate::tui::state::{Focus, LessonPane, Overlay, Phase, State, ThemeName};
use crate::tui::update::update;

const BASICS: &str = r#"
format = 1
id = "01-basics"
title = "Basics"
summary = "Write a row on the primary and see it reach the replicas."
setup = [{ sql = "CREATE TABLE IF NOT EXISTS t (id int)" }]

[[steps]]
id = "insert-row"
title = "Insert a row"
target = "write"
sql = "-- add one row to t"
text = "Insert a row on the primary."
hints = ["Use INSERT.", "The table is t.", "Run: INSERT INTO t VALUES (1);"]
setup = [{ action = "pause-replay", node = "pg2" }]

[steps.solution]
sql = "INSERT INTO t VALUES (1);"
actions = [{ action = "resume-replay", node = "pg2" }]

[[steps.checks]]
kind = "ran"
matches = "insert into t"
success = true
target = "write"

[[steps.checks]]
kind = "sql"
target = "replicas"
query = "SELECT count(*) FROM t"
compare = { op = ">=", value = 1 }
within = "10s"

[[steps.checks]]
kind = "telemetry"
streaming_replicas = { op = ">=", value = 1 }

[[steps]]
id = "why"
title = "Why it arrives"
target = "read"
text = "Think about what carries the row."
hints = ["It is written before the data files."]

[steps.quiz]
question = "What carries the row to the replicas?"
choices = ["HAProxy", "WAL", "A trigger"]
answer = 1
explain = "The primary streams its WAL; each replica replays it."
"#;

const NEXT: &str = r#"
format = 1
id = "02-next"
title = "Next"
summary = "Builds on the basics."
requires = ["01-basics"]
setup = [{ action = "stop", node = "pg3" }]

[[steps]]
id = "only"
title = "The only step"
text = "Run any SELECT."
hints = ["SELECT 1 will do."]

[steps.solution]
sql = "SELECT 1;"

[[steps.checks]]
kind = "ran"
matches = "select"
success = true
"#;

const CHECK_QUERY: &str = "SELECT count(*) FROM t";

fn lessons() -> Vec<Lesson> {
    crate::lesson::load_files(&[
        ("lessons/01-basics.toml", BASICS),
        ("lessons/02-next.toml", NEXT),
    ])
    .expect("the test lessons are valid")
}

fn replica(name: &str, n: u8) -> NodeTelemetry {
    NodeTelemetry {
        role: Role::Replica,
        lag: Some(Lag {
            sent_bytes: 0,
            write_bytes: 0,
            flush_bytes: 0,
            replay_bytes: 0,
            write_ms: None,
            flush_ms: None,
            replay_ms: None,
            reply_age_ms: None,
            replay_paused: false,
            streaming: true,
        }),
        sync_state: Some("async".into()),
        ..primary(name, n)
    }
}

fn primary(name: &str, n: u8) -> NodeTelemetry {
    NodeTelemetry {
        connect: format!("127.0.0.1{n}:5432"),
        ..crate::tui::update::tests::node(name, Role::Primary, &format!("127.0.0.1{n}"))
    }
}

fn snapshot(events: Vec<Event>) -> Snapshot {
    Snapshot {
        name: "t".into(),
        runtime: RuntimeKind::Local,
        endpoints: EndpointsView {
            write: "127.0.0.1:5435".into(),
            read: "127.0.0.1:5436".into(),
            stats: String::new(),
        },
        taken_at_ms: 0,
        seq: 1,
        nodes: vec![primary("pg1", 1), replica("pg2", 2), replica("pg3", 3)],
        haproxy: vec![],
        events,
    }
}

/// The app before the cluster is ready: the lessons loaded with `progress`, a snapshot in,
/// the console pointing somewhere no step points.
fn app(progress: LearnerProgress) -> State {
    let mut s = State::new(
        "t".into(),
        LessonPane {
            title: String::new(),
            text: String::new(),
            scroll: 0,
        },
        ThemeName::Mono,
    );
    s.course = Course::new(lessons(), progress);
    s.dash.snapshot = Some(Arc::new(snapshot(vec![])));
    s.console.target = Target::Node("pg3".into());
    s
}

fn send(s: &mut State, msg: Msg) -> Vec<Effect> {
    update(s, &Keymap::default(), msg)
}

fn press(s: &mut State, code: KeyCode) -> Vec<Effect> {
    send(s, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ctrl(s: &mut State, c: char) -> Vec<Effect> {
    send(
        s,
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)),
    )
}

fn ready(s: &mut State) -> Vec<Effect> {
    send(s, Msg::Startup(Startup::Ready))
}

fn prepared(s: &mut State) -> Vec<Effect> {
    let round = s.course.judge_gen;
    send(
        s,
        Msg::Prepared {
            round,
            result: Ok("done".into()),
        },
    )
}

/// A new learner on the first step, its setup done.
fn on_first_step() -> State {
    let mut s = app(LearnerProgress::new("ann"));
    ready(&mut s);
    prepared(&mut s);
    assert_eq!(s.course.busy, None);
    s
}

/// A learner who was on `step` of the first lesson.
fn resumed_at(step: &str) -> LearnerProgress {
    let mut p = LearnerProgress::new("ann");
    p.current_lesson = Some("01-basics".into());
    p.lessons
        .entry("01-basics".into())
        .or_default()
        .current_step = Some(step.into());
    p
}

/// Replaces the editor's text by typing, as the learner would.
fn type_sql(s: &mut State, text: &str) {
    s.focus = Focus::Editor;
    ctrl(s, 'l');
    for c in text.chars() {
        press(s, KeyCode::Char(c));
    }
}

fn finished(id: u64, sqlstate: Option<&str>) -> Msg {
    Msg::Sql(SqlEvent::Finished {
        id,
        served_by: Some("127.0.0.11".into()),
        elapsed: Duration::from_millis(2),
        tx: TxState::Idle,
        error: sqlstate.map(|code| SqlError {
            sqlstate: Some(code.into()),
            severity: Some("ERROR".into()),
            message: "refused".into(),
            detail: None,
            hint: None,
            position: None,
        }),
    })
}

fn sql_check() -> SqlCheck {
    SqlCheck {
        target: CheckTarget::Replicas,
        query: CHECK_QUERY.into(),
        expect: Expect::Compare(Compare {
            op: CmpOp::Ge,
            value: 1.0,
        }),
        within: Some(Duration::from_secs(10)),
    }
}

fn judge_sql(round: u64, patience: Duration) -> Effect {
    Effect::JudgeSql {
        round,
        checks: vec![(1, sql_check())],
        patience,
    }
}

fn verdicts(s: &mut State, round: u64, v: Verdict, last: bool) -> Vec<Effect> {
    send(
        s,
        Msg::SqlVerdicts {
            round,
            verdicts: vec![(1, v)],
            last,
        },
    )
}

fn saved(e: &Effect) -> &LearnerProgress {
    match e {
        Effect::SaveProgress(p) => p,
        other => panic!("expected SaveProgress, got {other:?}"),
    }
}

fn judged(pass: bool, detail: &str) -> CheckState {
    CheckState::Judged(Verdict {
        pass,
        detail: detail.into(),
    })
}

/// A lesson's start first brings the cluster to the size it is written for.
fn scale_to_three() -> Action {
    Action::Scale { replicas: 3 }
}

fn create_table() -> Action {
    Action::Sql {
        sql: "CREATE TABLE IF NOT EXISTS t (id int)".into(),
        target: Target::Write,
    }
}

fn pause_pg2() -> Action {
    Action::PauseReplay { node: "pg2".into() }
}

#[test]
fn ready_opens_a_new_learner_on_the_first_step_with_the_lesson_setup() {
    let mut s = app(LearnerProgress::new("ann"));
    let effects = ready(&mut s);
    assert_eq!(s.phase, Phase::Running);
    assert_eq!(s.course.at, Some((0, 0)));
    assert_eq!(s.console.target, Target::Write);
    assert_eq!(s.console.editor.text(), "-- add one row to t");
    let round = s.course.judge_gen;
    assert_eq!(effects.len(), 2, "{effects:?}");
    let p = saved(&effects[0]);
    assert_eq!(p.current_lesson.as_deref(), Some("01-basics"));
    assert_eq!(
        p.lessons["01-basics"].current_step.as_deref(),
        Some("insert-row")
    );
    // The cluster found at start-up is used as it is.
    assert_eq!(
        effects[1],
        Effect::Prepare {
            round,
            fresh: Fresh::Never,
            lesson: "01-basics".into(),
            actions: vec![scale_to_three(), create_table(), pause_pg2()],
        }
    );
    assert_eq!(
        s.course.busy,
        Some(Busy::Preparing(
            "scale to 3 replicas, sql on write, pause-replay pg2".into()
        ))
    );
    assert_eq!(s.course.checks, vec![CheckState::Pending; 3]);
}

#[test]
fn ready_resumes_a_started_lesson_without_its_setup() {
    // An unfinished step runs its own setup, on the cluster as it is.
    let mut s = app(resumed_at("insert-row"));
    let effects = ready(&mut s);
    assert_eq!(s.course.at, Some((0, 0)));
    assert_eq!(
        effects[1..],
        [Effect::Prepare {
            round: s.course.judge_gen,
            fresh: Fresh::Never,
            lesson: "01-basics".into(),
            actions: vec![pause_pg2()],
        }]
    );
    assert_eq!(
        s.course.busy,
        Some(Busy::Preparing("pause-replay pg2".into()))
    );

    // A step without setup is judged at once.
    let mut s = app(resumed_at("why"));
    let effects = ready(&mut s);
    assert_eq!(s.course.at, Some((0, 1)));
    assert_eq!(s.console.target, Target::Read);
    assert_eq!(effects.len(), 1, "{effects:?}");
    saved(&effects[0]);
    assert_eq!(s.course.busy, None);
    assert_eq!(s.course.checks, [judged(false, "answer the question")]);
}

#[test]
fn nothing_is_judged_while_the_setup_runs() {
    let mut s = app(LearnerProgress::new("ann"));
    ready(&mut s);
    let round = s.course.judge_gen;
    let event = Event {
        at_ms: 5_000,
        kind: EventKind::NodeUp,
        node: "pg2".into(),
        detail: "up".into(),
    };
    assert_eq!(
        send(&mut s, Msg::Snapshot(Arc::new(snapshot(vec![event])))),
        []
    );
    assert_eq!(press(&mut s, KeyCode::F(3)), [], "F3 waits too");
    type_sql(&mut s, "INSERT INTO t VALUES (1);");
    assert_eq!(
        press(&mut s, KeyCode::F(5)).len(),
        2,
        "the console still runs"
    );
    assert_eq!(send(&mut s, finished(1, None)), []);
    assert_eq!(s.course.attempt.runs.len(), 1, "the run is kept for later");
    assert_eq!(s.course.checks, vec![CheckState::Pending; 3]);
    assert_eq!(press(&mut s, KeyCode::F(9)), []);
    assert_eq!(s.overlay, Overlay::None, "no solution while busy");

    // The answer to an older round does not end this setup.
    let stale = send(
        &mut s,
        Msg::Prepared {
            round: round - 1,
            result: Ok(String::new()),
        },
    );
    assert_eq!(stale, []);
    assert!(s.course.busy.is_some());

    // Its own answer does, and the run made meanwhile counts.
    let effects = prepared(&mut s);
    assert_eq!(effects, [judge_sql(round, Duration::from_secs(10))]);
    assert_eq!(s.course.checks[0], judged(true, "it succeeded"));
}

#[test]
fn prepared_clears_busy_and_asks_for_the_sql_checks() {
    let mut s = app(LearnerProgress::new("ann"));
    ready(&mut s);
    let round = s.course.judge_gen;
    let effects = prepared(&mut s);
    assert_eq!(s.course.busy, None);
    assert_eq!(s.course.notice, None);
    assert_eq!(effects, [judge_sql(round, Duration::from_secs(10))]);
    assert!(s.course.judging);
    assert_eq!(
        s.course.checks,
        [
            judged(false, "not run on write yet"),
            CheckState::Pending,
            judged(true, "2 replicas streaming (wanted >= 1)"),
        ]
    );
    assert_eq!(s.course.step_done(), None);
}

#[test]
fn a_failed_setup_is_noted_and_the_step_is_judged_anyway() {
    let mut s = app(LearnerProgress::new("ann"));
    ready(&mut s);
    let round = s.course.judge_gen;
    let effects = send(
        &mut s,
        Msg::Prepared {
            round,
            result: Err("pause-replay pg2: pg2 is not running".into()),
        },
    );
    assert_eq!(s.course.busy, None);
    assert_eq!(
        s.course.notice.as_deref(),
        Some("pause-replay pg2: pg2 is not running")
    );
    assert_eq!(effects, [judge_sql(round, Duration::from_secs(10))]);
}

#[test]
fn a_finished_run_is_recorded_with_its_target_and_sqlstate() {
    let mut s = on_first_step();
    let round = s.course.judge_gen;
    type_sql(&mut s, "INSERT INTO t VALUES (1);");
    let run = press(&mut s, KeyCode::F(5));
    assert_eq!(
        run,
        [
            Effect::RunSql {
                id: 1,
                target: Target::Write,
                text: "INSERT INTO t VALUES (1);".into(),
                fresh: false,
                reconnect: false,
            },
            Effect::SaveHistory
        ]
    );
    // An answer for another run is not this one.
    assert_eq!(send(&mut s, finished(9, None)), []);
    assert_eq!(s.course.attempt.runs, []);

    let effects = send(&mut s, finished(1, None));
    assert_eq!(
        s.course.attempt.runs,
        [Run {
            text: "INSERT INTO t VALUES (1);".into(),
            target: Target::Write,
            sqlstate: None,
        }]
    );
    // Judged with the step's patience: its largest `within`.
    assert_eq!(effects, [judge_sql(round, Duration::from_secs(10))]);
    assert_eq!(s.course.checks[0], judged(true, "it succeeded"));
}

#[test]
fn a_run_elsewhere_or_failing_does_not_satisfy_the_ran_check() {
    let mut s = on_first_step();
    type_sql(&mut s, "insert into t values (2);");
    press(&mut s, KeyCode::F(6));
    assert_eq!(s.console.target, Target::Read);
    press(&mut s, KeyCode::F(5));
    send(&mut s, finished(1, Some("25006")));
    assert_eq!(
        s.course.attempt.runs,
        [Run {
            text: "insert into t values (2);".into(),
            target: Target::Read,
            sqlstate: Some("25006".into()),
        }]
    );
    assert_eq!(
        s.course.checks[0],
        judged(false, "it ran on read; run it on write")
    );

    // On write, but failing: the SQLSTATE is what counts.
    s.console.target = Target::Write;
    press(&mut s, KeyCode::F(5));
    send(&mut s, finished(2, Some("23505")));
    assert_eq!(s.course.attempt.runs[1].sqlstate.as_deref(), Some("23505"));
    assert_eq!(
        s.course.checks[0],
        judged(false, "it failed with SQLSTATE 23505; it should succeed")
    );
}

#[test]
fn sql_verdicts_of_a_stale_round_are_ignored() {
    let mut s = on_first_step();
    let round = s.course.judge_gen;
    let stale = verdicts(&mut s, round - 1, Verdict::pass("got 1"), true);
    assert_eq!(stale, []);
    assert_eq!(s.course.checks[1], CheckState::Pending);
    assert!(s.course.judging, "still waiting for this round");

    verdicts(
        &mut s,
        round,
        Verdict::fail("pg2: got 0, wanted >= 1"),
        false,
    );
    assert_eq!(s.course.checks[1], judged(false, "pg2: got 0, wanted >= 1"));
    assert!(s.course.judging, "more tries follow");
    verdicts(
        &mut s,
        round,
        Verdict::fail("pg2: got 0, wanted >= 1"),
        true,
    );
    assert!(!s.course.judging);
}

#[test]
fn a_step_whose_checks_all_pass_is_recorded_once() {
    let mut s = on_first_step();
    let round = s.course.judge_gen;
    type_sql(&mut s, "INSERT INTO t VALUES (1);");
    press(&mut s, KeyCode::F(5));
    assert_eq!(
        send(&mut s, finished(1, None)),
        [judge_sql(round, Duration::from_secs(10))],
        "the sql check is still to pass: nothing recorded yet"
    );
    assert_eq!(s.course.step_done(), None);

    let effects = verdicts(&mut s, round, Verdict::pass("got 1, wanted >= 1"), true);
    assert_eq!(effects.len(), 1, "{effects:?}");
    let record = &saved(&effects[0]).lessons["01-basics"].steps["insert-row"];
    assert_eq!(record.outcome, Some(StepOutcome::Passed));
    assert!(record.finished_at.is_some());
    assert_eq!(s.course.step_done(), Some(StepOutcome::Passed));
    assert!(s.course.all_passed());

    // Passing again records nothing more.
    assert_eq!(
        verdicts(&mut s, round, Verdict::pass("got 2, wanted >= 1"), true),
        []
    );
    assert_eq!(send(&mut s, Msg::Snapshot(Arc::new(snapshot(vec![])))), []);
    assert_eq!(
        press(&mut s, KeyCode::F(3)),
        [judge_sql(round, Duration::from_secs(10))]
    );
    assert_eq!(s.course.step_done(), Some(StepOutcome::Passed));
}

#[test]
fn the_solution_runs_its_sql_then_its_actions_and_counts_as_help() {
    let mut s = on_first_step();
    let round = s.course.judge_gen;
    s.focus = Focus::Nodes;
    assert_eq!(press(&mut s, KeyCode::F(9)), []);
    assert_eq!(s.overlay, Overlay::ConfirmSolve);
    // No: nothing happens.
    assert_eq!(press(&mut s, KeyCode::Char('n')), []);
    assert_eq!(s.overlay, Overlay::None);
    assert!(!s.course.helped);

    press(&mut s, KeyCode::F(9));
    let effects = press(&mut s, KeyCode::Char('y'));
    assert_eq!(s.overlay, Overlay::None);
    assert_eq!(
        effects,
        [
            Effect::RunSql {
                id: 1,
                target: Target::Write,
                text: "INSERT INTO t VALUES (1);".into(),
                fresh: false,
                reconnect: false,
            },
            Effect::SaveHistory
        ]
    );
    assert_eq!(s.console.editor.text(), "INSERT INTO t VALUES (1);");
    assert_eq!(s.focus, Focus::Editor);
    assert!(s.course.helped);
    let resume = Action::ResumeReplay { node: "pg2".into() };
    assert_eq!(s.course.pending_actions, Some(vec![resume.clone()]));
    assert_eq!(s.course.busy, None, "the actions wait for the SQL");

    let effects = send(&mut s, finished(1, None));
    assert_eq!(
        effects,
        [Effect::Prepare {
            round,
            fresh: Fresh::Never,
            lesson: "01-basics".into(),
            actions: vec![resume],
        }]
    );
    assert_eq!(s.course.pending_actions, None);
    assert_eq!(s.course.busy, Some(Busy::Solving));

    let effects = prepared(&mut s);
    assert_eq!(effects, [judge_sql(round, Duration::from_secs(10))]);
    assert_eq!(s.course.checks[0], judged(true, "it succeeded"));
    let effects = verdicts(&mut s, round, Verdict::pass("got 1, wanted >= 1"), true);
    assert_eq!(effects.len(), 1, "{effects:?}");
    assert_eq!(
        saved(&effects[0]).lessons["01-basics"].steps["insert-row"].outcome,
        Some(StepOutcome::SolvedWithHelp)
    );
    assert_eq!(s.course.step_done(), Some(StepOutcome::SolvedWithHelp));
}

#[test]
fn the_solution_actions_go_ahead_when_its_sql_hangs() {
    let mut s = on_first_step();
    press(&mut s, KeyCode::F(9));
    press(&mut s, KeyCode::Char('y'));
    // Not yet: the SQL was just sent.
    assert_eq!(send(&mut s, Msg::Snapshot(Arc::new(snapshot(vec![])))), []);
    s.course.pending_since = Instant::now().checked_sub(Duration::from_secs(3));
    let effects = send(&mut s, Msg::Snapshot(Arc::new(snapshot(vec![]))));
    assert_eq!(
        effects,
        [Effect::Prepare {
            round: s.course.judge_gen,
            fresh: Fresh::Never,
            lesson: "01-basics".into(),
            actions: vec![Action::ResumeReplay { node: "pg2".into() }],
        }]
    );
    assert_eq!(s.course.busy, Some(Busy::Solving));
    // When the SQL ends at last, the actions are not run twice.
    assert_eq!(send(&mut s, finished(1, None)), []);
}

#[test]
fn the_solution_of_a_quiz_answers_it() {
    let mut s = app(resumed_at("why"));
    ready(&mut s);
    press(&mut s, KeyCode::F(9));
    assert_eq!(s.overlay, Overlay::ConfirmSolve);
    let effects = press(&mut s, KeyCode::Char('y'));
    assert_eq!(s.course.attempt.quiz_answer, Some(1));
    assert_eq!(s.course.checks, [judged(true, "answered right")]);
    assert_eq!(
        effects.len(),
        2,
        "the answer, then the outcome: {effects:?}"
    );
    assert_eq!(
        saved(&effects[1]).lessons["01-basics"].steps["why"].outcome,
        Some(StepOutcome::SolvedWithHelp)
    );
}

#[test]
fn hints_count_up_to_the_step_s_hints_and_are_saved() {
    let mut s = on_first_step();
    for n in 1..=3u32 {
        let effects = press(&mut s, KeyCode::F(4));
        assert_eq!(effects.len(), 1, "{effects:?}");
        assert_eq!(
            saved(&effects[0]).lessons["01-basics"].steps["insert-row"].hints_used,
            n
        );
        assert_eq!(s.course.hints_shown, n as usize);
    }
    assert_eq!(s.focus, Focus::Lesson, "the hint is in the lesson pane");
    assert_eq!(press(&mut s, KeyCode::F(4)), [], "no fourth hint");
    assert_eq!(s.course.hints_shown, 3);

    // Coming back to the step shows the hints already seen.
    ctrl(&mut s, 'n');
    assert_eq!(s.course.hints_shown, 0);
    ctrl(&mut s, 'p');
    assert_eq!(s.course.at, Some((0, 0)));
    assert_eq!(s.course.hints_shown, 3);
}

#[test]
fn digits_in_the_lesson_pane_answer_the_quiz() {
    let mut s = app(resumed_at("why"));
    ready(&mut s);
    press(&mut s, KeyCode::BackTab);
    assert_eq!(s.focus, Focus::Lesson);

    let effects = press(&mut s, KeyCode::Char('1'));
    assert_eq!(effects.len(), 1, "{effects:?}");
    assert_eq!(
        saved(&effects[0]).lessons["01-basics"].steps["why"].quiz_answer,
        Some(0)
    );
    assert_eq!(s.course.attempt.quiz_answer, Some(0));
    assert_eq!(
        s.course.checks,
        [judged(false, "not that answer: try another")]
    );
    assert_eq!(s.course.step_done(), None);

    // A choice the quiz does not have changes nothing.
    assert_eq!(press(&mut s, KeyCode::Char('4')), []);
    assert_eq!(s.course.attempt.quiz_answer, Some(0));

    let effects = press(&mut s, KeyCode::Char('2'));
    assert_eq!(effects.len(), 2, "{effects:?}");
    assert_eq!(
        saved(&effects[0]).lessons["01-basics"].steps["why"].quiz_answer,
        Some(1)
    );
    assert_eq!(
        saved(&effects[1]).lessons["01-basics"].steps["why"].outcome,
        Some(StepOutcome::Passed)
    );
    assert_eq!(s.course.checks, [judged(true, "answered right")]);
    assert_eq!(s.course.step_done(), Some(StepOutcome::Passed));
}

#[test]
fn digits_in_the_editor_are_text_not_answers() {
    let mut s = app(resumed_at("why"));
    ready(&mut s);
    s.focus = Focus::Editor;
    ctrl(&mut s, 'l');
    assert_eq!(press(&mut s, KeyCode::Char('2')), []);
    assert_eq!(s.console.editor.text(), "2");
    assert_eq!(s.course.attempt.quiz_answer, None);
}

#[test]
fn ctrl_n_and_ctrl_p_move_between_steps() {
    let mut s = on_first_step();
    let effects = ctrl(&mut s, 'n');
    assert_eq!(s.course.at, Some((0, 1)));
    assert_eq!(s.console.target, Target::Read);
    assert_eq!(effects.len(), 1, "{effects:?}");
    assert_eq!(
        saved(&effects[0]).lessons["01-basics"]
            .current_step
            .as_deref(),
        Some("why")
    );
    assert_eq!(s.course.checks, [judged(false, "answer the question")]);

    // Back to a step not done: its setup runs again.
    let effects = ctrl(&mut s, 'p');
    assert_eq!(s.course.at, Some((0, 0)));
    assert_eq!(
        effects[1..],
        [Effect::Prepare {
            round: s.course.judge_gen,
            fresh: Fresh::Never,
            lesson: "01-basics".into(),
            actions: vec![pause_pg2()],
        }]
    );
    prepared(&mut s);
    assert_eq!(ctrl(&mut s, 'p'), [], "no step before the first");
    assert_eq!(s.course.at, Some((0, 0)));
}

#[test]
fn a_done_step_is_reread_without_its_setup() {
    let mut s = on_first_step();
    s.course
        .progress
        .step_mut("01-basics", "insert-row")
        .outcome = Some(StepOutcome::Passed);
    ctrl(&mut s, 'n');
    let effects = ctrl(&mut s, 'p');
    assert_eq!(s.course.at, Some((0, 0)));
    assert_eq!(s.course.busy, None);
    assert_eq!(
        effects[1..],
        [judge_sql(s.course.judge_gen, Duration::ZERO)],
        "judged at once, nothing prepared"
    );
}

#[test]
fn ctrl_n_after_the_last_step_opens_the_next_lesson() {
    let mut s = on_first_step();
    for step in ["insert-row", "why"] {
        s.course.progress.step_mut("01-basics", step).outcome = Some(StepOutcome::Passed);
    }
    ctrl(&mut s, 'n');
    let effects = ctrl(&mut s, 'n');
    assert_eq!(
        s.overlay,
        Overlay::None,
        "the first lesson is done: no question"
    );
    assert_eq!(s.course.at, Some((1, 0)));
    assert_eq!(
        effects[1..],
        [Effect::Prepare {
            round: s.course.judge_gen,
            fresh: Fresh::IfChanged,
            lesson: "02-next".into(),
            actions: vec![
                scale_to_three(),
                Action::Node {
                    op: NodeOp::Stop,
                    node: "pg3".into()
                }
            ],
        }]
    );
    assert_eq!(
        saved(&effects[0]).current_lesson.as_deref(),
        Some("02-next")
    );

    // After the very last step: the list of lessons.
    prepared(&mut s);
    assert_eq!(ctrl(&mut s, 'n'), []);
    assert_eq!(s.overlay, Overlay::Lessons { selected: 1 });
    assert_eq!(s.course.at, Some((1, 0)));
}

#[test]
fn a_lesson_whose_prerequisite_is_unfinished_asks_first() {
    let mut s = on_first_step();
    ctrl(&mut s, 'n');
    assert_eq!(ctrl(&mut s, 'n'), []);
    assert_eq!(
        s.overlay,
        Overlay::ConfirmOpen {
            lesson: 1,
            missing: vec!["01-basics".into()]
        }
    );
    assert_eq!(s.course.at, Some((0, 1)));
    assert_eq!(press(&mut s, KeyCode::Esc), []);
    assert_eq!(s.overlay, Overlay::None);
    assert_eq!(s.course.at, Some((0, 1)));

    ctrl(&mut s, 'n');
    let effects = press(&mut s, KeyCode::Char('y'));
    assert_eq!(s.overlay, Overlay::None);
    assert_eq!(s.course.at, Some((1, 0)));
    assert_eq!(s.console.target, Target::Write);
    assert!(matches!(
        &effects[1],
        Effect::Prepare { fresh: Fresh::IfChanged, lesson, .. } if lesson == "02-next"
    ));
    assert_eq!(s.course.busy, Some(Busy::Preparing("02-next setup".into())));
}

#[test]
fn the_lesson_list_moves_and_opens() {
    let mut s = on_first_step();
    assert_eq!(press(&mut s, KeyCode::F(10)), []);
    assert_eq!(s.overlay, Overlay::Lessons { selected: 0 });
    press(&mut s, KeyCode::Down);
    assert_eq!(s.overlay, Overlay::Lessons { selected: 1 });
    press(&mut s, KeyCode::Down);
    assert_eq!(
        s.overlay,
        Overlay::Lessons { selected: 1 },
        "stops at the end"
    );
    press(&mut s, KeyCode::Up);
    press(&mut s, KeyCode::Up);
    assert_eq!(s.overlay, Overlay::Lessons { selected: 0 });
    press(&mut s, KeyCode::Char('q'));
    assert_eq!(s.overlay, Overlay::None);

    // Enter on the locked lesson asks.
    press(&mut s, KeyCode::F(10));
    press(&mut s, KeyCode::Down);
    assert_eq!(press(&mut s, KeyCode::Enter), []);
    assert_eq!(
        s.overlay,
        Overlay::ConfirmOpen {
            lesson: 1,
            missing: vec!["01-basics".into()]
        }
    );
    press(&mut s, KeyCode::Char('Y'));
    assert_eq!(s.course.at, Some((1, 0)));

    // No lessons, no list.
    let mut bare = on_first_step();
    bare.course = Course::without_lessons(None);
    assert_eq!(press(&mut bare, KeyCode::F(10)), []);
    assert_eq!(bare.overlay, Overlay::None);
}

#[test]
fn resetting_a_lesson_forgets_it_and_starts_on_a_fresh_cluster() {
    let mut s = on_first_step();
    press(&mut s, KeyCode::F(4));
    s.course.progress.step_mut("01-basics", "why").outcome = Some(StepOutcome::Passed);
    s.course.progress.step_mut("02-next", "only").hints_used = 1;
    ctrl(&mut s, 'n');

    press(&mut s, KeyCode::F(10));
    assert_eq!(press(&mut s, KeyCode::Char('r')), []);
    assert_eq!(s.overlay, Overlay::ConfirmReset { lesson: 0 });
    // No keeps everything.
    press(&mut s, KeyCode::Char('n'));
    assert_eq!(s.course.progress.lessons["01-basics"].steps.len(), 2);

    press(&mut s, KeyCode::F(10));
    press(&mut s, KeyCode::Char('r'));
    let effects = press(&mut s, KeyCode::Char('y'));
    assert_eq!(s.overlay, Overlay::None);
    assert_eq!(s.course.at, Some((0, 0)));
    assert_eq!(effects.len(), 3, "{effects:?}");
    assert_eq!(
        effects[1],
        Effect::Prepare {
            round: s.course.judge_gen,
            fresh: Fresh::Always,
            lesson: "01-basics".into(),
            actions: vec![scale_to_three(), create_table(), pause_pg2()],
        }
    );
    let p = saved(&effects[2]);
    assert_eq!(p.lessons["01-basics"].steps.len(), 0, "{p:?}");
    assert_eq!(
        p.lessons["01-basics"].current_step.as_deref(),
        Some("insert-row")
    );
    assert_eq!(p.lessons["02-next"].steps["only"].hints_used, 1, "kept");
    assert_eq!(s.course.hints_shown, 0);
    assert_eq!(s.course.busy, Some(Busy::Recreating("01-basics".into())));
    assert_eq!(s.course.checks, vec![CheckState::Pending; 3]);
}

/// Moving on while a step's setup still runs: the answer to that setup belongs to an older
/// round and is dropped, so the step opened meanwhile must not stay busy.
#[test]
fn moving_on_during_a_setup_does_not_leave_the_next_step_busy() {
    let mut s = app(LearnerProgress::new("ann"));
    ready(&mut s);
    let setup_round = s.course.judge_gen;
    ctrl(&mut s, 'n');
    assert_eq!(s.course.at, Some((0, 1)));
    send(
        &mut s,
        Msg::Prepared {
            round: setup_round,
            result: Ok(String::new()),
        },
    );
    assert_eq!(s.course.busy, None);
    s.focus = Focus::Lesson;
    press(&mut s, KeyCode::Char('2'));
    assert_eq!(s.course.checks, [judged(true, "answered right")]);
    assert_eq!(s.course.step_done(), Some(StepOutcome::Passed));
}

/// Confirming the solution while a statement still runs runs nothing: the step should not
/// count as solved with help when the learner then solves it alone.
#[test]
fn a_solution_that_could_not_run_is_no_help() {
    let mut s = on_first_step();
    let round = s.course.judge_gen;
    type_sql(&mut s, "INSERT INTO t VALUES (1);");
    press(&mut s, KeyCode::F(5));
    press(&mut s, KeyCode::F(9));
    assert_eq!(press(&mut s, KeyCode::Char('y')), []);
    assert_eq!(
        s.console.output.info.as_deref(),
        Some("a statement is still running: cancel it (Ctrl-C) first")
    );
    assert_eq!(s.course.pending_actions, None);
    send(&mut s, finished(1, None));
    verdicts(&mut s, round, Verdict::pass("got 1, wanted >= 1"), true);
    assert_eq!(s.course.step_done(), Some(StepOutcome::Passed));
}

/// Resetting the open lesson banks the time spent on its open step after forgetting the
/// lesson, which brings back a record for that step.
#[test]
fn a_reset_lesson_keeps_no_record_of_the_step_that_was_open() {
    let mut s = on_first_step();
    s.course.opened_at = Instant::now().checked_sub(Duration::from_secs(30));
    press(&mut s, KeyCode::F(10));
    press(&mut s, KeyCode::Char('r'));
    press(&mut s, KeyCode::Char('y'));
    assert_eq!(
        s.course.progress.lessons["01-basics"].steps,
        Default::default()
    );
}

// --- Reporting to a class ---

use crate::classroom::queue::EventKind as Ev;
use crate::classroom::reporter::ClassMsg;
use crate::tui::course::Class;
use crate::tui::msg::DRILL_ROUND;

/// The app of a learner who joined a class (drills allowed or not).
fn in_class(progress: LearnerProgress, allow_drills: bool) -> State {
    let mut s = app(progress);
    s.course.class = Some(Class::new("ann".into(), allow_drills));
    s
}

/// The class events among `effects`: kind, lesson, step, detail.
fn reports(effects: &[Effect]) -> Vec<(Ev, String, String, serde_json::Value)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Report(ev) => Some((
                ev.kind,
                ev.lesson.clone().unwrap_or_default(),
                ev.step.clone().unwrap_or_default(),
                ev.detail.clone(),
            )),
            _ => None,
        })
        .collect()
}

fn kinds(effects: &[Effect]) -> Vec<Ev> {
    reports(effects).into_iter().map(|r| r.0).collect()
}

fn class(s: &State) -> &Class {
    s.course.class.as_ref().expect("in a class")
}

#[test]
fn outside_a_class_nothing_is_reported() {
    let mut s = app(LearnerProgress::new("ann"));
    let mut all = ready(&mut s);
    all.extend(prepared(&mut s));
    all.extend(press(&mut s, KeyCode::F(4)));
    all.extend(press(&mut s, KeyCode::F(3)));
    all.extend(ctrl(&mut s, 'n'));
    assert_eq!(kinds(&all), []);
}

#[test]
fn opening_reports_the_lesson_once_and_every_step() {
    let mut s = in_class(LearnerProgress::new("ann"), false);
    let effects = ready(&mut s);
    let r = reports(&effects);
    assert_eq!(r.len(), 2, "{effects:?}");
    assert_eq!(r[0].0, Ev::LessonOpened);
    assert_eq!(
        (r[0].1.as_str(), r[0].2.as_str()),
        ("01-basics", "insert-row")
    );
    assert_eq!(r[0].3["starting"], true);
    assert_eq!(r[1].0, Ev::StepOpened);
    assert_eq!(r[1].3["index"], 1);
    // The progress is saved first, the setup still runs.
    saved(&effects[0]);
    assert!(matches!(effects.last(), Some(Effect::Prepare { .. })));

    prepared(&mut s);
    let effects = ctrl(&mut s, 'n');
    assert_eq!(kinds(&effects), [Ev::StepOpened], "the same lesson");
    assert_eq!(reports(&effects)[0].2, "why");
    ctrl(&mut s, 'n');
    let effects = press(&mut s, KeyCode::Char('y'));
    assert_eq!(kinds(&effects), [Ev::LessonOpened, Ev::StepOpened]);
    assert_eq!(reports(&effects)[0].1, "02-next");
}

#[test]
fn a_statement_is_reported_checked_once_its_judging_ends_then_passed() {
    let mut s = in_class(LearnerProgress::new("ann"), false);
    ready(&mut s);
    prepared(&mut s);
    let round = s.course.judge_gen;
    type_sql(&mut s, "INSERT INTO t VALUES (1);");
    assert_eq!(kinds(&press(&mut s, KeyCode::F(5))), []);
    let effects = send(&mut s, finished(1, None));
    assert_eq!(
        effects,
        [judge_sql(round, Duration::from_secs(10))],
        "not yet"
    );
    // The judging after the setup, superseded, ends: not the statement's.
    let effects = verdicts(&mut s, round, Verdict::fail("pg2: got 0"), true);
    assert_eq!(kinds(&effects), []);
    // A try that is not the last says nothing.
    let effects = verdicts(&mut s, round, Verdict::fail("pg2: got 0"), false);
    assert_eq!(kinds(&effects), []);

    s.course.opened_at = Instant::now().checked_sub(Duration::from_secs(42));
    let effects = verdicts(&mut s, round, Verdict::pass("got 1, wanted >= 1"), true);
    let r = reports(&effects);
    assert_eq!(
        r.iter().map(|x| x.0).collect::<Vec<_>>(),
        [Ev::Checked, Ev::Passed]
    );
    assert_eq!(r[0].3["passing"], 3);
    assert_eq!(r[0].3["total"], 3);
    assert_eq!(r[0].3["verdicts"].as_array().map(Vec::len), Some(3));
    assert_eq!(r[1].3["seconds"], 42);
    assert_eq!(r[1].3["hints"], 0);
    assert_eq!(
        (r[1].1.as_str(), r[1].2.as_str()),
        ("01-basics", "insert-row")
    );

    // Done already: checking again is reported, passing again is not.
    let effects = press(&mut s, KeyCode::F(3));
    assert_eq!(effects, [judge_sql(round, Duration::from_secs(10))]);
    let effects = verdicts(&mut s, round, Verdict::pass("got 2, wanted >= 1"), true);
    assert_eq!(kinds(&effects), [Ev::Checked]);
}

#[test]
fn the_checked_report_waits_for_the_judging_asked_for_not_an_older_one() {
    let mut s = in_class(LearnerProgress::new("ann"), false);
    ready(&mut s);
    prepared(&mut s);
    let round = s.course.judge_gen;
    // The judging after the setup is nobody's question.
    assert_eq!(
        kinds(&verdicts(&mut s, round, Verdict::fail("pg2: got 0"), true)),
        []
    );
    // A telemetry-driven judging is running when the learner presses F3.
    s.course.last_judged = Instant::now().checked_sub(Duration::from_secs(10));
    let auto = send(&mut s, Msg::Snapshot(Arc::new(snapshot(vec![]))));
    assert_eq!(auto, [judge_sql(round, Duration::ZERO)]);
    press(&mut s, KeyCode::F(3));
    // The older loop ends first: not the answer to F3.
    assert_eq!(
        kinds(&verdicts(&mut s, round, Verdict::fail("pg2: got 0"), true)),
        []
    );
    let effects = verdicts(&mut s, round, Verdict::fail("pg2: got 0"), true);
    let r = reports(&effects);
    assert_eq!(r.len(), 1, "{effects:?}");
    assert_eq!(r[0].0, Ev::Checked);
    assert_eq!(r[0].3["passing"], 1, "only the telemetry check passes");
    // Verdicts of an older step never count.
    let effects = verdicts(&mut s, round - 1, Verdict::pass("late"), true);
    assert_eq!(kinds(&effects), []);
}

#[test]
fn f3_on_a_step_without_sql_checks_is_reported_at_once() {
    let mut s = in_class(resumed_at("why"), false);
    ready(&mut s);
    let effects = press(&mut s, KeyCode::F(3));
    let r = reports(&effects);
    assert_eq!(r.len(), 1, "{effects:?}");
    assert_eq!(r[0].0, Ev::Checked);
    assert_eq!(
        (r[0].3["passing"].clone(), r[0].3["total"].clone()),
        (0.into(), 1.into())
    );
    assert_eq!(r[0].3["verdicts"][0]["pass"], false);
}

#[test]
fn hints_and_help_are_reported_with_time_on_the_step() {
    let mut s = in_class(LearnerProgress::new("ann"), false);
    ready(&mut s);
    prepared(&mut s);
    let round = s.course.judge_gen;
    let effects = press(&mut s, KeyCode::F(4));
    let r = reports(&effects);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].0, Ev::Hint);
    assert_eq!(r[0].3, serde_json::json!({ "shown": 1, "of": 3 }));
    press(&mut s, KeyCode::F(4));
    press(&mut s, KeyCode::F(4));
    assert_eq!(kinds(&press(&mut s, KeyCode::F(4))), [], "no fourth hint");

    press(&mut s, KeyCode::F(9));
    press(&mut s, KeyCode::Char('y'));
    send(&mut s, finished(1, None));
    prepared(&mut s);
    s.course.opened_at = Instant::now().checked_sub(Duration::from_secs(90));
    let effects = verdicts(&mut s, round, Verdict::pass("got 1, wanted >= 1"), true);
    let r = reports(&effects);
    let help = r
        .iter()
        .find(|x| x.0 == Ev::SolvedWithHelp)
        .expect("solved with help");
    assert_eq!(help.3["seconds"], 90);
    assert_eq!(help.3["hints"], 3);
    assert!(!r.iter().any(|x| x.0 == Ev::Passed));
}

#[test]
fn the_pace_locks_later_lessons() {
    let mut s = in_class(LearnerProgress::new("ann"), false);
    ready(&mut s);
    prepared(&mut s);
    for step in ["insert-row", "why"] {
        s.course.progress.step_mut("01-basics", step).outcome = Some(StepOutcome::Passed);
    }
    assert_eq!(send(&mut s, Msg::Class(ClassMsg::Pace(Some(1)))), []);
    assert!(s.course.locked_by_pace(1));
    assert!(!s.course.locked_by_pace(0));
    ctrl(&mut s, 'n');
    assert_eq!(ctrl(&mut s, 'n'), [], "Ctrl-N stops at the lock");
    assert_eq!(s.course.at, Some((0, 1)));
    let notice = s.course.notice.clone().unwrap_or_default();
    assert!(
        notice.contains("02-next is locked by the instructor"),
        "{notice}"
    );
    assert!(notice.contains("lesson 1 is open"), "{notice}");

    // The list does not open it either, and stays up to say why.
    press(&mut s, KeyCode::F(10));
    press(&mut s, KeyCode::Down);
    assert_eq!(press(&mut s, KeyCode::Enter), []);
    assert_eq!(s.overlay, Overlay::Lessons { selected: 1 });
    press(&mut s, KeyCode::Esc);

    // Unlocked: on it goes.
    send(&mut s, Msg::Class(ClassMsg::Pace(None)));
    ctrl(&mut s, 'n');
    assert_eq!(s.course.at, Some((1, 0)));
}

#[test]
fn a_broadcast_is_shown_with_a_badge_until_the_learner_acts_on_the_tutorial() {
    let mut s = in_class(LearnerProgress::new("ann"), false);
    ready(&mut s);
    prepared(&mut s);
    send(
        &mut s,
        Msg::Class(ClassMsg::Broadcast("break until 11".into())),
    );
    send(
        &mut s,
        Msg::Class(ClassMsg::Broadcast("back at 11:15".into())),
    );
    assert_eq!(class(&s).broadcast.as_deref(), Some("back at 11:15"));
    assert_eq!(class(&s).unread, 2);
    press(&mut s, KeyCode::F(3));
    assert_eq!(class(&s).unread, 0);
    assert_eq!(
        class(&s).broadcast.as_deref(),
        Some("back at 11:15"),
        "the message stays in the pane"
    );
}

#[test]
fn an_allowed_drill_runs_on_the_learner_s_cluster_and_is_reported() {
    let mut s = in_class(LearnerProgress::new("ann"), true);
    ready(&mut s);
    prepared(&mut s);
    let drill = |action: &str| {
        Msg::Class(ClassMsg::Drill {
            id: 7,
            action: action.into(),
            note: "watch the dashboard".into(),
        })
    };
    let effects = send(&mut s, drill("kill-primary"));
    assert_eq!(
        effects,
        [Effect::Prepare {
            round: DRILL_ROUND | 7,
            fresh: Fresh::Never,
            lesson: "drill".into(),
            actions: vec![Action::Node {
                op: NodeOp::Kill,
                node: "pg1".into()
            }],
        }]
    );
    let d = class(&s).drill.clone().expect("a drill");
    assert_eq!((d.what.as_str(), d.outcome), ("kill pg1", None));
    // The tutorial's own round is not disturbed by the drill's answer.
    let busy = s.course.busy.clone();
    let effects = send(
        &mut s,
        Msg::Prepared {
            round: DRILL_ROUND | 7,
            result: Ok(String::new()),
        },
    );
    assert_eq!(s.course.busy, busy);
    let r = reports(&effects);
    assert_eq!(r.len(), 1, "{effects:?}");
    assert_eq!(r[0].0, Ev::Drill);
    assert_eq!(r[0].3["outcome"], "ran");
    assert_eq!(r[0].3["id"], 7);
    assert_eq!(r[0].3["action"], "kill-primary");
    assert_eq!(
        class(&s).drill.as_ref().and_then(|d| d.outcome.clone()),
        Some(Ok(String::new()))
    );

    let effects = send(&mut s, drill("stop-replica"));
    assert!(matches!(
        &effects[..],
        [Effect::Prepare { actions, .. }] if actions == &[Action::Node { op: NodeOp::Stop, node: "pg2".into() }]
    ));
    let effects = send(&mut s, drill("pause-replay"));
    assert!(matches!(
        &effects[..],
        [Effect::Prepare { actions, .. }] if actions == &[Action::PauseReplay { node: "pg2".into() }]
    ));
    let effects = send(
        &mut s,
        Msg::Prepared {
            round: DRILL_ROUND | 7,
            result: Err("pg2 is not running".into()),
        },
    );
    assert_eq!(reports(&effects)[0].3["outcome"], "failed");

    // One this version does not know is skipped, and says so.
    let effects = send(&mut s, drill("flood-the-disk"));
    let r = reports(&effects);
    assert_eq!(r[0].3["outcome"], "skipped");
    let why = r[0].3["why"].as_str().unwrap_or_default().to_string();
    assert!(why.contains("does not know the drill"), "{why}");
}

#[test]
fn a_drill_the_learner_did_not_allow_is_skipped_and_reported() {
    let mut s = in_class(LearnerProgress::new("ann"), false);
    ready(&mut s);
    prepared(&mut s);
    let effects = send(
        &mut s,
        Msg::Class(ClassMsg::Drill {
            id: 3,
            action: "kill-primary".into(),
            note: String::new(),
        }),
    );
    assert!(!effects.iter().any(|e| matches!(e, Effect::Prepare { .. })));
    let r = reports(&effects);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].3["outcome"], "skipped");
    assert_eq!(r[0].3["allowed"], false);
    let d = class(&s).drill.clone().expect("shown");
    assert!(matches!(d.outcome, Some(Err(why)) if why.contains("--allow-drills")));
}
