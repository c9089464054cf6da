//! The cluster engine against real PostgreSQL and HAProxy, driven through the real binary.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::{TestCluster, eventually, haproxy_status, node};

#[tokio::test(flavor = "multi_thread")]
async fn the_tutorial_works_through_the_endpoints() {
    let c = TestCluster::new("t-tutorial", 1);
    c.up(3);

    let status = c.status();
    assert_eq!(status["name"], "t-tutorial");
    assert_eq!(status["runtime"], "local");
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

#[tokio::test(flavor = "multi_thread")]
async fn scaling_while_reading_loses_no_read() {
    let c = Arc::new(TestCluster::new("t-scale", 2));
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

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_replica_leaves_haproxy_and_comes_back() {
    let c = TestCluster::new("t-kill", 3);
    c.up(2);
    c.ok(&["node", "kill", "pg3"]);
    let s = c.wait_status(Duration::from_secs(10), "pg3 DOWN in HAProxy", |s| {
        haproxy_status(s, "read", "pg3") == "DOWN"
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

#[tokio::test(flavor = "multi_thread")]
async fn failover_moves_writes_and_the_old_primary_rejoins() {
    let c = TestCluster::new("t-failover", 4);
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
    let pg1 = support::connect(
        format!("{}:5432", c.node_address("pg1"))
            .parse()
            .expect("addr"),
        "mydatabase",
    )
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

#[tokio::test(flavor = "multi_thread")]
async fn down_leaves_nothing_and_a_crashed_cluster_comes_back() {
    let c = TestCluster::new("t-crash", 5);
    c.up(1);
    let dir = c.cluster_dir();
    assert!(!processes_under(&dir).is_empty());

    // A crash: every process of the cluster dies at once, from outside.
    kill_all_under(&dir);
    let s = c.status();
    assert_eq!(node(&s, "pg1")["state"], "stopped");
    let out = c.command(&["up"]).output().expect("up");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("restarted pg1, pg2, haproxy"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = c.status();
    assert_eq!(node(&s, "pg1")["role"], "primary");
    assert_eq!(node(&s, "pg2")["role"], "replica");

    // Crash again, then `down` cleans up.
    kill_all_under(&dir);
    c.ok(&["down"]);
    assert!(!dir.exists(), "data left in {}", dir.display());
    assert!(processes_under(&dir).is_empty());
    for port in [c.write_port(), c.read_port(), c.stats_port()] {
        std::net::TcpListener::bind(("127.0.0.1", port)).expect("port free after down");
    }
    for host in ["127.0.5.11", "127.0.5.12"] {
        std::net::TcpListener::bind((host, 5432)).expect("node address free after down");
    }
    let out = c.ok(&["down"]);
    assert!(out.contains("nothing to do"), "{out}");
    let err = c.fails(&["status"]);
    assert!(err.contains("no cluster named \"t-crash\""), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kept_cluster_resumes_with_its_data() {
    let c = TestCluster::new("t-keep", 6);
    c.up(1);
    let w = c.connect(c.write_port()).await.expect("write");
    w.batch_execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
        .await
        .expect("write");
    drop(w);
    c.ok(&["down", "--keep-data"]);
    assert!(processes_under(&c.cluster_dir()).is_empty());
    c.up(1);
    let w = c.connect(c.write_port()).await.expect("write");
    let x: i32 = w
        .query_one("SELECT x FROM kept", &[])
        .await
        .expect("kept row")
        .get(0);
    assert_eq!(x, 42);
}

fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to stats");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

fn processes_under(dir: &std::path::Path) -> Vec<i32> {
    replica_lab::runtime::process::processes_under(dir)
}

fn kill_all_under(dir: &std::path::Path) {
    use nix::sys::signal::{Signal, kill};
    for pid in processes_under(dir) {
        let _ = kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
    }
    for pid in processes_under(dir) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while replica_lab::runtime::process::pid_exists(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
