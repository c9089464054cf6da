//! The dashboard: the nodes with their lag, HAProxy's view of them, who served reads, the
//! event timeline and the last node action. It gives up sections, biggest first, to fit:
//! at 80×24 it is the nodes table with one-line summaries.

mod events;
mod haproxy;
mod nodes;
mod served_by;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::pane;
use super::text::{one_line, wrap};
use crate::telemetry::model::Snapshot;
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
    let extra = 1 + u16::from(d.action.is_some() || d.duty.is_some()) + u16::from(served_shown(d));
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
    let haproxy_h = if let Some(why) = haproxy::down_text(snap) {
        let inner = usize::from(area.width.saturating_sub(2));
        len(wrap(&why, inner).len().clamp(1, 3)).saturating_add(2)
    } else if snap.haproxy.servers.is_empty() {
        0
    } else {
        len(haproxy::servers(snap).len()).saturating_add(3)
    };
    let haproxy_h = take(haproxy_h, &mut rest, &mut nodes_h, Folded::Haproxy);
    let action_h = if d.action.is_some() || d.duty.is_some() {
        let inner = usize::from(area.width.saturating_sub(2));
        let lines: usize = last_texts(d).iter().map(|l| wrap(l, inner).len()).sum();
        take(
            len(lines.clamp(1, 6)).saturating_add(2),
            &mut rest,
            &mut nodes_h,
            Folded::Action,
        )
    } else {
        0
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
    nodes::render(frame, p.nodes, snap, d, focused, &p.folded, t);
    if let Some(r) = p.haproxy {
        haproxy::render(frame, r, snap, t);
    }
    if let Some(r) = p.served {
        served_by::render(frame, r, d, t);
    }
    if let Some(r) = p.events {
        events::render(frame, r, snap, t);
    }
    if let Some(r) = p.action {
        frame.render_widget(
            Paragraph::new(last_lines(d, t))
                .wrap(Wrap { trim: true })
                .block(pane("Last action", false, t)),
            r,
        );
    }
}

/// The last node action, then the last thing the app did on its own.
fn last_texts(d: &Dashboard) -> Vec<String> {
    d.action
        .iter()
        .map(action_text)
        .chain(d.duty.iter().map(|x| duty_text(x)))
        .collect()
}

fn last_lines(d: &Dashboard, t: &Theme) -> Vec<Line<'static>> {
    d.action
        .iter()
        .map(|a| action_line(a, t))
        .chain(d.duty.iter().map(|x| Line::styled(duty_text(x), t.busy)))
        .collect()
}

fn duty_text(duty: &str) -> String {
    format!("⚙ {}", one_line(duty))
}

/// One line for a folded pane: what the app did on its own wins, being rarer.
pub(super) fn last_line(d: &Dashboard, t: &Theme) -> Line<'static> {
    match (&d.duty, &d.action) {
        (Some(x), _) => Line::styled(duty_text(x), t.busy),
        (None, Some(a)) => action_line(a, t),
        (None, None) => Line::default(),
    }
}

fn action_text(a: &ActionStatus) -> String {
    let what = format!("{} {}", a.op.name(), a.node);
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
