//! The nodes table: role, state, bytes behind, WAL position, a replay-lag trend and the lag
//! flags per node, with the sections that did not fit folded into one line each below it.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline, SparklineBar};

use super::{Folded, haproxy, last_line, served_by};
use crate::cluster::status::{NodeState, Role};
use crate::telemetry::model::{LagFlag, NodeTelemetry, Snapshot, fence_flag};
use crate::tui::state::Dashboard;
use crate::tui::theme::Theme;
use crate::tui::ui::pane;
use crate::tui::ui::text::{bytes, width};

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
        LagFlag::SplitBrain => ("split brain", t.error),
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
pub(super) fn render(
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
        // The fence first: it says why the node is kept out, like split brain says why it
        // must be.
        let fence = n.fence.map(|f| (fence_flag(f), t.error));
        let mut spans = Vec::new();
        for (k, (label, style)) in fence
            .into_iter()
            .chain(n.flags.iter().map(|f| flag(*f, t)))
            .enumerate()
        {
            if k > 0 {
                spans.push(Span::styled(", ", t.dim));
            }
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
            Folded::Haproxy => haproxy::summary(snap, t),
            Folded::Action => last_line(d, t),
            Folded::Served => served_by::summary(d, t),
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
