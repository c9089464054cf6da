use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::panes::bar;
use super::*;
use crate::classroom::roster::Session;
use crate::classroom::roster::tests::{at, lessons, row};

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn typed(view: &mut View, text: &str) {
    for c in text.chars() {
        assert_eq!(on_key(view, key(KeyCode::Char(c))), None);
    }
}

fn view() -> View {
    let mut v = View::new(1, "t", "postgresql://hub", lessons());
    v.roster = Some(Roster {
        session: Session {
            id: 1,
            title: "t".into(),
            pace: None,
            stuck_after: Duration::from_secs(60),
        },
        rows: vec![
            row("ann", Some("01-topology"), 150, &[]),
            row("bob", Some("01-topology"), 0, &[]),
            row("cy", Some("01-topology"), 50, &[]),
        ],
        read_at: at(200),
    });
    v.now = at(200);
    v
}

#[test]
fn broadcast_is_typed_then_sent() {
    let mut v = view();
    on_key(&mut v, key(KeyCode::Char('b')));
    typed(&mut v, "hi all!");
    on_key(&mut v, key(KeyCode::Backspace));
    assert_eq!(
        on_key(&mut v, key(KeyCode::Enter)),
        Some(Action::Broadcast("hi all".into()))
    );
    assert_eq!(v.input, Input::None);
}

#[test]
fn an_empty_broadcast_is_refused_in_place() {
    let mut v = view();
    on_key(&mut v, key(KeyCode::Char('b')));
    typed(&mut v, "  ");
    assert_eq!(on_key(&mut v, key(KeyCode::Enter)), None);
    assert!(v.notice.as_ref().is_some_and(|n| n.error));
    assert!(matches!(v.input, Input::Broadcast(_)));
    on_key(&mut v, key(KeyCode::Esc));
    assert_eq!(v.input, Input::None);
}

#[test]
fn pace_is_checked_against_the_lessons() {
    let mut v = view();
    on_key(&mut v, key(KeyCode::Char('p')));
    typed(&mut v, "9");
    assert_eq!(on_key(&mut v, key(KeyCode::Enter)), None);
    assert!(
        v.notice
            .as_ref()
            .is_some_and(|n| n.error && n.text.contains("1 to 2"))
    );
    on_key(&mut v, key(KeyCode::Backspace));
    typed(&mut v, "2");
    assert_eq!(
        on_key(&mut v, key(KeyCode::Enter)),
        Some(Action::Pace(Some(2)))
    );
    on_key(&mut v, key(KeyCode::Char('p')));
    typed(&mut v, "all");
    assert_eq!(
        on_key(&mut v, key(KeyCode::Enter)),
        Some(Action::Pace(None))
    );
}

#[test]
fn a_drill_needs_a_pick_and_a_yes() {
    let mut v = view();
    on_key(&mut v, key(KeyCode::Char('d')));
    on_key(&mut v, key(KeyCode::Down));
    assert_eq!(on_key(&mut v, key(KeyCode::Enter)), None);
    assert_eq!(on_key(&mut v, key(KeyCode::Char('n'))), None);
    assert_eq!(
        v.input,
        Input::Drill {
            choice: 1,
            confirm: false
        }
    );
    on_key(&mut v, key(KeyCode::Enter));
    assert_eq!(
        on_key(&mut v, key(KeyCode::Char('y'))),
        Some(Action::Drill("stop-replica"))
    );
}

#[test]
fn quit_from_anywhere_with_ctrl_c() {
    let mut v = view();
    on_key(&mut v, key(KeyCode::Char('b')));
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(on_key(&mut v, ctrl_c), Some(Action::Quit));
    let mut v = view();
    assert_eq!(on_key(&mut v, key(KeyCode::Char('q'))), Some(Action::Quit));
}

#[test]
fn stuck_learners_come_first_longest_first() {
    let v = view();
    let names: Vec<(&str, bool)> = v
        .rows()
        .iter()
        .map(|(r, s)| (r.name.as_str(), *s))
        .collect();
    assert_eq!(names, vec![("bob", true), ("cy", true), ("ann", false)]);
}

#[test]
fn bars_split_done_and_in_progress() {
    let c = LessonCompletion {
        id: "x".into(),
        title: "x".into(),
        steps: 1,
        completed: 1,
        in_it: 2,
    };
    let (a, b, r) = bar(&c, 4, 8);
    assert_eq!(
        (a.chars().count(), b.chars().count(), r.chars().count()),
        (2, 4, 2)
    );
}
