//! `update` for the console: the editor's keys, the history (browsed and searched), a run
//! and the session's answers to it.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::editor::Editor;
use super::msg::Effect;
use super::state::{Focus, Output, Overlay, ServedBy, State};
use crate::lesson::course::Busy;
use crate::sql::history::search;
use crate::sql::meta::{self, Meta};
use crate::sql::{SqlEvent, Target};

/// How many results of one run the output keeps (a script of many statements).
const MAX_RESULTS: usize = 20;

pub(super) fn editor_key(state: &mut State, k: KeyEvent) -> Vec<Effect> {
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
        Some(p) => Editor::from_text(&c.history[p]),
        None => Editor::default(),
    };
}

pub(super) fn history_search_key(state: &mut State, k: KeyEvent) -> Vec<Effect> {
    let Overlay::HistorySearch { query, selected } = &mut state.overlay else {
        return Vec::new();
    };
    match k.code {
        KeyCode::Esc => state.overlay = Overlay::None,
        KeyCode::Enter => {
            let found = search(&state.console.history, query);
            if let Some(entry) = found.get(*selected) {
                state.console.editor = Editor::from_text(entry);
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

/// F5: a backslash command is handled here or turned into SQL; SQL goes to the session.
pub(super) fn run(state: &mut State) -> Vec<Effect> {
    // While a lesson starts its cluster may be made anew, and a run would land on the
    // cluster about to be replaced; while a step's setup runs, a run could come before it (a
    // replay not paused yet) and make the step impossible. Either way what it did would be
    // lost without a word, so it waits and runs when the lesson is ready. The solution's own
    // actions do not hold it up.
    if let Some(busy @ (Busy::Starting(_) | Busy::Recreating(_) | Busy::Preparing(_))) =
        &state.course.busy
    {
        if !state.console.editor.text().trim().is_empty() {
            state.console.queued_run = true;
            state.console.output.info = Some(format!(
                "waiting for the lesson ({}): this runs as soon as it is ready",
                busy.label()
            ));
        }
        return Vec::new();
    }
    let c = &mut state.console;
    let text = c.editor.text();
    let trimmed = text.trim();
    if trimmed.is_empty() || c.running.is_some() {
        return Vec::new();
    }
    c.history_pos = None;
    // The file gets what the console's history got: a run repeated at once is kept once.
    let mut effects = Vec::new();
    if c.history.last().map(String::as_str) != Some(trimmed) {
        c.history.push(trimmed.to_string());
        effects.push(Effect::SaveHistory(trimmed.to_string()));
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
            return effects;
        }
        Meta::ToggleTiming => {
            c.timing = !c.timing;
            c.output.info = Some(format!("timing is {}", on_off(c.timing)));
            return effects;
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
            return effects;
        }
        Meta::Connect(url) => {
            if let Err(e) = crate::sql::url::parse(&url) {
                c.output.info = Some(format!("\\connect: cannot use that string: {e}"));
                return effects;
            }
            c.target = Target::Url(url);
            reconnect = true;
            meta::connect_probe_sql().to_string()
        }
        Meta::MissingArgument { input, usage } => {
            c.output.info = Some(format!("{input} needs an argument: {usage}"));
            return effects;
        }
        Meta::Unknown(cmd) => {
            c.output.info = Some(format!(
                "unknown command {cmd}: try \\dt, \\d NAME, \\x, \\timing, \\conninfo, \\c URL"
            ));
            return effects;
        }
    };
    let id = c.runs.advance();
    c.running = Some(id);
    c.running_text = (trimmed.to_string(), c.target.clone());
    c.running_fresh = c.fresh && !reconnect;
    // The run counts for the step open now, not for one opened while it runs.
    state.course.run_round = state.course.round.current();
    c.output = Output::default();
    let run = Effect::RunSql {
        id,
        target: c.target.clone(),
        text: sql,
        fresh: c.fresh,
        reconnect,
    };
    effects.insert(0, run);
    effects
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

pub(super) fn sql_event(state: &mut State, ev: SqlEvent) {
    let id = match &ev {
        SqlEvent::Started { id, .. }
        | SqlEvent::Notice { id, .. }
        | SqlEvent::Preview { id, .. }
        | SqlEvent::Result { id, .. }
        | SqlEvent::Finished { id, .. } => *id,
    };
    // An answer to a run the console no longer waits for.
    if !state.console.awaits(id) {
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
