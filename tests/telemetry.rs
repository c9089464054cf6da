//! Telemetry against a real cluster, read the way scripts read it: `status --json --watch`.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Rt, TestCluster, haproxy_status, node};

/// `status --json --watch` running in the background; snapshots arrive on a channel.
struct Watcher {
    child: Child,
    rx: mpsc::Receiver<Value>,
}

impl Watcher {
    fn start(c: &TestCluster, rate: u32) -> Watcher {
        let mut child = c
            .command(&["status", "--json", "--watch", "--rate", &rate.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start status --watch");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    panic!("not a JSON line: {line}");
                };
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        Watcher { child, rx }
    }

    /// The next snapshot, waiting at most `limit`.
    fn next(&self, limit: Duration) -> Value {
        self.rx.recv_timeout(limit).expect("a snapshot in time")
    }

    /// Drops what arrived so far, so the next snapshot is a fresh one.
    fn drain(&self) {
        while self.rx.try_recv().is_ok() {}
    }

    /// Reads snapshots until `cond` holds; returns it and when it arrived.
    fn until(
        &self,
        limit: Duration,
        what: &str,
        cond: impl Fn(&Value) -> bool,
    ) -> (Value, Instant) {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(v) if cond(&v) => return (v, Instant::now()),
                Ok(_) => {}
                Err(_) => panic!("no snapshot showed {what} within {limit:?}"),
            }
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lag(s: &Value, name: &str, field: &str) -> i64 {
    node(s, name)["lag"][field]
        .as_i64()
        .unwrap_or_else(|| panic!("{name}.lag.{field} in {s:#}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn bytes_behind_rise_under_load_and_return_to_zero() {
    let c = TestCluster::new("t-tel-load", 7, Rt::Local);
    c.up(2);
    let w = c.connect(c.write_port()).await.expect("write endpoint");
    w.batch_execute("CREATE TABLE bulk (id int, pad text)")
        .await
        .expect("create");
    let watcher = Watcher::start(&c, 20);
    let first = watcher.next(Duration::from_secs(10));
    // Every replica carries the lag figures the JSON contract names, with their types.
    for name in ["pg2", "pg3"] {
        let l = &node(&first, name)["lag"];
        for f in ["sent_bytes", "write_bytes", "flush_bytes", "replay_bytes"] {
            assert!(l[f].is_i64(), "{name}.{f} is an integer: {l}");
        }
        for f in ["write_ms", "flush_ms", "replay_ms", "reply_age_ms"] {
            assert!(l[f].is_number() || l[f].is_null(), "{name}.{f}: {l}");
        }
        assert!(l["replay_paused"].is_boolean());
    }
    assert!(
        node(&first, "pg1")["lag"].is_null(),
        "the primary has no lag"
    );
    let load = tokio::spawn(async move {
        for _ in 0..10 {
            w.batch_execute(
                "INSERT INTO bulk SELECT g, repeat('x', 200) FROM generate_series(1, 50000) g",
            )
            .await
            .expect("bulk insert");
        }
    });
    let mut peak = [0i64; 2];
    while !load.is_finished() {
        let s = watcher.next(Duration::from_secs(5));
        for (i, name) in ["pg2", "pg3"].iter().enumerate() {
            peak[i] = peak[i].max(lag(&s, name, "sent_bytes") + lag(&s, name, "replay_bytes"));
        }
    }
    load.await.expect("load");
    assert!(
        peak.iter().all(|p| *p > 0),
        "bytes behind never rose: {peak:?}"
    );
    watcher.until(Duration::from_secs(20), "every replica caught up", |s| {
        ["pg2", "pg3"].iter().all(|n| {
            ["sent_bytes", "write_bytes", "flush_bytes", "replay_bytes"]
                .iter()
                .all(|f| lag(s, n, f) == 0)
        })
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn paused_replay_is_flagged_and_its_bytes_grow() {
    let c = TestCluster::new("t-tel-pause", 8, Rt::Local);
    c.up(2);
    let pg3 = support::connect(c.node_connect("pg3"), "postgres")
        .await
        .expect("pg3");
    pg3.batch_execute("SELECT pg_wal_replay_pause()")
        .await
        .expect("pause replay");
    let watcher = Watcher::start(&c, 10);
    let (s, _) = watcher.until(Duration::from_secs(5), "pg3 replay paused", |s| {
        node(s, "pg3")["lag"]["replay_paused"] == true
    });
    assert!(
        node(&s, "pg3")["flags"]
            .as_array()
            .is_some_and(|f| f.contains(&"replay_paused".into()))
    );
    let w = c.connect(c.write_port()).await.expect("write endpoint");
    w.batch_execute("CREATE TABLE t (x int)")
        .await
        .expect("create");
    let mut last = 0;
    for round in 0..3 {
        w.batch_execute("INSERT INTO t SELECT generate_series(1, 20000)")
            .await
            .expect("insert");
        // WAL still arrives and is flushed; only replay stands still.
        let (s, _) = watcher.until(Duration::from_secs(5), "pg3 further behind", |s| {
            lag(s, "pg3", "replay_bytes") > last && lag(s, "pg3", "flush_bytes") == 0
        });
        last = lag(&s, "pg3", "replay_bytes");
        assert_eq!(node(&s, "pg3")["lag"]["streaming"], true, "round {round}");
    }
    watcher.until(Duration::from_secs(10), "pg2 caught up", |s| {
        lag(s, "pg2", "replay_bytes") == 0
    });
    pg3.batch_execute("SELECT pg_wal_replay_resume()")
        .await
        .expect("resume");
    watcher.until(Duration::from_secs(10), "pg3 caught up", |s| {
        lag(s, "pg3", "replay_bytes") == 0 && node(s, "pg3")["lag"]["replay_paused"] == false
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kill_and_a_promotion_show_in_state_and_events() {
    let c = TestCluster::new("t-tel-events", 9, Rt::Local);
    c.up(2);
    let watcher = Watcher::start(&c, 4);
    watcher.until(Duration::from_secs(10), "a complete snapshot", |s| {
        node(s, "pg3")["reachable"] == true
    });
    let killed = Instant::now();
    c.ok(&["node", "kill", "pg3"]);
    let (s, seen) = watcher.until(Duration::from_secs(2), "pg3 unreachable", |s| {
        node(s, "pg3")["reachable"] == false
    });
    eprintln!("pg3 reported unreachable after {:?}", seen - killed);
    assert_eq!(node(&s, "pg3")["state"], "stopped");
    watcher.until(Duration::from_secs(10), "pg3 DOWN in HAProxy", |s| {
        haproxy_status(s, "read", "pg3") == "DOWN"
    });

    c.ok(&["node", "kill", "pg1"]);
    c.ok(&["node", "promote", "pg2"]);
    let (s, _) = watcher.until(Duration::from_secs(10), "a role change event", |s| {
        s["events"].as_array().is_some_and(|evs| {
            evs.iter().any(|e| {
                e["kind"] == "role_changed"
                    && e["node"] == "pg2"
                    && e["detail"] == "replica → primary"
            })
        })
    });
    let kinds: Vec<&str> = s["events"]
        .as_array()
        .map(|evs| evs.iter().filter_map(|e| e["kind"].as_str()).collect())
        .unwrap_or_default();
    for kind in ["node_down", "proxy_transition", "role_changed"] {
        assert!(kinds.contains(&kind), "no {kind} event in {kinds:?}");
    }
    assert!(s["events"][0]["at_ms"].is_u64());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frozen_node_does_not_delay_the_others() {
    let c = TestCluster::new("t-tel-frozen", 10, Rt::Local);
    c.up(2);
    let watcher = Watcher::start(&c, 10);
    watcher.until(Duration::from_secs(10), "a complete snapshot", |s| {
        node(s, "pg3")["reachable"] == true
    });
    c.ok(&["node", "pause", "pg3"]);
    watcher.until(Duration::from_secs(5), "pg3 paused", |s| {
        node(s, "pg3")["state"] == "paused"
    });
    watcher.drain();
    let w = c.connect(c.write_port()).await.expect("write endpoint");
    w.batch_execute("CREATE TABLE t (x int); INSERT INTO t SELECT generate_series(1, 1000)")
        .await
        .expect("write");
    // Snapshots keep coming at the cadence, each with fresh figures from the others.
    let mut seqs = Vec::new();
    for _ in 0..10 {
        let s = watcher.next(Duration::from_secs(1));
        assert_eq!(node(&s, "pg2")["reachable"], true, "{s:#}");
        assert_eq!(node(&s, "pg1")["role"], "primary");
        seqs.push(s["seq"].as_u64().expect("seq"));
    }
    assert!(seqs.windows(2).all(|w| w[1] > w[0]), "{seqs:?}");
    watcher.until(
        Duration::from_secs(5),
        "pg2 caught up past the frozen pg3",
        |s| lag(s, "pg2", "replay_bytes") == 0 && lag(s, "pg3", "replay_bytes") > 0,
    );
    c.ok(&["node", "resume", "pg3"]);
    watcher.until(Duration::from_secs(10), "pg3 back", |s| {
        node(s, "pg3")["reachable"] == true && lag(s, "pg3", "replay_bytes") == 0
    });
}
