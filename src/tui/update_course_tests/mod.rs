//! The tutorial's `update`, driven by the messages and keys the app sends, on two small
//! lessons written here; the tests are grouped by what the learner does.
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::classroom::queue::EventKind as Ev;
use crate::classroom::reporter::ClassMsg;
use crate::cluster::node_op::NodeOp;
use crate::cluster::state::RuntimeKind;
use crate::cluster::status::{EndpointsView, Role};
use crate::lesson::course::{Busy, CheckState, Course};
use crate::lesson::evaluate::{Run, Verdict};
use crate::lesson::model::{Action, CheckTarget, CmpOp, Compare, Expect, Lesson, SqlCheck};
use crate::lesson::progress::{LearnerProgress, StepOutcome};
use crate::sql::{SqlError, SqlEvent, Target, TxState};
use crate::telemetry::model::{Event, EventKind, Lag, NodeTelemetry, ProxyView, Snapshot};
use crate::tui::class_state::JoinedClass;
use crate::tui::keys::Keymap;
use crate::tui::msg::{DRILL_ROUND, Effect, Fresh, Msg, Startup};
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
session = "fresh"
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
        haproxy: ProxyView::up(vec![]),
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

/// Lets `secs` seconds pass on the clock the loop stamps into messages.
fn wait(s: &mut State, secs: u64) {
    let later = s.now.later(Duration::from_secs(secs));
    send(s, Msg::Tick(later));
}

/// The tag of the newest `sql` judging: the one whose answers count.
fn judging(s: &State) -> u64 {
    s.course.judgings.current()
}

fn prepared(s: &mut State) -> Vec<Effect> {
    let round = s.course.round.current();
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

fn judge_sql(judging: u64, patience: Duration) -> Effect {
    Effect::JudgeSql {
        judging,
        checks: vec![(1, sql_check())],
        patience,
    }
}

fn verdicts(s: &mut State, judging: u64, v: Verdict, last: bool) -> Vec<Effect> {
    send(
        s,
        Msg::SqlVerdicts {
            judging,
            verdicts: vec![(1, v)],
            last,
        },
    )
}

/// Answers of the newest judging.
fn verdicts_now(s: &mut State, v: Verdict, last: bool) -> Vec<Effect> {
    let tag = judging(s);
    verdicts(s, tag, v, last)
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

/// The app of a learner who joined a class (drills allowed or not).
fn in_class(progress: LearnerProgress, allow_drills: bool) -> State {
    let mut s = app(progress);
    s.class = Some(JoinedClass::new("ann".into(), allow_drills));
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

fn class(s: &State) -> &JoinedClass {
    s.class.as_ref().expect("in a class")
}

mod checks;
mod class_instructor;
mod class_reports;
mod help;
mod moving;
mod opening;
mod progress_file;
