//! The lesson pane: a little Markdown (`#` headings, `code`, **bold**, *emphasis*, bullets,
//! fenced code), wrapped to the pane and scrolled.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::pane;
use crate::tui::state::State;
use crate::tui::theme::Theme;

pub fn render(frame: &mut Frame, area: Rect, state: &State, focused: bool, t: &Theme) {
    let lesson = &state.lesson;
    if let (Some(l), Some(step)) = (state.course.lesson(), state.course.step()) {
        let si = state.course.at.map_or(0, |(_, s)| s);
        let title = format!("Step {}/{} · {}", si + 1, l.steps.len(), step.title);
        let block = pane(title, focused, t);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let status = super::lesson_step::status(&state.course, state.class.as_ref(), step, t);
        // Room for a row more than estimated: a check's detail can change length any moment.
        // The text above keeps at least a few rows; the checks take what else they need.
        let rows = (wrapped_height(&status, inner.width) + 1).min(inner.height.saturating_sub(5));
        let [body, rule, foot] = Layout::vertical([
            Constraint::Fill(1),
            Constraint::Length(1),
            Constraint::Length(rows),
        ])
        .areas(inner);
        frame.render_widget(
            Paragraph::new(super::lesson_step::body(&state.course, step, t))
                .wrap(Wrap { trim: false })
                .scroll((lesson.scroll, 0)),
            body,
        );
        frame.render_widget(
            Paragraph::new(Line::styled(
                format!("{:─<1$}", "─ Checks ", usize::from(rule.width)),
                t.dim,
            )),
            rule,
        );
        frame.render_widget(Paragraph::new(status).wrap(Wrap { trim: false }), foot);
        return;
    }
    let title = if lesson.title.is_empty() {
        "Lesson".to_string()
    } else {
        format!("Lesson · {}", lesson.title)
    };
    let block = pane(title, focused, t);
    let mut text = lines(&lesson.text, t);
    if let Some(note) = &state.course.progress_note {
        text.insert(0, Line::default());
        text.insert(0, super::lesson_step::progress_line(note, t));
    }
    if let Some(e) = &state.course.load_error {
        text.insert(0, Line::default());
        for l in e.lines().rev() {
            text.insert(0, Line::styled(l.to_string(), t.error));
        }
        text.insert(0, Line::styled("The lessons could not be loaded:", t.error));
    }
    frame.render_widget(
        Paragraph::new(text)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((lesson.scroll, 0)),
        area,
    );
}

/// Rows `lines` take when word-wrapped at `width`, as the paragraph will wrap them.
fn wrapped_height(lines: &[Line], width: u16) -> u16 {
    let w = usize::from(width.max(1));
    let rows: usize = lines
        .iter()
        .map(|l| {
            let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
            let (mut rows, mut used) = (1, 0);
            for word in text.split(' ') {
                let n = super::text::width(word);
                let need = if used == 0 { n } else { used + 1 + n };
                if need <= w {
                    used = need;
                } else {
                    rows += 1 + n.saturating_sub(1) / w;
                    used = n % w;
                }
            }
            rows
        })
        .sum();
    u16::try_from(rows).unwrap_or(u16::MAX)
}

/// The lesson's text as styled lines.
pub fn lines<'a>(text: &'a str, t: &Theme) -> Vec<Line<'a>> {
    let mut out = Vec::new();
    let mut fenced = false;
    for raw in text.lines() {
        let trimmed = raw.trim_start();
        if trimmed.starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            out.push(Line::from(vec![Span::raw("  "), Span::styled(raw, t.code)]));
        } else if trimmed.starts_with('#') {
            out.push(Line::styled(
                trimmed.trim_start_matches('#').trim(),
                t.heading,
            ));
        } else if let Some(item) = trimmed
            .strip_prefix("- ")
            .or_else(|| trimmed.strip_prefix("* "))
        {
            let indent = raw.len() - trimmed.len();
            let mut line = inline(item, t);
            line.spans
                .insert(0, Span::raw(format!("{}• ", " ".repeat(indent))));
            out.push(line);
        } else {
            out.push(inline(raw, t));
        }
    }
    out
}

/// `code`, **bold** and *emphasis* inside a line; an unmatched marker is ordinary text.
fn inline<'a>(line: &'a str, t: &Theme) -> Line<'a> {
    let mut spans = Vec::new();
    let mut rest = line;
    let mut plain_from = 0;
    let mut at = 0;
    while at < rest.len() {
        let here = &rest[at..];
        let found = if let Some(after) = here.strip_prefix('`') {
            after.find('`').map(|end| (1, end, 1, t.code))
        } else if let Some(after) = here.strip_prefix("**") {
            after.find("**").map(|end| (2, end, 2, t.strong))
        } else if let Some(after) = here.strip_prefix('*') {
            // `*word*`, not a lone star (`SELECT *`).
            after
                .find('*')
                .filter(|_| !after.starts_with(' '))
                .filter(|&end| !after[..end].ends_with(' '))
                .map(|end| (1, end, 1, t.emphasis))
        } else {
            None
        };
        match found {
            Some((open, len, close, style)) if len > 0 => {
                if at > plain_from {
                    spans.push(Span::raw(&rest[plain_from..at]));
                }
                spans.push(Span::styled(&here[open..open + len], style));
                rest = &here[open + len + close..];
                at = 0;
                plain_from = 0;
            }
            _ => {
                at += here.chars().next().map_or(1, char::len_utf8);
            }
        }
    }
    if plain_from < rest.len() {
        spans.push(Span::raw(&rest[plain_from..]));
    }
    Line::from(spans)
}

/// [`inline`] for text that does not outlive the call.
pub fn inline_owned(line: &str, t: &Theme) -> Line<'static> {
    Line::from(
        inline(line, t)
            .spans
            .into_iter()
            .map(|s| Span::styled(s.content.into_owned(), s.style))
            .collect::<Vec<_>>(),
    )
}
