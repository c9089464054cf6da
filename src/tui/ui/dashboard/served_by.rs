//! Which node answered each of a run of fresh connections to the read endpoint: bars with
//! counts and shares, or one line of shares.

use std::collections::BTreeMap;

use ratatui::Frame;
use ratatui::layout::{Direction, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Paragraph};

use crate::tui::state::Dashboard;
use crate::tui::theme::Theme;
use crate::tui::ui::pane;

pub(super) fn summary(d: &Dashboard, t: &Theme) -> Line<'static> {
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
pub(super) fn render(frame: &mut Frame, area: Rect, d: &Dashboard, t: &Theme) {
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
