//! The title bar: the app, the cluster, where the console sends statements, and the
//! transaction state when there is one. A long target (a `\connect` URL) is cut with `…` so
//! that what follows it stays on screen.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::text::{one_line, truncate, width};
use crate::sql::TxState;
use crate::tui::class_state::JoinedClass;
use crate::tui::state::State;
use crate::tui::theme::Theme;

/// Cells the target keeps however narrow the bar.
const MIN_TARGET: usize = 8;
/// Cells the learner's name in a class takes at most.
const MAX_CLASS_NAME: usize = 16;

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
    let at = spans.len();
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
    if let Some(class) = &state.class {
        spans.push(sep());
        spans.extend(class_spans(class, t));
    }
    // The target gets the room the rest leaves, and at least a few cells.
    let rest: usize = spans.iter().map(|s| s.width()).sum();
    let room = usize::from(area.width).saturating_sub(rest).max(MIN_TARGET);
    let label = truncate(&one_line(&c.target.label()), room).into_owned();
    spans.insert(at, Span::styled(label, t.title_bar.patch(t.strong)));
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

/// `class: NAME · ✓` (or `· 12 queued`, `· hub unreachable`), and `✉ N` for messages from
/// the instructor not looked at yet.
fn class_spans(class: &JoinedClass, t: &Theme) -> Vec<Span<'static>> {
    let s = &class.status;
    let style = if s.connected && s.queued == 0 {
        t.ok
    } else if s.last_error.is_some() {
        t.error
    } else {
        t.busy
    };
    let mut out = vec![
        Span::raw(format!(
            "class: {} · ",
            truncate(&one_line(&class.name), MAX_CLASS_NAME)
        )),
        Span::styled(class.delivery(), t.title_bar.patch(style)),
    ];
    if class.unread > 0 {
        out.push(Span::styled(
            format!(" ✉ {}", class.unread),
            t.title_bar.patch(t.warning),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::sql::Target;
    use crate::tui::state::{LessonPane, Phase, ThemeName};
    use crate::tui::theme::theme;

    fn bar(state: &State, w: u16) -> String {
        let mut term = Terminal::new(TestBackend::new(w, 1)).expect("a test terminal");
        term.draw(|f| render(f, f.area(), state, &theme(state.theme)))
            .expect("drawn");
        let buffer = term.backend().buffer();
        (0..w).map(|x| buffer[(x, 0)].symbol()).collect()
    }

    #[test]
    fn a_long_url_target_is_cut_and_what_follows_stays() {
        let lesson = LessonPane {
            title: String::new(),
            text: String::new(),
            scroll: 0,
        };
        let mut s = State::new("lab".into(), lesson, ThemeName::Mono);
        s.phase = Phase::Running;
        s.console.target = Target::Url(
            "postgresql://myuser:secret@127.0.0.13:5432,127.0.0.11:5432,127.0.0.12:5432/mydatabase\
             ?target_session_attrs=read-write&application_name=routing-lesson"
                .into(),
        );
        s.console.running = Some(1);
        s.console.tx = TxState::InTransaction;
        let line = bar(&s, 100);
        assert!(
            line.contains("SQL → postgresql://myuser:***@127.0.0.13"),
            "{line}"
        );
        assert!(line.contains('…'), "{line}");
        assert!(!line.contains("secret"), "{line}");
        assert!(line.trim_end().ends_with("running…"), "{line}");
        assert!(line.contains("· sticky │ in transaction │"), "{line}");
        // However narrow, a few cells of the target remain.
        assert!(
            bar(&s, 50).contains("SQL → postgre… · sticky"),
            "{}",
            bar(&s, 50)
        );
        // A short target is shown whole, as before.
        s.console.target = Target::Node("pg2".into());
        assert!(bar(&s, 100).contains("SQL → pg2 · sticky"));
    }

    #[test]
    fn the_class_shows_how_delivery_stands_and_unread_messages() {
        use crate::classroom::reporter::ReporterState;
        let lesson = LessonPane {
            title: String::new(),
            text: String::new(),
            scroll: 0,
        };
        let mut s = State::new("lab".into(), lesson, ThemeName::Mono);
        s.phase = Phase::Running;
        assert!(!bar(&s, 120).contains("class:"));
        let mut class = JoinedClass::new("ann".into(), true);
        class.status = ReporterState {
            connected: true,
            ..ReporterState::default()
        };
        s.class = Some(class.clone());
        assert!(
            bar(&s, 120).contains("│ class: ann · ✓"),
            "{}",
            bar(&s, 120)
        );
        class.status.queued = 12;
        s.class = Some(class.clone());
        assert!(
            bar(&s, 120).contains("class: ann · 12 queued"),
            "{}",
            bar(&s, 120)
        );
        class.status = ReporterState {
            connected: false,
            queued: 3,
            last_error: Some("cannot reach the hub".into()),
            ..ReporterState::default()
        };
        class.unread = 2;
        s.class = Some(class);
        let line = bar(&s, 120);
        assert!(
            line.contains("class: ann · hub unreachable · 3 queued ✉ 2"),
            "{line}"
        );
    }
}
