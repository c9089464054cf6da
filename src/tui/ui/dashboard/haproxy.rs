//! HAProxy's view of the nodes: each server's status and sessions per backend, or one line
//! naming whom each backend routes to and who should be but is not. While HAProxy is down,
//! why, in place of either.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

use crate::cluster::haproxy::{READ_BACKEND, ServerStat, WRITE_BACKEND};
use crate::cluster::status::Role;
use crate::telemetry::model::Snapshot;
use crate::tui::theme::Theme;
use crate::tui::ui::pane;
use crate::tui::ui::text::{one_line, width};

pub(super) fn servers(snap: &Snapshot) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for s in &snap.haproxy.servers {
        if !names.contains(&s.server.as_str()) {
            names.push(&s.server);
        }
    }
    names
}

fn backends(snap: &Snapshot) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for s in &snap.haproxy.servers {
        if !names.contains(&s.backend.as_str()) {
            names.push(&s.backend);
        }
    }
    names
}

/// What to say while HAProxy is down: its cause and repair.
pub(super) fn down_text(snap: &Snapshot) -> Option<String> {
    snap.haproxy.is_down().then(|| {
        let why = snap
            .haproxy
            .error
            .as_deref()
            .unwrap_or("it does not answer");
        one_line(why).into_owned()
    })
}

fn status_style(status: &str, t: &Theme) -> Style {
    if status.starts_with("UP") {
        t.up
    } else if status.starts_with("DOWN") {
        t.down
    } else if status.starts_with("MAINT") {
        t.maint
    } else {
        t.warning
    }
}

/// One line: which servers each backend routes to, and those that should but do not.
pub(super) fn summary(snap: &Snapshot, t: &Theme) -> Line<'static> {
    // The cause names HAProxy itself.
    if let Some(why) = down_text(snap) {
        return Line::styled(why, t.error);
    }
    let mut spans = vec![Span::styled("HAProxy", t.strong)];
    if snap.haproxy.servers.is_empty() {
        spans.push(Span::styled(" no stats yet", t.dim));
        return Line::from(spans);
    }
    for b in backends(snap) {
        spans.push(Span::raw(format!("  {b}→")));
        let rows: Vec<&ServerStat> = snap
            .haproxy
            .servers
            .iter()
            .filter(|s| s.backend == b)
            .collect();
        let up: Vec<&str> = rows
            .iter()
            .filter(|s| s.routable())
            .map(|s| s.server.as_str())
            .collect();
        if up.is_empty() {
            spans.push(Span::styled("none", t.down));
        } else {
            spans.push(Span::styled(up.join(" "), t.up));
        }
        // A server this backend should route to by its role, but does not.
        let expected = |s: &ServerStat| {
            let role = snap.node(&s.server).map(|n| n.role);
            match b {
                WRITE_BACKEND => role == Some(Role::Primary),
                READ_BACKEND => role == Some(Role::Replica),
                _ => true,
            }
        };
        let missing: Vec<&&ServerStat> = rows
            .iter()
            .filter(|s| !s.routable() && (expected(s) || !s.status.starts_with("DOWN")))
            .collect();
        if !missing.is_empty() {
            spans.push(Span::raw(" ("));
            for (i, s) in missing.iter().enumerate() {
                if i > 0 {
                    spans.push(Span::raw(", "));
                }
                spans.push(Span::styled(
                    format!("{} {}", s.server, s.status),
                    status_style(&s.status, t),
                ));
            }
            spans.push(Span::raw(")"));
        }
    }
    Line::from(spans)
}

/// Servers by backend: status and current sessions; or, while HAProxy is down, why.
pub(super) fn render(frame: &mut Frame, area: Rect, snap: &Snapshot, t: &Theme) {
    if let Some(why) = down_text(snap) {
        let block =
            pane("HAProxy", false, t).title(Line::styled(" down ", t.error).right_aligned());
        frame.render_widget(
            Paragraph::new(Line::styled(why, t.error))
                .wrap(Wrap { trim: true })
                .block(block),
            area,
        );
        return;
    }
    let backends = backends(snap);
    let servers = servers(snap);
    let server_w = servers
        .iter()
        .map(|s| width(s))
        .max()
        .unwrap_or(0)
        .max(width("server"));
    let mut widths = vec![Constraint::Length(
        u16::try_from(server_w).unwrap_or(u16::MAX),
    )];
    widths.extend(backends.iter().map(|_| Constraint::Length(11)));
    let mut header = vec![Cell::from("server")];
    header.extend(backends.iter().map(|b| Cell::from(b.to_string())));
    let rows = servers.iter().map(|name| {
        let mut cells = vec![Cell::from(Span::styled(name.to_string(), t.strong))];
        for b in &backends {
            let stat = snap
                .haproxy
                .servers
                .iter()
                .find(|s| s.backend == *b && s.server == *name);
            cells.push(match stat {
                Some(s) => {
                    let mut spans =
                        vec![Span::styled(s.status.clone(), status_style(&s.status, t))];
                    if s.routable() || s.current_sessions > 0 {
                        spans.push(Span::raw(format!(" {}", s.current_sessions)));
                    }
                    Cell::from(Line::from(spans))
                }
                None => Cell::from(Span::styled("—", t.dim)),
            });
        }
        Row::new(cells)
    });
    let block =
        pane("HAProxy", false, t).title(Line::styled(" status · sessions ", t.dim).right_aligned());
    frame.render_widget(
        Table::new(rows, widths)
            .header(Row::new(header).style(t.table_header))
            .column_spacing(2)
            .block(block),
        area,
    );
}
