//! Judging checks against what was observed: telemetry snapshots, console runs, query rows.

#[path = "fixtures/ui.rs"]
mod fixtures;

use replica_lab::cluster::status::Role;
use replica_lab::lesson::evaluate::{Attempt, Run, judge_local, rows, telemetry};
use replica_lab::lesson::model::{
    Bound, Check, CmpOp, Compare, ConsoleMode, Expect, ProxyBackend, ProxyStatus, Quiz, RanCheck,
    RanOutcome, TelemetryCheck, WalStage,
};
use replica_lab::sql::Target;

fn at_least(n: f64) -> Compare {
    Compare {
        op: CmpOp::Ge,
        value: n,
    }
}

#[test]
fn telemetry_predicates_read_the_snapshot() {
    let snap = fixtures::snapshot();
    let cases = [
        // pg2 and pg3 stream; pg4 is stopped.
        (TelemetryCheck::StreamingReplicas(at_least(2.0)), true),
        (TelemetryCheck::StreamingReplicas(at_least(3.0)), false),
        (
            TelemetryCheck::Role {
                node: "pg1".into(),
                is: Role::Primary,
            },
            true,
        ),
        (
            TelemetryCheck::Role {
                node: "pg4".into(),
                is: Role::Replica,
            },
            false,
        ),
        (
            TelemetryCheck::Haproxy {
                backend: ProxyBackend::Read,
                server: "pg4".into(),
                status: ProxyStatus::Maint,
            },
            true,
        ),
        (
            TelemetryCheck::Haproxy {
                backend: ProxyBackend::Write,
                server: "pg2".into(),
                status: ProxyStatus::Up,
            },
            false,
        ),
        (
            TelemetryCheck::BytesBehind {
                node: "pg3".into(),
                stage: WalStage::Replay,
                bound: Bound::Above(1_000_000),
            },
            true,
        ),
        (
            TelemetryCheck::BytesBehind {
                node: "pg3".into(),
                stage: WalStage::Flush,
                bound: Bound::Above(0),
            },
            false,
        ),
        (
            TelemetryCheck::ReplayPaused {
                node: "pg3".into(),
                is: true,
            },
            true,
        ),
        (
            TelemetryCheck::ReplayPaused {
                node: "pg2".into(),
                is: true,
            },
            false,
        ),
    ];
    for (check, want) in cases {
        let v = telemetry(&check, &snap);
        assert_eq!(v.pass, want, "{check:?}: {}", v.detail);
        assert!(!v.detail.is_empty());
    }
}

#[test]
fn telemetry_details_say_what_was_seen() {
    let snap = fixtures::snapshot();
    let v = telemetry(
        &TelemetryCheck::Role {
            node: "pg4".into(),
            is: Role::Replica,
        },
        &snap,
    );
    assert_eq!(v.detail, "pg4 is stopped (wanted replica)");
    let v = telemetry(
        &TelemetryCheck::BytesBehind {
            node: "pg4".into(),
            stage: WalStage::Replay,
            bound: Bound::Below(10),
        },
        &snap,
    );
    assert!(!v.pass);
    assert_eq!(
        v.detail,
        "no lag figures for pg4: it is not streaming from the primary"
    );
    let v = telemetry(
        &TelemetryCheck::Role {
            node: "pg9".into(),
            is: Role::Replica,
        },
        &snap,
    );
    assert_eq!(v.detail, "pg9 is not in the cluster");
}

fn run(text: &str, sqlstate: Option<&str>) -> Run {
    Run {
        text: text.into(),
        target: Target::Read,
        sqlstate: sqlstate.map(str::to_string),
        fresh: false,
    }
}

#[test]
fn ran_checks_look_at_the_runs_of_the_step() {
    let failed_insert = RanCheck {
        matches: "INSERT INTO".into(),
        outcome: RanOutcome::Sqlstate("25006".into()),
        target: None,
        session: None,
    };
    let attempt = |runs: Vec<Run>| Attempt {
        runs,
        quiz_answer: None,
    };
    let check = Check::Ran(failed_insert);
    let judge = |a: &Attempt| judge_local(&check, a, None, None).expect("local");

    let none = judge(&attempt(vec![]));
    assert!(!none.pass);
    assert_eq!(none.detail, "not run yet");

    let wrong = judge(&attempt(vec![run("insert into t values (1)", None)]));
    assert!(!wrong.pass);
    assert_eq!(
        wrong.detail,
        "it succeeded; it should fail with SQLSTATE 25006"
    );

    let right = judge(&attempt(vec![
        run("select 1", None),
        run("insert into t values (1)", Some("25006")),
    ]));
    assert!(right.pass, "{}", right.detail);
}

#[test]
fn ran_checks_can_ask_where_the_statement_ran() {
    let on_read = Check::Ran(RanCheck {
        matches: "select".into(),
        outcome: RanOutcome::Success,
        target: Some(Target::Read),
        session: None,
    });
    let mut elsewhere = run("SELECT 1", None);
    elsewhere.target = Target::Write;
    let a = Attempt {
        runs: vec![elsewhere],
        quiz_answer: None,
    };
    let v = judge_local(&on_read, &a, None, None).expect("local");
    assert!(!v.pass);
    assert_eq!(v.detail, "it ran on write; run it on read");
    let a = Attempt {
        runs: vec![run("SELECT 1", None)],
        quiz_answer: None,
    };
    assert!(judge_local(&on_read, &a, None, None).expect("local").pass);
}

/// A step that teaches fresh connections (F7) is done by a run in fresh mode only.
#[test]
fn ran_checks_can_ask_for_the_console_mode() {
    let fresh_only = Check::Ran(RanCheck {
        matches: "inet_server_addr".into(),
        outcome: RanOutcome::Success,
        target: Some(Target::Read),
        session: Some(ConsoleMode::Fresh),
    });
    let sticky = run("SELECT inet_server_addr()", None);
    let a = Attempt {
        runs: vec![sticky.clone()],
        quiz_answer: None,
    };
    let v = judge_local(&fresh_only, &a, None, None).expect("local");
    assert!(!v.pass);
    assert!(v.detail.contains("press F7"), "{}", v.detail);
    let fresh = Run {
        fresh: true,
        ..sticky
    };
    let a = Attempt {
        runs: vec![fresh],
        quiz_answer: None,
    };
    assert!(
        judge_local(&fresh_only, &a, None, None)
            .expect("local")
            .pass
    );
}

#[test]
fn quiz_checks_want_the_right_answer() {
    let quiz = Quiz {
        question: "Q?".into(),
        choices: vec!["a".into(), "b".into()],
        answer: 1,
        explain: "E.".into(),
    };
    let judge = |answer| {
        judge_local(
            &Check::Quiz,
            &Attempt {
                runs: vec![],
                quiz_answer: answer,
            },
            Some(&quiz),
            None,
        )
        .expect("local")
    };
    assert!(!judge(None).pass);
    assert!(!judge(Some(0)).pass);
    assert!(judge(Some(1)).pass);
}

#[test]
fn telemetry_checks_wait_for_a_snapshot() {
    let check = Check::Telemetry(TelemetryCheck::StreamingReplicas(at_least(1.0)));
    let v = judge_local(&check, &Attempt::default(), None, None).expect("local");
    assert!(!v.pass);
}

fn table(rows_: &[&[Option<&str>]]) -> Vec<Vec<Option<String>>> {
    rows_
        .iter()
        .map(|r| r.iter().map(|v| v.map(str::to_string)).collect())
        .collect()
}

#[test]
fn sql_results_against_expectations() {
    let one = table(&[&[Some("t")]]);
    assert!(rows(&Expect::Value("t".into()), &one).pass);
    let v = rows(&Expect::Value("f".into()), &one);
    assert!(!v.pass);
    assert_eq!(v.detail, "got \"t\", wanted \"f\"");
    assert_eq!(
        rows(&Expect::Value("1".into()), &[]).detail,
        "got no rows, wanted \"1\""
    );
    assert_eq!(
        rows(&Expect::Value("1".into()), &table(&[&[None]])).detail,
        "got NULL, wanted \"1\""
    );

    let count = table(&[&[Some("41")]]);
    assert!(!rows(&Expect::Compare(at_least(42.0)), &count).pass);
    assert!(rows(&Expect::Compare(at_least(41.0)), &count).pass);
    let v = rows(&Expect::Compare(at_least(1.0)), &one);
    assert!(!v.pass);
    assert_eq!(v.detail, "got \"t\", which is not a number");

    let want = table(&[&[Some("1"), Some("a")], &[Some("2"), None]]);
    assert!(rows(&Expect::Rows(want.clone()), &want).pass);
    let other = table(&[&[Some("1"), Some("a")], &[Some("2"), Some("b")]]);
    let v = rows(&Expect::Rows(want.clone()), &other);
    assert!(!v.pass);
    assert_eq!(v.detail, "row 2 is (2, b), wanted (2, NULL)");
    assert_eq!(
        rows(&Expect::Rows(want), &one).detail,
        "got 1 row, wanted 2"
    );
}
