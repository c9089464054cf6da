//! What the instructor sends: the pace, broadcasts, drills.

use super::*;

#[test]
fn the_pace_locks_later_lessons() {
    let mut s = in_class(LearnerProgress::new("ann"), false);
    ready(&mut s);
    prepared(&mut s);
    for step in ["insert-row", "why"] {
        s.course.progress.step_mut("01-basics", step).outcome = Some(StepOutcome::Passed);
    }
    assert_eq!(send(&mut s, Msg::Class(ClassMsg::Pace(Some(1)))), []);
    assert!(s.course.locked_by_pace(1));
    assert!(!s.course.locked_by_pace(0));
    ctrl(&mut s, 'n');
    assert_eq!(ctrl(&mut s, 'n'), [], "Ctrl-N stops at the lock");
    assert_eq!(s.course.at, Some((0, 1)));
    let notice = s.course.notice.clone().unwrap_or_default();
    assert!(
        notice.contains("02-next is locked by the instructor"),
        "{notice}"
    );
    assert!(notice.contains("lesson 1 is open"), "{notice}");

    // The list does not open it either, and stays up to say why.
    press(&mut s, KeyCode::F(10));
    press(&mut s, KeyCode::Down);
    assert_eq!(press(&mut s, KeyCode::Enter), []);
    assert_eq!(s.overlay, Overlay::Lessons { selected: 1 });
    press(&mut s, KeyCode::Esc);

    // Unlocked: on it goes.
    send(&mut s, Msg::Class(ClassMsg::Pace(None)));
    ctrl(&mut s, 'n');
    assert_eq!(s.course.at, Some((1, 0)));
}

#[test]
fn a_broadcast_is_shown_with_a_badge_until_the_learner_acts_on_the_tutorial() {
    let mut s = in_class(LearnerProgress::new("ann"), false);
    ready(&mut s);
    prepared(&mut s);
    send(
        &mut s,
        Msg::Class(ClassMsg::Broadcast("break until 11".into())),
    );
    send(
        &mut s,
        Msg::Class(ClassMsg::Broadcast("back at 11:15".into())),
    );
    assert_eq!(class(&s).broadcast.as_deref(), Some("back at 11:15"));
    assert_eq!(class(&s).unread, 2);
    press(&mut s, KeyCode::F(3));
    assert_eq!(class(&s).unread, 0);
    assert_eq!(
        class(&s).broadcast.as_deref(),
        Some("back at 11:15"),
        "the message stays in the pane"
    );
}

#[test]
fn an_allowed_drill_runs_on_the_learner_s_cluster_and_is_reported() {
    let mut s = in_class(LearnerProgress::new("ann"), true);
    ready(&mut s);
    prepared(&mut s);
    let drill = |action: &str| {
        Msg::Class(ClassMsg::Drill {
            id: 7,
            action: action.into(),
            note: "watch the dashboard".into(),
        })
    };
    let effects = send(&mut s, drill("kill-primary"));
    assert_eq!(
        effects,
        [Effect::Prepare {
            round: DRILL_ROUND | 7,
            fresh: Fresh::Never,
            lesson: "drill".into(),
            actions: vec![Action::Node {
                op: NodeOp::Kill,
                node: "pg1".into(),
                force: false,
            }],
        }]
    );
    let d = class(&s).drill.clone().expect("a drill");
    assert_eq!((d.what.as_str(), d.outcome), ("kill pg1", None));
    // The tutorial's own round is not disturbed by the drill's answer.
    let busy = s.course.busy.clone();
    let effects = send(
        &mut s,
        Msg::Prepared {
            round: DRILL_ROUND | 7,
            result: Ok(String::new()),
        },
    );
    assert_eq!(s.course.busy, busy);
    let r = reports(&effects);
    assert_eq!(r.len(), 1, "{effects:?}");
    assert_eq!(r[0].0, Ev::Drill);
    assert_eq!(r[0].3["outcome"], "ran");
    assert_eq!(r[0].3["id"], 7);
    assert_eq!(r[0].3["action"], "kill-primary");
    assert_eq!(
        class(&s).drill.as_ref().and_then(|d| d.outcome.clone()),
        Some(Ok(String::new()))
    );

    let effects = send(&mut s, drill("stop-replica"));
    assert!(matches!(
        &effects[..],
        [Effect::Prepare { actions, .. }] if actions == &[Action::Node { op: NodeOp::Stop, node: "pg2".into(), force: false }]
    ));
    let effects = send(&mut s, drill("pause-replay"));
    assert!(matches!(
        &effects[..],
        [Effect::Prepare { actions, .. }] if actions == &[Action::PauseReplay { node: "pg2".into() }]
    ));
    let effects = send(
        &mut s,
        Msg::Prepared {
            round: DRILL_ROUND | 7,
            result: Err("pg2 is not running".into()),
        },
    );
    assert_eq!(reports(&effects)[0].3["outcome"], "failed");

    // One this version does not know is skipped, and says so.
    let effects = send(&mut s, drill("flood-the-disk"));
    let r = reports(&effects);
    assert_eq!(r[0].3["outcome"], "skipped");
    let why = r[0].3["why"].as_str().unwrap_or_default().to_string();
    assert!(why.contains("does not know the drill"), "{why}");
}

#[test]
fn a_drill_the_learner_did_not_allow_is_skipped_and_reported() {
    let mut s = in_class(LearnerProgress::new("ann"), false);
    ready(&mut s);
    prepared(&mut s);
    let effects = send(
        &mut s,
        Msg::Class(ClassMsg::Drill {
            id: 3,
            action: "kill-primary".into(),
            note: String::new(),
        }),
    );
    assert!(!effects.iter().any(|e| matches!(e, Effect::Prepare { .. })));
    let r = reports(&effects);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].3["outcome"], "skipped");
    assert_eq!(r[0].3["allowed"], false);
    let d = class(&s).drill.clone().expect("shown");
    assert!(matches!(d.outcome, Some(Err(why)) if why.contains("--allow-drills")));
}
