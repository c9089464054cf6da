//! Each check on synthetic observations: one case that holds, one that breaks it.

use super::*;
use crate::faults::observe::{Conn, Decided, StatusNode};
use crate::faults::plan::{Action, Kind};

fn acked(id: i64, window: usize, at_ms: u64, node: &str) -> WriteObs {
    WriteObs {
        id,
        window,
        at_ms,
        conn: Conn::Fresh,
        outcome: WriteOutcome::Acked { node: node.into() },
    }
}

fn read(window: usize, node: &str, in_recovery: bool) -> ReadObs {
    ReadObs {
        window,
        at_ms: 0,
        outcome: ReadOutcome::Answered {
            node: node.into(),
            in_recovery,
        },
    }
}

fn snode(name: &str, role: &str, state: &str, flags: &[&str]) -> StatusNode {
    StatusNode {
        name: name.into(),
        role: role.into(),
        state: state.into(),
        connect: "127.0.0.1:1".into(),
        flags: flags.iter().map(|f| f.to_string()).collect(),
        streaming: (role == "replica").then_some(true),
    }
}

fn view(nodes: Vec<StatusNode>, rows: &[(&str, &str, &str)]) -> StatusView {
    StatusView {
        nodes,
        haproxy: rows
            .iter()
            .map(|(b, s, st)| ProxyRow {
                backend: b.to_string(),
                server: s.to_string(),
                status: st.to_string(),
            })
            .collect(),
    }
}

use crate::faults::observe::ProxyRow;

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn answered(name: &str, in_recovery: bool) -> (String, Seen) {
    (
        name.to_string(),
        Seen::Answered {
            name: name.into(),
            in_recovery,
        },
    )
}

fn silent(name: &str) -> (String, Seen) {
    (
        name.to_string(),
        Seen::Silent {
            why: "refused".into(),
        },
    )
}

#[test]
fn a_write_refused_as_read_only_is_a_write_to_a_standby() {
    let ok = vec![acked(1, 0, 0, "pg1")];
    assert!(writes_reach_only_the_primary(&ok).is_empty());
    let mut bad = ok;
    for id in 2..4 {
        bad.push(WriteObs {
            outcome: WriteOutcome::ReadOnly {
                node: Some("pg2".into()),
            },
            ..acked(id, 3, 0, "")
        });
    }
    let v = writes_reach_only_the_primary(&bad);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].window, 3);
    assert!(v[0].detail.contains("2 write(s) to standby pg2"), "{v:?}");
}

#[test]
fn a_read_answered_out_of_recovery_is_a_read_from_a_primary() {
    let ok = vec![read(0, "pg2", true), read(1, "pg3", true)];
    assert!(reads_reach_only_standbys(&ok).is_empty());
    let mut bad = ok;
    bad.push(read(4, "pg2", false));
    let v = reads_reach_only_standbys(&bad);
    assert_eq!(v.len(), 1);
    assert_eq!((v[0].window, v[0].check), (4, "read-from-primary"));
}

#[test]
fn writes_move_to_a_new_node_only_with_its_promotion() {
    let authority = vec![
        Some("pg1".to_string()),
        Some("pg2".into()),
        Some("pg2".into()),
    ];
    let ok = vec![
        acked(1, 0, 10, "pg1"),
        acked(2, 1, 20, "pg1"),
        acked(3, 1, 30, "pg2"),
        acked(4, 2, 40, "pg2"),
    ];
    assert!(one_writer_at_a_time(&ok, Some("pg1"), &authority).is_empty());
    // Back to the old primary after the new one took writes, and the old one a step later.
    let mut bad = ok;
    bad.push(acked(5, 1, 35, "pg1"));
    bad.push(acked(6, 2, 45, "pg1"));
    let v = one_writer_at_a_time(&bad, Some("pg1"), &authority);
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(v.iter().all(|v| v.check == "two-writers"));
    assert_eq!((v[0].window, v[1].window), (1, 2));
}

#[test]
fn two_primaries_must_be_flagged_and_all_but_one_fenced() {
    let fenced = set(&["pg1"]);
    let ok = view(
        vec![
            snode("pg1", "primary", "running", &["split_brain"]),
            snode("pg2", "primary", "running", &["split_brain"]),
        ],
        &[],
    );
    assert!(split_brain_is_flagged(0, &ok, &fenced).is_empty());
    let bad = view(
        vec![
            snode("pg1", "primary", "running", &[]),
            snode("pg2", "primary", "running", &["split_brain"]),
        ],
        &[],
    );
    let v = split_brain_is_flagged(0, &bad, &BTreeSet::new());
    let checks: Vec<&str> = v.iter().map(|v| v.check).collect();
    assert_eq!(checks, ["split-brain-unflagged", "split-brain"]);
}

#[test]
fn two_unfenced_nodes_answering_as_primaries_are_a_split_brain() {
    let ok = [
        answered("pg1", false),
        answered("pg2", true),
        answered("pg3", false),
    ];
    assert!(one_writable_node(0, &ok, &set(&["pg3"])).is_empty());
    let v = one_writable_node(2, &ok, &BTreeSet::new());
    assert_eq!(v.len(), 1);
    assert!(v[0].detail.contains("pg1") && v[0].detail.contains("pg3"));
}

#[test]
fn a_fenced_node_up_in_a_backend_is_a_leaking_fence() {
    let nodes = vec![snode("pg1", "primary", "running", &["split_brain"])];
    let ok = view(
        nodes.clone(),
        &[("write", "pg1", "MAINT"), ("read", "pg1", "MAINT")],
    );
    assert!(fences_hold(0, &ok, &set(&["pg1"])).is_empty());
    let bad = view(
        nodes,
        &[("write", "pg1", "UP 1/2"), ("read", "pg1", "MAINT")],
    );
    let v = fences_hold(0, &bad, &set(&["pg1"]));
    assert_eq!(v.len(), 1);
    assert!(v[0].detail.contains("write"));
}

#[test]
fn status_must_say_what_the_nodes_answer() {
    let status = view(
        vec![
            snode("pg1", "primary", "running", &[]),
            snode("pg2", "replica", "running", &[]),
            snode("pg3", "unknown", "stopped", &[]),
        ],
        &[],
    );
    let seen = [answered("pg1", false), answered("pg2", true), silent("pg3")];
    assert!(status_tells_the_truth(0, &status, &seen, &seen).is_empty());
    // pg2 answers as a primary; pg3's answers differ before and after, so it is not judged.
    let before = [
        answered("pg1", false),
        answered("pg2", false),
        silent("pg3"),
    ];
    let after = [
        answered("pg1", false),
        answered("pg2", false),
        answered("pg3", true),
    ];
    let v = status_tells_the_truth(1, &status, &before, &after);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].detail.starts_with("pg2"), "{v:?}");
    // A node said to run that answers nothing.
    let quiet = [answered("pg1", false), silent("pg2"), silent("pg3")];
    let v = status_tells_the_truth(1, &status, &quiet, &quiet);
    assert_eq!(v.len(), 1, "{v:?}");
}

#[test]
fn a_step_that_must_be_refused_may_not_succeed() {
    let step = Step {
        index: 4,
        kind: Kind::Promote,
        action: Action::Node {
            op: "promote",
            node: "pg2".into(),
            force: false,
        },
        expect: Expect::Refuse,
        model: None,
    };
    assert!(refused_what_it_must(&step, false).is_none());
    assert_eq!(refused_what_it_must(&step, true).map(|v| v.window), Some(4));
    let either = Step {
        expect: Expect::Either,
        ..step
    };
    assert!(refused_what_it_must(&either, true).is_none());
}

#[test]
fn reported_losses_are_read_from_the_output() {
    let out = "  stopped pg1 first, so that pg3 is the only primary\n  \
               lost: 1.2 KiB of WAL that pg2 had and pg3 never received\n  \
               pg1 was down: commits it acknowledged that no standby had received are not on \
               pg2 (replication is asynchronous)\n";
    let l = losses_reported(7, out);
    let nodes: Vec<(Option<&str>, bool)> = l.iter().map(|l| (l.node.as_deref(), l.tail)).collect();
    assert_eq!(nodes, [(Some("pg2"), false), (Some("pg1"), true)]);
    assert!(l.iter().all(|l| l.window == 7));
    assert!(losses_reported(7, "pg3 now stream from pg2\n").is_empty());
}

#[test]
fn acknowledged_rows_must_survive_unless_a_loss_was_reported() {
    let writes = vec![
        acked(1, 0, 0, "pg1"),
        acked(2, 1, 0, "pg1"),
        acked(3, 3, 0, "pg2"),
    ];
    let all: BTreeSet<i64> = [1, 2, 3].into();
    assert_eq!(
        acknowledged_rows_survive(&writes, &all, &[]),
        (Vec::new(), Vec::new())
    );
    // Row 2 is gone and pg1's loss was reported at step 2; row 3 is gone unreported.
    let some: BTreeSet<i64> = [1].into();
    let losses = [LossReport {
        window: 2,
        node: Some("pg1".into()),
        tail: false,
    }];
    let (v, excused) = acknowledged_rows_survive(&writes, &some, &losses);
    assert_eq!(excused, [(1, "pg1".to_string(), vec![2])]);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!((v[0].window, v[0].check), (3, "lost-rows"));
    assert!(v[0].detail.contains("by pg2"));
}

#[test]
fn the_asynchronous_tail_excuses_only_the_last_moments_before_the_primary_died() {
    let writes = vec![
        acked(1, 0, 1_000, "pg1"),
        acked(2, 1, 9_000, "pg1"),
        acked(3, 1, 10_000, "pg1"),
    ];
    let losses = [LossReport {
        window: 2,
        node: Some("pg1".into()),
        tail: true,
    }];
    let (v, excused) = acknowledged_rows_survive(&writes, &BTreeSet::new(), &losses);
    assert_eq!(excused, [(1, "pg1".to_string(), vec![2, 3])]);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].detail.contains("ids 1"), "{v:?}");
}

#[test]
fn the_end_is_whole_with_one_primary_and_every_replica_streaming() {
    let ok = view(
        vec![
            snode("pg1", "replica", "running", &[]),
            snode("pg2", "primary", "running", &[]),
        ],
        &[],
    );
    assert!(whole_at_the_end(9, &ok, Some("pg2")).is_empty());
    let mut lagging = snode("pg1", "replica", "running", &[]);
    lagging.streaming = Some(false);
    let bad = view(vec![lagging, snode("pg2", "primary", "running", &[])], &[]);
    assert_eq!(whole_at_the_end(9, &bad, Some("pg2")).len(), 1);
    assert_eq!(whole_at_the_end(9, &ok, Some("pg1")).len(), 2);
}

#[test]
fn settled_means_haproxy_routes_by_role() {
    let nodes = vec![
        snode("pg1", "primary", "running", &[]),
        snode("pg2", "replica", "running", &[]),
    ];
    let rows = [
        ("write", "pg1", "UP"),
        ("read", "pg1", "DOWN"),
        ("write", "pg2", "DOWN"),
        ("read", "pg2", "UP"),
    ];
    assert!(settled(&view(nodes.clone(), &rows), &BTreeSet::new()));
    let moving = [
        ("write", "pg1", "UP"),
        ("read", "pg1", "UP 1/2"),
        ("write", "pg2", "DOWN"),
        ("read", "pg2", "UP"),
    ];
    assert!(!settled(&view(nodes.clone(), &moving), &BTreeSet::new()));
    assert!(settled(&view(nodes, &[]), &BTreeSet::new()));
}

#[test]
fn a_standby_said_to_stream_has_what_the_primary_acknowledged_a_while_ago() {
    let writes = vec![
        acked(10, 0, 1_000, "pg1"),
        acked(11, 0, 2_000, "pg1"),
        acked(12, 0, 9_500, "pg1"),
    ];
    let status = view(
        vec![
            snode("pg1", "primary", "running", &[]),
            snode("pg2", "replica", "running", &[]),
            snode("pg3", "replica", "running", &["replay_paused"]),
        ],
        &[],
    );
    // At 10 s, rows up to 11 are due; 12 is too recent to count.
    let ok = [("pg2".to_string(), 11), ("pg3".to_string(), 3)];
    assert!(streaming_standbys_keep_up(5, 10_000, &writes, &status, "pg1", &ok).is_empty());
    let bad = [("pg2".to_string(), 10)];
    let v = streaming_standbys_keep_up(5, 10_000, &writes, &status, "pg1", &bad);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!((v[0].window, v[0].check), (5, "stale-standby"));
}

#[test]
fn a_running_standby_that_does_not_stream_for_long_does_not_follow() {
    let mut stuck = snode("pg3", "replica", "running", &[]);
    stuck.streaming = Some(false);
    let status = view(
        vec![
            snode("pg1", "primary", "running", &[]),
            snode("pg2", "replica", "running", &[]),
            stuck,
        ],
        &[],
    );
    assert_eq!(not_streaming(&status, &BTreeSet::new(), "pg1"), ["pg3"]);
    assert!(not_streaming(&status, &set(&["pg3"]), "pg1").is_empty());
    // With the primary down there is nothing to follow.
    assert!(not_streaming(&status, &BTreeSet::new(), "pg2").is_empty());
    assert!(follows_the_primary(3, "pg3", 1_000, 5_000).is_none());
    let v = follows_the_primary(3, "pg3", 1_000, 12_000);
    assert_eq!(v.map(|v| v.check), Some("not-following"));
}

#[test]
fn a_refusal_is_judged_only_where_the_cluster_is_what_the_model_says() {
    let model = crate::faults::plan::Model::new(1, false);
    let status = view(
        vec![
            snode("pg1", "primary", "running", &[]),
            snode("pg2", "replica", "running", &[]),
        ],
        &[],
    );
    let decided = Decided {
        primary: Some("pg1".into()),
        fenced: BTreeSet::new(),
    };
    assert_eq!(model_differs(&model, &status, &decided), None);
    let stopped = view(
        vec![
            snode("pg1", "primary", "running", &[]),
            snode("pg2", "unknown", "stopped", &[]),
        ],
        &[],
    );
    assert!(model_differs(&model, &stopped, &decided).is_some_and(|d| d.contains("pg2")));
    let moved = Decided {
        primary: Some("pg2".into()),
        ..decided
    };
    assert!(model_differs(&model, &status, &moved).is_some());
}
