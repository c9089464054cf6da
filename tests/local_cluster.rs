//! What only the local runtime does: crash recovery of processes, and down --keep-data.

mod support;

use std::time::{Duration, Instant};

use support::{Rt, TestCluster, node};

#[tokio::test(flavor = "multi_thread")]
async fn down_leaves_nothing_and_a_crashed_cluster_comes_back() {
    let c = TestCluster::new("t-crash", 5, Rt::Local);
    c.up(1);
    let dir = c.cluster_dir();
    assert!(!processes_under(&dir).is_empty());

    // A crash: every process of the cluster dies at once, from outside.
    kill_all_under(&dir);
    // `status` still shows every node, then fails: HAProxy is gone with the rest.
    let out = c.cmd(&["status", "--json"]);
    assert!(!out.status.success(), "status succeeded with HAProxy dead");
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status --json");
    assert_eq!(node(&s, "pg1")["state"], "stopped");
    assert_eq!(s["haproxy"]["state"], "down", "{s:#}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("replica-lab up"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    let c = TestCluster::new("t-keep", 6, Rt::Local);
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
