//! How a lesson's opening decides whether the cluster is as lessons start.

use super::*;
use crate::cluster::state::RuntimeKind;
use crate::cluster::status::{EndpointsView, Role};
use crate::telemetry::model::{Lag, NodeTelemetry, ProxyView, Snapshot};
use crate::tui::update::tests::node;

/// pg1 and one streaming replica, pg1 in `state`.
fn two_nodes(state: NodeState) -> Arc<Snapshot> {
    let replica = NodeTelemetry {
        lag: Some(Lag {
            sent_bytes: 0,
            write_bytes: 0,
            flush_bytes: 0,
            replay_bytes: 0,
            write_ms: None,
            flush_ms: None,
            replay_ms: None,
            reply_age_ms: None,
            replay_paused: false,
            streaming: true,
        }),
        sync_state: Some("async".into()),
        ..node("pg2", Role::Replica, "127.0.0.12")
    };
    let primary = NodeTelemetry {
        state,
        ..node("pg1", Role::Primary, "127.0.0.11")
    };
    Arc::new(Snapshot {
        name: "t".into(),
        runtime: RuntimeKind::Local,
        endpoints: EndpointsView {
            write: "127.0.0.1:5435".into(),
            read: "127.0.0.1:5436".into(),
            stats: String::new(),
        },
        taken_at_ms: 0,
        seq: 1,
        nodes: vec![primary, replica],
        haproxy: ProxyView::up(vec![]),
        events: vec![],
    })
}

#[tokio::test]
async fn a_node_that_missed_a_poll_does_not_make_the_cluster_anew() {
    let (tx, rx) = watch::channel(two_nodes(NodeState::Unreachable));
    let shape = tokio::spawn(settled_in_start_shape(rx, 2));
    tokio::time::sleep(Duration::from_millis(50)).await;
    tx.send(two_nodes(NodeState::Running)).expect("a receiver");
    assert!(shape.await.expect("the task"));
}

#[tokio::test]
async fn a_stopped_node_is_a_changed_cluster_at_once() {
    let (_tx, rx) = watch::channel(two_nodes(NodeState::Stopped));
    let shape = tokio::time::timeout(Duration::from_secs(1), settled_in_start_shape(rx, 2));
    assert!(!shape.await.expect("decided without waiting"));
}
