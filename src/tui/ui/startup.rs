//! The start-up screen: the steps so far with their times, an image pull's progress, notes,
//! and — when start-up failed — the reason in a red box, with the way out.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Gauge, Padding, Paragraph};

use super::lesson::inline_owned;
use super::status;
use super::text::{bytes, duration, one_line, truncate, width, wrap};
use crate::runtime::docker::engine::PullProgress;
use crate::tui::state::{Phase, StartupStep, State};
use crate::tui::theme::Theme;

const WIDTH: u16 = 76;

pub fn render(frame: &mut Frame, area: Rect, state: &State, t: &Theme) {
    let Phase::Starting {
        steps,
        notes,
        pull,
        error,
    } = &state.phase
    else {
        return;
    };
    let [body, bar] = Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(area);
    status::render(frame, bar, state, t);

    let cw = body.width.saturating_sub(2).min(WIDTH);
    let w = usize::from(cw);
    let title = Line::from(vec![
        Span::styled(" replica-lab ", t.app_name),
        Span::raw("  "),
        Span::styled(
            if error.is_some() {
                format!("could not start cluster {}", state.cluster)
            } else {
                format!("starting cluster {}", state.cluster)
            },
            t.heading,
        ),
    ]);
    // A new note starts with a dot; its continuation lines are indented.
    let note_lines: Vec<Line> = notes
        .iter()
        .flat_map(|n| {
            wrap(n, w.saturating_sub(2))
                .into_iter()
                .enumerate()
                .map(|(i, l)| {
                    let lead = if i == 0 { "· " } else { "  " };
                    Line::styled(format!("{lead}{l}"), t.dim)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let error_lines: Vec<Line> = error
        .as_ref()
        .map(|e| {
            let mut lines: Vec<Line> = wrap(e, w.saturating_sub(4))
                .into_iter()
                .map(|l| inline_owned(&l, t))
                .collect();
            lines.push(Line::default());
            lines.push(Line::from(vec![
                Span::styled("Ctrl-Q", t.key),
                Span::raw(" to quit"),
            ]));
            lines
        })
        .unwrap_or_default();

    let len = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    let gauge_h: u16 = if pull.is_some() { 3 } else { 0 };
    let notes_h = if note_lines.is_empty() {
        0
    } else {
        len(note_lines.len()).saturating_add(1)
    };
    let error_h = if error_lines.is_empty() {
        0
    } else {
        len(error_lines.len()).saturating_add(2)
    };
    let fixed = 2 + gauge_h + notes_h + error_h;
    let steps_room = body.height.saturating_sub(fixed).saturating_sub(1);
    let step_lines = step_lines(steps, error.is_some(), w, usize::from(steps_room), t);
    let steps_h = len(step_lines.len()).saturating_add(1);
    let total = fixed + steps_h;
    let col = Rect {
        x: body.x + (body.width - cw) / 2,
        y: body.y + body.height.saturating_sub(total) / 2,
        width: cw,
        height: total.min(body.height),
    };
    let [head, steps_area, gauge_area, notes_area, error_area] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(steps_h),
        Constraint::Length(gauge_h),
        Constraint::Length(notes_h),
        Constraint::Length(error_h),
    ])
    .areas(col);
    frame.render_widget(Paragraph::new(title), head);
    frame.render_widget(Paragraph::new(step_lines), steps_area);
    if let Some(p) = pull {
        pull_gauge(frame, gauge_area, p, t);
    }
    frame.render_widget(Paragraph::new(note_lines), notes_area);
    if !error_lines.is_empty() {
        let block = Block::bordered()
            .border_type(BorderType::Thick)
            .border_style(t.error)
            .title(Line::styled(" Start-up failed ", t.error.patch(t.strong)))
            .padding(Padding::horizontal(1));
        frame.render_widget(Paragraph::new(error_lines).block(block), error_area);
    }
}

/// The steps that fit in `room` lines, the newest kept; the last unfinished one is running
/// (or, after an error, is the one that failed).
fn step_lines(
    steps: &[StartupStep],
    failed: bool,
    w: usize,
    room: usize,
    t: &Theme,
) -> Vec<Line<'static>> {
    if room == 0 {
        return Vec::new();
    }
    let mut lines = Vec::new();
    let skip = steps.len().saturating_sub(room);
    let skip = if skip > 0 { skip + 1 } else { 0 };
    if skip > 0 {
        lines.push(Line::styled(
            format!("  … {skip} earlier steps done"),
            t.dim,
        ));
    }
    let name_w = w.saturating_sub(12);
    for (i, s) in steps.iter().enumerate().skip(skip) {
        let last = i + 1 == steps.len();
        let (mark, style, took) = match s.took {
            Some(d) => ("✓", t.ok, duration(d)),
            None if failed && last => ("✗", t.error, "failed".into()),
            None => ("▸", t.busy, "…".into()),
        };
        let name = truncate(&one_line(&s.name), name_w).into_owned();
        let pad = w.saturating_sub(2 + width(&name) + width(&took));
        lines.push(Line::from(vec![
            Span::styled(format!("{mark} "), style),
            Span::raw(name),
            Span::raw(" ".repeat(pad)),
            Span::styled(took, if s.took.is_some() { t.dim } else { style }),
        ]));
    }
    if steps.is_empty() {
        lines.push(Line::styled("▸ getting ready…", t.busy));
    }
    lines
}

fn pull_gauge(frame: &mut Frame, area: Rect, p: &PullProgress, t: &Theme) {
    let ratio = if p.bytes_total > 0 {
        p.bytes_done as f64 / p.bytes_total as f64
    } else if p.layers > 0 {
        p.layers_done as f64 / p.layers as f64
    } else {
        0.0
    }
    .clamp(0.0, 1.0);
    let [label, gauge, _] = Layout::vertical([Constraint::Length(1); 3]).areas(area);
    let figures = format!(
        "  {} of {} · {}/{} layers",
        bytes(i64::try_from(p.bytes_done).unwrap_or(i64::MAX)),
        bytes(i64::try_from(p.bytes_total).unwrap_or(i64::MAX)),
        p.layers_done,
        p.layers,
    );
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("pulling ", t.dim),
            Span::styled(p.image.clone(), t.strong),
            Span::styled(figures, t.dim),
        ])),
        label,
    );
    frame.render_widget(
        Gauge::default()
            .ratio(ratio)
            .label(Span::styled(format!("{:.0}%", ratio * 100.0), t.strong))
            .gauge_style(t.gauge)
            .use_unicode(true),
        gauge,
    );
}
