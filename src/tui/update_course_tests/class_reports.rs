//! Reporting to a class: what the hub hears of the learner's steps.

use super::*;

#[test]
fn outside_a_class_nothing_is_reported() {
    let mut s = app(LearnerProgress::new("ann"));
    let mut all = ready(&mut s);
    all.extend(prepared(&mut s));
    all.extend(press(&mut s, KeyCode::F(4)));
    all.extend(press(&mut s, KeyCode::F(3)));
    all.extend(ctrl(&mut s, 'n'));
    assert_eq!(kinds(&all), []);
}

#[test]
fn opening_reports_the_lesson_once_and_every_step() {
    let mut s = in_class(LearnerProgress::new("ann"), false);
    let effects = ready(&mut s);
    let r = reports(&effects);
    assert_eq!(r.len(), 2, "{effects:?}");
    assert_eq!(r[0].0, Ev::LessonOpened);
    assert_eq!(
        (r[0].1.as_str(), r[0].2.as_str()),
        ("01-basics", "insert-row")
    );
    assert_eq!(r[0].3["starting"], true);
    assert_eq!(r[1].0, Ev::StepOpened);
    assert_eq!(r[1].3["index"], 1);
    // The progress is saved first, the setup still runs.
    saved(&effects[0]);
    assert!(matches!(effects.last(), Some(Effect::Prepare { .. })));

    prepared(&mut s);
    let effects = ctrl(&mut s, 'n');
    assert_eq!(kinds(&effects), [Ev::StepOpened], "the same lesson");
    assert_eq!(reports(&effects)[0].2, "why");
    ctrl(&mut s, 'n');
    let effects = press(&mut s, KeyCode::Char('y'));
    assert_eq!(kinds(&effects), [Ev::LessonOpened, Ev::StepOpened]);
    assert_eq!(reports(&effects)[0].1, "02-next");
}

#[test]
fn a_statement_is_reported_checked_once_its_judging_ends_then_passed() {
    let mut s = in_class(LearnerProgress::new("ann"), false);
    ready(&mut s);
    prepared(&mut s);
    let after_setup = judging(&s);
    type_sql(&mut s, "INSERT INTO t VALUES (1);");
    assert_eq!(kinds(&press(&mut s, KeyCode::F(5))), []);
    let effects = send(&mut s, finished(1, None));
    assert_eq!(
        effects,
        [judge_sql(judging(&s), Duration::from_secs(10))],
        "not yet"
    );
    // The judging after the setup, superseded, ends: not the statement's.
    let effects = verdicts(&mut s, after_setup, Verdict::fail("pg2: got 0"), true);
    assert_eq!(kinds(&effects), []);
    // A try that is not the last says nothing.
    let effects = verdicts_now(&mut s, Verdict::fail("pg2: got 0"), false);
    assert_eq!(kinds(&effects), []);

    wait(&mut s, 42);
    let effects = verdicts_now(&mut s, Verdict::pass("got 1, wanted >= 1"), true);
    let r = reports(&effects);
    assert_eq!(
        r.iter().map(|x| x.0).collect::<Vec<_>>(),
        [Ev::Checked, Ev::Passed]
    );
    assert_eq!(r[0].3["passing"], 3);
    assert_eq!(r[0].3["total"], 3);
    assert_eq!(r[0].3["verdicts"].as_array().map(Vec::len), Some(3));
    assert_eq!(r[1].3["seconds"], 42);
    assert_eq!(r[1].3["hints"], 0);
    assert_eq!(
        (r[1].1.as_str(), r[1].2.as_str()),
        ("01-basics", "insert-row")
    );

    // Done already: checking again is reported, passing again is not.
    let effects = press(&mut s, KeyCode::F(3));
    assert_eq!(effects, [judge_sql(judging(&s), Duration::from_secs(10))]);
    let effects = verdicts_now(&mut s, Verdict::pass("got 2, wanted >= 1"), true);
    assert_eq!(kinds(&effects), [Ev::Checked]);
}

#[test]
fn the_checked_report_waits_for_the_judging_asked_for_not_an_older_one() {
    let mut s = in_class(LearnerProgress::new("ann"), false);
    let older_step = judging(&s);
    ready(&mut s);
    prepared(&mut s);
    // The judging after the setup is nobody's question.
    assert_eq!(
        kinds(&verdicts_now(&mut s, Verdict::fail("pg2: got 0"), true)),
        []
    );
    // A telemetry-driven judging is running when the learner presses F3.
    wait(&mut s, 10);
    let auto = send(&mut s, Msg::Snapshot(Arc::new(snapshot(vec![]))));
    assert_eq!(auto, [judge_sql(judging(&s), Duration::ZERO)]);
    let telemetry_driven = judging(&s);
    press(&mut s, KeyCode::F(3));
    // The older loop ends first: not the answer to F3.
    assert_eq!(
        kinds(&verdicts(
            &mut s,
            telemetry_driven,
            Verdict::fail("pg2: got 0"),
            true
        )),
        []
    );
    let effects = verdicts_now(&mut s, Verdict::fail("pg2: got 0"), true);
    let r = reports(&effects);
    assert_eq!(r.len(), 1, "{effects:?}");
    assert_eq!(r[0].0, Ev::Checked);
    assert_eq!(r[0].3["passing"], 1, "only the telemetry check passes");
    // Verdicts of an older step never count.
    let effects = verdicts(&mut s, older_step, Verdict::pass("late"), true);
    assert_eq!(kinds(&effects), []);
}

#[test]
fn f3_on_a_step_without_sql_checks_is_reported_at_once() {
    let mut s = in_class(resumed_at("why"), false);
    ready(&mut s);
    let effects = press(&mut s, KeyCode::F(3));
    let r = reports(&effects);
    assert_eq!(r.len(), 1, "{effects:?}");
    assert_eq!(r[0].0, Ev::Checked);
    assert_eq!(
        (r[0].3["passing"].clone(), r[0].3["total"].clone()),
        (0.into(), 1.into())
    );
    assert_eq!(r[0].3["verdicts"][0]["pass"], false);
}

#[test]
fn hints_and_help_are_reported_with_time_on_the_step() {
    let mut s = in_class(LearnerProgress::new("ann"), false);
    ready(&mut s);
    prepared(&mut s);
    let effects = press(&mut s, KeyCode::F(4));
    let r = reports(&effects);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].0, Ev::Hint);
    assert_eq!(r[0].3, serde_json::json!({ "shown": 1, "of": 3 }));
    press(&mut s, KeyCode::F(4));
    press(&mut s, KeyCode::F(4));
    assert_eq!(kinds(&press(&mut s, KeyCode::F(4))), [], "no fourth hint");

    press(&mut s, KeyCode::F(9));
    press(&mut s, KeyCode::Char('y'));
    send(&mut s, finished(1, None));
    prepared(&mut s);
    wait(&mut s, 90);
    let effects = verdicts_now(&mut s, Verdict::pass("got 1, wanted >= 1"), true);
    let r = reports(&effects);
    let help = r
        .iter()
        .find(|x| x.0 == Ev::SolvedWithHelp)
        .expect("solved with help");
    assert_eq!(help.3["seconds"], 90);
    assert_eq!(help.3["hints"], 3);
    assert!(!r.iter().any(|x| x.0 == Ev::Passed));
}

#[test]
fn a_membership_found_at_start_joins_the_class_and_a_broken_one_says_why() {
    let mut s = app(LearnerProgress::new("ann"));
    let m = crate::classroom::membership::Membership {
        hub_url: "postgresql://zoe@hub/class".into(),
        role: "learner_7".into(),
        learner_id: 7,
        session_id: 3,
        name: "zoe".into(),
        allow_drills: true,
        seen_broadcast: 0,
        seen_drill: 0,
    };
    let dir = std::path::PathBuf::from("/nowhere/class");
    let found = Ok(Some(m.clone()));
    let effects = send(
        &mut s,
        Msg::Membership {
            dir: dir.clone(),
            found,
        },
    );
    assert_eq!(
        effects,
        [Effect::JoinClass {
            membership: Box::new(m),
            dir: dir.clone()
        }]
    );
    assert_eq!(
        (class(&s).name.as_str(), class(&s).allow_drills),
        ("zoe", true)
    );
    // The lesson it opens on is reported, as for a class joined earlier.
    assert_eq!(kinds(&ready(&mut s)), [Ev::LessonOpened, Ev::StepOpened]);

    let mut s = app(LearnerProgress::new("ann"));
    let nothing = send(
        &mut s,
        Msg::Membership {
            dir: dir.clone(),
            found: Ok(None),
        },
    );
    assert_eq!((nothing, s.class.is_none()), (vec![], true));
    let found = Err("membership.json: not JSON".into());
    assert_eq!(send(&mut s, Msg::Membership { dir, found }), []);
    assert!(s.class.is_none());
    assert_eq!(
        s.console.output.info.as_deref(),
        Some("progress is not reported to the class: membership.json: not JSON")
    );
}
