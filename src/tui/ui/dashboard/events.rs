//! The event timeline: role changes, nodes and streams coming and going, HAProxy transitions.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::telemetry::model::{EventKind, Snapshot};
use crate::tui::theme::Theme;
use crate::tui::ui::pane;
use crate::tui::ui::text::{clock, one_line, truncate, width};

fn kind_label(k: EventKind) -> &'static str {
    match k {
        EventKind::NodeUp => "node up",
        EventKind::NodeDown => "node down",
        EventKind::RoleChanged => "role",
        EventKind::ProxyTransition => "haproxy",
        EventKind::ProxyDown => "proxy down",
        EventKind::ProxyUp => "proxy up",
        EventKind::StreamingStarted => "streaming",
        EventKind::StreamingStopped => "stream lost",
        EventKind::SplitBrain => "split brain",
    }
}

fn kind_style(k: EventKind, t: &Theme) -> Style {
    match k {
        EventKind::NodeUp | EventKind::StreamingStarted | EventKind::ProxyUp => t.ok,
        EventKind::NodeDown
        | EventKind::StreamingStopped
        | EventKind::SplitBrain
        | EventKind::ProxyDown => t.error,
        EventKind::RoleChanged => t.primary,
        EventKind::ProxyTransition => t.notice,
    }
}

/// The newest events that fit, newest last.
pub(super) fn render(frame: &mut Frame, area: Rect, snap: &Snapshot, t: &Theme) {
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
