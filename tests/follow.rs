//! A standby that was frozen or cut off while another node was promoted follows the new
//! primary once it is resumed or healed; and a cut-off node does not hold `up` back.

mod support;

use std::time::Duration;

use support::{Rt, TestCluster, eventually, node};

macro_rules! suite {
    ($module:ident, $rt:expr, $slot:expr) => {
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread")]
            async fn a_standby_frozen_during_a_failover_follows_when_resumed() {
                if let Some(rt) = $rt(concat!(
                    stringify!($module),
                    "::a_standby_frozen_during_a_failover_follows_when_resumed"
                )) {
                    super::a_standby_frozen_during_a_failover_follows_when_resumed(rt, $slot).await;
                }
            }
        }
    };
}

suite!(local, Rt::local, 85);
suite!(docker, Rt::docker, 87);

async fn streams_from(c: &TestCluster, primary: &str, standby: &str) {
    eventually(
        Duration::from_secs(30),
        &format!("{standby} streaming from {primary}"),
        || async {
            c.streaming_from(primary)
                .await
                .contains(standby)
                .then_some(())
        },
    )
    .await;
}

async fn a_standby_frozen_during_a_failover_follows_when_resumed(rt: Rt, slot: u8) {
    let c = TestCluster::new(&format!("t-{}-follow", rt.name()), slot, rt);
    c.up(3);
    c.ok(&["node", "pause", "pg3"]);
    c.ok(&["node", "kill", "pg1"]);
    let out = c.cmd(&["node", "promote", "pg2"]);
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "promote: {said}");
    assert!(said.contains("pg3 is paused"), "{said}");
    assert!(
        !said.contains("pg3 now stream"),
        "claims pg3 follows: {said}"
    );
    c.ok(&["node", "resume", "pg3"]);
    streams_from(&c, "pg2", "pg3").await;
    assert_eq!(node(&c.status(), "pg3")["role"], "replica");
}

/// Docker alone can cut a node off the network.
#[tokio::test(flavor = "multi_thread")]
async fn a_standby_cut_off_during_a_failover_follows_when_healed_and_up_does_not_wait_for_it() {
    let Some(rt) = Rt::docker(
        "a_standby_cut_off_during_a_failover_follows_when_healed_and_up_does_not_wait_for_it",
    ) else {
        return;
    };
    let c = TestCluster::new("t-docker-cutfollow", 88, rt);
    c.up(3);
    c.ok(&["node", "partition", "pg3"]);
    // `up` on a cluster with a node cut off on purpose finishes instead of waiting for it.
    c.ok(&["up"]);
    c.ok(&["scale", "3"]);
    c.ok(&["node", "kill", "pg1"]);
    c.ok(&["node", "promote", "pg2"]);
    c.ok(&["node", "heal", "pg3"]);
    streams_from(&c, "pg2", "pg3").await;
}
