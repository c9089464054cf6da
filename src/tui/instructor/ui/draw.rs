//! Drawing the instructor's screen from the view alone: the layout, the title bar with the
//! hub link, the status bar with the input being typed, and the drill picker.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};

use super::panes::{class_panel, lesson_bars, roster_table};
use super::{Input, Link, View, WIDE};
use crate::classroom::instructor::DRILLS;
use crate::classroom::printable::printable;
use crate::classroom::roster;
use crate::tui::theme::{Theme, theme};

pub fn draw(frame: &mut Frame, view: &View) {
    let t = theme(view.theme);
    let area = frame.area();
    if area.is_empty() {
        return;
    }
    let [title, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    title_bar(frame, title, view, &t);
    let wide = area.width >= WIDE;
    let (people, lessons) = if wide {
        let [a, right] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Length(52)]).areas(body);
        let h = u16::try_from(view.lessons.len() + 2).unwrap_or(u16::MAX);
        let [b, c] = Layout::vertical([Constraint::Length(h), Constraint::Fill(1)]).areas(right);
        class_panel(frame, c, view, &t);
        (a, b)
    } else {
        let rows = u16::try_from(view.lessons.len().div_ceil(2)).unwrap_or(u16::MAX);
        let h = (rows + 2).min(body.height / 2);
        let [a, b] = Layout::vertical([Constraint::Fill(1), Constraint::Length(h)]).areas(body);
        (a, b)
    };
    roster_table(frame, people, view, wide, &t);
    lesson_bars(frame, lessons, view, if wide { 1 } else { 2 }, &t);
    status_bar(frame, status, view, &t);
    if let Input::Drill { choice, confirm } = view.input {
        drill_box(frame, area, view, choice, confirm, &t);
    }
}

fn title_bar(frame: &mut Frame, area: Rect, view: &View, t: &Theme) {
    let sep = || Span::styled(" │ ", t.title_bar.patch(t.dim));
    let (title, pace, stuck) = match &view.roster {
        Some(r) => (
            r.session.title.as_str(),
            r.session
                .pace
                .map_or_else(|| "all lessons".to_string(), |p| format!("up to {p}")),
            roster::short_duration(r.session.stuck_after),
        ),
        None => (view.title.as_str(), "…".to_string(), "…".to_string()),
    };
    let link = match &view.link {
        Link::Connecting => Span::styled("connecting…", t.title_bar.patch(t.busy)),
        Link::Live => Span::styled("● live", t.title_bar.patch(t.ok)),
        Link::Lost(why) => Span::styled(
            format!("hub lost: {why}; reconnecting"),
            t.title_bar.patch(t.error),
        ),
    };
    // The link comes first: on a narrow terminal the end of the bar is cut.
    let spans = vec![
        Span::styled(" classroom ", t.app_name),
        Span::raw(" "),
        link,
        sep(),
        Span::styled(printable(title).into_owned(), t.title_bar.patch(t.strong)),
        Span::raw(format!(" (session {})", view.session_id)),
        sep(),
        Span::raw(format!("pace: {pace}")),
        sep(),
        Span::raw(format!("stuck after {stuck}")),
        sep(),
        Span::styled(view.hub.clone(), t.title_bar.patch(t.dim)),
    ];
    frame.render_widget(Paragraph::new(Line::from(spans)).style(t.title_bar), area);
}

const KEYS: &[(&str, &str)] = &[
    ("b", "broadcast"),
    ("p", "pace"),
    ("d", "drill"),
    ("e", "export"),
    ("↑↓", "scroll"),
    ("q", "quit"),
];

fn status_bar(frame: &mut Frame, area: Rect, view: &View, t: &Theme) {
    let key = |k: &str| Span::styled(k.to_string(), t.status_bar.patch(t.key));
    let mut spans: Vec<Span> = Vec::new();
    match &view.input {
        Input::Broadcast(text) => {
            spans.push(Span::raw(" "));
            spans.push(key("Enter"));
            spans.push(Span::raw(" send  "));
            spans.push(key("Esc"));
            spans.push(Span::raw(" cancel │ Message to the class: "));
            // The end of a long message stays in sight: that is where the typing is.
            let used: usize = spans.iter().map(|s| s.width()).sum();
            let room = usize::from(area.width).saturating_sub(used + 2);
            let count = text.chars().count();
            let shown: String = if count > room {
                let tail: String = text.chars().skip(count - room.saturating_sub(1)).collect();
                format!("…{tail}")
            } else {
                text.clone()
            };
            spans.push(Span::styled(
                format!("{shown}▏"),
                t.status_bar.patch(t.strong),
            ));
            if let Some(n) = view.notice.as_ref().filter(|n| n.error) {
                spans.push(Span::styled(" │ ", t.status_bar.patch(t.dim)));
                spans.push(Span::styled(n.text.clone(), t.status_bar.patch(t.error)));
            }
        }
        Input::Pace(text) => {
            spans.push(Span::raw(format!(
                " Unlock lessons up to (1-{} or all): ",
                view.lessons.len()
            )));
            spans.push(Span::styled(
                format!("{text}▏"),
                t.status_bar.patch(t.strong),
            ));
            // The refusal takes the place of the keys: they were on screen a moment ago.
            if let Some(n) = view.notice.as_ref().filter(|n| n.error) {
                spans.push(Span::styled(" │ ", t.status_bar.patch(t.dim)));
                spans.push(Span::styled(n.text.clone(), t.status_bar.patch(t.error)));
            } else {
                spans.push(Span::raw("  "));
                spans.push(key("Enter"));
                spans.push(Span::raw(" set  "));
                spans.push(key("Esc"));
                spans.push(Span::raw(" cancel"));
            }
        }
        Input::None | Input::Drill { .. } => {
            if let Some(busy) = &view.busy {
                spans.push(Span::styled(
                    format!(" {busy} "),
                    t.status_bar.patch(t.busy),
                ));
            } else if let Some(n) = &view.notice {
                let style = if n.error { t.error } else { t.ok };
                spans.push(Span::styled(
                    format!(" {} ", n.text),
                    t.status_bar.patch(style),
                ));
                spans.push(Span::styled("│", t.status_bar.patch(t.dim)));
            }
            for (k, what) in KEYS {
                spans.push(Span::raw(" "));
                spans.push(key(k));
                spans.push(Span::raw(format!(" {what}")));
            }
        }
    }
    // An error that does not fit on the line would lose its end, where the fix is: show the
    // notice alone on the line then.
    if let (Input::None, Some(n)) = (&view.input, &view.notice) {
        if n.error && n.text.chars().count() + 2 > usize::from(area.width) / 2 {
            spans = vec![Span::styled(
                format!(" {} ", n.text),
                t.status_bar.patch(t.error),
            )];
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(t.status_bar), area);
}

fn drill_box(frame: &mut Frame, area: Rect, view: &View, choice: usize, confirm: bool, t: &Theme) {
    let w = 60.min(area.width);
    let h = (u16::try_from(DRILLS.len()).unwrap_or(3) + 6).min(area.height);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    frame.render_widget(Clear, r);
    let block = Block::bordered()
        .border_type(BorderType::Thick)
        .border_style(t.overlay_border)
        .title(Line::styled(
            " Drill on every learner's own cluster ",
            t.overlay_border,
        ));
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let mut lines: Vec<Line> = DRILLS
        .iter()
        .enumerate()
        .map(|(i, (action, what))| {
            let style = if i == choice { t.selected } else { t.text };
            let mark = if i == choice { "›" } else { " " };
            Line::styled(format!("{mark} {action:<13} {what}"), style)
        })
        .collect();
    lines.push(Line::raw(""));
    let allowed = view.allowing_drills();
    let learners = view.learners();
    if confirm {
        let action = DRILLS.get(choice).map_or("", |d| d.0);
        lines.push(Line::styled(
            format!("Run {action} now on {allowed} of {learners} learners' clusters?"),
            t.warning.patch(t.strong),
        ));
        lines.push(Line::from(vec![
            Span::styled("y", t.key),
            Span::raw(" run   "),
            Span::styled("n", t.key),
            Span::raw(" back"),
        ]));
    } else {
        lines.push(Line::styled(
            format!("{allowed} of {learners} learners allow drills."),
            t.dim,
        ));
        lines.push(Line::from(vec![
            Span::styled("↑↓", t.key),
            Span::raw(" choose  "),
            Span::styled("Enter", t.key),
            Span::raw(" pick  "),
            Span::styled("Esc", t.key),
            Span::raw(" cancel"),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
