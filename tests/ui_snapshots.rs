//! The screen, as text: hand-built states rendered into a test terminal at 80×24 and 160×48.
//! Every fixture uses fixed times, addresses and LSNs, so the snapshots are stable.

use std::collections::BTreeMap;
use std::sync::Arc;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier};

use replica_lab::cluster::node_op::NodeOp;
use replica_lab::lesson::course::FileNote;
use replica_lab::sql::ResultSet;
use replica_lab::tui::editor::Editor;
use replica_lab::tui::state::{Confirm, Focus, Overlay, State, ThemeName};
use replica_lab::tui::ui::{draw, panes};

#[path = "fixtures/ui.rs"]
mod fixtures;
mod support;

use fixtures::*;
use support::screen::text;

fn terminal(state: &State, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("a test terminal");
    term.draw(|f| draw(f, state)).expect("drawing never fails");
    term
}

fn screen(state: &State, w: u16, h: u16) -> String {
    text(terminal(state, w, h).backend().buffer())
}

macro_rules! snap {
    ($name:ident, $state:expr, $w:expr, $h:expr) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(screen(&$state, $w, $h));
        }
    };
}

snap!(busy_80x24, busy(), 80, 24);
snap!(busy_160x48, busy(), 160, 48);
snap!(proxy_down_80x24, proxy_down(), 80, 24);
snap!(proxy_down_160x48, proxy_down(), 160, 48);
snap!(error_80x24, with_error(), 80, 24);
snap!(error_160x48, with_error(), 160, 48);
snap!(expanded_80x24, expanded(), 80, 24);
snap!(expanded_160x48, expanded(), 160, 48);
snap!(big_result_80x24, big_result(), 80, 24);
snap!(big_result_120x32, big_result(), 120, 32);
snap!(big_result_160x48, big_result(), 160, 48);
snap!(in_flight_80x24, in_flight(), 80, 24);
snap!(in_flight_160x48, in_flight(), 160, 48);
snap!(waiting_80x24, waiting(), 80, 24);
snap!(starting_80x24, starting(), 80, 24);
snap!(starting_160x48, starting(), 160, 48);
snap!(starting_failed_80x24, starting_failed(), 80, 24);
snap!(starting_failed_160x48, starting_failed(), 160, 48);
snap!(help_80x24, with_overlay(busy(), Overlay::Help), 80, 24);
snap!(help_160x48, with_overlay(busy(), Overlay::Help), 160, 48);
snap!(
    confirm_80x24,
    with_overlay(
        big_result(),
        Overlay::Confirm(Confirm {
            op: NodeOp::Kill,
            node: "pg1".into(),
            force: false,
        })
    ),
    80,
    24
);
snap!(
    confirm_160x48,
    with_overlay(
        big_result(),
        Overlay::Confirm(Confirm {
            op: NodeOp::Promote,
            node: "pg3".into(),
            force: false,
        })
    ),
    160,
    48
);
snap!(
    history_80x24,
    with_overlay(
        busy(),
        Overlay::HistorySearch {
            query: "select".into(),
            selected: 1
        }
    ),
    80,
    24
);

snap!(course_checks_80x24, course_checks(), 80, 24);
snap!(course_checks_160x48, course_checks(), 160, 48);
snap!(course_quiz_wrong_80x24, course_quiz_wrong(), 80, 24);
snap!(course_quiz_wrong_160x48, course_quiz_wrong(), 160, 48);
snap!(course_quiz_right_80x24, course_quiz_right(), 80, 24);
snap!(course_quiz_right_160x48, course_quiz_right(), 160, 48);
snap!(course_hints_80x24, course_hints(), 80, 24);
snap!(course_hints_160x48, course_hints(), 160, 48);
snap!(course_busy_80x24, course_busy(), 80, 24);
snap!(course_busy_160x48, course_busy(), 160, 48);
snap!(course_done_80x24, course_done(), 80, 24);
snap!(course_done_160x48, course_done(), 160, 48);
snap!(
    course_lessons_80x24,
    with_overlay(course_checks(), Overlay::Lessons { selected: 2 }),
    80,
    24
);
snap!(
    course_lessons_160x48,
    with_overlay(course_checks(), Overlay::Lessons { selected: 2 }),
    160,
    48
);
snap!(
    course_confirm_solve_80x24,
    with_overlay(course_checks(), Overlay::ConfirmSolve),
    80,
    24
);
snap!(
    course_confirm_solve_160x48,
    with_overlay(course_checks(), Overlay::ConfirmSolve),
    160,
    48
);
snap!(
    course_confirm_reset_80x24,
    with_overlay(course_checks(), Overlay::ConfirmReset { lesson: 1 }),
    80,
    24
);
snap!(
    course_confirm_reset_160x48,
    with_overlay(course_checks(), Overlay::ConfirmReset { lesson: 1 }),
    160,
    48
);
snap!(
    course_confirm_open_80x24,
    with_overlay(
        course_checks(),
        Overlay::ConfirmOpen {
            lesson: 2,
            missing: vec!["02-write-read".into()]
        }
    ),
    80,
    24
);
snap!(
    course_confirm_open_160x48,
    with_overlay(
        course_checks(),
        Overlay::ConfirmOpen {
            lesson: 2,
            missing: vec!["02-write-read".into()]
        }
    ),
    160,
    48
);

/// The tutorial's screens, each with the overlays it can show.
fn course_fixtures() -> Vec<State> {
    let mut all = vec![
        course_checks(),
        course_hints(),
        course_busy(),
        course_done(),
        course_quiz_wrong(),
        course_quiz_right(),
    ];
    let overlays = [
        Overlay::Lessons { selected: 0 },
        Overlay::Lessons { selected: 99 },
        Overlay::ConfirmSolve,
        Overlay::ConfirmReset { lesson: 3 },
        Overlay::ConfirmReset { lesson: 99 },
        Overlay::ConfirmOpen {
            lesson: 2,
            missing: vec!["02-write-read".into(), "01-topology".into()],
        },
    ];
    for o in overlays {
        all.push(with_overlay(course_hints(), o));
    }
    all
}

#[test]
fn the_lesson_list_marks_done_current_and_locked_lessons() {
    let screen = screen(
        &with_overlay(course_checks(), Overlay::Lessons { selected: 2 }),
        160,
        48,
    );
    let row = |id: &str| {
        screen
            .lines()
            .find(|l| l.contains(id))
            .unwrap_or_else(|| panic!("{id} is listed:\n{screen}"))
            .to_string()
    };
    assert!(row("01-topology").contains("✓ 01-topology"), "{screen}");
    assert!(row("01-topology").contains(" 1/1"), "{screen}");
    assert!(row("02-write-read").contains("▶ 02-write-read"), "{screen}");
    assert!(row("02-write-read").contains(" 1/3 (1 helped)"), "{screen}");
    assert!(row("03-read-only").contains("· 03-read-only"), "{screen}");
    assert!(row("03-read-only").contains(" 0/1"), "{screen}");
    assert!(row("04-load-balancing").contains(" 0/1"), "{screen}");
    assert!(screen.contains("Do 02-write-read first."), "{screen}");
}

#[test]
fn the_selected_lesson_is_highlighted() {
    let s = with_overlay(course_checks(), Overlay::Lessons { selected: 2 });
    let term = terminal(&s, 160, 48);
    let buf = term.backend().buffer();
    let screen = text(buf);
    let cell = |id: &str| {
        let y = screen
            .lines()
            .position(|l| l.contains(id))
            .unwrap_or_else(|| panic!("{id} is listed:\n{screen}"));
        let line = screen.lines().nth(y).unwrap_or_default();
        let x = line[..line.find(id).unwrap_or(0)].chars().count();
        buf[(u16::try_from(x).unwrap_or(0), u16::try_from(y).unwrap_or(0))].clone()
    };
    let selected = cell("03-read-only");
    assert_ne!(selected.bg, Color::Reset, "{screen}");
    assert!(selected.modifier.contains(Modifier::BOLD));
    assert_eq!(cell("04-load-balancing").bg, Color::Reset);
    assert_eq!(cell("01-topology").bg, Color::Reset);
}

#[test]
fn the_open_step_keeps_its_checks_in_sight() {
    // However long the step's text and wherever it is scrolled, the checks stay at the foot
    // of the lesson pane.
    for (w, h) in [(80, 24), (100, 30), (160, 48)] {
        for scroll in [0, 40] {
            let mut s = course_hints();
            s.lesson.scroll = scroll;
            let screen = screen(&s, w, h);
            for text in ["✓ ran “insert", "✗ sql on replicas", "… telemetry"] {
                assert!(screen.contains(text), "{text:?} at {w}×{h}:\n{screen}");
            }
        }
    }
}

#[test]
fn a_progress_warning_is_a_line_in_the_lesson_pane() {
    let note = "progress: 1 entry left out";
    for (mut s, trouble) in [
        (course_checks(), true),
        (waiting(), true),
        (course_checks(), false),
    ] {
        s.course.progress_note = Some(if trouble {
            FileNote::trouble(note)
        } else {
            FileNote::news(note)
        });
        for (w, h) in [(80, 24), (160, 48)] {
            let term = terminal(&s, w, h);
            let buf = term.backend().buffer();
            let screen = text(buf);
            let y = screen
                .lines()
                .position(|l| l.contains(note))
                .unwrap_or_else(|| panic!("{note:?} at {w}×{h}:\n{screen}"));
            let line = screen.lines().nth(y).unwrap_or_default();
            let x = line[..line.find(note).unwrap_or(0)].chars().count();
            let cell = &buf[(u16::try_from(x).unwrap_or(0), u16::try_from(y).unwrap_or(0))];
            let lesson = panes(Rect::new(0, 0, w, h), &s).lesson;
            assert!(
                lesson.contains(Position::new(cell_x(x), cell_x(y))),
                "in the lesson pane at {w}×{h}:\n{screen}"
            );
            // Trouble in the warning colour, good news not.
            let warning = replica_lab::tui::theme::theme(s.theme).warning.fg;
            assert_eq!(
                Some(cell.fg) == warning,
                trouble,
                "{:?} at {w}×{h}",
                cell.fg
            );
        }
    }
}

fn cell_x(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

fn all_fixtures() -> Vec<State> {
    let mut all = vec![
        busy(),
        proxy_down(),
        with_error(),
        expanded(),
        big_result(),
        in_flight(),
        waiting(),
        starting(),
        starting_failed(),
    ];
    let overlays = [
        Overlay::Help,
        Overlay::Confirm(Confirm {
            op: NodeOp::Stop,
            node: "pg1".into(),
            force: false,
        }),
        Overlay::HistorySearch {
            query: "zzz".into(),
            selected: 9,
        },
        Overlay::HistorySearch {
            query: String::new(),
            selected: 99,
        },
    ];
    for o in overlays {
        all.push(with_overlay(busy(), o.clone()));
        all.push(with_overlay(starting_failed(), o));
    }
    all.extend(course_fixtures());
    all
}

#[test]
fn tiny_and_odd_sizes_do_not_panic() {
    let fixtures = all_fixtures();
    let mut sizes = vec![
        (0, 0),
        (0, 10),
        (10, 0),
        (1, 1),
        (20, 5),
        (2, 2),
        (3, 40),
        (200, 3),
    ];
    for w in [4, 9, 17, 31, 45, 62, 79] {
        for h in [3, 6, 11, 17, 23] {
            sizes.push((w, h));
        }
    }
    sizes.extend([
        (79, 23),
        (139, 40),
        (140, 40),
        (141, 20),
        (300, 100),
        (80, 60),
    ]);
    for s in &fixtures {
        for &(w, h) in &sizes {
            terminal(s, w, h);
        }
    }
}

#[test]
fn empty_and_odd_data_do_not_panic() {
    let mut s = busy();
    let snap = Arc::make_mut(s.dash.snapshot.as_mut().expect("fixture has a snapshot"));
    snap.nodes.clear();
    snap.haproxy.servers.clear();
    snap.events.clear();
    s.dash.selected = 40;
    s.dash.served_by = Some(BTreeMap::new());
    s.console.output.results = vec![ResultSet {
        columns: vec![String::new()],
        rows: Vec::new(),
        total_rows: 0,
        tag: None,
    }];
    s.console.output.scroll_row = usize::MAX;
    s.console.output.scroll_col = usize::MAX;
    s.console.editor = Editor::from_text(&"x".repeat(3_000));
    s.lesson.scroll = u16::MAX;
    for (w, h) in [(80, 24), (160, 48), (20, 5)] {
        terminal(&s, w, h);
        s.console.expanded = !s.console.expanded;
        terminal(&s, w, h);
    }
}

#[test]
fn the_cursor_is_in_the_editor_only_when_it_has_the_focus() {
    let s = busy();
    let mut term = terminal(&s, 80, 24);
    // The query's last line is ` WHERE name LIKE 'hot_standby%'; -- 2 rows` (42 characters);
    // the editor's text starts one cell inside its border.
    let pos = term.get_cursor_position().expect("a cursor position");
    let screen = text(term.backend().buffer());
    let row: Vec<&str> = screen.lines().collect();
    let line = row[usize::from(pos.y)];
    assert!(line.contains("WHERE name LIKE"), "cursor row: {line:?}");
    let editor_left = line.find("WHERE").expect("the row shows the query") - 1;
    let chars_before: usize = line[..editor_left].chars().count();
    assert_eq!(usize::from(pos.x), chars_before + 42, "{screen}");

    let mut other = busy();
    other.focus = Focus::Nodes;
    let mut term = terminal(&other, 80, 24);
    term.draw(|f| draw(f, &other)).expect("draws");
    assert!(!term.backend().cursor_visible() || term.get_cursor_position().ok() != Some(pos));
}

#[test]
fn the_focused_pane_has_the_highlighted_border() {
    let s = busy();
    let term = terminal(&s, 160, 48);
    let buf = term.backend().buffer();
    let screen = text(buf);
    // Thick corners belong to the focused editor only.
    assert_eq!(screen.matches('┏').count(), 1, "{screen}");
    let y = screen
        .lines()
        .position(|l| l.contains("┏"))
        .expect("a focused pane");
    let x = screen
        .lines()
        .nth(y)
        .and_then(|l| l.find('┏'))
        .expect("corner");
    let x = screen
        .lines()
        .nth(y)
        .map(|l| l[..x].chars().count())
        .unwrap_or(0);
    let cell = &buf[(u16::try_from(x).unwrap_or(0), u16::try_from(y).unwrap_or(0))];
    assert_eq!(cell.fg, Color::Cyan);
    assert!(cell.modifier.contains(Modifier::BOLD));
}

#[test]
fn mono_uses_no_colour_at_all() {
    for mut s in all_fixtures() {
        s.theme = ThemeName::Mono;
        for (w, h) in [(80, 24), (160, 48)] {
            let term = terminal(&s, w, h);
            let buf = term.backend().buffer();
            for y in 0..h {
                for x in 0..w {
                    let c = &buf[(x, y)];
                    assert_eq!(
                        (c.fg, c.bg),
                        (Color::Reset, Color::Reset),
                        "cell ({x},{y}) {:?} at {w}×{h}",
                        c.symbol()
                    );
                }
            }
        }
    }
}

#[test]
fn every_theme_draws_the_same_text() {
    let base = screen(&busy(), 160, 48);
    for theme in [ThemeName::Light, ThemeName::Mono] {
        let mut s = busy();
        s.theme = theme;
        assert_eq!(screen(&s, 160, 48), base, "{theme:?}");
    }
}

#[test]
fn history_search_shows_the_cursor_in_its_query() {
    let s = with_overlay(
        busy(),
        Overlay::HistorySearch {
            query: "pg_".into(),
            selected: 0,
        },
    );
    let mut term = terminal(&s, 80, 24);
    let pos = term.get_cursor_position().expect("a cursor");
    let screen = text(term.backend().buffer());
    let line = screen.lines().nth(usize::from(pos.y)).unwrap_or_default();
    assert!(line.contains("search: pg_"), "{line:?}");
    assert_ne!(pos, Position::new(0, 0));
}

#[test]
fn the_selected_node_is_highlighted_when_the_nodes_pane_has_the_focus() {
    let row_bg = |s: &State| {
        let term = terminal(s, 160, 48);
        let buf = term.backend().buffer();
        let screen = text(buf);
        let y = screen
            .lines()
            .position(|l| l.contains("pg3  replica"))
            .expect("the nodes table lists pg3");
        let line = screen.lines().nth(y).unwrap_or_default();
        let x = line[..line.find("pg3  replica").unwrap_or(0)]
            .chars()
            .count();
        buf[(u16::try_from(x).unwrap_or(0), u16::try_from(y).unwrap_or(0))].bg
    };
    let focused = big_result();
    assert_eq!(focused.dash.selected, 2);
    assert_ne!(row_bg(&focused), Color::Reset, "pg3 is highlighted");
    let mut unfocused = big_result();
    unfocused.focus = Focus::Editor;
    assert_eq!(
        row_bg(&unfocused),
        Color::Reset,
        "no highlight without the focus"
    );
}
