//! The one place state changes: `update(&mut State, Msg) -> Vec<Effect>`.

use crossterm::event::{KeyCode, KeyEvent, MouseEventKind};

use super::keys::{Action, Keymap};
use super::msg::{DRILL_ROUND, Effect, Msg, Startup};
use super::state::{ActionStatus, Confirm, Focus, Overlay, Phase, StartupStep, State};
use super::update_class as class;
use super::update_console::{editor_key, history_search_key, run, sql_event};
use super::update_course as course;
use crate::cluster::node_op::NodeOp;
use crate::lesson::course::FileNote;
use crate::sql::{SqlEvent, Target};

/// Points per sparkline.
const SPARK_POINTS: usize = 120;
/// Fresh connections per served-by probe.
pub const SERVED_BY_CONNECTIONS: usize = 12;

pub fn update(state: &mut State, keys: &Keymap, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Tick(now) => {
            state.now = now;
            Vec::new()
        }
        Msg::Key(k) => key(state, keys, k),
        Msg::Mouse(m) => {
            match m.kind {
                MouseEventKind::ScrollDown => scroll(state, 3, 0),
                MouseEventKind::ScrollUp => scroll(state, -3, 0),
                _ => {}
            }
            Vec::new()
        }
        Msg::Click(focus) => {
            if matches!(state.phase, Phase::Running) && state.overlay == Overlay::None {
                state.focus = focus;
            }
            Vec::new()
        }
        Msg::Resize => Vec::new(),
        Msg::Terminate => quit(state),
        Msg::Startup(s) => {
            let ready = s == Startup::Ready;
            startup(state, s);
            if ready {
                course::on_ready(state)
            } else {
                Vec::new()
            }
        }
        Msg::Snapshot(snap) => {
            for n in &snap.nodes {
                let points = state.dash.replay_history.entry(n.name.clone()).or_default();
                points.push(
                    n.lag
                        .as_ref()
                        .map_or(0, |l| u64::try_from(l.replay_bytes).unwrap_or(0)),
                );
                let excess = points.len().saturating_sub(SPARK_POINTS);
                points.drain(..excess);
            }
            let count = snap.nodes.len();
            state
                .dash
                .replay_history
                .retain(|name, _| snap.node(name).is_some());
            state.dash.selected = state.dash.selected.min(count.saturating_sub(1));
            // A run that finished before telemetry knew every node's address gets its name
            // as soon as a snapshot does.
            if let Some(sb) = state
                .console
                .output
                .served_by
                .as_mut()
                .filter(|s| s.node.is_none())
            {
                if let Some(n) = snap.nodes.iter().find(|n| n.address == sb.address) {
                    sb.node = Some(n.name.clone());
                    sb.role = Some(n.role.as_str().to_string());
                }
            }
            state.dash.snapshot = Some(snap);
            course::on_snapshot(state)
        }
        Msg::Sql(ev) => {
            let finished = match &ev {
                SqlEvent::Finished { id, error, .. } if state.console.awaits(*id) => {
                    // A failure without a SQLSTATE (a lost connection) is still a failure.
                    Some(
                        error
                            .as_ref()
                            .map(|e| e.sqlstate.clone().unwrap_or_default()),
                    )
                }
                _ => None,
            };
            sql_event(state, ev);
            match finished {
                Some(sqlstate) => {
                    let (text, target) = state.console.running_text.clone();
                    let fresh = state.console.running_fresh;
                    course::on_run_finished(state, text, target, sqlstate, fresh)
                }
                None => Vec::new(),
            }
        }
        Msg::ActionDone { op, node, result } => {
            state.dash.action = Some(ActionStatus {
                op,
                node,
                outcome: Some(result),
            });
            Vec::new()
        }
        Msg::Supervised(line) => {
            state.dash.duty = Some(line);
            Vec::new()
        }
        Msg::Prepared { round, result } if round >= DRILL_ROUND => {
            class::on_drill_done(state, round, result)
        }
        Msg::Prepared { round, result } => course::on_prepared(state, round, result),
        Msg::Recreated {
            round,
            actions,
            result,
        } => course::on_recreated(state, round, actions, result),
        Msg::Membership { dir, found } => class::on_membership(state, dir, found),
        Msg::Class(m) => class::on_class(state, m),
        Msg::ClassStatus(s) => class::on_class_status(state, s),
        Msg::ClassNotice(n) => class::on_class_notice(state, n),
        Msg::SqlVerdicts {
            judging,
            verdicts,
            last,
        } => course::on_sql_verdicts(state, judging, verdicts, last),
        Msg::ProgressNotSaved(e) => {
            state.course.progress_note = Some(FileNote::trouble(format!(
                "{e}. Your progress is kept while the app runs and saved again at your next \
                 change"
            )));
            Vec::new()
        }
        Msg::ProgressSaved { path, kept } => {
            let text = match kept {
                Some(kept) => format!(
                    "progress saved to {}; what could not be read of it is kept in {}",
                    path.display(),
                    kept.display()
                ),
                None => format!("progress saved again to {}", path.display()),
            };
            state.course.progress_note = Some(FileNote::news(text));
            Vec::new()
        }
        Msg::ServedBy(result) => {
            state.dash.served_by_running = false;
            match result {
                Ok(t) => state.dash.served_by = Some(t),
                Err(e) => state.console.output.info = Some(format!("served-by failed: {e}")),
            }
            Vec::new()
        }
    }
}

/// The way out: the time on the open step is banked and the progress saved once more; the
/// loop ends once the effects are handed over.
fn quit(state: &mut State) -> Vec<Effect> {
    if state.quit {
        return Vec::new();
    }
    state.quit = true;
    state.course.bank_time(state.now.at);
    vec![Effect::SaveProgress(Box::new(
        state.course.progress.clone(),
    ))]
}

fn startup(state: &mut State, s: Startup) {
    if let Startup::Ready = s {
        state.phase = Phase::Running;
        return;
    }
    let Phase::Starting {
        steps,
        notes,
        pull,
        error,
    } = &mut state.phase
    else {
        return;
    };
    match s {
        Startup::Phase { name, took } => steps.push(StartupStep {
            name,
            took: Some(took),
        }),
        Startup::Note(n) => notes.push(n),
        Startup::Pull(p) => *pull = Some(p),
        Startup::Failed(e) => *error = Some(e),
        Startup::Ready => {}
    }
}

fn key(state: &mut State, keys: &Keymap, k: KeyEvent) -> Vec<Effect> {
    let action = keys.action(&k);
    if action == Some(Action::Quit) {
        return quit(state);
    }
    match &state.overlay {
        Overlay::Help => {
            if matches!(k.code, KeyCode::Esc | KeyCode::Char('q')) || action == Some(Action::Help) {
                state.overlay = Overlay::None;
            }
            return Vec::new();
        }
        Overlay::Confirm(c) => {
            let c = c.clone();
            state.overlay = Overlay::None;
            if matches!(k.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                return node_action(state, c.op, c.node, c.force);
            }
            return Vec::new();
        }
        Overlay::HistorySearch { .. } => return history_search_key(state, k),
        Overlay::Lessons { .. } => return course::lessons_key(state, k),
        Overlay::ConfirmSolve | Overlay::ConfirmReset { .. } | Overlay::ConfirmOpen { .. } => {
            return course::confirm_key(state, k);
        }
        Overlay::None => {}
    }
    if !matches!(state.phase, Phase::Running) {
        return Vec::new();
    }
    if let Some(a) = action {
        if let Some(effects) = global_action(state, a) {
            return effects;
        }
    }
    match state.focus {
        Focus::Editor => editor_key(state, k),
        Focus::Results => {
            match k.code {
                KeyCode::Down => scroll(state, 1, 0),
                KeyCode::Up => scroll(state, -1, 0),
                KeyCode::PageDown => scroll(state, 20, 0),
                KeyCode::PageUp => scroll(state, -20, 0),
                KeyCode::Right => scroll(state, 0, 1),
                KeyCode::Left => scroll(state, 0, -1),
                KeyCode::Home => state.console.output.scroll_row = 0,
                _ => {}
            }
            Vec::new()
        }
        Focus::Lesson => {
            if let Some(effects) = course::lesson_pane_key(state, k) {
                return effects;
            }
            match k.code {
                KeyCode::Down => scroll(state, 1, 0),
                KeyCode::Up => scroll(state, -1, 0),
                KeyCode::PageDown => scroll(state, 10, 0),
                KeyCode::PageUp => scroll(state, -10, 0),
                _ => {}
            }
            Vec::new()
        }
        Focus::Nodes => nodes_key(state, k),
    }
}

/// Keys that act the same in every pane; `None` when the key means something else here.
fn global_action(state: &mut State, a: Action) -> Option<Vec<Effect>> {
    match a {
        Action::Quit => return Some(quit(state)),
        Action::Help => state.overlay = Overlay::Help,
        Action::FocusEditor => state.focus = Focus::Editor,
        Action::FocusNext | Action::FocusPrev => {
            let order = Focus::ORDER;
            let i = order.iter().position(|f| *f == state.focus).unwrap_or(0);
            let step = if a == Action::FocusNext {
                1
            } else {
                order.len() - 1
            };
            state.focus = order[(i + step) % order.len()];
        }
        Action::Run => return Some(run(state)),
        Action::CycleTarget => state.console.target = next_target(state),
        Action::ToggleFresh => state.console.fresh = !state.console.fresh,
        Action::Cancel => {
            if state.console.running.is_some() {
                return Some(vec![Effect::CancelSql]);
            }
            return None;
        }
        Action::HistorySearch => {
            state.overlay = Overlay::HistorySearch {
                query: String::new(),
                selected: 0,
            }
        }
        Action::ServedBy => return Some(served_by(state)),
        Action::CheckNow => return Some(course::check_now(state)),
        Action::Hint => return Some(course::hint(state)),
        Action::Solve => {
            let solvable = state
                .course
                .step()
                .is_some_and(|s| s.solution.is_some() || s.quiz.is_some());
            if solvable && state.course.busy.is_none() {
                state.overlay = Overlay::ConfirmSolve;
            }
        }
        Action::Lessons => {
            if !state.course.lessons.is_empty() {
                state.overlay = Overlay::Lessons {
                    selected: state.course.at.map_or(0, |(l, _)| l),
                };
            }
        }
        Action::NextStep => return Some(course::next(state)),
        Action::PrevStep => return Some(course::prev(state)),
    }
    Some(Vec::new())
}

fn served_by(state: &mut State) -> Vec<Effect> {
    if state.dash.served_by_running {
        return Vec::new();
    }
    state.dash.served_by_running = true;
    vec![Effect::ServedBy {
        connections: SERVED_BY_CONNECTIONS,
    }]
}

/// write → read → every node → write; a URL target (`\connect`) is left for write.
fn next_target(state: &State) -> Target {
    let nodes = state.node_names();
    match &state.console.target {
        Target::Write => Target::Read,
        Target::Url(_) => Target::Write,
        Target::Read => nodes
            .first()
            .map_or(Target::Write, |n| Target::Node(n.clone())),
        Target::Node(n) => {
            let i = nodes.iter().position(|x| x == n);
            match i.and_then(|i| nodes.get(i + 1)) {
                Some(next) => Target::Node(next.clone()),
                None => Target::Write,
            }
        }
    }
}

fn nodes_key(state: &mut State, k: KeyEvent) -> Vec<Effect> {
    let names = state.node_names();
    match k.code {
        KeyCode::Down => {
            state.dash.selected = (state.dash.selected + 1).min(names.len().saturating_sub(1))
        }
        KeyCode::Up => state.dash.selected = state.dash.selected.saturating_sub(1),
        KeyCode::Char(c) => {
            let Some(node) = names.get(state.dash.selected).cloned() else {
                return Vec::new();
            };
            let (op, force) = match c {
                's' => (NodeOp::Stop, false),
                'S' => (NodeOp::Start, false),
                // Starts a fenced node as it is: lesson 12 makes a split brain this way.
                'F' => (NodeOp::Start, true),
                'k' => (NodeOp::Kill, false),
                'p' => (NodeOp::Pause, false),
                'r' => (NodeOp::Resume, false),
                'P' => (NodeOp::Promote, false),
                'w' => (NodeOp::Rewind, false),
                'x' => (NodeOp::Partition, false),
                'h' => (NodeOp::Heal, false),
                'b' => return served_by(state),
                _ => return Vec::new(),
            };
            if destructive(op) || force {
                state.overlay = Overlay::Confirm(Confirm { op, node, force });
                return Vec::new();
            }
            return node_action(state, op, node, force);
        }
        _ => {}
    }
    Vec::new()
}

/// Operations that lose sessions or change roles ask first.
pub fn destructive(op: NodeOp) -> bool {
    matches!(
        op,
        NodeOp::Stop | NodeOp::Kill | NodeOp::Promote | NodeOp::Rewind | NodeOp::Partition
    )
}

fn node_action(state: &mut State, op: NodeOp, node: String, force: bool) -> Vec<Effect> {
    if state
        .dash
        .action
        .as_ref()
        .is_some_and(|a| a.outcome.is_none())
    {
        state.console.output.info = Some("a node action is still running".into());
        return Vec::new();
    }
    state.dash.action = Some(ActionStatus {
        op,
        node: node.clone(),
        outcome: None,
    });
    vec![Effect::NodeAction { op, node, force }]
}

fn scroll(state: &mut State, rows: isize, cols: isize) {
    let add = |v: usize, d: isize| {
        if d < 0 {
            v.saturating_sub(d.unsigned_abs())
        } else {
            v + d.unsigned_abs()
        }
    };
    match state.focus {
        Focus::Lesson => {
            state.lesson.scroll =
                u16::try_from(add(usize::from(state.lesson.scroll), rows)).unwrap_or(u16::MAX);
        }
        _ => {
            let o = &mut state.console.output;
            let max_row = o
                .results
                .iter()
                .map(|r| r.rows.len())
                .max()
                .unwrap_or(0)
                .saturating_sub(1);
            o.scroll_row = add(o.scroll_row, rows).min(max_row);
            let max_col = o
                .results
                .iter()
                .map(|r| r.columns.len())
                .max()
                .unwrap_or(0)
                .saturating_sub(1);
            o.scroll_col = add(o.scroll_col, cols).min(max_col);
        }
    }
}

#[cfg(test)]
#[path = "update_tests.rs"]
pub(super) mod tests;
