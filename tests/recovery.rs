//! `up` recovers from anything: a run of `up` or of `scale` killed in the middle leaves
//! orphans and half-cloned replicas, and the next `up` finishes the job; `down` then leaves
//! nothing. Both runtimes.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Rt, TestCluster, node};

macro_rules! suite {
    ($module:ident, $rt:expr, $slot:expr) => {
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread")]
            async fn an_up_killed_while_cloning_is_finished_by_the_next() {
                if let Some(rt) = $rt(concat!(
                    stringify!($module),
                    "::an_up_killed_while_cloning_is_finished_by_the_next"
                )) {
                    super::an_up_killed_while_cloning_is_finished_by_the_next(rt, $slot);
                }
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn a_scale_killed_while_cloning_is_finished_by_up() {
                if let Some(rt) = $rt(concat!(
                    stringify!($module),
                    "::a_scale_killed_while_cloning_is_finished_by_up"
                )) {
                    super::a_scale_killed_while_cloning_is_finished_by_up(rt, $slot + 1);
                }
            }
        }
    };
}

suite!(local, Rt::local, 61);
suite!(docker, Rt::docker, 63);

/// Whether a clone is under way: a `pg_basebackup` of this cluster (local) or a one-shot task
/// container next to the primary's (Docker).
fn cloning(c: &TestCluster) -> bool {
    match c.rt {
        Rt::Local => replica_lab::runtime::process::processes_under(&c.cluster_dir())
            .into_iter()
            .any(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|b| String::from_utf8_lossy(&b).contains("pg_basebackup"))
                    .unwrap_or(false)
            }),
        Rt::Docker => containers(c)
            .iter()
            .any(|n| n.ends_with("-task") && !n.contains("pg1")),
    }
}

fn containers(c: &TestCluster) -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label=io.replica-lab.cluster={}", c.name),
            "--format",
            "{{.Names}}",
        ])
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

/// Runs `args` and kills it with SIGKILL as soon as a clone is under way.
fn kill_while_cloning(c: &TestCluster, args: &[&str]) {
    let mut child = c
        .command(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn replica-lab");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cloning(c) {
        assert!(
            child.try_wait().expect("wait").is_none(),
            "replica-lab {args:?} ended before any clone could be caught"
        );
        assert!(Instant::now() < deadline, "no clone started within 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
}

fn assert_whole(c: &TestCluster, replicas: usize, said: &str) {
    let s = c.status();
    let nodes = s["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), replicas + 1, "{s:#}");
    let primaries = nodes.iter().filter(|n| n["role"] == "primary").count();
    let streaming = nodes
        .iter()
        .filter(|n| n["role"] == "replica" && n["lag"]["streaming"] == true)
        .count();
    assert_eq!(
        (primaries, streaming),
        (1, replicas),
        "up said: {said}\nstatus: {s:#}"
    );
}

fn assert_nothing_left(c: &TestCluster) {
    c.ok(&["down"]);
    match c.rt {
        Rt::Local => {
            let left = replica_lab::runtime::process::processes_under(&c.cluster_dir());
            assert!(left.is_empty(), "processes left after down: {left:?}");
            assert!(!c.cluster_dir().exists());
        }
        Rt::Docker => assert!(containers(c).is_empty(), "{:?}", containers(c)),
    }
}

fn an_up_killed_while_cloning_is_finished_by_the_next(rt: Rt, slot: u8) {
    let c = TestCluster::new(&format!("t-{}-upcrash", rt.name()), slot, rt);
    kill_while_cloning(&c, &["up", "--replicas", "2"]);
    let out = c.cmd(&["up", "--replicas", "2"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the second up failed: {said}");
    assert!(said.contains("cut short"), "{said}");
    assert_whole(&c, 2, &said);
    assert_nothing_left(&c);
}

fn a_scale_killed_while_cloning_is_finished_by_up(rt: Rt, slot: u8) {
    let c = TestCluster::new(&format!("t-{}-scalecrash", rt.name()), slot, rt);
    c.up(1);
    kill_while_cloning(&c, &["scale", "3"]);
    let out = c.cmd(&["up"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "up after the killed scale failed: {said}"
    );
    assert_whole(&c, 3, &said);
    assert_eq!(node(&c.status(), "pg1")["role"], "primary");
    assert_nothing_left(&c);
}
