//! The one place state changes: `update(&mut State, Msg) -> Vec<Effect>`.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEventKind};

use super::keys::{Action, Keymap};
use super::msg::{DRILL_ROUND, Effect, Msg, Startup};
use super::state::{ActionStatus, Confirm, Focus, Overlay, Phase, ServedBy, StartupStep, State};
use super::update_class as class;
use super::update_course as course;
use crate::cluster::node_op::NodeOp;
use crate::sql::meta::{self, Meta};
use crate::sql::{SqlEvent, Target};

/// How many results of one run the output keeps (a script of many statements).
const MAX_RESULTS: usize = 20;
/// Points per sparkline.
const SPARK_POINTS: usize = 120;
/// Fresh connections per served-by probe.
pub const SERVED_BY_CONNECTIONS: usize = 12;

pub fn update(state: &mut State, keys: &Keymap, msg: Msg) -> Vec<Effect> {
    match msg {
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
        Msg::Terminate => {
            state.quit = true;
            Vec::new()
        }
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
                SqlEvent::Finished { id, error, .. } if state.console.running == Some(*id) => {
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
                    course::on_run_finished(state, text, target, sqlstate)
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
        Msg::Prepared { round, result } if round >= DRILL_ROUND => {
            class::on_drill_done(state, round, result)
        }
        Msg::Prepared { round, result } => course::on_prepared(state, round, result),
        Msg::Class(m) => class::on_class(state, m),
        Msg::ClassStatus(s) => class::on_class_status(state, s),
        Msg::ClassNotice(n) => class::on_class_notice(state, n),
        Msg::SqlVerdicts {
            round,
            verdicts,
            last,
        } => course::on_sql_verdicts(state, round, verdicts, last),
        Msg::ProgressNotSaved(e) => {
            state.course.notice = Some(e);
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
        state.quit = true;
        return Vec::new();
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
                return node_action(state, c.op, c.node);
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
        Action::Quit => state.quit = true,
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

fn editor_key(state: &mut State, k: KeyEvent) -> Vec<Effect> {
    let c = &mut state.console;
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    match k.code {
        KeyCode::Enter if ctrl || k.modifiers.contains(KeyModifiers::ALT) => return run(state),
        KeyCode::Enter => c.editor.newline(),
        KeyCode::Char('l') if ctrl => c.editor.clear(),
        KeyCode::Char(ch) if !ctrl => c.editor.insert_char(ch),
        KeyCode::Tab => c.editor.insert_str("  "),
        KeyCode::Backspace => c.editor.backspace(),
        KeyCode::Delete => c.editor.delete(),
        KeyCode::Left => c.editor.left(),
        KeyCode::Right => c.editor.right(),
        KeyCode::Home => c.editor.home(),
        KeyCode::End => c.editor.end(),
        // On the first (last) line, Up (Down) walks through earlier runs.
        KeyCode::Up => {
            let moved = c.editor.up();
            history_unless(state, moved, -1);
        }
        KeyCode::Down => {
            let moved = c.editor.down();
            history_unless(state, moved, 1);
        }
        _ => {}
    }
    Vec::new()
}

fn history_unless(state: &mut State, moved: bool, delta: isize) {
    if !moved {
        browse_history(state, delta);
    }
}

/// Up on the first line and Down on the last walk through earlier runs, like a shell.
fn browse_history(state: &mut State, delta: isize) {
    let c = &mut state.console;
    if c.history.is_empty() {
        return;
    }
    let last = c.history.len() - 1;
    let pos = match (c.history_pos, delta < 0) {
        (None, true) => Some(last),
        (None, false) => None,
        (Some(0), true) => Some(0),
        (Some(p), true) => Some(p - 1),
        (Some(p), false) if p >= last => None,
        (Some(p), false) => Some(p + 1),
    };
    c.history_pos = pos;
    c.editor = match pos {
        Some(p) => super::editor::Editor::from_text(&c.history[p]),
        None => super::editor::Editor::default(),
    };
}

fn history_search_key(state: &mut State, k: KeyEvent) -> Vec<Effect> {
    let Overlay::HistorySearch { query, selected } = &mut state.overlay else {
        return Vec::new();
    };
    match k.code {
        KeyCode::Esc => state.overlay = Overlay::None,
        KeyCode::Enter => {
            let found = history_matches(&state.console.history, query);
            if let Some(entry) = found.get(*selected) {
                state.console.editor = super::editor::Editor::from_text(entry);
                state.focus = Focus::Editor;
            }
            state.overlay = Overlay::None;
        }
        KeyCode::Up => *selected = selected.saturating_sub(1),
        KeyCode::Down => *selected += 1,
        KeyCode::Backspace => {
            query.pop();
            *selected = 0;
        }
        KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
            query.push(c);
            *selected = 0;
        }
        _ => {}
    }
    Vec::new()
}

/// History entries containing `query` (any case), newest first.
pub fn history_matches(history: &[String], query: &str) -> Vec<String> {
    let q = query.to_lowercase();
    history
        .iter()
        .rev()
        .filter(|h| h.to_lowercase().contains(&q))
        .cloned()
        .collect()
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
            let op = match c {
                's' => NodeOp::Stop,
                'S' => NodeOp::Start,
                'k' => NodeOp::Kill,
                'p' => NodeOp::Pause,
                'r' => NodeOp::Resume,
                'P' => NodeOp::Promote,
                'w' => NodeOp::Rewind,
                'x' => NodeOp::Partition,
                'h' => NodeOp::Heal,
                'b' => return served_by(state),
                _ => return Vec::new(),
            };
            if destructive(op) {
                state.overlay = Overlay::Confirm(Confirm { op, node });
                return Vec::new();
            }
            return node_action(state, op, node);
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

fn node_action(state: &mut State, op: NodeOp, node: String) -> Vec<Effect> {
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
    vec![Effect::NodeAction { op, node }]
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

/// F5: a backslash command is handled here or turned into SQL; SQL goes to the session.
pub(super) fn run(state: &mut State) -> Vec<Effect> {
    let c = &mut state.console;
    let text = c.editor.text();
    let trimmed = text.trim();
    if trimmed.is_empty() || c.running.is_some() {
        return Vec::new();
    }
    c.history_pos = None;
    if c.history.last().map(String::as_str) != Some(trimmed) {
        c.history.push(trimmed.to_string());
    }
    // `\connect` opens a new session even to the target the console has.
    let mut reconnect = false;
    let sql = match meta::parse(trimmed) {
        Meta::Sql(sql) => sql,
        Meta::ListTables => meta::list_tables_sql().to_string(),
        Meta::Describe(name) => meta::describe_sql(&name),
        Meta::ToggleExpanded => {
            c.expanded = !c.expanded;
            c.output.info = Some(format!("expanded display is {}", on_off(c.expanded)));
            return vec![Effect::SaveHistory];
        }
        Meta::ToggleTiming => {
            c.timing = !c.timing;
            c.output.info = Some(format!("timing is {}", on_off(c.timing)));
            return vec![Effect::SaveHistory];
        }
        Meta::ConnInfo => {
            let served = c
                .output
                .served_by
                .as_ref()
                .map(|s| {
                    format!(
                        ", last answered by {}",
                        s.node.clone().unwrap_or_else(|| s.address.clone())
                    )
                })
                .unwrap_or_default();
            c.output.info = Some(format!(
                "target {} ({} session){served}",
                c.target.label(),
                if c.fresh { "a fresh" } else { "one sticky" }
            ));
            return vec![Effect::SaveHistory];
        }
        Meta::Connect(url) => {
            if let Err(e) = crate::sql::url::parse(&url) {
                c.output.info = Some(format!("\\connect: cannot use that string: {e}"));
                return vec![Effect::SaveHistory];
            }
            c.target = Target::Url(url);
            reconnect = true;
            meta::connect_probe_sql().to_string()
        }
        Meta::MissingArgument { input, usage } => {
            c.output.info = Some(format!("{input} needs an argument: {usage}"));
            return vec![Effect::SaveHistory];
        }
        Meta::Unknown(cmd) => {
            c.output.info = Some(format!(
                "unknown command {cmd}: try \\dt, \\d NAME, \\x, \\timing, \\conninfo, \\c URL"
            ));
            return vec![Effect::SaveHistory];
        }
    };
    let id = c.next_id;
    c.next_id += 1;
    c.running = Some(id);
    c.running_text = (trimmed.to_string(), c.target.clone());
    // The run counts for the step open now, not for one opened while it runs.
    state.course.run_round = state.course.judge_gen;
    c.output = super::state::Output::default();
    vec![
        Effect::RunSql {
            id,
            target: c.target.clone(),
            text: sql,
            fresh: c.fresh,
            reconnect,
        },
        Effect::SaveHistory,
    ]
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

fn sql_event(state: &mut State, ev: SqlEvent) {
    let id = match &ev {
        SqlEvent::Started { id, .. }
        | SqlEvent::Notice { id, .. }
        | SqlEvent::Preview { id, .. }
        | SqlEvent::Result { id, .. }
        | SqlEvent::Finished { id, .. } => *id,
    };
    // An answer to a run the console no longer waits for.
    if state.console.running != Some(id) {
        return;
    }
    let snapshot = state.dash.snapshot.clone();
    let c = &mut state.console;
    let preview = matches!(ev, SqlEvent::Preview { .. });
    match ev {
        SqlEvent::Started { .. } => {}
        SqlEvent::Notice { notice, .. } => c.output.notices.push(notice),
        SqlEvent::Preview { result, .. } | SqlEvent::Result { result, .. } => {
            // A statement's preview is replaced by its next preview or its result.
            if c.output.preview {
                c.output.results.pop();
            }
            if c.output.results.len() >= MAX_RESULTS {
                c.output.results.remove(0);
            }
            c.output.results.push(result);
            c.output.preview = preview;
        }
        SqlEvent::Finished {
            served_by,
            elapsed,
            tx,
            error,
            ..
        } => {
            c.running = None;
            c.tx = tx;
            c.output.error = error;
            c.output.elapsed = Some(elapsed);
            c.output.served_by = served_by.map(|address| {
                let node = snapshot
                    .as_ref()
                    .and_then(|s| s.nodes.iter().find(|n| n.address == address));
                ServedBy {
                    node: node.map(|n| n.name.clone()),
                    role: node.map(|n| n.role.as_str().to_string()),
                    address,
                }
            });
        }
    }
}

#[cfg(test)]
#[path = "update_tests.rs"]
pub(super) mod tests;
