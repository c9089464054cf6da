//! The instructor's three panes: the roster of learners (stuck ones first), each lesson's
//! completion bar, and the class in numbers.

use std::time::{Duration, SystemTime};

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Cell, Paragraph, Row, Table};

use super::View;
use crate::classroom::printable::{printable, printable_or_dash};
use crate::classroom::roster::{self, LessonCompletion, RosterRow};
use crate::tui::theme::Theme;

/// Cuts `s` to `max` characters, marking the cut with `…`.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else if max == 0 {
        String::new()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

fn pane<'a>(title: String, t: &Theme) -> Block<'a> {
    Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(t.border)
        .title(Line::styled(format!(" {title} "), t.pane_title))
}

fn ago(now: SystemTime, then: Option<SystemTime>) -> String {
    then.map_or_else(
        || "-".into(),
        |t| roster::short_duration(now.duration_since(t).unwrap_or(Duration::ZERO)),
    )
}

pub(super) fn roster_table(frame: &mut Frame, area: Rect, view: &View, wide: bool, t: &Theme) {
    let rows = view.rows();
    let stuck = rows.iter().filter(|(_, s)| *s).count();
    let title = match &view.roster {
        None => "Roster: reading…".to_string(),
        Some(_) if stuck > 0 => format!("Roster: {} learners, {stuck} stuck", rows.len()),
        Some(_) => format!("Roster: {} learners", rows.len()),
    };
    let block = pane(title, t);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if view.roster.is_some() && rows.is_empty() {
        let text = "Nobody joined yet. Learners run the `classroom join` command \
                    `classroom host` printed.";
        frame.render_widget(
            Paragraph::new(text)
                .style(t.dim)
                .wrap(ratatui::widgets::Wrap { trim: true }),
            inner,
        );
        return;
    }
    // Numbers keep their width; names, lessons and steps share what is left.
    let mut columns: Vec<(&str, u16)> = vec![
        ("", 1),
        ("Name", 0),
        ("Lesson", 0),
        ("Step", 0),
        ("On step", 7),
        ("Pass", 4),
        ("Help", 4),
        ("Hints", 5),
    ];
    if wide {
        columns.push(("Checks", 6));
    }
    columns.push(("Seen", 6));
    if wide {
        columns.push(("Drills", 6));
    }
    let fixed: u16 = columns.iter().map(|c| c.1).sum();
    let spacing = u16::try_from(columns.len() - 1).unwrap_or(0);
    let free = inner.width.saturating_sub(fixed + spacing);
    let name_w = free * 3 / 10;
    let lesson_w = free * 37 / 100;
    let step_w = free.saturating_sub(name_w + lesson_w);
    columns[1].1 = name_w;
    columns[2].1 = lesson_w;
    columns[3].1 = step_w;
    let header: Vec<&str> = columns.iter().map(|c| c.0).collect();
    let widths: Vec<Constraint> = columns.iter().map(|c| Constraint::Length(c.1)).collect();
    let visible = usize::from(inner.height.saturating_sub(1));
    let start = view.scroll.min(rows.len().saturating_sub(visible.max(1)));
    let body: Vec<Row> = rows
        .iter()
        .skip(start)
        .take(visible)
        .map(|(r, is_stuck)| {
            let on_step = roster::time_on_step(r, view.now)
                .map_or_else(|| "-".into(), roster::short_duration);
            let mut cells = vec![
                Cell::from(if *is_stuck { "!" } else { " " }),
                // Names, lessons and steps came from learners' apps.
                Cell::from(cut(&printable(&r.name), usize::from(name_w))),
                Cell::from(cut(
                    &printable_or_dash(r.lesson.as_deref()),
                    usize::from(lesson_w),
                )),
                Cell::from(cut(
                    &printable_or_dash(r.step.as_deref()),
                    usize::from(step_w),
                )),
                Cell::from(Line::from(on_step).right_aligned()),
                Cell::from(Line::from(r.steps_passed.to_string()).right_aligned()),
                Cell::from(Line::from(r.steps_helped.to_string()).right_aligned()),
                Cell::from(Line::from(r.hints.to_string()).right_aligned()),
            ];
            if wide {
                cells.push(Cell::from(Line::from(r.checks.to_string()).right_aligned()));
            }
            cells.push(Cell::from(
                Line::from(ago(view.now, r.last_seen)).right_aligned(),
            ));
            if wide {
                cells.push(Cell::from(if r.allow_drills { "yes" } else { "no" }));
            }
            let style = if *is_stuck {
                t.warning.patch(t.strong)
            } else {
                t.text
            };
            Row::new(cells).style(style)
        })
        .collect();
    let table = Table::new(body, widths)
        .header(Row::new(header).style(t.table_header))
        .column_spacing(1);
    frame.render_widget(table, inner);
}

/// `██████▒▒░░░░`: solid for learners who completed the lesson, shaded for those in it.
pub(super) fn bar(c: &LessonCompletion, learners: usize, width: usize) -> (String, String, String) {
    if learners == 0 || width == 0 {
        return (String::new(), String::new(), "░".repeat(width));
    }
    let done = c.completed * width / learners;
    let doing = ((c.completed + c.in_it) * width / learners).saturating_sub(done);
    let rest = width.saturating_sub(done + doing);
    ("█".repeat(done), "▒".repeat(doing), "░".repeat(rest))
}

pub(super) fn lesson_bars(frame: &mut Frame, area: Rect, view: &View, columns: usize, t: &Theme) {
    let learners = view.learners();
    let block = pane(format!("Lessons: completed of {learners} (▒ in it)"), t);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if view.lessons.is_empty() {
        frame.render_widget(
            Paragraph::new("No lessons in the catalog.").style(t.dim),
            inner,
        );
        return;
    }
    let pace = view.roster.as_ref().and_then(|r| r.session.pace);
    let completion = view.completion();
    let per_column = completion.len().div_ceil(columns);
    let col_w = usize::from(inner.width) / columns;
    let counts_w = 2 * learners.to_string().len() + 5;
    let label_w = (col_w / 2).saturating_sub(4).clamp(6, 26);
    let bar_w = col_w.saturating_sub(label_w + counts_w + 5).max(3);
    let mut lines: Vec<Line> = Vec::new();
    for row in 0..per_column {
        let mut spans = Vec::new();
        for col in 0..columns {
            let i = col * per_column + row;
            let Some(c) = completion.get(i) else { continue };
            let locked = pace.is_some_and(|p| i + 1 > p as usize);
            let label_style = if locked { t.dim } else { t.text };
            let (done, doing, rest) = bar(c, learners, bar_w);
            let label = format!("{:>2} {:<label_w$}", i + 1, cut(&c.id, label_w));
            let counts = format!(
                " {:>w$}/{learners} +{:<2}",
                c.completed,
                c.in_it,
                w = learners.to_string().len()
            );
            let used = label.chars().count() + 1 + bar_w + counts.chars().count();
            spans.push(Span::styled(label, label_style));
            spans.push(Span::raw(" "));
            spans.push(Span::styled(done, if locked { t.dim } else { t.ok }));
            spans.push(Span::styled(doing, if locked { t.dim } else { t.warning }));
            spans.push(Span::styled(rest, t.dim));
            spans.push(Span::styled(counts, label_style));
            if col + 1 < columns {
                spans.push(Span::raw(" ".repeat(col_w.saturating_sub(used))));
            }
        }
        lines.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The class in numbers, and who is stuck where, for a terminal with room to spare.
pub(super) fn class_panel(frame: &mut Frame, area: Rect, view: &View, t: &Theme) {
    if area.height < 3 {
        return;
    }
    let block = pane("Class".to_string(), t);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(r) = &view.roster else {
        return;
    };
    let sum = |f: fn(&RosterRow) -> u32| r.rows.iter().map(f).sum::<u32>();
    let rows = view.rows();
    let stuck: Vec<&(&RosterRow, bool)> = rows.iter().filter(|(_, s)| *s).collect();
    let seen_lately = r
        .rows
        .iter()
        .filter(|row| {
            row.last_seen.is_some_and(|t| {
                view.now.duration_since(t).unwrap_or(Duration::ZERO) < Duration::from_secs(300)
            })
        })
        .count();
    let stat = |label: &str, value: String| {
        Line::from(vec![
            Span::styled(format!("{label:<26}"), t.dim),
            Span::styled(value, t.strong),
        ])
    };
    let mut lines = vec![
        stat("learners", r.rows.len().to_string()),
        stat("active in the last 5 min", seen_lately.to_string()),
        stat("allow drills", view.allowing_drills().to_string()),
        stat("steps passed", sum(|r| r.steps_passed).to_string()),
        stat("  of which with help", sum(|r| r.steps_helped).to_string()),
        stat("hints used", sum(|r| r.hints).to_string()),
        stat("checks run", sum(|r| r.checks).to_string()),
        Line::raw(""),
    ];
    if stuck.is_empty() {
        lines.push(Line::styled("Nobody is stuck.", t.ok));
    } else {
        lines.push(Line::styled(
            format!("Stuck ({})", stuck.len()),
            t.warning.patch(t.strong),
        ));
        let w = usize::from(inner.width);
        for (row, _) in stuck {
            let time = roster::time_on_step(row, view.now)
                .map_or_else(String::new, roster::short_duration);
            let place = format!(
                "{} / {}",
                printable_or_dash(row.lesson.as_deref()),
                printable_or_dash(row.step.as_deref())
            );
            let text = format!("{:<14} {time:>6}  {place}", cut(&printable(&row.name), 14));
            lines.push(Line::styled(cut(&text, w), t.warning));
        }
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
