//! Judging a step: the learner's runs, `sql` verdicts, quiz answers, and recording a pass.

use super::*;

#[test]
fn a_finished_run_is_recorded_with_its_target_and_sqlstate() {
    let mut s = on_first_step();
    type_sql(&mut s, "INSERT INTO t VALUES (1);");
    let run = press(&mut s, KeyCode::F(5));
    assert_eq!(
        run,
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
    // An answer for another run is not this one.
    assert_eq!(send(&mut s, finished(9, None)), []);
    assert_eq!(s.course.attempt.runs, []);

    let effects = send(&mut s, finished(1, None));
    assert_eq!(
        s.course.attempt.runs,
        [Run {
            text: "INSERT INTO t VALUES (1);".into(),
            target: Target::Write,
            sqlstate: None,
            fresh: false,
        }]
    );
    // Judged with the step's patience: its largest `within`.
    assert_eq!(effects, [judge_sql(judging(&s), Duration::from_secs(10))]);
    assert_eq!(s.course.checks[0], judged(true, "it succeeded"));
}

/// F5 while a lesson starts, which may make its cluster anew, would run on a cluster about
/// to be replaced: it waits, says so, and runs once the lesson is ready.
#[test]
fn a_run_waits_for_the_lesson_to_start() {
    let mut s = on_first_step();
    let round = s.course.round.current();
    s.course.busy = Some(Busy::Starting("01-basics".into()));
    type_sql(&mut s, "INSERT INTO t VALUES (4);");
    assert_eq!(press(&mut s, KeyCode::F(5)), []);
    assert_eq!(s.console.running, None);
    let said = s.console.output.info.clone().unwrap_or_default();
    assert!(said.starts_with("waiting for the lesson"), "{said}");
    let effects = send(
        &mut s,
        Msg::Prepared {
            round,
            result: Ok(String::new()),
        },
    );
    assert!(
        effects.iter().any(|e| matches!(e, Effect::RunSql { .. })),
        "{effects:?}"
    );
    assert!(s.console.running.is_some());
    assert!(!s.console.queued_run);
}

/// A run in fresh mode (F7) is recorded as one, for checks that teach the mode.
#[test]
fn a_run_in_fresh_mode_is_recorded_as_fresh() {
    let mut s = on_first_step();
    press(&mut s, KeyCode::F(7));
    assert!(s.console.fresh);
    type_sql(&mut s, "INSERT INTO t VALUES (3);");
    press(&mut s, KeyCode::F(5));
    send(&mut s, finished(1, None));
    assert_eq!(s.course.attempt.runs.len(), 1);
    assert!(s.course.attempt.runs[0].fresh);
}

#[test]
fn a_run_elsewhere_or_failing_does_not_satisfy_the_ran_check() {
    let mut s = on_first_step();
    type_sql(&mut s, "insert into t values (2);");
    press(&mut s, KeyCode::F(6));
    assert_eq!(s.console.target, Target::Read);
    press(&mut s, KeyCode::F(5));
    send(&mut s, finished(1, Some("25006")));
    assert_eq!(
        s.course.attempt.runs,
        [Run {
            text: "insert into t values (2);".into(),
            target: Target::Read,
            sqlstate: Some("25006".into()),
            fresh: false,
        }]
    );
    assert_eq!(
        s.course.checks[0],
        judged(false, "it ran on read; run it on write")
    );

    // On write, but failing: the SQLSTATE is what counts.
    s.console.target = Target::Write;
    press(&mut s, KeyCode::F(5));
    send(&mut s, finished(2, Some("23505")));
    assert_eq!(s.course.attempt.runs[1].sqlstate.as_deref(), Some("23505"));
    assert_eq!(
        s.course.checks[0],
        judged(false, "it failed with SQLSTATE 23505; it should succeed")
    );
}

#[test]
fn sql_verdicts_of_a_stale_round_are_ignored() {
    let mut s = on_first_step();
    let tag = judging(&s);
    let stale = verdicts(&mut s, tag - 1, Verdict::pass("got 1"), true);
    assert_eq!(stale, []);
    assert_eq!(s.course.checks[1], CheckState::Pending);
    assert!(s.course.judging, "still waiting for this round");

    verdicts(&mut s, tag, Verdict::fail("pg2: got 0, wanted >= 1"), false);
    assert_eq!(s.course.checks[1], judged(false, "pg2: got 0, wanted >= 1"));
    assert!(s.course.judging, "more tries follow");
    verdicts(&mut s, tag, Verdict::fail("pg2: got 0, wanted >= 1"), true);
    assert!(!s.course.judging);
}

#[test]
fn a_step_whose_checks_all_pass_is_recorded_once() {
    let mut s = on_first_step();
    type_sql(&mut s, "INSERT INTO t VALUES (1);");
    press(&mut s, KeyCode::F(5));
    assert_eq!(
        send(&mut s, finished(1, None)),
        [judge_sql(judging(&s), Duration::from_secs(10))],
        "the sql check is still to pass: nothing recorded yet"
    );
    assert_eq!(s.course.step_done(), None);

    let effects = verdicts_now(&mut s, Verdict::pass("got 1, wanted >= 1"), true);
    assert_eq!(effects.len(), 1, "{effects:?}");
    let record = &saved(&effects[0]).lessons["01-basics"].steps["insert-row"];
    assert_eq!(record.outcome, Some(StepOutcome::Passed));
    assert!(record.finished_at.is_some());
    assert_eq!(s.course.step_done(), Some(StepOutcome::Passed));
    assert!(s.course.all_passed());

    // Passing again records nothing more.
    assert_eq!(
        verdicts_now(&mut s, Verdict::pass("got 2, wanted >= 1"), true),
        []
    );
    assert_eq!(send(&mut s, Msg::Snapshot(Arc::new(snapshot(vec![])))), []);
    assert_eq!(
        press(&mut s, KeyCode::F(3)),
        [judge_sql(judging(&s), Duration::from_secs(10))]
    );
    assert_eq!(s.course.step_done(), Some(StepOutcome::Passed));
}

#[test]
fn digits_in_the_lesson_pane_answer_the_quiz() {
    let mut s = app(resumed_at("why"));
    ready(&mut s);
    press(&mut s, KeyCode::BackTab);
    assert_eq!(s.focus, Focus::Lesson);

    let effects = press(&mut s, KeyCode::Char('1'));
    assert_eq!(effects.len(), 1, "{effects:?}");
    assert_eq!(
        saved(&effects[0]).lessons["01-basics"].steps["why"].quiz_answer,
        Some(0)
    );
    assert_eq!(s.course.attempt.quiz_answer, Some(0));
    assert_eq!(
        s.course.checks,
        [judged(false, "not that answer: try another")]
    );
    assert_eq!(s.course.step_done(), None);

    // A choice the quiz does not have changes nothing.
    assert_eq!(press(&mut s, KeyCode::Char('4')), []);
    assert_eq!(s.course.attempt.quiz_answer, Some(0));

    let effects = press(&mut s, KeyCode::Char('2'));
    assert_eq!(effects.len(), 2, "{effects:?}");
    assert_eq!(
        saved(&effects[0]).lessons["01-basics"].steps["why"].quiz_answer,
        Some(1)
    );
    assert_eq!(
        saved(&effects[1]).lessons["01-basics"].steps["why"].outcome,
        Some(StepOutcome::Passed)
    );
    assert_eq!(s.course.checks, [judged(true, "answered right")]);
    assert_eq!(s.course.step_done(), Some(StepOutcome::Passed));
}

#[test]
fn digits_in_the_editor_are_text_not_answers() {
    let mut s = app(resumed_at("why"));
    ready(&mut s);
    s.focus = Focus::Editor;
    ctrl(&mut s, 'l');
    assert_eq!(press(&mut s, KeyCode::Char('2')), []);
    assert_eq!(s.console.editor.text(), "2");
    assert_eq!(s.course.attempt.quiz_answer, None);
}

#[test]
fn the_reference_solution_shows_only_after_passing_and_is_no_help() {
    let mut s = on_first_step();
    s.focus = Focus::Lesson;
    press(&mut s, KeyCode::Char('s'));
    assert!(!s.course.solution_shown, "not before the step is done");
    type_sql(&mut s, "INSERT INTO t VALUES (1);");
    press(&mut s, KeyCode::F(5));
    send(&mut s, finished(1, None));
    verdicts_now(&mut s, Verdict::pass("got 1, wanted >= 1"), true);
    assert_eq!(s.course.step_done(), Some(StepOutcome::Passed));

    s.focus = Focus::Lesson;
    assert_eq!(press(&mut s, KeyCode::Char('s')), []);
    assert!(s.course.solution_shown);
    assert!(!s.course.helped);
    assert_eq!(s.course.step_done(), Some(StepOutcome::Passed));
    press(&mut s, KeyCode::Char('s'));
    assert!(!s.course.solution_shown, "s hides it again");
    // Another step starts with it hidden.
    press(&mut s, KeyCode::Char('s'));
    ctrl(&mut s, 'n');
    assert!(!s.course.solution_shown);
}

#[test]
fn a_statement_left_running_counts_for_the_step_open_when_it_ends() {
    let mut s = on_first_step();
    type_sql(&mut s, "INSERT INTO t VALUES (1);");
    press(&mut s, KeyCode::F(5));
    // The learner moves on while it waits, then back; it ends (cancelled or let through)
    // on the step that is open now.
    ctrl(&mut s, 'n');
    ctrl(&mut s, 'p');
    prepared(&mut s);
    assert_eq!(s.course.attempt.runs, []);
    send(&mut s, finished(1, None));
    assert_eq!(s.course.attempt.runs.len(), 1);
    assert_eq!(s.course.checks[0], judged(true, "it succeeded"));
}
