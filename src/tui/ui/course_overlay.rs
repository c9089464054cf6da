//! The tutorial's boxes: the list of lessons with progress (F10), and its yes/no questions.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Padding, Paragraph, Wrap};

use super::centered;
use super::overlay::{boxed, confirm_box};
use super::text::{truncate, width};
use crate::tui::state::{Overlay, State};
use crate::tui::theme::Theme;

pub fn lessons(frame: &mut Frame, area: Rect, state: &State, selected: usize, t: &Theme) {
    let course = &state.course;
    let current = course.at.map(|(l, _)| l);
    let w = area.width.saturating_sub(4).min(84);
    let inner_w = usize::from(w.saturating_sub(4));
    let mut lines = Vec::new();
    for (i, lesson) in course.lessons.iter().enumerate() {
        let s = course.progress.summary(lesson);
        let complete = course.progress.is_complete(lesson);
        let paced = course.locked_by_pace(i) && Some(i) != current;
        let locked = paced || !course.missing_requirements(i).is_empty();
        let mark = if complete {
            Span::styled("✓ ", t.ok)
        } else if Some(i) == current {
            Span::styled("▶ ", t.key)
        } else if locked {
            Span::styled("· ", t.dim)
        } else {
            Span::raw("  ")
        };
        let count = if paced {
            " locked by the instructor".to_string()
        } else {
            format!(
                " {}/{}{}",
                s.done,
                s.total,
                if s.with_help > 0 {
                    format!(" ({} helped)", s.with_help)
                } else {
                    String::new()
                }
            )
        };
        let room = inner_w.saturating_sub(2 + width(&count));
        let name = truncate(&format!("{} {}", lesson.id, lesson.title), room).into_owned();
        let pad = room.saturating_sub(width(&name));
        let mut line = Line::from(vec![
            mark,
            Span::raw(name),
            Span::raw(" ".repeat(pad)),
            Span::styled(count, t.dim),
        ]);
        if locked && !complete {
            line = line.style(t.dim);
        }
        if i == selected {
            line = line.style(t.selected);
        }
        lines.push(line);
    }
    if let Some(lesson) = course.lessons.get(selected) {
        lines.push(Line::default());
        lines.push(Line::styled(lesson.summary.clone(), t.dim));
        let missing = course.missing_requirements(selected);
        if course.locked_by_pace(selected) && Some(selected) != current {
            lines.push(Line::styled(
                "Locked by the instructor: it opens when the class gets there.",
                t.warning,
            ));
        } else if !missing.is_empty() {
            lines.push(Line::styled(
                format!("Do {} first.", missing.join(", ")),
                t.warning,
            ));
        }
    }
    if let Some(why) = state
        .class
        .as_ref()
        .and_then(|c| c.status.last_error.as_ref())
    {
        lines.push(Line::styled(format!("Class: {why}"), t.dim));
    }
    if let Some(status) = state.class.as_ref().map(|c| &c.status)
        && let Some(why) = &status.last_refused
    {
        let n = status.refused;
        lines.push(Line::styled(
            format!(
                "Class: {n} event{} refused by the hub; the last: {why}",
                if n == 1 { "" } else { "s" }
            ),
            t.warning,
        ));
    }
    let h = u16::try_from(lines.len() + 3).unwrap_or(u16::MAX);
    let r = centered(area, w, h.min(area.height));
    frame.render_widget(Clear, r);
    let title = format!("Lessons · {}", course.progress.learner);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(boxed(&title, t).padding(Padding::horizontal(1))),
        r,
    );
}

pub fn confirm(frame: &mut Frame, area: Rect, state: &State, t: &Theme) {
    let course = &state.course;
    let name = |l: usize| {
        course
            .lessons
            .get(l)
            .map_or_else(String::new, |x| x.id.clone())
    };
    let (question, explain) = match &state.overlay {
        Overlay::ConfirmSolve => (
            "Run this step's solution?".to_string(),
            "Its SQL goes into the editor and runs, then its actions; the step then counts as \
             solved with help."
                .to_string(),
        ),
        Overlay::ConfirmReset { lesson } => (
            format!("Reset {}?", name(*lesson)),
            "Its progress is forgotten and the cluster is made anew, as the lesson starts: \
             tables and data in it are lost."
                .to_string(),
        ),
        Overlay::ConfirmOpen { lesson, missing } => (
            format!("Open {} now?", name(*lesson)),
            format!(
                "It builds on {}, which you have not finished.",
                missing.join(", ")
            ),
        ),
        _ => return,
    };
    let lines = vec![
        Line::from(vec![
            Span::styled(format!("{question} "), t.strong),
            Span::styled("y", t.key),
            Span::raw("/"),
            Span::styled("n", t.key),
        ]),
        Line::styled(explain, t.dim),
    ];
    let w = usize::from(area.width.saturating_sub(4).min(64));
    confirm_box(frame, area, lines, w, t);
}
