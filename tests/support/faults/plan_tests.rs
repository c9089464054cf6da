//! The plan: the same for a seed, every kind in a long one, and the model's refusals.

use super::*;
use std::collections::BTreeSet;

#[test]
fn a_seed_always_gives_the_same_plan_and_another_seed_another() {
    let a = plan(0x5EED_F417, 200, 2, true);
    assert_eq!(a, plan(0x5EED_F417, 200, 2, true));
    assert_ne!(a, plan(0x5EED_F418, 200, 2, true));
    assert_eq!(a.len(), 200);
    assert!(a.iter().enumerate().all(|(i, s)| s.index == i));
}

#[test]
fn a_long_plan_has_every_kind_on_both_runtimes() {
    for partitions in [true, false] {
        let seen: BTreeSet<Kind> = plan(7, 2000, 2, partitions)
            .iter()
            .map(|s| s.kind)
            .collect();
        let missing: Vec<&Kind> = Kind::ALL.iter().filter(|k| !seen.contains(k)).collect();
        assert!(missing.is_empty(), "partitions {partitions}: {missing:?}");
    }
}

#[test]
fn a_plan_has_steps_the_app_must_refuse_and_failovers() {
    let steps = plan(11, 500, 2, true);
    let refused = steps.iter().filter(|s| s.expect == Expect::Refuse).count();
    assert!(refused >= 10, "{refused} steps to refuse");
    let failovers = steps
        .windows(2)
        .filter(|w| {
            w[0].kind == Kind::Kill
                && matches!(w[1].kind, Kind::Promote | Kind::PromoteForce)
                && w[1].expect == Expect::Accept
        })
        .count();
    assert!(failovers >= 5, "{failovers} failovers");
}

#[test]
fn the_model_keeps_the_replica_count_in_bounds() {
    let mut m = Model::new(2, true);
    for s in plan(3, 1000, 2, true) {
        m.apply(&s.action);
        let r = m.replicas();
        assert!((MIN_REPLICAS..=MAX_REPLICAS).contains(&r), "{r} after {s}");
        assert!(
            m.get(m.authority).is_some(),
            "the primary was scaled away at {s}"
        );
    }
}

#[test]
fn the_model_refuses_what_the_app_must() {
    let mut m = Model::new(2, false);
    let promote = |n: &str, force| node_op("promote", n.into(), force);
    assert_eq!(m.expect(&promote("pg2", false)), Expect::Refuse);
    assert_eq!(m.expect(&promote("pg1", true)), Expect::Refuse);
    assert_eq!(m.expect(&promote("pg2", true)), Expect::Accept);
    assert_eq!(
        m.expect(&node_op("partition", "pg2".into(), false)),
        Expect::Refuse
    );
    assert_eq!(m.expect(&Action::Scale(0)), Expect::Refuse);
    m.apply(&node_op("kill", "pg1".into(), false));
    assert_eq!(m.expect(&promote("pg2", false)), Expect::Accept);
    m.apply(&promote("pg2", false));
    assert_eq!(m.authority, 2);
    let start = |force| node_op("start", "pg1".into(), force);
    assert_eq!(m.expect(&start(false)), Expect::Refuse);
    assert_eq!(m.expect(&start(true)), Expect::Accept);
    m.apply(&start(true));
    // A forced former primary runs: promoting anyone now needs --force.
    assert_eq!(m.expect(&promote("pg3", false)), Expect::Refuse);
    assert_eq!(
        m.expect(&node_op("rewind", "pg1".into(), false)),
        Expect::Accept
    );
    assert_eq!(
        m.expect(&node_op("rewind", "pg3".into(), false)),
        Expect::Refuse
    );
}

#[test]
fn steps_print_as_the_command_they_run() {
    let s = Step {
        index: 0,
        kind: Kind::PromoteForce,
        action: node_op("promote", "pg2".into(), true),
        expect: Expect::Accept,
        model: None,
    };
    assert_eq!(s.to_string(), "node promote pg2 --force");
    let k = Step {
        action: Action::KillProxy,
        kind: Kind::KillProxy,
        ..s
    };
    assert_eq!(k.to_string(), "kill haproxy");
}
