//! The title bar: the app, the cluster, where the console sends statements, and the
//! transaction state when there is one.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::text::width;
use crate::sql::TxState;
use crate::tui::state::State;
use crate::tui::theme::Theme;

pub fn render(frame: &mut Frame, area: Rect, state: &State, t: &Theme) {
    let c = &state.console;
    let snap = state.dash.snapshot.as_deref();
    let sep = || Span::styled(" │ ", t.title_bar.patch(t.dim));
    let mut spans = vec![
        Span::styled(" replica-lab ", t.app_name),
        Span::raw(" "),
        Span::raw(state.cluster.clone()),
    ];
    if let Some(s) = snap {
        spans.push(Span::raw(format!(" ({})", s.runtime)));
    }
    spans.push(sep());
    spans.push(Span::raw("SQL → "));
    spans.push(Span::styled(c.target.label(), t.title_bar.patch(t.strong)));
    spans.push(Span::raw(if c.fresh { " · fresh" } else { " · sticky" }));
    match c.tx {
        TxState::Idle => {}
        TxState::InTransaction => {
            spans.push(sep());
            spans.push(Span::styled("in transaction", t.title_bar.patch(t.warning)));
        }
        TxState::Failed => {
            spans.push(sep());
            spans.push(Span::styled(
                "transaction failed: ROLLBACK",
                t.title_bar.patch(t.error),
            ));
        }
    }
    if c.running.is_some() {
        spans.push(sep());
        spans.push(Span::styled("running…", t.title_bar.patch(t.busy)));
    }
    let used: usize = spans.iter().map(|s| s.width()).sum();
    if let Some(s) = snap {
        let ends = format!(
            "write {}  read {}  stats {} ",
            s.endpoints.write, s.endpoints.read, s.endpoints.stats
        );
        let room = usize::from(area.width).saturating_sub(used);
        if width(&ends) + 2 <= room {
            spans.push(Span::raw(" ".repeat(room - width(&ends))));
            spans.push(Span::styled(ends, t.title_bar.patch(t.dim)));
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(t.title_bar), area);
}
