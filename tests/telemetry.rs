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
        Watcher::start_with(c, rate, &[])
    }

    fn start_with(c: &TestCluster, rate: u32, extra: &[&str]) -> Watcher {
        let rate = rate.to_string();
        let mut args = vec!["status", "--json", "--watch", "--rate", &rate];
        args.extend_from_slice(extra);
        let mut child = c
            .command(&args)
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
    // The promotion fenced the old primary in the cluster record; telemetry says so.
    let (s, _) = watcher.until(Duration::from_secs(5), "pg1 fenced", |s| {
        node(s, "pg1")["fence"] == "former-primary"
    });
    assert_eq!(node(&s, "pg2")["fence"], Value::Null, "{s:#}");
}

fn haproxy_pids(c: &TestCluster) -> Vec<i32> {
    let dir = c.cluster_dir().join("haproxy");
    let pids = replica_lab::runtime::process::processes_under(&dir);
    assert!(!pids.is_empty(), "no HAProxy under {}", dir.display());
    pids
}

fn signal(pids: &[i32], sig: nix::sys::signal::Signal) {
    for pid in pids {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), sig);
    }
}

/// A stopped HAProxy, killed when the test ends however it ends: `down` only sends SIGTERM,
/// which a stopped process keeps pending.
struct Frozen(Vec<i32>);

impl Drop for Frozen {
    fn drop(&mut self) {
        signal(&self.0, nix::sys::signal::Signal::SIGKILL);
    }
}

/// Kills this local cluster's HAProxy, and only it.
fn kill_haproxy(c: &TestCluster) {
    let pids = haproxy_pids(c);
    signal(&pids, nix::sys::signal::Signal::SIGKILL);
    for pid in pids {
        let deadline = Instant::now() + Duration::from_secs(5);
        while replica_lab::runtime::process::pid_exists(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn has_event(s: &Value, kind: &str) -> bool {
    s["events"]
        .as_array()
        .is_some_and(|evs| evs.iter().any(|e| e["kind"] == kind))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_haproxy_is_reported_down_with_its_cause_until_up_restarts_it() {
    let c = TestCluster::new("t-tel-proxy", 37, Rt::Local);
    c.up(1);
    // Only watching: a watch that repairs would restart HAProxy before it could be studied.
    let watcher = Watcher::start_with(&c, 4, &["--no-repair"]);
    watcher.until(Duration::from_secs(10), "HAProxy up", |s| {
        s["haproxy"]["state"] == "up" && haproxy_status(s, "write", "pg1") == "UP"
    });
    let killed = Instant::now();
    kill_haproxy(&c);
    let (s, seen) = watcher.until(Duration::from_secs(10), "HAProxy down", |s| {
        s["haproxy"]["state"] == "down"
    });
    eprintln!("HAProxy reported down {:?} after the kill", seen - killed);
    let why = s["haproxy"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(why.starts_with("HAProxy is not running"), "{s:#}");
    assert!(why.contains("replica-lab up"), "{why}");
    assert_eq!(s["haproxy"]["servers"], serde_json::json!([]), "{s:#}");
    let (s, _) = watcher.until(Duration::from_secs(5), "a proxy_down event", |s| {
        has_event(s, "proxy_down")
    });
    let event = s["events"]
        .as_array()
        .and_then(|evs| evs.iter().find(|e| e["kind"] == "proxy_down"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(event["detail"], why.as_str(), "{event}");

    // A one-shot status prints the whole cluster, then fails with the cause.
    let out = c.cmd(&["status", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "status succeeded with HAProxy dead");
    let once: Value = serde_json::from_slice(&out.stdout).expect("status --json still prints");
    assert_eq!(node(&once, "pg1")["role"], "primary", "{once:#}");
    assert_eq!(once["haproxy"]["state"], "down", "{once:#}");
    assert!(
        stderr.contains("HAProxy is not running") && stderr.contains("replica-lab up"),
        "{stderr}"
    );
    let out = c.cmd(&["status"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(table.contains("HAProxy: down"), "{table}");
    assert!(!table.contains("BACKEND"), "{table}");

    // `up` restarts it, as the cause says.
    let out = c.cmd(&["up"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("haproxy"), "{stderr}");
    watcher.until(Duration::from_secs(10), "HAProxy back up", |s| {
        s["haproxy"]["state"] == "up" && has_event(s, "proxy_up")
    });
    assert_eq!(c.status()["haproxy"]["state"], "up");

    // Stopped, it runs but cannot be asked, nor reloaded: `up` starts it afresh.
    let frozen = Frozen(haproxy_pids(&c));
    let stopped = Instant::now();
    signal(&frozen.0, nix::sys::signal::Signal::SIGSTOP);
    let (s, seen) = watcher.until(Duration::from_secs(10), "a stuck HAProxy down", |s| {
        s["haproxy"]["state"] == "down"
    });
    eprintln!(
        "a stopped HAProxy reported down {:?} after SIGSTOP",
        seen - stopped
    );
    let why = s["haproxy"]["error"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("HAProxy is running but its runtime API does not answer")
            && why.contains("replica-lab up"),
        "{s:#}"
    );
    let out = c.cmd(&["up"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("haproxy (it did not answer)"), "{stderr}");
    assert_eq!(c.status()["haproxy"]["state"], "up");
    assert!(
        frozen
            .0
            .iter()
            .all(|p| !replica_lab::runtime::process::pid_exists(*p)),
        "the stuck HAProxy was left behind"
    );
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
