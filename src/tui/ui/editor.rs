//! The SQL editor: highlighted text, scrolled to keep the cursor in view, and the terminal
//! cursor placed on it while the editor has the focus.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::pane;
use super::text::width;
use crate::tui::highlight::{Token, highlight};
use crate::tui::state::Console;
use crate::tui::theme::Theme;

fn style(token: Token, t: &Theme) -> ratatui::style::Style {
    match token {
        Token::Keyword => t.keyword,
        Token::String => t.string,
        Token::Number => t.number,
        Token::Comment => t.comment,
        Token::Meta => t.meta,
        Token::Plain => t.text,
    }
}

pub fn render(frame: &mut Frame, area: Rect, console: &Console, focused: bool, t: &Theme) {
    let mut block = pane("SQL", focused, t);
    if console.running.is_some() {
        block = block
            .title(Line::from(Span::styled(" running… Ctrl-C cancels ", t.busy)).right_aligned());
    } else if focused {
        block = block.title(Line::from(Span::styled(" F5 runs ", t.dim)).right_aligned());
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.is_empty() {
        return;
    }
    let editor = &console.editor;
    let all = editor.lines();
    let (row, col) = editor.cursor();
    let h = usize::from(inner.height);
    let w = usize::from(inner.width);
    let top = row.saturating_sub(h - 1);
    let before: String = all
        .get(row)
        .map(|l| l.chars().take(col).collect())
        .unwrap_or_default();
    let cursor_x = width(&before);
    let left = cursor_x.saturating_sub(w - 1);

    let lines: Vec<Line> = if all.len() == 1 && all[0].is_empty() {
        vec![Line::styled(
            "-- type SQL here (or \\x, \\timing); F5 runs it",
            t.dim,
        )]
    } else {
        all.iter()
            .skip(top)
            .take(h)
            .map(|l| {
                Line::from(
                    highlight(l)
                        .into_iter()
                        .map(|(tok, s)| Span::styled(s, style(tok, t)))
                        .collect::<Vec<_>>(),
                )
            })
            .collect()
    };
    let left_u16 = u16::try_from(left).unwrap_or(u16::MAX);
    frame.render_widget(Paragraph::new(lines).scroll((0, left_u16)), inner);

    if focused {
        let x = u16::try_from(cursor_x - left).unwrap_or(0);
        let y = u16::try_from(row - top).unwrap_or(0);
        frame.set_cursor_position(Position::new(
            inner.x + x.min(inner.width - 1),
            inner.y + y.min(inner.height - 1),
        ));
    }
}
