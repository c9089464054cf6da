//! Moving between steps and lessons: Ctrl-N, Ctrl-P, the lesson list, prerequisites, reset.

use super::*;

#[test]
fn ctrl_n_and_ctrl_p_move_between_steps() {
    let mut s = on_first_step();
    let effects = ctrl(&mut s, 'n');
    assert_eq!(s.course.at, Some((0, 1)));
    assert_eq!(s.console.target, Target::Read);
    assert_eq!(effects.len(), 1, "{effects:?}");
    assert_eq!(
        saved(&effects[0]).lessons["01-basics"]
            .current_step
            .as_deref(),
        Some("why")
    );
    assert_eq!(s.course.checks, [judged(false, "answer the question")]);

    // Back to a step not done: its setup runs again.
    let effects = ctrl(&mut s, 'p');
    assert_eq!(s.course.at, Some((0, 0)));
    assert_eq!(
        effects[1..],
        [Effect::Prepare {
            round: s.course.round.current(),
            fresh: Fresh::Never,
            lesson: "01-basics".into(),
            actions: vec![pause_pg2()],
        }]
    );
    prepared(&mut s);
    assert_eq!(ctrl(&mut s, 'p'), [], "no step before the first");
    assert_eq!(s.course.at, Some((0, 0)));
}

#[test]
fn a_done_step_is_reread_without_its_setup() {
    let mut s = on_first_step();
    s.course
        .progress
        .step_mut("01-basics", "insert-row")
        .outcome = Some(StepOutcome::Passed);
    ctrl(&mut s, 'n');
    let effects = ctrl(&mut s, 'p');
    assert_eq!(s.course.at, Some((0, 0)));
    assert_eq!(s.course.busy, None);
    assert_eq!(
        effects[1..],
        [judge_sql(judging(&s), Duration::ZERO)],
        "judged at once, nothing prepared"
    );
}

#[test]
fn ctrl_n_after_the_last_step_opens_the_next_lesson() {
    let mut s = on_first_step();
    for step in ["insert-row", "why"] {
        s.course.progress.step_mut("01-basics", step).outcome = Some(StepOutcome::Passed);
    }
    ctrl(&mut s, 'n');
    let effects = ctrl(&mut s, 'n');
    assert_eq!(
        s.overlay,
        Overlay::None,
        "the first lesson is done: no question"
    );
    assert_eq!(s.course.at, Some((1, 0)));
    assert_eq!(
        effects[1..],
        [Effect::Prepare {
            round: s.course.round.current(),
            fresh: Fresh::IfChanged,
            lesson: "02-next".into(),
            actions: vec![
                scale_to_three(),
                Action::Node {
                    op: NodeOp::Stop,
                    node: "pg3".into(),
                    force: false,
                }
            ],
        }]
    );
    assert_eq!(
        saved(&effects[0]).current_lesson.as_deref(),
        Some("02-next")
    );

    // After the very last step: the list of lessons.
    prepared(&mut s);
    assert_eq!(ctrl(&mut s, 'n'), []);
    assert_eq!(s.overlay, Overlay::Lessons { selected: 1 });
    assert_eq!(s.course.at, Some((1, 0)));
}

#[test]
fn a_lesson_whose_prerequisite_is_unfinished_asks_first() {
    let mut s = on_first_step();
    ctrl(&mut s, 'n');
    assert_eq!(ctrl(&mut s, 'n'), []);
    assert_eq!(
        s.overlay,
        Overlay::ConfirmOpen {
            lesson: 1,
            missing: vec!["01-basics".into()]
        }
    );
    assert_eq!(s.course.at, Some((0, 1)));
    assert_eq!(press(&mut s, KeyCode::Esc), []);
    assert_eq!(s.overlay, Overlay::None);
    assert_eq!(s.course.at, Some((0, 1)));

    ctrl(&mut s, 'n');
    let effects = press(&mut s, KeyCode::Char('y'));
    assert_eq!(s.overlay, Overlay::None);
    assert_eq!(s.course.at, Some((1, 0)));
    assert_eq!(s.console.target, Target::Write);
    assert!(matches!(
        &effects[1],
        Effect::Prepare { fresh: Fresh::IfChanged, lesson, .. } if lesson == "02-next"
    ));
    assert_eq!(s.course.busy, Some(Busy::Starting("02-next".into())));
}

#[test]
fn the_lesson_list_moves_and_opens() {
    let mut s = on_first_step();
    assert_eq!(press(&mut s, KeyCode::F(10)), []);
    assert_eq!(s.overlay, Overlay::Lessons { selected: 0 });
    press(&mut s, KeyCode::Down);
    assert_eq!(s.overlay, Overlay::Lessons { selected: 1 });
    press(&mut s, KeyCode::Down);
    assert_eq!(
        s.overlay,
        Overlay::Lessons { selected: 1 },
        "stops at the end"
    );
    press(&mut s, KeyCode::Up);
    press(&mut s, KeyCode::Up);
    assert_eq!(s.overlay, Overlay::Lessons { selected: 0 });
    press(&mut s, KeyCode::Char('q'));
    assert_eq!(s.overlay, Overlay::None);

    // Enter on the locked lesson asks.
    press(&mut s, KeyCode::F(10));
    press(&mut s, KeyCode::Down);
    assert_eq!(press(&mut s, KeyCode::Enter), []);
    assert_eq!(
        s.overlay,
        Overlay::ConfirmOpen {
            lesson: 1,
            missing: vec!["01-basics".into()]
        }
    );
    press(&mut s, KeyCode::Char('Y'));
    assert_eq!(s.course.at, Some((1, 0)));

    // No lessons, no list.
    let mut bare = on_first_step();
    bare.course = Course::without_lessons(None);
    assert_eq!(press(&mut bare, KeyCode::F(10)), []);
    assert_eq!(bare.overlay, Overlay::None);
}

#[test]
fn resetting_a_lesson_forgets_it_and_starts_on_a_fresh_cluster() {
    let mut s = on_first_step();
    press(&mut s, KeyCode::F(4));
    s.course.progress.step_mut("01-basics", "why").outcome = Some(StepOutcome::Passed);
    s.course.progress.step_mut("02-next", "only").hints_used = 1;
    ctrl(&mut s, 'n');

    press(&mut s, KeyCode::F(10));
    assert_eq!(press(&mut s, KeyCode::Char('r')), []);
    assert_eq!(s.overlay, Overlay::ConfirmReset { lesson: 0 });
    // No keeps everything.
    press(&mut s, KeyCode::Char('n'));
    assert_eq!(s.course.progress.lessons["01-basics"].steps.len(), 2);

    press(&mut s, KeyCode::F(10));
    press(&mut s, KeyCode::Char('r'));
    let effects = press(&mut s, KeyCode::Char('y'));
    assert_eq!(s.overlay, Overlay::None);
    assert_eq!(s.course.at, Some((0, 0)));
    assert_eq!(effects.len(), 3, "{effects:?}");
    assert_eq!(
        effects[1],
        Effect::Prepare {
            round: s.course.round.current(),
            fresh: Fresh::Always,
            lesson: "01-basics".into(),
            actions: vec![scale_to_three(), create_table(), pause_pg2()],
        }
    );
    let p = saved(&effects[2]);
    assert_eq!(p.lessons["01-basics"].steps.len(), 0, "{p:?}");
    assert_eq!(
        p.lessons["01-basics"].current_step.as_deref(),
        Some("insert-row")
    );
    assert_eq!(p.lessons["02-next"].steps["only"].hints_used, 1, "kept");
    assert_eq!(s.course.hints_shown, 0);
    assert_eq!(s.course.busy, Some(Busy::Recreating("01-basics".into())));
    assert_eq!(s.course.checks, vec![CheckState::Pending; 3]);
}

/// Resetting the open lesson banks the time spent on its open step after forgetting the
/// lesson, which brings back a record for that step.
#[test]
fn a_reset_lesson_keeps_no_record_of_the_step_that_was_open() {
    let mut s = on_first_step();
    wait(&mut s, 30);
    press(&mut s, KeyCode::F(10));
    press(&mut s, KeyCode::Char('r'));
    press(&mut s, KeyCode::Char('y'));
    assert_eq!(
        s.course.progress.lessons["01-basics"].steps,
        Default::default()
    );
}

/// A cluster made anew for a lesson is attached before its actions run: the runner says so,
/// and `update` asks for the actions; an answer for a round gone by asks for nothing.
#[test]
fn the_lesson_s_actions_follow_the_cluster_made_anew_for_it() {
    let mut s = on_first_step();
    press(&mut s, KeyCode::F(10));
    press(&mut s, KeyCode::Char('r'));
    press(&mut s, KeyCode::Char('y'));
    let round = s.course.round.current();
    let actions = vec![scale_to_three(), create_table(), pause_pg2()];
    let stale = Msg::Recreated {
        round: round - 1,
        actions: actions.clone(),
        result: Ok(()),
    };
    assert_eq!(send(&mut s, stale), []);
    let up = Msg::Recreated {
        round,
        actions: actions.clone(),
        result: Ok(()),
    };
    assert_eq!(
        send(&mut s, up),
        [Effect::Prepare {
            round,
            fresh: Fresh::Never,
            lesson: String::new(),
            actions: actions.clone(),
        }]
    );
    assert_eq!(s.course.busy, Some(Busy::Recreating("01-basics".into())));

    // A cluster that could not be made: the step says why and is judged as it is.
    let failed = Msg::Recreated {
        round,
        actions,
        result: Err("port 5435 is in use".into()),
    };
    assert_eq!(
        send(&mut s, failed),
        [judge_sql(judging(&s), Duration::from_secs(10))]
    );
    assert_eq!(s.course.busy, None);
    assert_eq!(s.course.notice.as_deref(), Some("port 5435 is in use"));
}

#[test]
fn quitting_banks_the_time_on_the_step_and_saves_it_once() {
    let mut s = on_first_step();
    wait(&mut s, 30);
    let effects = ctrl(&mut s, 'q');
    assert!(s.quit);
    assert_eq!(effects.len(), 1, "{effects:?}");
    assert_eq!(
        saved(&effects[0]).lessons["01-basics"].steps["insert-row"].seconds,
        30
    );
    assert_eq!(send(&mut s, Msg::Terminate), [], "already on the way out");
}

#[test]
fn a_step_that_needs_a_console_mode_switches_to_it_and_says_so_once() {
    let mut s = on_first_step();
    assert!(!s.console.fresh);
    ctrl(&mut s, 'n');
    assert!(s.console.fresh, "the step asks for fresh connections");
    let said = s.console.output.info.clone().unwrap_or_default();
    assert!(said.contains("fresh connection for every run"), "{said}");
    // A step that names no mode leaves the learner's choice alone.
    ctrl(&mut s, 'p');
    prepared(&mut s);
    assert!(s.console.fresh);
    // Already in the mode asked for: nothing to say.
    s.console.output.info = None;
    ctrl(&mut s, 'n');
    assert!(s.console.fresh);
    assert_eq!(s.console.output.info, None);
}
