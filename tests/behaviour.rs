//! One behaviour suite for every runtime: the tutorial, scaling, a killed replica, failover
//! and rejoin, against real PostgreSQL and HAProxy, driven through the real binary.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::{Rt, TestCluster, eventually, haproxy_status, http_get, node};

/// The suite's tests for one runtime; `$slot` offsets the port slots so runtimes run side by side.
macro_rules! suite {
    ($module:ident, $rt:expr, $slot:expr) => {
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread")]
            async fn the_tutorial_works_through_the_endpoints() {
                if let Some(rt) = $rt(concat!(
                    stringify!($module),
                    "::the_tutorial_works_through_the_endpoints"
                )) {
                    super::the_tutorial_works_through_the_endpoints(rt, $slot + 1).await;
                }
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn scaling_while_reading_loses_no_read() {
                if let Some(rt) = $rt(concat!(
                    stringify!($module),
                    "::scaling_while_reading_loses_no_read"
                )) {
                    super::scaling_while_reading_loses_no_read(rt, $slot + 2).await;
                }
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn a_killed_replica_leaves_haproxy_and_comes_back() {
                if let Some(rt) = $rt(concat!(
                    stringify!($module),
                    "::a_killed_replica_leaves_haproxy_and_comes_back"
                )) {
                    super::a_killed_replica_leaves_haproxy_and_comes_back(rt, $slot + 3).await;
                }
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn failover_moves_writes_and_the_old_primary_rejoins() {
                if let Some(rt) = $rt(concat!(
                    stringify!($module),
                    "::failover_moves_writes_and_the_old_primary_rejoins"
                )) {
                    super::failover_moves_writes_and_the_old_primary_rejoins(rt, $slot + 4).await;
                }
            }
        }
    };
}

suite!(local, Rt::local, 0);
suite!(docker, Rt::docker, 20);

async fn the_tutorial_works_through_the_endpoints(rt: Rt, slot: u8) {
    let c = TestCluster::new(&format!("t-{}-tutorial", rt.name()), slot, rt);
    c.up(3);

    let status = c.status();
    assert_eq!(status["name"], format!("t-{}-tutorial", rt.name()));
    assert_eq!(status["runtime"], rt.name());
    assert_eq!(
        status["endpoints"]["write"],
        format!("127.0.0.1:{}", c.write_port())
    );
    assert_eq!(
        status["endpoints"]["read"],
        format!("127.0.0.1:{}", c.read_port())
    );
    assert_eq!(
        status["endpoints"]["stats"],
        format!("127.0.0.1:{}", c.stats_port())
    );
    let roles: Vec<(String, String, String)> = status["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap_or_default().to_string(),
                n["role"].as_str().unwrap_or_default().to_string(),
                n["state"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("pg1".into(), "primary".into(), "running".into()),
            ("pg2".into(), "replica".into(), "running".into()),
            ("pg3".into(), "replica".into(), "running".into()),
            ("pg4".into(), "replica".into(), "running".into()),
        ]
    );

    // Step 1: write through 5435, which reaches the primary.
    let w = c.connect(c.write_port()).await.expect("write endpoint");
    w.batch_execute(
        "CREATE TABLE replication_test (id serial PRIMARY KEY, message text, created_at timestamp DEFAULT now());
         INSERT INTO replication_test (message) VALUES ('Hello from Primary!');
         INSERT INTO replication_test (message) VALUES ('Replication is working?');",
    )
    .await
    .expect("create and insert on the primary");
    let served: String = w
        .query_one("SELECT host(inet_server_addr())", &[])
        .await
        .expect("served by")
        .get(0);
    assert_eq!(served, c.node_address("pg1"));

    // Step 2: read it back through 5436 (replication is asynchronous: allow it a moment).
    let messages: Vec<String> =
        eventually(Duration::from_secs(10), "rows on a replica", || async {
            let r = c.connect(c.read_port()).await.ok()?;
            let rows = r
                .query("SELECT message FROM replication_test ORDER BY id", &[])
                .await
                .ok()?;
            (rows.len() == 2).then(|| rows.iter().map(|row| row.get(0)).collect())
        })
        .await;
    assert_eq!(messages, ["Hello from Primary!", "Replication is working?"]);

    // Step 3: replicas are read-only.
    let r = c.connect(c.read_port()).await.expect("read endpoint");
    let err = r
        .execute(
            "INSERT INTO replication_test (message) VALUES ('This should fail')",
            &[],
        )
        .await
        .expect_err("a replica accepted a write");
    let db = err.as_db_error().expect("a server error");
    assert_eq!(db.code().code(), "25006");
    assert_eq!(
        db.message(),
        "cannot execute INSERT in a read-only transaction"
    );

    // Step 4: HAProxy balances per connection: 2×N fresh connections reach every replica.
    let mut seen = BTreeSet::new();
    for _ in 0..6 {
        seen.insert(c.served_by_read().await.expect("fresh read connection"));
    }
    let replicas: BTreeSet<String> = ["pg2", "pg3", "pg4"]
        .iter()
        .map(|n| c.node_address(n))
        .collect();
    assert_eq!(seen, replicas);
    // …while one session stays on one replica.
    let mut sticky = BTreeSet::new();
    for _ in 0..6 {
        let row = r
            .query_one("SELECT host(inet_server_addr())", &[])
            .await
            .expect("query");
        sticky.insert(row.get::<_, String>(0));
    }
    assert_eq!(sticky.len(), 1);

    // The stats page exports CSV with every server of both backends.
    let csv = http_get(c.stats_port(), "/;csv");
    assert!(csv.starts_with("HTTP/1.1 200"), "{csv}");
    for row in ["write,pg1,", "read,pg2,", "read,pg4,"] {
        assert!(csv.contains(row), "{row} missing from:\n{csv}");
    }

    // Running `up` again is harmless and changes nothing.
    c.up(3);
    assert_eq!(c.status()["nodes"].as_array().map(Vec::len), Some(4));
}

async fn scaling_while_reading_loses_no_read(rt: Rt, slot: u8) {
    let c = Arc::new(TestCluster::new(
        &format!("t-{}-scale", rt.name()),
        slot,
        rt,
    ));
    c.up(3);
    let stop = Arc::new(AtomicBool::new(false));
    let (reads, failures) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let reader = {
        let (c, stop, reads, failures) = (c.clone(), stop.clone(), reads.clone(), failures.clone());
        tokio::spawn(async move {
            let mut errors = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match c.served_by_read().await {
                    Ok(_) => reads.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        errors.push(e.to_string());
                        failures.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
            errors
        })
    };
    let scale = |n: &'static str| {
        let c = c.clone();
        tokio::task::spawn_blocking(move || c.ok(&["scale", n]))
    };
    scale("4").await.expect("scale to 4");
    let s = c.status();
    assert_eq!(s["nodes"].as_array().map(Vec::len), Some(5));
    assert_eq!(node(&s, "pg5")["role"], "replica");
    assert_eq!(haproxy_status(&s, "read", "pg5"), "UP");
    let before = reads.load(Ordering::Relaxed);
    scale("2").await.expect("scale to 2");
    let s = c.status();
    let names: Vec<&str> = s["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["name"].as_str())
        .collect();
    assert_eq!(names, ["pg1", "pg2", "pg3"]);
    // Keep reading a moment on the smaller cluster.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let errors = reader.await.expect("reader");
    assert!(errors.is_empty(), "failed reads: {errors:?}");
    assert!(
        reads.load(Ordering::Relaxed) > before,
        "the reader kept reading"
    );
    assert_eq!(failures.load(Ordering::Relaxed), 0);
    // The removed replicas' slots are gone from the primary.
    let w = c.connect(c.write_port()).await.expect("write endpoint");
    let slots: Vec<String> = w
        .query("SELECT slot_name FROM pg_replication_slots ORDER BY 1", &[])
        .await
        .expect("slots")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(slots, ["pg2", "pg3"]);
    assert_eq!(
        c.streaming_from("pg1").await,
        ["pg2", "pg3"].map(String::from).into()
    );
}

async fn a_killed_replica_leaves_haproxy_and_comes_back(rt: Rt, slot: u8) {
    let c = TestCluster::new(&format!("t-{}-kill", rt.name()), slot, rt);
    c.up(2);
    c.ok(&["node", "kill", "pg3"]);
    let s = c.wait_status(Duration::from_secs(10), "pg3 DOWN in HAProxy", |s| {
        // DOWN by its checks; with Docker, MAINT once its name no longer resolves.
        matches!(
            haproxy_status(s, "read", "pg3"),
            "DOWN" | "MAINT (resolution)"
        )
    });
    assert_eq!(node(&s, "pg3")["state"], "stopped");
    let pg2 = c.node_address("pg2");
    for _ in 0..10 {
        assert_eq!(c.served_by_read().await.expect("reads keep working"), pg2);
    }
    // Killing it again is a no-op, not an error.
    c.ok(&["node", "kill", "pg3"]);
    c.ok(&["node", "start", "pg3"]);
    eventually(Duration::from_secs(10), "pg3 streaming again", || async {
        c.streaming_from("pg1").await.contains("pg3").then_some(())
    })
    .await;
    c.wait_status(Duration::from_secs(10), "pg3 UP in HAProxy", |s| {
        haproxy_status(s, "read", "pg3") == "UP"
    });
}

async fn failover_moves_writes_and_the_old_primary_rejoins(rt: Rt, slot: u8) {
    let c = TestCluster::new(&format!("t-{}-failover", rt.name()), slot, rt);
    c.up(3);
    let pg2 = c.node_address("pg2");
    let w = c.connect(c.write_port()).await.expect("write endpoint");
    w.batch_execute("CREATE TABLE events (id serial PRIMARY KEY, at text)")
        .await
        .expect("create");
    c.ok(&["node", "kill", "pg1"]);
    // The session on the dead primary is gone.
    assert!(w.query_one("SELECT 1", &[]).await.is_err());
    let promoted = Instant::now();
    c.ok(&["node", "promote", "pg2"]);
    let landed: String = eventually(Duration::from_secs(5), "writes through 5435 on pg2", || async {
        let w = c.connect(c.write_port()).await.ok()?;
        let row = w
            .query_one("INSERT INTO events (at) VALUES ('after failover') RETURNING host(inet_server_addr())", &[])
            .await
            .ok()?;
        Some(row.get(0))
    })
    .await;
    assert_eq!(landed, pg2);
    eprintln!(
        "writes followed the promotion after {:?}",
        promoted.elapsed()
    );
    eventually(
        Duration::from_secs(15),
        "pg3 and pg4 streaming from pg2",
        || async {
            (c.streaming_from("pg2").await == ["pg3", "pg4"].map(String::from).into()).then_some(())
        },
    )
    .await;

    // Promoting the primary again, or rewinding a running node, is refused and changes nothing.
    let err = c.fails(&["node", "promote", "pg2"]);
    assert!(err.contains("pg2 is already a primary"), "{err}");
    let err = c.fails(&["node", "rewind", "pg3"]);
    assert!(
        err.contains("pg3 is running") && err.contains("node stop pg3"),
        "{err}"
    );

    c.ok(&["node", "rewind", "pg1"]);
    let s = c.status();
    assert_eq!(node(&s, "pg1")["role"], "replica");
    assert_eq!(node(&s, "pg2")["role"], "primary");
    assert_eq!(
        c.streaming_from("pg2").await,
        ["pg1", "pg3", "pg4"].map(String::from).into()
    );
    // The rejoined node has what was written after the failover.
    let pg1 = support::connect(c.node_connect("pg1"), "mydatabase")
        .await
        .expect("connect pg1");
    eventually(Duration::from_secs(10), "the new row on pg1", || async {
        let n: i64 = pg1
            .query_one("SELECT count(*) FROM events", &[])
            .await
            .ok()?
            .get(0);
        (n == 1).then_some(())
    })
    .await;
}
