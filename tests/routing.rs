//! Routing that never lies, even for a moment: while HAProxy starts, reloads, restarts after a
//! crash, and while nodes leave and come back, no fresh connection through the write endpoint
//! reaches a standby and none through the read endpoint reaches a primary.

mod support;

use std::time::Duration;

use support::roles::{assert_no_wrong_role, both, kill_haproxy};
use support::{Rt, TestCluster, haproxy_status, node};

macro_rules! suite {
    ($module:ident, $rt:expr, $slot:expr) => {
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread")]
            async fn starts_reloads_and_restarts_route_by_role_only() {
                if let Some(rt) = $rt(concat!(
                    stringify!($module),
                    "::starts_reloads_and_restarts_route_by_role_only"
                )) {
                    super::starts_reloads_and_restarts_route_by_role_only(rt, $slot).await;
                }
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn returning_and_promoted_nodes_wait_for_their_check() {
                if let Some(rt) = $rt(concat!(
                    stringify!($module),
                    "::returning_and_promoted_nodes_wait_for_their_check"
                )) {
                    super::returning_and_promoted_nodes_wait_for_their_check(rt, $slot + 1).await;
                }
            }
        }
    };
}

suite!(local, Rt::local, 75);
suite!(docker, Rt::docker, 77);

/// Until `server` is UP in `backend` again.
fn wait_up(c: &TestCluster, backend: &str, server: &str) {
    c.wait_status(
        Duration::from_secs(30),
        &format!("{backend}/{server} UP"),
        |s| haproxy_status(s, backend, server) == "UP",
    );
}

async fn starts_reloads_and_restarts_route_by_role_only(rt: Rt, slot: u8) {
    let c = TestCluster::new(&format!("t-{}-route", rt.name()), slot, rt);
    c.up(2);
    let probes = both(&c);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Reloads: new servers appear, old ones go.
    c.ok(&["scale", "3"]);
    c.ok(&["scale", "2"]);
    // A crash of HAProxy, repaired by `up`: the new process knows nothing of the roles.
    for _ in 0..3 {
        kill_haproxy(&c);
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.ok(&["up"]);
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    assert_no_wrong_role(probes, "scale 3, scale 2 and three HAProxy crashes").await;
    // The config HAProxy runs after all that is the cluster's current one.
    let status = c.status();
    for n in ["pg1", "pg2", "pg3"] {
        assert_ne!(haproxy_status(&status, "read", n), "absent", "{status:#}");
    }
    assert_eq!(haproxy_status(&status, "read", "pg4"), "absent");
}

async fn returning_and_promoted_nodes_wait_for_their_check(rt: Rt, slot: u8) {
    let c = TestCluster::new(&format!("t-{}-rejoin", rt.name()), slot, rt);
    c.up(3);
    // After a failover the former primary pg1 is first in the write backend's order, so a
    // moment of UP there as a standby takes the writes (`balance first`).
    c.ok(&["node", "kill", "pg1"]);
    c.ok(&["node", "promote", "pg2"]);
    c.ok(&["node", "rewind", "pg1"]);
    wait_up(&c, "read", "pg1");

    let probes = both(&c);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut cycles: Vec<[&str; 2]> = vec![["stop", "start"], ["kill", "start"]];
    if rt == Rt::Docker {
        cycles.push(["partition", "heal"]);
    }
    for [away, back] in cycles {
        c.ok(&["node", away, "pg1"]);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        c.ok(&["node", back, "pg1"]);
        wait_up(&c, "read", "pg1");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // A promotion: readers must leave pg3 before it takes writes.
    c.ok(&["node", "stop", "pg2"]);
    c.ok(&["node", "promote", "pg3"]);
    wait_up(&c, "write", "pg3");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_no_wrong_role(
        probes,
        "stop/kill/partition cycles of pg1 and a promotion of pg3",
    )
    .await;
    let status = c.status();
    assert_eq!(node(&status, "pg3")["role"], "primary", "{status:#}");
    assert_ne!(haproxy_status(&status, "read", "pg3"), "UP", "{status:#}");
}
