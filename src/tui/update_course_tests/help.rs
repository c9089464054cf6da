//! Help on a step: hints, and the solution (its SQL, then its actions).

use super::*;

#[test]
fn the_solution_runs_its_sql_then_its_actions_and_counts_as_help() {
    let mut s = on_first_step();
    let round = s.course.round.current();
    s.focus = Focus::Nodes;
    assert_eq!(press(&mut s, KeyCode::F(9)), []);
    assert_eq!(s.overlay, Overlay::ConfirmSolve);
    // No: nothing happens.
    assert_eq!(press(&mut s, KeyCode::Char('n')), []);
    assert_eq!(s.overlay, Overlay::None);
    assert!(!s.course.helped);

    press(&mut s, KeyCode::F(9));
    let effects = press(&mut s, KeyCode::Char('y'));
    assert_eq!(s.overlay, Overlay::None);
    assert_eq!(
        effects,
        [
            Effect::RunSql {
                id: 1,
                target: Target::Write,
                text: "INSERT INTO t VALUES (1);".into(),
                fresh: false,
                reconnect: false,
            },
            Effect::SaveHistory("INSERT INTO t VALUES (1);".into())
        ]
    );
    assert_eq!(s.console.editor.text(), "INSERT INTO t VALUES (1);");
    assert_eq!(s.focus, Focus::Editor);
    assert!(s.course.helped);
    let resume = Action::ResumeReplay { node: "pg2".into() };
    assert_eq!(s.course.pending_actions, Some(vec![resume.clone()]));
    assert_eq!(s.course.busy, None, "the actions wait for the SQL");

    let effects = send(&mut s, finished(1, None));
    assert_eq!(
        effects,
        [Effect::Prepare {
            round,
            fresh: Fresh::Never,
            lesson: "01-basics".into(),
            actions: vec![resume],
        }]
    );
    assert_eq!(s.course.pending_actions, None);
    assert_eq!(s.course.busy, Some(Busy::Solving));

    let effects = prepared(&mut s);
    assert_eq!(effects, [judge_sql(judging(&s), Duration::from_secs(10))]);
    assert_eq!(s.course.checks[0], judged(true, "it succeeded"));
    let effects = verdicts_now(&mut s, Verdict::pass("got 1, wanted >= 1"), true);
    assert_eq!(effects.len(), 1, "{effects:?}");
    assert_eq!(
        saved(&effects[0]).lessons["01-basics"].steps["insert-row"].outcome,
        Some(StepOutcome::SolvedWithHelp)
    );
    assert_eq!(s.course.step_done(), Some(StepOutcome::SolvedWithHelp));
}

#[test]
fn the_solution_actions_go_ahead_when_its_sql_hangs() {
    let mut s = on_first_step();
    press(&mut s, KeyCode::F(9));
    press(&mut s, KeyCode::Char('y'));
    // Not yet: the SQL was just sent.
    assert_eq!(send(&mut s, Msg::Snapshot(Arc::new(snapshot(vec![])))), []);
    wait(&mut s, 3);
    let effects = send(&mut s, Msg::Snapshot(Arc::new(snapshot(vec![]))));
    assert_eq!(
        effects,
        [Effect::Prepare {
            round: s.course.round.current(),
            fresh: Fresh::Never,
            lesson: "01-basics".into(),
            actions: vec![Action::ResumeReplay { node: "pg2".into() }],
        }]
    );
    assert_eq!(s.course.busy, Some(Busy::Solving));
    // When the SQL ends at last, the actions are not run twice.
    assert_eq!(send(&mut s, finished(1, None)), []);
}

#[test]
fn the_solution_of_a_quiz_answers_it() {
    let mut s = app(resumed_at("why"));
    ready(&mut s);
    press(&mut s, KeyCode::F(9));
    assert_eq!(s.overlay, Overlay::ConfirmSolve);
    let effects = press(&mut s, KeyCode::Char('y'));
    assert_eq!(s.course.attempt.quiz_answer, Some(1));
    assert_eq!(s.course.checks, [judged(true, "answered right")]);
    assert_eq!(
        effects.len(),
        2,
        "the answer, then the outcome: {effects:?}"
    );
    assert_eq!(
        saved(&effects[1]).lessons["01-basics"].steps["why"].outcome,
        Some(StepOutcome::SolvedWithHelp)
    );
}

#[test]
fn hints_count_up_to_the_step_s_hints_and_are_saved() {
    let mut s = on_first_step();
    for n in 1..=3u32 {
        let effects = press(&mut s, KeyCode::F(4));
        assert_eq!(effects.len(), 1, "{effects:?}");
        assert_eq!(
            saved(&effects[0]).lessons["01-basics"].steps["insert-row"].hints_used,
            n
        );
        assert_eq!(s.course.hints_shown, n as usize);
    }
    assert_eq!(s.focus, Focus::Lesson, "the hint is in the lesson pane");
    assert_eq!(press(&mut s, KeyCode::F(4)), [], "no fourth hint");
    assert_eq!(s.course.hints_shown, 3);

    // Coming back to the step shows the hints already seen.
    ctrl(&mut s, 'n');
    assert_eq!(s.course.hints_shown, 0);
    ctrl(&mut s, 'p');
    assert_eq!(s.course.at, Some((0, 0)));
    assert_eq!(s.course.hints_shown, 3);
}

/// Confirming the solution while a statement still runs runs nothing: the step should not
/// count as solved with help when the learner then solves it alone.
#[test]
fn a_solution_that_could_not_run_is_no_help() {
    let mut s = on_first_step();
    type_sql(&mut s, "INSERT INTO t VALUES (1);");
    press(&mut s, KeyCode::F(5));
    press(&mut s, KeyCode::F(9));
    assert_eq!(press(&mut s, KeyCode::Char('y')), []);
    assert_eq!(
        s.console.output.info.as_deref(),
        Some("a statement is still running: cancel it (Ctrl-C) first")
    );
    assert_eq!(s.course.pending_actions, None);
    send(&mut s, finished(1, None));
    verdicts_now(&mut s, Verdict::pass("got 1, wanted >= 1"), true);
    assert_eq!(s.course.step_done(), Some(StepOutcome::Passed));
}
