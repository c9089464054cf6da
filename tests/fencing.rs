//! One writable primary, always, on both runtimes: a former primary is never started as one
//! again, a promotion refuses while a primary runs or when another standby is ahead, and no
//! message claims a standby follows when it cannot.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use support::{Rt, TestCluster, connect, haproxy_status, node};

macro_rules! suite {
    ($module:ident, $rt:expr, $slot:expr) => {
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread")]
            async fn a_former_primary_never_comes_back_as_a_primary() {
                if let Some(rt) = $rt(concat!(
                    stringify!($module),
                    "::a_former_primary_never_comes_back_as_a_primary"
                )) {
                    super::a_former_primary_never_comes_back_as_a_primary(rt, $slot).await;
                }
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn promotion_refuses_a_second_primary_and_a_lagging_standby() {
                if let Some(rt) = $rt(concat!(
                    stringify!($module),
                    "::promotion_refuses_a_second_primary_and_a_lagging_standby"
                )) {
                    super::promotion_refuses_a_second_primary_and_a_lagging_standby(rt, $slot + 1)
                        .await;
                }
            }
        }
    };
}

suite!(local, Rt::local, 55);
suite!(docker, Rt::docker, 58);

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn role(c: &TestCluster, name: &str) -> String {
    node(&c.status(), name)["role"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// Who answers fresh connections through the write endpoint, `tries` times.
async fn write_answers(c: &TestCluster, tries: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..tries {
        match c.connect(c.write_port()).await {
            Ok(client) => {
                let row = client
                    .query_one("SELECT host(inet_server_addr())", &[])
                    .await
                    .expect("ask the write endpoint");
                out.push(row.get::<_, String>(0));
            }
            Err(e) => out.push(format!("error: {e}")),
        }
    }
    out
}

async fn a_former_primary_never_comes_back_as_a_primary(rt: Rt, slot: u8) {
    let c = TestCluster::new(&format!("t-{}-fence", rt.name()), slot, rt);
    c.up(2);
    c.ok(&["node", "kill", "pg1"]);
    c.ok(&["node", "promote", "pg2"]);

    // Restarting the old primary is refused, with the way out.
    let err = c.fails(&["node", "start", "pg1"]);
    assert!(
        err.contains("node rewind pg1") && err.contains("--force") && err.contains("timeline"),
        "{err}"
    );
    let status = c.status();
    assert_eq!(node(&status, "pg1")["state"], "stopped");
    assert_eq!(
        node(&status, "pg1")["fence"],
        "former-primary",
        "{status:#}"
    );

    // Opening the cluster again (as the app does at start) neither starts it nor hangs.
    let started = Instant::now();
    let out = c.cmd(&["up"]);
    assert!(out.status.success(), "up: {}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("pg1 left stopped"),
        "{}",
        stderr_of(&out)
    );
    assert!(started.elapsed() < Duration::from_secs(60), "up hung");
    assert_eq!(node(&c.status(), "pg1")["state"], "stopped");
    assert_eq!(role(&c, "pg2"), "primary");

    // Forced, it runs as the stale primary it is, and gets no traffic from the endpoints.
    c.ok(&["node", "start", "pg1", "--force"]);
    assert_eq!(role(&c, "pg1"), "primary");
    let pg2 = c.node_address("pg2");
    let answers = write_answers(&c, 12).await;
    assert!(
        answers.iter().all(|a| *a == pg2),
        "writes left pg2: {answers:?}"
    );
    let status = c.status();
    for n in ["pg1", "pg2"] {
        let flags = node(&status, n)["flags"].to_string();
        assert!(flags.contains("split_brain"), "{n}: {status:#}");
    }
    assert!(
        haproxy_status(&status, "write", "pg1").starts_with("MAINT"),
        "{status:#}"
    );
    assert!(
        haproxy_status(&status, "read", "pg1").starts_with("MAINT"),
        "{status:#}"
    );

    // A rewind makes it a standby of pg2 and lets HAProxy's checks decide for it again.
    c.ok(&["node", "stop", "pg1"]);
    c.ok(&["node", "rewind", "pg1"]);
    assert_eq!(role(&c, "pg1"), "replica");
    assert_eq!(node(&c.status(), "pg1")["fence"], serde_json::Value::Null);
    c.wait_status(
        Duration::from_secs(20),
        "pg1 back in the read backend",
        |s| haproxy_status(s, "read", "pg1") == "UP",
    );
    c.ok(&["node", "stop", "pg1"]);
    c.ok(&["node", "start", "pg1"]);
    assert_eq!(role(&c, "pg1"), "replica");
}

async fn promotion_refuses_a_second_primary_and_a_lagging_standby(rt: Rt, slot: u8) {
    let c = TestCluster::new(&format!("t-{}-promote", rt.name()), slot, rt);
    c.up(2);

    // While pg1 runs, promoting pg2 would make two primaries.
    let err = c.fails(&["node", "promote", "pg2"]);
    assert!(
        err.contains("pg1 is the primary") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(role(&c, "pg2"), "replica");

    // pg3 stops while writes go on; then the primary dies and pg3 comes back behind pg2.
    let primary = connect(c.node_connect("pg1"), "mydatabase")
        .await
        .expect("connect to pg1");
    primary
        .batch_execute("CREATE TABLE acked (id bigint PRIMARY KEY)")
        .await
        .expect("create table");
    c.ok(&["node", "stop", "pg3"]);
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, acked) = (stop.clone(), acked.clone());
        tokio::spawn(async move {
            let mut id: i64 = 0;
            while !stop.load(Ordering::Relaxed) {
                id += 1;
                if primary
                    .execute("INSERT INTO acked VALUES ($1)", &[&id])
                    .await
                    .is_err()
                {
                    break;
                }
                acked.store(id as u64, Ordering::Relaxed);
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    c.ok(&["node", "kill", "pg1"]);
    stop.store(true, Ordering::Relaxed);
    let _ = writer.await;
    let written = acked.load(Ordering::Relaxed);
    assert!(written > 10, "the writer wrote only {written} rows");
    c.ok(&["node", "start", "pg3"]);

    let err = c.fails(&["node", "promote", "pg3"]);
    assert!(
        err.contains("pg2 has") && err.contains("bytes") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(role(&c, "pg3"), "replica");

    // Forced, the loss is said, and pg2 (ahead of the fork) is not said to follow.
    let out = c.cmd(&["node", "promote", "pg3", "--force"]);
    let said = stderr_of(&out);
    assert!(out.status.success(), "forced promote: {said}");
    assert!(said.contains("lost:") && said.contains("pg2"), "{said}");
    assert!(said.contains("pg2 cannot follow pg3"), "{said}");
    assert!(!said.contains("pg2 now stream"), "{said}");
    let status = c.status();
    assert!(
        haproxy_status(&status, "read", "pg2").starts_with("MAINT"),
        "{status:#}"
    );
    let pg3 = c.node_address("pg3");
    let answers = write_answers(&c, 6).await;
    assert!(answers.iter().all(|a| *a == pg3), "{answers:?}");

    // The rows pg2 had and pg3 lacked are gone with pg2's rewind; until then pg2 keeps them.
    let on_pg3: i64 = connect(c.node_connect("pg3"), "mydatabase")
        .await
        .expect("connect to pg3")
        .query_one("SELECT count(*) FROM acked", &[])
        .await
        .expect("count on pg3")
        .get(0);
    assert!((on_pg3 as u64) < written, "pg3 has {on_pg3} of {written}");
    c.ok(&["node", "rewind", "pg2"]);
    assert_eq!(role(&c, "pg2"), "replica");
    assert!(c.streaming_from("pg3").await.contains("pg2"));
}
