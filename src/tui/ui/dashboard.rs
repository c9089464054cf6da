//! The dashboard: the nodes with their lag, HAProxy's view of them, who served reads, the
//! event timeline and the last node action. It gives up sections, biggest first, to fit:
//! at 80×24 it is the nodes table with one-line summaries.

use std::collections::BTreeMap;

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Bar, BarChart, BarGroup, Cell, Paragraph, Row, Sparkline, SparklineBar, Table, Wrap,
};

use super::pane;
use super::text::{bytes, clock, one_line, truncate, width, wrap};
use crate::cluster::haproxy::{READ_BACKEND, ServerStat, WRITE_BACKEND};
use crate::cluster::node_op::NodeOp;
use crate::cluster::status::{NodeState, Role};
use crate::telemetry::model::{EventKind, LagFlag, NodeTelemetry, Snapshot};
use crate::tui::state::{ActionStatus, Dashboard, Focus, State};
use crate::tui::theme::Theme;

/// Smallest events box worth showing (borders and two events).
const MIN_EVENTS: u16 = 4;

/// Height of the dashboard with every section folded into the nodes box.
pub fn compact_height(state: &State) -> u16 {
    let d = &state.dash;
    let nodes = d
        .snapshot
        .as_ref()
        .map_or(1, |s| u16::try_from(s.nodes.len()).unwrap_or(u16::MAX));
    let extra = 1 + u16::from(d.action.is_some()) + u16::from(served_shown(d));
    nodes.saturating_add(3).saturating_add(extra)
}

fn served_shown(d: &Dashboard) -> bool {
    d.served_by.is_some() || d.served_by_running
}

/// Where each section goes, and which are folded into one line of the nodes box.
struct Plan {
    nodes: Rect,
    haproxy: Option<Rect>,
    action: Option<Rect>,
    served: Option<Rect>,
    events: Option<Rect>,
    /// One-line stand-ins inside the nodes box.
    folded: Vec<Folded>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Folded {
    Haproxy,
    Action,
    Served,
}

fn servers(snap: &Snapshot) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for s in &snap.haproxy {
        if !names.contains(&s.server.as_str()) {
            names.push(&s.server);
        }
    }
    names
}

fn backends(snap: &Snapshot) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for s in &snap.haproxy {
        if !names.contains(&s.backend.as_str()) {
            names.push(&s.backend);
        }
    }
    names
}

fn plan(area: Rect, snap: &Snapshot, d: &Dashboard) -> Plan {
    let len = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    let mut nodes_h = len(snap.nodes.len()).saturating_add(3);
    let mut rest = area.height.saturating_sub(nodes_h);
    let mut folded = Vec::new();
    let mut take = |want: u16, rest: &mut u16, nodes_h: &mut u16, f: Folded| -> u16 {
        if want > 0 && *rest >= want + MIN_EVENTS {
            *rest -= want;
            want
        } else {
            folded.push(f);
            *nodes_h = nodes_h.saturating_add(1);
            *rest = rest.saturating_sub(1);
            0
        }
    };
    let haproxy_h = if snap.haproxy.is_empty() {
        0
    } else {
        len(servers(snap).len()).saturating_add(3)
    };
    let haproxy_h = take(haproxy_h, &mut rest, &mut nodes_h, Folded::Haproxy);
    let action_h = match &d.action {
        Some(a) => {
            let inner = usize::from(area.width.saturating_sub(2));
            let lines = wrap(&action_text(a), inner).len();
            take(
                len(lines.clamp(1, 3)).saturating_add(2),
                &mut rest,
                &mut nodes_h,
                Folded::Action,
            )
        }
        None => 0,
    };
    let served_h = if served_shown(d) {
        let bars = d.served_by.as_ref().map_or(1, |m| m.len().max(1));
        take(
            len(bars).saturating_add(2),
            &mut rest,
            &mut nodes_h,
            Folded::Served,
        )
    } else {
        0
    };
    let events_h = if rest >= 3 { rest } else { 0 };
    let [nodes, haproxy, served, events, action] = Layout::vertical([
        Constraint::Length(nodes_h),
        Constraint::Length(haproxy_h),
        Constraint::Length(served_h),
        Constraint::Length(events_h),
        Constraint::Length(action_h),
    ])
    .areas(area);
    let some = |r: Rect, h: u16| (h > 0).then_some(r);
    Plan {
        nodes,
        haproxy: some(haproxy, haproxy_h),
        action: some(action, action_h),
        served: some(served, served_h),
        events: some(events, events_h),
        folded,
    }
}

pub fn render(frame: &mut Frame, area: Rect, state: &State, t: &Theme) {
    let d = &state.dash;
    let focused = state.focus == Focus::Nodes;
    let Some(snap) = d.snapshot.as_deref() else {
        frame.render_widget(
            Paragraph::new(Line::styled(
                "Waiting for the first telemetry snapshot…",
                t.dim,
            ))
            .block(pane("Nodes", focused, t)),
            area,
        );
        return;
    };
    let p = plan(area, snap, d);
    nodes(frame, p.nodes, snap, d, focused, &p.folded, t);
    if let Some(r) = p.haproxy {
        haproxy(frame, r, snap, t);
    }
    if let Some(r) = p.served {
        served(frame, r, d, t);
    }
    if let Some(r) = p.events {
        events(frame, r, snap, t);
    }
    if let Some((r, a)) = p.action.zip(d.action.as_ref()) {
        frame.render_widget(
            Paragraph::new(action_line(a, t))
                .wrap(Wrap { trim: true })
                .block(pane("Last action", false, t)),
            r,
        );
    }
}

fn role_style(role: Role, t: &Theme) -> Style {
    match role {
        Role::Primary => t.primary,
        Role::Replica => t.replica,
        Role::Unknown => t.unknown,
    }
}

fn state_style(s: NodeState, t: &Theme) -> Style {
    match s {
        NodeState::Running => t.ok,
        NodeState::Paused => t.maint,
        NodeState::Stopped | NodeState::Unreachable => t.down,
    }
}

fn flag(f: LagFlag, t: &Theme) -> (&'static str, Style) {
    match f {
        LagFlag::ReplayPaused => ("replay paused", t.warning),
        LagFlag::ReceiverSilent => ("receiver silent", t.error),
        LagFlag::NotStreaming => ("not streaming", t.error),
        LagFlag::IdlePrimary => ("idle primary", t.dim),
    }
}

/// The primary's current WAL position, or how far a replica has replayed.
fn lsn(n: &NodeTelemetry) -> String {
    let at = match n.role {
        Role::Primary => n.current_lsn.as_deref(),
        _ => n.replay_lsn.as_deref(),
    };
    at.unwrap_or("—").to_string()
}

fn behind(n: &NodeTelemetry) -> String {
    match (&n.role, &n.lag) {
        (Role::Primary, _) | (_, None) => "—".into(),
        (_, Some(lag)) => bytes(lag.replay_bytes),
    }
}

/// The nodes table, with the sections that did not fit as one line each below it.
fn nodes(
    frame: &mut Frame,
    area: Rect,
    snap: &Snapshot,
    d: &Dashboard,
    focused: bool,
    folded: &[Folded],
    t: &Theme,
) {
    let block = pane("Nodes", focused, t);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.is_empty() {
        return;
    }
    let folded_h = u16::try_from(folded.len()).unwrap_or(u16::MAX);
    let folded_h = if inner.height > folded_h.saturating_add(1) {
        folded_h
    } else {
        0
    };
    let [table, below] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(folded_h)]).areas(inner);

    let behinds: Vec<String> = snap.nodes.iter().map(behind).collect();
    let col = |title: &str, it: &mut dyn Iterator<Item = usize>| -> usize {
        it.max().unwrap_or(0).max(width(title))
    };
    let name_w = col("node", &mut snap.nodes.iter().map(|n| width(&n.name)));
    let role_w = col(
        "role",
        &mut snap.nodes.iter().map(|n| n.role.as_str().len()),
    );
    let state_w = col(
        "state",
        &mut snap.nodes.iter().map(|n| n.state.as_str().len()),
    );
    let behind_w = col("behind", &mut behinds.iter().map(|b| width(b)));
    let lsns: Vec<String> = snap.nodes.iter().map(lsn).collect();
    let lsn_w = col("lsn", &mut lsns.iter().map(|l| width(l)));
    let fixed = name_w + role_w + state_w + behind_w + 4;
    // The WAL position where there is room: flags matter more at narrow widths.
    let show_lsn = usize::from(table.width).saturating_sub(fixed) >= lsn_w + 1 + 24;
    let fixed = fixed + if show_lsn { lsn_w + 1 } else { 0 };
    let avail = usize::from(table.width).saturating_sub(fixed);
    let longest = d.replay_history.values().map(Vec::len).max().unwrap_or(0);
    let spark_w = if avail >= 15 + 1 + 6 && longest > 0 {
        (avail - 16).min(16).min(longest.max(6))
    } else {
        0
    };
    let mut widths = vec![name_w, role_w, state_w, behind_w];
    if show_lsn {
        widths.push(lsn_w);
    }
    if spark_w > 0 {
        widths.push(spark_w);
    }
    widths.push(avail.saturating_sub(if spark_w > 0 { spark_w + 2 } else { 1 }));
    let cols = Layout::horizontal(
        widths
            .iter()
            .map(|w| Constraint::Length(u16::try_from(*w).unwrap_or(u16::MAX))),
    )
    .spacing(1);

    let mut headers = vec!["node", "role", "state", "behind"];
    if show_lsn {
        headers.push("lsn");
    }
    if spark_w > 0 {
        headers.push("trend");
    }
    headers.push("flags");
    let header_area = Rect { height: 1, ..table };
    for (title, r) in headers.iter().zip(cols.split(header_area).iter()) {
        let line = if *title == "behind" {
            Line::styled(*title, t.table_header).right_aligned()
        } else {
            Line::styled(*title, t.table_header)
        };
        frame.render_widget(Paragraph::new(line), *r);
    }

    let rows_h = usize::from(table.height.saturating_sub(1));
    let selected = d.selected.min(snap.nodes.len().saturating_sub(1));
    let first = selected.saturating_sub(rows_h.saturating_sub(1));
    let history = |n: &str| -> &[u64] {
        let h = d.replay_history.get(n).map_or(&[][..], Vec::as_slice);
        &h[h.len().saturating_sub(spark_w)..]
    };
    let max = snap
        .nodes
        .iter()
        .flat_map(|n| history(&n.name).iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let bar_set = symbols::bar::Set {
        empty: "▁",
        ..symbols::bar::NINE_LEVELS
    };
    for (i, n) in snap.nodes.iter().enumerate().skip(first).take(rows_h) {
        let y = table.y + 1 + u16::try_from(i - first).unwrap_or(0);
        let row = Rect {
            y,
            height: 1,
            ..table
        };
        let cells = cols.split(row);
        let text = |s: String, style: Style| Paragraph::new(Line::styled(s, style));
        frame.render_widget(text(n.name.clone(), t.strong), cells[0]);
        frame.render_widget(
            text(n.role.as_str().into(), role_style(n.role, t)),
            cells[1],
        );
        frame.render_widget(
            text(n.state.as_str().into(), state_style(n.state, t)),
            cells[2],
        );
        let lag_style = match &n.lag {
            Some(l) if l.replay_bytes > 0 => t.warning,
            _ => t.text,
        };
        frame.render_widget(
            Paragraph::new(Line::styled(behinds[i].clone(), lag_style).right_aligned()),
            cells[3],
        );
        let mut next = 4;
        if show_lsn {
            frame.render_widget(text(lsns[i].clone(), t.dim), cells[next]);
            next += 1;
        }
        if spark_w > 0 {
            let data = history(&n.name);
            let cell = cells[next];
            let w = u16::try_from(data.len()).unwrap_or(0).min(cell.width);
            let spark_area = Rect {
                x: cell.x + cell.width - w,
                width: w,
                ..cell
            };
            let bars: Vec<SparklineBar> = data
                .iter()
                .map(|v| SparklineBar::from(*v).style(if *v == 0 { t.spark_zero } else { t.spark }))
                .collect();
            frame.render_widget(
                Sparkline::default()
                    .data(bars)
                    .max(max)
                    .bar_set(bar_set.clone()),
                spark_area,
            );
            next += 1;
        }
        let mut spans = Vec::new();
        for (k, f) in n.flags.iter().enumerate() {
            if k > 0 {
                spans.push(Span::styled(", ", t.dim));
            }
            let (label, style) = flag(*f, t);
            spans.push(Span::styled(label, style));
        }
        if let Some(cell) = cells.get(next) {
            frame.render_widget(Paragraph::new(Line::from(spans)), *cell);
        }
        if focused && i == selected {
            frame.buffer_mut().set_style(row, t.selected);
        }
    }

    for (y, f) in (below.y..below.bottom()).zip(folded) {
        let line = match f {
            Folded::Haproxy => haproxy_summary(snap, t),
            Folded::Action => d
                .action
                .as_ref()
                .map(|a| action_line(a, t))
                .unwrap_or_default(),
            Folded::Served => served_summary(d, t),
        };
        frame.render_widget(
            Paragraph::new(line),
            Rect {
                y,
                height: 1,
                ..below
            },
        );
    }
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
fn haproxy_summary(snap: &Snapshot, t: &Theme) -> Line<'static> {
    let mut spans = vec![Span::styled("HAProxy", t.strong)];
    if snap.haproxy.is_empty() {
        spans.push(Span::styled(" no stats yet", t.dim));
        return Line::from(spans);
    }
    for b in backends(snap) {
        spans.push(Span::raw(format!("  {b}→")));
        let rows: Vec<&ServerStat> = snap.haproxy.iter().filter(|s| s.backend == b).collect();
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

/// Servers by backend: status and current sessions.
fn haproxy(frame: &mut Frame, area: Rect, snap: &Snapshot, t: &Theme) {
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

fn served_summary(d: &Dashboard, t: &Theme) -> Line<'static> {
    let mut spans = vec![Span::styled("served by ", t.dim)];
    match &d.served_by {
        Some(m) if !m.is_empty() => {
            let total: usize = m.values().sum();
            let parts: Vec<String> = m
                .iter()
                .map(|(n, c)| format!("{n} {}", pct(*c, total)))
                .collect();
            spans.push(Span::raw(parts.join("  ")));
        }
        _ => {}
    }
    if d.served_by_running {
        spans.push(Span::styled(" sampling…", t.busy));
    }
    Line::from(spans)
}

fn pct(n: usize, total: usize) -> String {
    if total == 0 {
        return "0%".into();
    }
    format!("{}%", (n * 100 + total / 2) / total)
}

/// Which node answered each of a run of fresh connections to the read endpoint.
fn served(frame: &mut Frame, area: Rect, d: &Dashboard, t: &Theme) {
    let mut block = pane("Served by (read endpoint)", false, t);
    if d.served_by_running {
        block = block.title(Line::styled(" sampling… ", t.busy).right_aligned());
    }
    let empty = BTreeMap::new();
    let counts = d.served_by.as_ref().unwrap_or(&empty);
    if counts.is_empty() {
        let msg = if d.served_by_running {
            "asking the read endpoint…"
        } else {
            "no answers"
        };
        frame.render_widget(Paragraph::new(Line::styled(msg, t.dim)).block(block), area);
        return;
    }
    let total: usize = counts.values().sum();
    let bars: Vec<Bar> = counts
        .iter()
        .map(|(n, c)| {
            Bar::with_label(n.clone(), *c as u64).text_value(format!("{c} · {}", pct(*c, total)))
        })
        .collect();
    frame.render_widget(
        BarChart::default()
            .direction(Direction::Horizontal)
            .data(BarGroup::new(bars))
            .bar_width(1)
            .bar_gap(0)
            .bar_style(t.bar)
            .value_style(t.bar_value)
            .label_style(t.text)
            .max(counts.values().copied().max().unwrap_or(1).max(1) as u64)
            .block(block),
        area,
    );
}

fn kind_label(k: EventKind) -> &'static str {
    match k {
        EventKind::NodeUp => "node up",
        EventKind::NodeDown => "node down",
        EventKind::RoleChanged => "role",
        EventKind::ProxyTransition => "haproxy",
        EventKind::StreamingStarted => "streaming",
        EventKind::StreamingStopped => "stream lost",
    }
}

fn kind_style(k: EventKind, t: &Theme) -> Style {
    match k {
        EventKind::NodeUp | EventKind::StreamingStarted => t.ok,
        EventKind::NodeDown | EventKind::StreamingStopped => t.error,
        EventKind::RoleChanged => t.primary,
        EventKind::ProxyTransition => t.notice,
    }
}

/// The newest events that fit, newest last.
fn events(frame: &mut Frame, area: Rect, snap: &Snapshot, t: &Theme) {
    let block = pane("Events (UTC)", false, t);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let h = usize::from(inner.height);
    let w = usize::from(inner.width);
    if snap.events.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled("nothing has happened yet", t.dim)),
            inner,
        );
        return;
    }
    let node_w = snap
        .events
        .iter()
        .map(|e| width(&e.node))
        .max()
        .unwrap_or(0);
    let skip = snap.events.len().saturating_sub(h);
    let lines: Vec<Line> = snap
        .events
        .iter()
        .skip(skip)
        .map(|e| {
            let lead = 8 + 1 + 11 + 1 + node_w + 1;
            let detail = truncate(&one_line(&e.detail), w.saturating_sub(lead)).into_owned();
            Line::from(vec![
                Span::styled(clock(e.at_ms), t.dim),
                Span::raw(" "),
                Span::styled(format!("{:<11}", kind_label(e.kind)), kind_style(e.kind, t)),
                Span::raw(" "),
                Span::styled(format!("{:<node_w$}", e.node), t.strong),
                Span::raw(" "),
                Span::raw(detail),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

pub fn op_label(op: NodeOp) -> &'static str {
    op.name()
}

fn action_text(a: &ActionStatus) -> String {
    let what = format!("{} {}", op_label(a.op), a.node);
    let text = match &a.outcome {
        None => format!("… {what}: running"),
        Some(Ok(note)) if note.is_empty() => format!("✓ {what}: done"),
        Some(Ok(note)) => format!("✓ {what}: {note}"),
        Some(Err(e)) => format!("✗ {what} failed: {e}"),
    };
    one_line(&text).into_owned()
}

fn action_line(a: &ActionStatus, t: &Theme) -> Line<'static> {
    let style = match &a.outcome {
        None => t.busy,
        Some(Ok(_)) => t.ok,
        Some(Err(_)) => t.error,
    };
    Line::styled(action_text(a), style)
}
