//! The lesson pane: a little Markdown (`#` headings, `code`, **bold**, *emphasis*, bullets,
//! fenced code), wrapped to the pane and scrolled.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::pane;
use crate::tui::state::State;
use crate::tui::theme::Theme;

pub fn render(frame: &mut Frame, area: Rect, state: &State, focused: bool, t: &Theme) {
    let lesson = &state.lesson;
    if let (Some(l), Some(step)) = (state.course.lesson(), state.course.step()) {
        let si = state.course.at.map_or(0, |(_, s)| s);
        let title = format!("Step {}/{} · {}", si + 1, l.steps.len(), l.title);
        let block = pane(title, focused, t);
        frame.render_widget(
            Paragraph::new(super::lesson_step::lines(&state.course, step, t))
                .block(block)
                .wrap(Wrap { trim: false })
                .scroll((lesson.scroll, 0)),
            area,
        );
        return;
    }
    let title = if lesson.title.is_empty() {
        "Lesson".to_string()
    } else {
        format!("Lesson · {}", lesson.title)
    };
    let block = pane(title, focused, t);
    let mut text = lines(&lesson.text, t);
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
