//! `update` for the class: progress events for the hub, and what the instructor sends back
//! (broadcasts, pace, drills).

use std::path::PathBuf;

use super::class_state::{DrillRun, JoinedClass};
use super::msg::{DRILL_ROUND, Effect, Fresh};
use super::state::{Phase, State};
use crate::classroom::membership::Membership;
use crate::classroom::queue::{ClassEvent, EventKind};
use crate::classroom::reporter::{ClassMsg, ReporterState};
use crate::cluster::node_op::NodeOp;
use crate::cluster::status::Role;
use crate::lesson::course::CheckState;
use crate::lesson::model::Action;

/// A learner who joined a class reports to it from the start.
pub fn on_membership(
    state: &mut State,
    dir: PathBuf,
    found: Result<Option<Membership>, String>,
) -> Vec<Effect> {
    match found {
        Ok(Some(m)) => {
            state.class = Some(JoinedClass::new(m.name.clone(), m.allow_drills));
            vec![Effect::JoinClass {
                membership: Box::new(m),
                dir,
            }]
        }
        Ok(None) => Vec::new(),
        Err(e) => {
            state.console.output.info = Some(format!("progress is not reported to the class: {e}"));
            Vec::new()
        }
    }
}

/// A progress event about the open step, for the class, when the learner is in one.
pub(super) fn report(state: &State, kind: EventKind, detail: serde_json::Value) -> Option<Effect> {
    state.class.as_ref()?;
    let c = &state.course;
    let event = ClassEvent::new(
        kind,
        c.lesson().map(|l| l.id.clone()),
        c.step().map(|s| s.id.clone()),
    );
    Some(Effect::Report(event.with_detail(detail)))
}

/// `lesson_opened` when the lesson is new to this visit (or starts again), and `step_opened`.
pub(super) fn report_opened(state: &mut State, l: usize, s: usize, starting: bool) -> Vec<Effect> {
    let Some(class) = &mut state.class else {
        return Vec::new();
    };
    let new_lesson = starting || class.lesson_reported != Some(l);
    class.lesson_reported = Some(l);
    class.unread = 0;
    let mut out = Vec::new();
    if new_lesson {
        out.extend(report(
            state,
            EventKind::LessonOpened,
            serde_json::json!({ "index": l + 1, "starting": starting }),
        ));
    }
    let done = state.course.step_done().is_some();
    out.extend(report(
        state,
        EventKind::StepOpened,
        serde_json::json!({ "index": s + 1, "done": done }),
    ));
    out
}

/// `checked`: how the open step's checks stand after a judging the learner asked for.
pub(super) fn report_checked(state: &State) -> Option<Effect> {
    let c = &state.course;
    let step = c.step()?;
    let verdicts: Vec<serde_json::Value> = step
        .checks
        .iter()
        .zip(&c.checks)
        .map(|(check, st)| {
            let detail = match st {
                CheckState::Judged(v) => v.detail.clone(),
                CheckState::Pending => "not checked yet".into(),
            };
            serde_json::json!({
                "check": crate::lesson::verify::describe(check),
                "pass": st.passed(),
                "detail": detail,
            })
        })
        .collect();
    let passing = c.checks.iter().filter(|x| x.passed()).count();
    report(
        state,
        EventKind::Checked,
        serde_json::json!({ "passing": passing, "total": c.checks.len(), "verdicts": verdicts }),
    )
}

/// Why lesson `l` cannot be opened now, when the instructor's pace keeps it closed.
pub(super) fn locked(state: &State, l: usize) -> Option<String> {
    if !state.course.locked_by_pace(l) {
        return None;
    }
    let id = state.course.lessons.get(l).map_or("", |x| x.id.as_str());
    let open = state.course.pace.map_or_else(String::new, |n| match n {
        1 => " (lesson 1 is open)".into(),
        n => format!(" (lessons 1–{n} are open)"),
    });
    Some(format!(
        "{id} is locked by the instructor for now{open}: it opens when the class gets there"
    ))
}

/// What the instructor sent.
pub fn on_class(state: &mut State, msg: ClassMsg) -> Vec<Effect> {
    let Some(class) = &mut state.class else {
        return Vec::new();
    };
    match msg {
        ClassMsg::Broadcast(text) => {
            class.broadcast = Some(text);
            class.unread += 1;
            Vec::new()
        }
        ClassMsg::Pace(pace) => {
            state.course.pace = pace;
            Vec::new()
        }
        ClassMsg::Drill { id, action, note } => drill(state, id, action, note),
    }
}

pub fn on_class_status(state: &mut State, status: ReporterState) -> Vec<Effect> {
    if let Some(class) = &mut state.class {
        class.status = status;
    }
    Vec::new()
}

pub fn on_class_notice(state: &mut State, notice: String) -> Vec<Effect> {
    state.course.notice = Some(notice);
    Vec::new()
}

/// The `Prepare` round a drill's actions run in.
pub(super) fn drill_round(id: i64) -> u64 {
    DRILL_ROUND | (id.unsigned_abs() & (DRILL_ROUND - 1))
}

/// What a drill does to this learner's cluster as it is now: a label and the actions.
pub fn drill_actions(
    action: &str,
    snap: Option<&crate::telemetry::model::Snapshot>,
) -> Result<(String, Vec<Action>), String> {
    let snap = snap.ok_or("the cluster's state is not known yet")?;
    let replica = || {
        snap.nodes
            .iter()
            .find(|n| n.role == Role::Replica)
            .map(|n| n.name.clone())
            .ok_or_else(|| "the cluster has no replica right now".to_string())
    };
    let a = match action {
        "kill-primary" => {
            let node = snap
                .primary()
                .map(|n| n.name.clone())
                .ok_or("the cluster has no primary right now")?;
            Action::Node {
                op: NodeOp::Kill,
                node,
                force: false,
            }
        }
        "stop-replica" => Action::Node {
            op: NodeOp::Stop,
            node: replica()?,
            force: false,
        },
        "pause-replay" => Action::PauseReplay { node: replica()? },
        other => {
            return Err(format!(
                "this replica-lab does not know the drill {other:?} (it knows kill-primary, \
                 stop-replica, pause-replay): update replica-lab"
            ));
        }
    };
    Ok((a.label(), vec![a]))
}

/// A drill from the instructor: run on this learner's cluster when they allowed it, else
/// skipped; either way the class hears what happened.
pub(super) fn drill(state: &mut State, id: i64, action: String, note: String) -> Vec<Effect> {
    let Some(class) = &state.class else {
        return Vec::new();
    };
    let planned = if !class.allow_drills {
        Err("skipped: you did not allow drills (join with --allow-drills to take part)".into())
    } else if !matches!(state.phase, Phase::Running) {
        Err("skipped: the cluster is not up".into())
    } else {
        drill_actions(&action, state.dash.snapshot.as_deref()).map_err(|e| format!("skipped: {e}"))
    };
    let allowed = class.allow_drills;
    let (what, outcome, effects) = match planned {
        Ok((what, actions)) => (
            what,
            None,
            vec![Effect::Prepare {
                round: drill_round(id),
                fresh: Fresh::Never,
                lesson: "drill".into(),
                actions,
            }],
        ),
        Err(why) => {
            let detail = serde_json::json!({
                "id": id, "action": action, "allowed": allowed, "outcome": "skipped", "why": why,
            });
            (
                String::new(),
                Some(Err(why)),
                report(state, EventKind::Drill, detail)
                    .into_iter()
                    .collect(),
            )
        }
    };
    if let Some(class) = &mut state.class {
        class.drill = Some(DrillRun {
            id,
            action,
            note,
            what,
            outcome,
        });
    }
    effects
}

/// A drill's actions are done (or failed): shown, and reported.
pub fn on_drill_done(state: &mut State, round: u64, result: Result<String, String>) -> Vec<Effect> {
    let Some(d) = state
        .class
        .as_mut()
        .and_then(|c| c.drill.as_mut())
        .filter(|d| drill_round(d.id) == round && d.outcome.is_none())
    else {
        return Vec::new();
    };
    d.outcome = Some(result.clone());
    let detail = serde_json::json!({
        "id": d.id,
        "action": d.action,
        "allowed": true,
        "outcome": if result.is_ok() { "ran" } else { "failed" },
        "what": d.what,
        "result": match &result { Ok(text) | Err(text) => text.clone() },
    });
    report(state, EventKind::Drill, detail)
        .into_iter()
        .collect()
}
