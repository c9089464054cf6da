//! The cluster is ready: where the learner resumes, and a step's setup before it is judged.

use super::*;

#[test]
fn ready_opens_a_new_learner_on_the_first_step_with_the_lesson_setup() {
    let mut s = app(LearnerProgress::new("ann"));
    let effects = ready(&mut s);
    assert_eq!(s.phase, Phase::Running);
    assert_eq!(s.course.at, Some((0, 0)));
    assert_eq!(s.console.target, Target::Write);
    assert_eq!(s.console.editor.text(), "-- add one row to t");
    let round = s.course.round.current();
    assert_eq!(effects.len(), 2, "{effects:?}");
    let p = saved(&effects[0]);
    assert_eq!(p.current_lesson.as_deref(), Some("01-basics"));
    assert_eq!(
        p.lessons["01-basics"].current_step.as_deref(),
        Some("insert-row")
    );
    // The cluster found at start-up is used as it is.
    assert_eq!(
        effects[1],
        Effect::Prepare {
            round,
            fresh: Fresh::Never,
            lesson: "01-basics".into(),
            actions: vec![scale_to_three(), create_table(), pause_pg2()],
        }
    );
    assert_eq!(
        s.course.busy,
        Some(Busy::Preparing(
            "scale to 3 replicas, sql on write, pause-replay pg2".into()
        ))
    );
    assert_eq!(s.course.checks, vec![CheckState::Pending; 3]);
}

#[test]
fn ready_resumes_a_started_lesson_without_its_setup() {
    // An unfinished step runs its own setup, on the cluster as it is.
    let mut s = app(resumed_at("insert-row"));
    let effects = ready(&mut s);
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
    assert_eq!(
        s.course.busy,
        Some(Busy::Preparing("pause-replay pg2".into()))
    );

    // A step without setup is judged at once.
    let mut s = app(resumed_at("why"));
    let effects = ready(&mut s);
    assert_eq!(s.course.at, Some((0, 1)));
    assert_eq!(s.console.target, Target::Read);
    assert_eq!(effects.len(), 1, "{effects:?}");
    saved(&effects[0]);
    assert_eq!(s.course.busy, None);
    assert_eq!(s.course.checks, [judged(false, "answer the question")]);
}

#[test]
fn nothing_is_judged_while_the_setup_runs() {
    let mut s = app(LearnerProgress::new("ann"));
    ready(&mut s);
    let round = s.course.round.current();
    let event = Event {
        at_ms: 5_000,
        kind: EventKind::NodeUp,
        node: "pg2".into(),
        detail: "up".into(),
    };
    assert_eq!(
        send(&mut s, Msg::Snapshot(Arc::new(snapshot(vec![event])))),
        []
    );
    assert_eq!(press(&mut s, KeyCode::F(3)), [], "F3 waits too");
    // A run now could land before the setup (a paused replay, a table) and make the step
    // impossible: F5 waits for it, and says so.
    type_sql(&mut s, "INSERT INTO t VALUES (1);");
    assert_eq!(press(&mut s, KeyCode::F(5)), [], "F5 waits for the setup");
    let said = s.console.output.info.clone().unwrap_or_default();
    assert!(said.starts_with("waiting for the lesson"), "{said}");
    assert_eq!(s.course.checks, vec![CheckState::Pending; 3]);
    assert_eq!(press(&mut s, KeyCode::F(9)), []);
    assert_eq!(s.overlay, Overlay::None, "no solution while busy");

    // The answer to an older round does not end this setup.
    let stale = send(
        &mut s,
        Msg::Prepared {
            round: round - 1,
            result: Ok(String::new()),
        },
    );
    assert_eq!(stale, []);
    assert!(s.course.busy.is_some());

    // Its own answer does; the waiting run goes then, and counts.
    let effects = prepared(&mut s);
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::RunSql { text, .. } if text.contains("INSERT"))),
        "{effects:?}"
    );
    send(&mut s, finished(1, None));
    assert_eq!(s.course.checks[0], judged(true, "it succeeded"));
}

#[test]
fn prepared_clears_busy_and_asks_for_the_sql_checks() {
    let mut s = app(LearnerProgress::new("ann"));
    ready(&mut s);
    let effects = prepared(&mut s);
    assert_eq!(s.course.busy, None);
    assert_eq!(s.course.notice, None);
    assert_eq!(effects, [judge_sql(judging(&s), Duration::from_secs(10))]);
    assert!(s.course.judging);
    assert_eq!(
        s.course.checks,
        [
            judged(false, "not run on write yet"),
            CheckState::Pending,
            judged(true, "2 replicas streaming (wanted >= 1)"),
        ]
    );
    assert_eq!(s.course.step_done(), None);
}

#[test]
fn a_failed_setup_is_noted_and_the_step_is_judged_anyway() {
    let mut s = app(LearnerProgress::new("ann"));
    ready(&mut s);
    let round = s.course.round.current();
    let effects = send(
        &mut s,
        Msg::Prepared {
            round,
            result: Err("pause-replay pg2: pg2 is not running".into()),
        },
    );
    assert_eq!(s.course.busy, None);
    assert_eq!(
        s.course.notice.as_deref(),
        Some("pause-replay pg2: pg2 is not running")
    );
    assert_eq!(effects, [judge_sql(judging(&s), Duration::from_secs(10))]);
}

/// Moving on while a step's setup still runs: the answer to that setup belongs to an older
/// round and is dropped, so the step opened meanwhile must not stay busy.
#[test]
fn moving_on_during_a_setup_does_not_leave_the_next_step_busy() {
    let mut s = app(LearnerProgress::new("ann"));
    ready(&mut s);
    let setup_round = s.course.round.current();
    ctrl(&mut s, 'n');
    assert_eq!(s.course.at, Some((0, 1)));
    send(
        &mut s,
        Msg::Prepared {
            round: setup_round,
            result: Ok(String::new()),
        },
    );
    assert_eq!(s.course.busy, None);
    s.focus = Focus::Lesson;
    press(&mut s, KeyCode::Char('2'));
    assert_eq!(s.course.checks, [judged(true, "answered right")]);
    assert_eq!(s.course.step_done(), Some(StepOutcome::Passed));
}
