//! Boxes over the screen: help (F1), the yes/no for destructive node actions, and the
//! Ctrl-R history search.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};

use super::text::{one_line, truncate, width};
use super::{Keys, centered};
use crate::cluster::node_op::NodeOp;
use crate::cluster::status::Role;
use crate::tui::state::{Confirm, Overlay, State};
use crate::tui::theme::Theme;

pub fn render(frame: &mut Frame, area: Rect, state: &State, t: &Theme) {
    match &state.overlay {
        Overlay::None => {}
        Overlay::Help => help(frame, area, t),
        Overlay::Confirm(c) => confirm(frame, area, state, c, t),
        Overlay::HistorySearch { query, selected } => {
            history(frame, area, &state.console.history, query, *selected, t)
        }
        Overlay::Lessons { selected } => {
            super::course_overlay::lessons(frame, area, state, *selected, t)
        }
        Overlay::ConfirmSolve | Overlay::ConfirmReset { .. } | Overlay::ConfirmOpen { .. } => {
            super::course_overlay::confirm(frame, area, state, t)
        }
    }
}

pub(super) fn boxed<'a>(title: &'a str, t: &Theme) -> Block<'a> {
    Block::bordered()
        .border_type(BorderType::Thick)
        .border_style(t.overlay_border)
        .title(Line::styled(format!(" {title} "), t.overlay_border))
}

type Section = (&'static str, Keys);

const GLOBAL: Section = (
    "Everywhere",
    &[
        ("F1", "this help"),
        ("Tab", "next pane"),
        ("Shift-Tab", "previous pane"),
        ("F2", "back to the editor"),
        ("F8", "sample who serves reads"),
        ("Ctrl-Q", "quit"),
    ],
);
const EDITOR: Section = (
    "SQL editor",
    &[
        ("F5", "run (also Ctrl-Enter)"),
        ("F6", "target: write, read, pgN"),
        ("F7", "sticky session / fresh"),
        ("Ctrl-C", "cancel the running query"),
        ("Ctrl-R", "search history"),
        ("↑ ↓", "history (first/last line)"),
        ("Ctrl-L", "clear"),
        ("\\x \\timing", "expanded rows, timing"),
    ],
);
const NODES: Section = (
    "Nodes",
    &[
        ("↑ ↓", "select a node"),
        ("s / S", "stop / start"),
        ("F", "start, though fenced"),
        ("k", "kill (a crash)"),
        ("p / r", "pause / resume"),
        ("P", "promote to primary"),
        ("w", "rewind into a replica"),
        ("x / h", "partition / heal"),
        ("b", "sample who serves reads"),
    ],
);
const RESULTS: Section = (
    "Results, lesson",
    &[("↑↓←→ PgUp PgDn", "scroll, page"), ("Home", "first row")],
);
const LESSON: Section = (
    "Lesson",
    &[
        ("F3", "check the step now"),
        ("F4", "next hint"),
        ("F9", "run the solution"),
        ("F10", "lessons and progress"),
        ("Ctrl-N / P", "next / previous step"),
        ("1-9", "answer the quiz"),
        ("s", "a done step's solution"),
    ],
);

const KEY_W: usize = 12;

fn section_lines(sections: &[Section], t: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for (i, (title, keys)) in sections.iter().enumerate() {
        if i > 0 {
            lines.push(Line::default());
        }
        lines.push(Line::styled(*title, t.heading));
        for (k, what) in keys.iter() {
            let pad = KEY_W.saturating_sub(width(k)).max(1);
            lines.push(Line::from(vec![
                Span::raw(" "),
                Span::styled(*k, t.key),
                Span::raw(" ".repeat(pad)),
                Span::raw(*what),
            ]));
        }
    }
    lines
}

fn help(frame: &mut Frame, area: Rect, t: &Theme) {
    let left = section_lines(&[GLOBAL, EDITOR], t);
    let right = section_lines(&[NODES, RESULTS, LESSON], t);
    let two = area.width >= 78;
    let (w, h) = if two {
        (78, left.len().max(right.len()) + 3)
    } else {
        (40, left.len() + right.len() + 4)
    };
    let r = centered(area, w, u16::try_from(h).unwrap_or(u16::MAX));
    frame.render_widget(Clear, r);
    let block = boxed("Keys", t).title_bottom(Line::styled(" Esc closes ", t.dim).right_aligned());
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let inner = Rect {
        x: inner.x.saturating_add(1).min(inner.right()),
        width: inner.width.saturating_sub(1),
        ..inner
    };
    if two {
        let [a, b] = Layout::horizontal([Constraint::Percentage(50), Constraint::Fill(1)])
            .spacing(1)
            .areas(inner);
        frame.render_widget(Paragraph::new(left), a);
        frame.render_widget(Paragraph::new(right), b);
    } else {
        let mut all = left;
        all.push(Line::default());
        all.extend(right);
        frame.render_widget(Paragraph::new(all), inner);
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn explain(op: NodeOp) -> &'static str {
    match op {
        NodeOp::Stop => "A clean shutdown: its sessions end.",
        NodeOp::Start => "Start its server again.",
        NodeOp::Kill => "SIGKILL: a crash, no clean shutdown.",
        NodeOp::Pause => "SIGSTOP: frozen, its connections hang.",
        NodeOp::Resume => "SIGCONT: it carries on where it stopped.",
        NodeOp::Promote => "It becomes a primary; the other replicas follow it.",
        NodeOp::Rewind => "pg_rewind it to the primary, then restart it as a replica.",
        NodeOp::Partition => "Cut it off the cluster network.",
        NodeOp::Heal => "Reconnect it to the cluster network.",
    }
}

fn confirm(frame: &mut Frame, area: Rect, state: &State, c: &Confirm, t: &Theme) {
    let is_primary = state
        .dash
        .snapshot
        .as_ref()
        .and_then(|s| s.node(&c.node))
        .is_some_and(|n| n.role == Role::Primary);
    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                format!(
                    "{} {}{}? ",
                    capitalised(c.op.name()),
                    c.node,
                    if c.force { " anyway" } else { "" }
                ),
                t.strong,
            ),
            Span::styled("y", t.key),
            Span::raw("/"),
            Span::styled("n", t.key),
        ]),
        Line::styled(
            if c.force {
                "Start it as it is, though fenced: it may be a second primary or a diverged \
                 standby. HAProxy keeps it out of both endpoints."
            } else {
                explain(c.op)
            },
            t.dim,
        ),
    ];
    if is_primary && matches!(c.op, NodeOp::Stop | NodeOp::Kill | NodeOp::Partition) {
        lines.push(Line::styled(
            format!(
                "{} is the primary: writes fail until a replica is promoted.",
                c.node
            ),
            t.warning,
        ));
    }
    let w = lines.iter().map(Line::width).max().unwrap_or(0) + 4;
    confirm_box(frame, area, lines, w.clamp(30, 64), t);
}

/// A yes/no box `width` wide (within the screen), as tall as its wrapped lines.
pub(super) fn confirm_box(
    frame: &mut Frame,
    area: Rect,
    lines: Vec<Line<'_>>,
    width: usize,
    t: &Theme,
) {
    let w = u16::try_from(width).unwrap_or(u16::MAX).min(area.width);
    let inner_w = usize::from(w.saturating_sub(4)).max(1);
    let h: usize = lines
        .iter()
        .map(|l| l.width().div_ceil(inner_w).max(1))
        .sum();
    let r = centered(area, w, u16::try_from(h + 2).unwrap_or(u16::MAX));
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(boxed("Confirm", t).padding(ratatui::widgets::Padding::horizontal(1))),
        r,
    );
}

fn history(
    frame: &mut Frame,
    area: Rect,
    history: &[String],
    query: &str,
    selected: usize,
    t: &Theme,
) {
    let found = crate::sql::history::search(history, query);
    let w = area.width.saturating_sub(4).min(90);
    let want = u16::try_from(found.len().max(1)).unwrap_or(u16::MAX);
    let h = want
        .saturating_add(4)
        .min(area.height.saturating_sub(2))
        .max(5);
    let r = centered(area, w, h);
    frame.render_widget(Clear, r);
    let count = format!(" {} of {} ", found.len(), history.len());
    let block =
        boxed("History search · newest first", t).title(Line::styled(count, t.dim).right_aligned());
    let inner = block.inner(r);
    frame.render_widget(block, r);
    if inner.is_empty() {
        return;
    }
    let [q, rule, list] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Fill(1),
    ])
    .areas(inner);
    let prompt = "search: ";
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(prompt, t.dim),
            Span::styled(query, t.strong),
        ])),
        q,
    );
    let qx = u16::try_from(width(prompt) + width(query)).unwrap_or(u16::MAX);
    frame.set_cursor_position(Position::new(
        q.x.saturating_add(qx).min(q.right().saturating_sub(1)),
        q.y,
    ));
    frame.render_widget(
        Paragraph::new(Line::styled("─".repeat(usize::from(rule.width)), t.dim)),
        rule,
    );
    if found.is_empty() {
        let msg = if history.is_empty() {
            "no history yet".to_string()
        } else {
            format!("nothing matches “{query}”")
        };
        frame.render_widget(Paragraph::new(Line::styled(msg, t.dim)), list);
        return;
    }
    let rows = usize::from(list.height);
    let selected = selected.min(found.len() - 1);
    let first = selected.saturating_sub(rows.saturating_sub(1));
    let lw = usize::from(list.width).saturating_sub(2);
    let lines: Vec<Line> = found
        .iter()
        .enumerate()
        .skip(first)
        .take(rows)
        .map(|(i, entry)| {
            let one = entry
                .split('\n')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ↵ ");
            let one = truncate(&one_line(&one), lw).into_owned();
            let line = Line::from(vec![
                Span::raw(if i == selected { "▸ " } else { "  " }),
                Span::raw(one),
            ]);
            if i == selected {
                line.style(t.selected)
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), list);
}
