//! The console's output: who answered, errors and notices as psql shows them, and the last
//! result as a scrollable table (or one `column │ value` line per field with `\x`).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

use super::pane;
use super::text::{duration, one_line, thousands, truncate, width, wrap};
use crate::sql::{ResultSet, SqlError};
use crate::tui::state::{Console, Output, ServedBy};
use crate::tui::theme::Theme;

/// Widest a column gets before its values are cut with `…`.
const MAX_COL: usize = 40;

pub fn render(frame: &mut Frame, area: Rect, console: &Console, focused: bool, t: &Theme) {
    let out = &console.output;
    let title = if console.running.is_some() {
        Line::from(vec![
            Span::raw("Output · "),
            Span::styled("running…", t.busy),
        ])
    } else {
        Line::from("Output")
    };
    // Corners, the title with its spaces, and at least one rule cell between the titles.
    let room = usize::from(area.width).saturating_sub(title.width() + 5);
    let mut block = pane(title, focused, t);
    if let Some(s) = &out.served_by {
        if let Some(b) = badges(s).into_iter().find(|b| width(b) + 2 <= room) {
            block = block.title(
                Line::from(vec![
                    Span::raw(" "),
                    Span::styled(b, t.badge),
                    Span::raw(" "),
                ])
                .right_aligned(),
            );
        }
    }
    let inner = block.inner(area);
    if inner.is_empty() {
        frame.render_widget(block, area);
        return;
    }
    let w = usize::from(inner.width);
    let table = out.results.iter().rposition(|r| !r.columns.is_empty());
    let mut head = head_lines(console, table, w, t);

    let Some(table) = table.and_then(|i| out.results.get(i)) else {
        if let Some(time) = timing(console, t) {
            head.push(time);
        }
        let text = if head.is_empty() {
            Paragraph::new(Line::styled(
                "Results appear here: write a statement above and press F5.",
                t.dim,
            ))
            .wrap(Wrap { trim: true })
        } else {
            Paragraph::new(head)
        };
        frame.render_widget(text, inner);
        frame.render_widget(block, area);
        return;
    };
    let head_h = u16::try_from(head.len())
        .unwrap_or(u16::MAX)
        .min(inner.height.saturating_sub(4).max(inner.height / 2));
    let [head_area, body] =
        Layout::vertical([Constraint::Length(head_h), Constraint::Fill(1)]).areas(inner);
    frame.render_widget(Paragraph::new(head), head_area);
    // The table, then its footer right below it.
    let [rows_area, _] = Layout::vertical([
        Constraint::Length(body.height.saturating_sub(1)),
        Constraint::Length(1),
    ])
    .areas(body);
    let shown = if console.expanded {
        expanded(frame, rows_area, out, table, t)
    } else {
        grid(frame, rows_area, out, table, t)
    };
    let foot = Rect {
        y: body.y + shown.height.min(body.height.saturating_sub(1)),
        height: body.height.min(1),
        ..body
    };
    let mut footer_line = footer(table, t);
    if let Some(time) = timing(console, t) {
        footer_line.spans.push(Span::raw("  "));
        footer_line.spans.extend(time.spans);
    }
    frame.render_widget(Paragraph::new(footer_line), foot);
    if let Some(pos) = position(table, &shown, console.expanded) {
        block = block.title_bottom(Line::styled(format!(" {pos} "), t.dim).right_aligned());
    }
    frame.render_widget(block, area);
}

fn timing(console: &Console, t: &Theme) -> Option<Line<'static>> {
    let e = console.output.elapsed.filter(|_| console.timing)?;
    Some(Line::styled(format!("Time: {}", duration(e)), t.dim))
}

/// The served-by badge, longest first: `[served by pg2 · 127.0.0.12 · replica]`.
fn badges(s: &ServedBy) -> Vec<String> {
    let full: Vec<&str> = [
        s.node.as_deref(),
        Some(s.address.as_str()),
        s.role.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let short: Vec<&str> = [
        s.node.as_deref().or(Some(s.address.as_str())),
        s.role.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    vec![
        format!("[served by {}]", full.join(" · ")),
        format!("[served by {}]", short.join(" · ")),
        format!("[{}]", short.join(" · ")),
    ]
}

/// Everything above the table: information, other statements' tags, the error and notices.
fn head_lines(console: &Console, table: Option<usize>, w: usize, t: &Theme) -> Vec<Line<'static>> {
    let out = &console.output;
    let mut lines = Vec::new();
    if let Some(info) = &out.info {
        lines.extend(wrap(info, w).into_iter().map(|l| Line::styled(l, t.notice)));
    }
    for (i, r) in out.results.iter().enumerate() {
        if Some(i) == table {
            continue;
        }
        if let Some(tag) = &r.tag {
            lines.push(Line::styled(tag.clone(), t.text));
        }
    }
    if let Some(e) = &out.error {
        lines.extend(error_lines(e, w, t));
    }
    for n in &out.notices {
        let style = if n.severity.eq_ignore_ascii_case("WARNING") {
            t.warning
        } else {
            t.notice
        };
        let text = format!("{}: {}", n.severity, n.message);
        lines.extend(wrap(&text, w).into_iter().map(|l| Line::styled(l, style)));
    }
    lines
}

fn error_lines(e: &SqlError, w: usize, t: &Theme) -> Vec<Line<'static>> {
    let severity = e.severity.as_deref().unwrap_or("ERROR");
    let mut first = match &e.sqlstate {
        Some(code) => format!("{severity} {code}: {}", e.message),
        None => format!("{severity}: {}", e.message),
    };
    if let Some(p) = e.position {
        let at = format!(" (at character {p})");
        if width(&first) + width(&at) <= w {
            first.push_str(&at);
        }
    }
    let mut lines: Vec<Line<'static>> = wrap(&first, w)
        .into_iter()
        .map(|l| Line::styled(l, t.error.patch(t.strong)))
        .collect();
    for (label, text) in [("DETAIL", &e.detail), ("HINT", &e.hint)] {
        if let Some(text) = text {
            let s = format!("{label}: {text}");
            lines.extend(wrap(&s, w).into_iter().map(|l| Line::styled(l, t.error)));
        }
    }
    lines
}

/// Which rows and columns are on screen, for the footer.
struct Shown {
    /// Lines used, header included.
    height: u16,
    first_row: usize,
    rows: usize,
    first_col: usize,
    cols: usize,
}

/// The result as a psql-style table from `scroll_row`, `scroll_col`.
fn grid(frame: &mut Frame, area: Rect, out: &Output, rs: &ResultSet, t: &Theme) -> Shown {
    let ncols = rs.columns.len();
    let first_col = out.scroll_col.min(ncols.saturating_sub(1));
    let first_row = out.scroll_row.min(rs.rows.len().saturating_sub(1));
    // The rule under the header is left out when rows are scarce.
    let ruled = area.height >= 8;
    let header_h: u16 = if ruled { 2 } else { 1 };
    let body_rows = usize::from(area.height.saturating_sub(header_h));
    let visible = rs.rows.iter().skip(first_row).take(body_rows);

    // Width and alignment of each column, from what is on screen.
    let mut cols: Vec<(usize, usize, bool)> = Vec::new(); // (index, width, numeric)
    let mut used = 0;
    let room = usize::from(area.width);
    for c in first_col..ncols {
        let mut w = width(&rs.columns[c]);
        let mut numeric = true;
        let mut any = false;
        for row in visible.clone() {
            let v = row.get(c).and_then(|v| v.as_deref());
            if let Some(v) = v {
                any = true;
                numeric &= v.parse::<f64>().is_ok();
            }
            w = w.max(v.map_or(4, |v| width(&one_line(v))));
        }
        let w = w.clamp(1, MAX_COL);
        // One space each side, and a separator before every column but the first.
        let sep = usize::from(!cols.is_empty());
        let left = room.saturating_sub(used + sep + 2);
        if w <= left {
            cols.push((c, w, numeric && any));
            used += sep + w + 2;
            continue;
        }
        // The column that does not fit is shown cut, when enough of it would show.
        if cols.is_empty() || left >= 5 {
            cols.push((c, left.max(1), numeric && any));
        }
        break;
    }

    let mut widths = Vec::new();
    let mut header = Vec::new();
    for (i, (c, w, _)) in cols.iter().enumerate() {
        if i > 0 {
            widths.push(Constraint::Length(1));
            let mut sep = vec![Line::styled("│", t.dim)];
            if ruled {
                sep.push(Line::styled("┼", t.dim));
            }
            header.push(Cell::from(Text::from(sep)));
        }
        widths.push(Constraint::Length(u16::try_from(w + 2).unwrap_or(u16::MAX)));
        let name = truncate(&one_line(&rs.columns[*c]), *w).into_owned();
        let mut title = vec![Line::from(vec![
            Span::raw(" "),
            Span::styled(name, t.table_header),
        ])];
        if ruled {
            title.push(Line::styled("─".repeat(w + 2), t.dim));
        }
        header.push(Cell::from(Text::from(title)));
    }
    let rows: Vec<Row> = visible
        .map(|row| {
            let mut cells = Vec::with_capacity(cols.len() * 2);
            for (i, (c, w, numeric)) in cols.iter().enumerate() {
                if i > 0 {
                    cells.push(Cell::from(Span::styled("│", t.dim)));
                }
                let v = row.get(*c).and_then(|v| v.as_deref());
                let (text, style) = match v {
                    Some(v) => (truncate(&one_line(v), *w).into_owned(), t.text),
                    None => ("NULL".to_string(), t.null),
                };
                let line = if *numeric {
                    Line::from(Span::styled(format!("{text} "), style)).right_aligned()
                } else {
                    Line::from(vec![Span::raw(" "), Span::styled(text, style)])
                };
                cells.push(Cell::from(line));
            }
            Row::new(cells)
        })
        .collect();
    let shown_rows = rows.len();
    frame.render_widget(
        Table::new(rows, widths)
            .header(Row::new(header).height(header_h))
            .column_spacing(0),
        area,
    );
    Shown {
        height: header_h + u16::try_from(shown_rows).unwrap_or(0),
        first_row,
        rows: shown_rows,
        first_col,
        cols: cols.len(),
    }
}

/// `\x`: one line per field, records from `scroll_row`.
fn expanded(frame: &mut Frame, area: Rect, out: &Output, rs: &ResultSet, t: &Theme) -> Shown {
    let first_row = out.scroll_row.min(rs.rows.len().saturating_sub(1));
    let key_w = rs
        .columns
        .iter()
        .map(|c| width(c))
        .max()
        .unwrap_or(0)
        .min(MAX_COL);
    let w = usize::from(area.width);
    let h = usize::from(area.height);
    let mut lines: Vec<Line> = Vec::new();
    let mut records = 0;
    for (i, row) in rs.rows.iter().enumerate().skip(first_row) {
        if lines.len() >= h {
            break;
        }
        records += 1;
        let label = format!("-[ RECORD {} ]", thousands(i as u64 + 1));
        let fill = w.saturating_sub(width(&label));
        lines.push(Line::styled(format!("{label}{}", "-".repeat(fill)), t.dim));
        for (c, name) in rs.columns.iter().enumerate() {
            if lines.len() >= h {
                break;
            }
            let name = truncate(name, key_w);
            let pad = key_w.saturating_sub(width(&name));
            let value_w = w.saturating_sub(key_w + 3);
            let (value, style): (String, Style) = match row.get(c).and_then(|v| v.as_deref()) {
                Some(v) => (truncate(&one_line(v), value_w).into_owned(), t.text),
                None => ("NULL".into(), t.null),
            };
            lines.push(Line::from(vec![
                Span::styled(name.into_owned(), t.strong),
                Span::raw(" ".repeat(pad)),
                Span::styled(" │ ", t.dim),
                Span::styled(value, style),
            ]));
        }
    }
    let height = u16::try_from(lines.len()).unwrap_or(u16::MAX);
    frame.render_widget(Paragraph::new(lines), area);
    Shown {
        height,
        first_row,
        rows: records,
        first_col: 0,
        cols: rs.columns.len(),
    }
}

/// `(3 rows)`, or how much of a capped result is kept.
fn footer(rs: &ResultSet, t: &Theme) -> Line<'static> {
    let kept = rs.rows.len() as u64;
    if rs.truncated() {
        Line::styled(
            format!(
                "showing {} of {} rows",
                thousands(kept),
                thousands(rs.total_rows)
            ),
            t.warning,
        )
    } else {
        let n = rs.total_rows.max(kept);
        Line::styled(
            format!("({} {})", thousands(n), if n == 1 { "row" } else { "rows" }),
            t.dim,
        )
    }
}

/// Where the view is, when it does not show everything: `rows 21–26 of 10,000 · cols 2–4 of 6`.
fn position(rs: &ResultSet, s: &Shown, expanded: bool) -> Option<String> {
    let kept = rs.rows.len();
    let mut pos = Vec::new();
    if kept > 0 && (s.first_row > 0 || s.rows < kept) {
        let first = s.first_row + 1;
        let last = (s.first_row + s.rows).max(first);
        let what = if expanded { "record" } else { "row" };
        pos.push(if last == first {
            format!(
                "{what} {} of {}",
                thousands(first as u64),
                thousands(kept as u64)
            )
        } else {
            format!(
                "{what}s {}–{} of {}",
                thousands(first as u64),
                thousands(last as u64),
                thousands(kept as u64)
            )
        });
    }
    let ncols = rs.columns.len();
    if !expanded && (s.first_col > 0 || s.cols < ncols) {
        pos.push(format!(
            "cols {}–{} of {}",
            s.first_col + 1,
            s.first_col + s.cols,
            ncols
        ));
    }
    (!pos.is_empty()).then(|| pos.join(" · "))
}
