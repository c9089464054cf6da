//! The status bar: the keys that apply where the focus is (or in the open overlay). When the
//! full list does not fit, a shorter spelling is used, then the last keys are left out (F1
//! lists them all).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Keys;
use super::text::width;
use crate::tui::state::{Focus, Overlay, Phase, State};
use crate::tui::theme::Theme;

const EDITOR: Keys = &[
    ("F5", "run"),
    ("F6", "target"),
    ("F7", "sticky/fresh"),
    ("Ctrl-C", "cancel"),
    ("Ctrl-R", "history"),
    ("Tab", "next pane"),
];
const EDITOR_SHORT: Keys = &[
    ("F5", "run"),
    ("F6", "target"),
    ("F7", "sticky/fresh"),
    ("^C", "cancel"),
    ("^R", "history"),
    ("Tab", "pane"),
];
const RESULTS: Keys = &[
    ("↑↓←→", "scroll"),
    ("PgUp/PgDn", "page"),
    ("Tab", "next pane"),
];
const NODES: Keys = &[
    ("↑↓", "select"),
    ("s", "stop"),
    ("S", "start"),
    ("k", "kill"),
    ("p", "pause"),
    ("r", "resume"),
    ("P", "promote"),
    ("w", "rewind"),
    ("x/h", "partition/heal"),
    ("b", "served-by"),
    ("Tab", "next pane"),
];
/// Failover's keys first: kill the primary, promote a replica, rewind the old primary.
const NODES_SHORT: Keys = &[
    ("k", "kill"),
    ("P", "promote"),
    ("w", "rewind"),
    ("s/S", "stop/start"),
    ("p/r", "pause/resume"),
    ("x/h", "partition/heal"),
    ("b", "served-by"),
    ("↑↓", "select"),
];
const LESSON: Keys = &[
    ("F3", "check"),
    ("F4", "hint"),
    ("F9", "solution"),
    ("F10", "lessons"),
    ("Ctrl-N/P", "next/prev step"),
    ("1-9", "answer"),
    ("↑↓", "scroll"),
    ("Tab", "next pane"),
];
const LESSON_SHORT: Keys = &[
    ("F3", "check"),
    ("F4", "hint"),
    ("F9", "solve"),
    ("F10", "lessons"),
    ("^N/^P", "step"),
    ("1-9", "answer"),
];
const LESSONS: Keys = &[
    ("↑↓", "select"),
    ("Enter", "open"),
    ("r", "reset"),
    ("Esc", "close"),
];
const HELP: Keys = &[("Esc", "close help")];
const CONFIRM: Keys = &[("y", "yes, do it"), ("any other key", "no")];
const SEARCH: Keys = &[
    ("type", "to search"),
    ("↑↓", "select"),
    ("Enter", "use"),
    ("Esc", "cancel"),
];
/// Always shown, at the right end.
const ALWAYS: Keys = &[("F1", "help"), ("Ctrl-Q", "quit")];
const ALWAYS_SHORT: Keys = &[("F1", "help"), ("^Q", "quit")];
const QUIT: Keys = &[("Ctrl-Q", "quit")];
const NONE: Keys = &[];

/// The keys for what has the focus now, spelt out and short: (keys, right-end keys).
fn keys(state: &State) -> [(Keys, Keys); 2] {
    let same = |k: Keys, a: Keys| [(k, a), (k, a)];
    match (&state.phase, &state.overlay) {
        (_, Overlay::Help) => same(HELP, QUIT),
        (
            _,
            Overlay::Confirm(_)
            | Overlay::ConfirmSolve
            | Overlay::ConfirmReset { .. }
            | Overlay::ConfirmOpen { .. },
        ) => same(CONFIRM, NONE),
        (_, Overlay::Lessons { .. }) => same(LESSONS, NONE),
        (_, Overlay::HistorySearch { .. }) => same(SEARCH, NONE),
        (Phase::Starting { .. }, _) => same(NONE, QUIT),
        (Phase::Running, _) => match state.focus {
            Focus::Editor => [(EDITOR, ALWAYS), (EDITOR_SHORT, ALWAYS_SHORT)],
            Focus::Results => [(RESULTS, ALWAYS), (RESULTS, ALWAYS_SHORT)],
            Focus::Nodes => [(NODES, ALWAYS), (NODES_SHORT, ALWAYS_SHORT)],
            Focus::Lesson => [(LESSON, ALWAYS), (LESSON_SHORT, ALWAYS_SHORT)],
        },
    }
}

const GAP: usize = 2;

fn total(keys: Keys) -> usize {
    keys.iter()
        .map(|(k, w)| width(k) + 1 + width(w) + GAP)
        .sum::<usize>()
        .saturating_sub(GAP)
}

pub fn render(frame: &mut Frame, area: Rect, state: &State, t: &Theme) {
    let room = usize::from(area.width).saturating_sub(1);
    let [full, short] = keys(state);
    let fits = |(k, a): (Keys, Keys)| total(k) + GAP + total(a) <= room;
    let (keys, always) = if fits(full) { full } else { short };
    let mut left = room.saturating_sub(total(always) + GAP);
    let mut spans = vec![Span::raw(" ")];
    let push = |spans: &mut Vec<Span<'static>>, (k, w): &(&'static str, &'static str)| {
        spans.push(Span::styled(*k, t.status_bar.patch(t.key)));
        spans.push(Span::raw(" "));
        spans.push(Span::raw(*w));
        spans.push(Span::raw(" ".repeat(GAP)));
    };
    for kw in keys {
        let need = width(kw.0) + 1 + width(kw.1) + GAP;
        if need > left {
            break;
        }
        left -= need;
        push(&mut spans, kw);
    }
    for kw in always {
        push(&mut spans, kw);
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(t.status_bar), area);
}
