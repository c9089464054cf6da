//! What the app does on its own while it holds a cluster (`status --watch` here, the app the
//! same way): a dead HAProxy comes back with the current config, and a split brain made in
//! SQL is settled in favour of the newest timeline.

mod support;

use std::io::Read;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::roles::kill_haproxy;
use support::{Rt, TestCluster, connect, eventually, haproxy_status, node};

macro_rules! suite {
    ($module:ident, $rt:expr, $slot:expr) => {
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread")]
            async fn a_dead_haproxy_comes_back_with_the_current_config() {
                if let Some(rt) = $rt(concat!(
                    stringify!($module),
                    "::a_dead_haproxy_comes_back_with_the_current_config"
                )) {
                    super::a_dead_haproxy_comes_back_with_the_current_config(rt, $slot).await;
                }
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn a_promotion_in_sql_is_settled_for_the_newest_timeline() {
                if let Some(rt) = $rt(concat!(
                    stringify!($module),
                    "::a_promotion_in_sql_is_settled_for_the_newest_timeline"
                )) {
                    super::a_promotion_in_sql_is_settled_for_the_newest_timeline(rt, $slot + 1)
                        .await;
                }
            }
        }
    };
}

suite!(local, Rt::local, 81);
suite!(docker, Rt::docker, 83);

/// `status --watch --json` in the background, as a learner's second terminal would run it.
struct Watcher(Child);

impl Watcher {
    fn start(c: &TestCluster) -> Watcher {
        let child = c
            .command(&["status", "--watch", "--json"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start status --watch");
        Watcher(child)
    }

    /// Stops it and returns what it said on stderr.
    fn stop(mut self) -> String {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let mut err = String::new();
        if let Some(mut e) = self.0.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        err
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Who answers a fresh connection through the write endpoint, if anyone.
async fn write_answer(c: &TestCluster) -> Option<String> {
    let client = c.connect(c.write_port()).await.ok()?;
    let row = client
        .query_one("SELECT current_setting('cluster_name')", &[])
        .await
        .ok()?;
    Some(row.get(0))
}

async fn a_dead_haproxy_comes_back_with_the_current_config(rt: Rt, slot: u8) {
    let c = TestCluster::new(&format!("t-{}-superv", rt.name()), slot, rt);
    c.up(2);
    // The config HAProxy was first started with has no pg4.
    c.ok(&["scale", "3"]);
    let watcher = Watcher::start(&c);
    tokio::time::sleep(Duration::from_secs(2)).await;

    kill_haproxy(&c);
    let killed = Instant::now();
    eventually(
        Duration::from_secs(15),
        "writes through HAProxy again",
        || write_answer(&c),
    )
    .await;
    eprintln!(
        "HAProxy killed → writes through it again: {} ms",
        killed.elapsed().as_millis()
    );
    let said = watcher.stop();
    assert!(
        said.contains("restarted it with the current config"),
        "{said}"
    );
    // Restarted with the config of now: the replica added after its first start takes reads.
    c.wait_status(Duration::from_secs(20), "pg4 UP for reads", |s| {
        haproxy_status(s, "read", "pg4") == "UP"
    });

    // With nobody watching, a dead HAProxy is reported, and `up` repairs it.
    kill_haproxy(&c);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let out = c.cmd(&["status", "--json"]);
    assert!(!out.status.success(), "status exited 0 with HAProxy down");
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("status --json still prints the cluster");
    assert_eq!(json["haproxy"]["state"], "down", "{json:#}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("HAProxy") && err.contains("replica-lab up"),
        "{err}"
    );
    c.ok(&["up"]);
    assert!(write_answer(&c).await.is_some());
}

async fn a_promotion_in_sql_is_settled_for_the_newest_timeline(rt: Rt, slot: u8) {
    let c = TestCluster::new(&format!("t-{}-sqlpromo", rt.name()), slot, rt);
    c.up(2);
    let watcher = Watcher::start(&c);
    // A learner's own promotion: pg1 still runs and takes writes.
    let pg2 = connect(c.node_connect("pg2"), "postgres")
        .await
        .expect("connect to pg2");
    pg2.execute("SELECT pg_promote()", &[])
        .await
        .expect("pg_promote()");
    let status = c.wait_status(Duration::from_secs(20), "pg1 fenced", |s| {
        haproxy_status(s, "write", "pg1").starts_with("MAINT")
    });
    for n in ["pg1", "pg2"] {
        assert_eq!(node(&status, n)["role"], "primary", "{status:#}");
        let flags = node(&status, n)["flags"].to_string();
        assert!(flags.contains("split_brain"), "{n}: {status:#}");
    }
    // Every new write goes to the newest timeline, though pg1 is first in the order.
    let mut answers = Vec::new();
    for _ in 0..10 {
        answers.push(write_answer(&c).await);
    }
    assert!(
        answers.iter().all(|a| a.as_deref() == Some("pg2")),
        "{answers:?}"
    );
    let said = watcher.stop();
    assert!(
        said.contains("split brain") && said.contains("pg2"),
        "{said}"
    );
    // The fence holds across a restart of the app's view of it: starting pg1 is refused.
    c.ok(&["node", "stop", "pg1"]);
    let err = c.fails(&["node", "start", "pg1"]);
    assert!(err.contains("node rewind pg1"), "{err}");
}
