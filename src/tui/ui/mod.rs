//! Rendering: pure functions from `&State` to a frame.
//!
//! [`draw`] never does I/O, never spawns and never changes the state: each pane is a function
//! of its part of the state and the area it is given, so a frame is a snapshot of the state.

mod course_overlay;
mod dashboard;
mod editor;
mod lesson;
mod lesson_step;
mod output;
mod overlay;
mod startup;
mod status;
mod text;
mod title;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType};

use super::state::{Focus, Overlay, Phase, State};
use super::theme::{Theme, theme};

/// From this width up the panes stand side by side in three columns.
pub const WIDE: u16 = 140;

/// Draws the whole screen for `state`.
pub fn draw(frame: &mut Frame, state: &State) {
    let t = theme(state.theme);
    let area = frame.area();
    if area.is_empty() {
        return;
    }
    match &state.phase {
        Phase::Starting { .. } => startup::render(frame, area, state, &t),
        Phase::Running => running(frame, area, state, &t),
    }
    overlay::render(frame, area, state, &t);
}

/// Where each pane of the main screen goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Panes {
    pub title: Rect,
    pub lesson: Rect,
    pub editor: Rect,
    pub output: Rect,
    pub dashboard: Rect,
    pub status: Rect,
}

/// The main screen's layout for a terminal of `area`: three columns from [`WIDE`] up, else
/// the lesson on the left and the console above the dashboard on the right.
pub fn panes(area: Rect, state: &State) -> Panes {
    let [title, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let (lesson, console, dashboard) = if area.width >= WIDE {
        let [lesson, console, dash] = Layout::horizontal([
            Constraint::Percentage(26),
            Constraint::Percentage(40),
            Constraint::Fill(1),
        ])
        .areas(body);
        (lesson, console, dash)
    } else {
        let [lesson, right] =
            Layout::horizontal([Constraint::Percentage(35), Constraint::Fill(1)]).areas(body);
        let compact = dashboard::compact_height(state);
        let roomy = right.height.saturating_mul(9) / 20;
        let dash_h = compact
            .max(roomy)
            .min(right.height.saturating_sub(10))
            .max(compact.min(right.height / 2));
        let [console, dash] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(dash_h)]).areas(right);
        (lesson, console, dash)
    };
    let lines = u16::try_from(state.console.editor.lines().len()).unwrap_or(u16::MAX);
    // The editor grows with its text, up to 2/5 of the console, leaving the output 6 lines.
    let cap = (console.height.saturating_mul(2) / 5)
        .max(5)
        .min(console.height.saturating_sub(6))
        .max(3);
    let editor_h = lines.saturating_add(2).min(cap).max(3);
    let [editor, output] =
        Layout::vertical([Constraint::Length(editor_h), Constraint::Fill(1)]).areas(console);
    Panes {
        title,
        lesson,
        editor,
        output,
        dashboard,
        status,
    }
}

fn running(frame: &mut Frame, area: Rect, state: &State, t: &Theme) {
    let p = panes(area, state);
    let overlay_open = state.overlay != Overlay::None;
    title::render(frame, p.title, state, t);
    lesson::render(frame, p.lesson, state, state.focus == Focus::Lesson, t);
    editor::render(
        frame,
        p.editor,
        &state.console,
        state.focus == Focus::Editor && !overlay_open,
        t,
    );
    output::render(
        frame,
        p.output,
        &state.console,
        state.focus == Focus::Results,
        t,
    );
    dashboard::render(frame, p.dashboard, state, t);
    status::render(frame, p.status, state, t);
}

/// A pane's frame: a thick, highlighted border when it has the focus.
fn pane<'a>(title: impl Into<Line<'a>>, focused: bool, t: &Theme) -> Block<'a> {
    let mut title: Line = title.into();
    title.spans.insert(0, Span::raw(" "));
    title.spans.push(Span::raw(" "));
    Block::bordered()
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Rounded
        })
        .border_style(if focused { t.border_focus } else { t.border })
        .title(title.style(t.pane_title))
}

/// A `width` × `height` box in the middle of `area`, never larger than it.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Keys and what they do, as the status bar and the help box show them.
type Keys = &'static [(&'static str, &'static str)];
