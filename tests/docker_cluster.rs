//! What only the Docker runtime does: network partitions, several clusters on one engine,
//! sweeping by label, and never touching what is not the cluster's.

mod support;

use std::process::Command;
use std::time::Duration;

use support::{Rt, TestCluster, eventually, haproxy_status, node};

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("run docker");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Names of the engine's objects labelled with the cluster's name.
fn labelled(cluster: &str) -> Vec<String> {
    let filter = format!("label=io.replica-lab.cluster={cluster}");
    let mut found = Vec::new();
    for kind in [
        &["ps", "-a", "--format", "{{.Names}}", "--filter"][..],
        &["volume", "ls", "--format", "{{.Name}}", "--filter"],
        &["network", "ls", "--format", "{{.Name}}", "--filter"],
    ] {
        let mut args = kind.to_vec();
        args.push(&filter);
        found.extend(docker(&args).lines().map(String::from));
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partitioned_replica_leaves_haproxy_and_catches_up_when_healed() {
    let Some(rt) = Rt::docker("a_partitioned_replica_leaves_haproxy_and_catches_up_when_healed")
    else {
        return;
    };
    let c = TestCluster::new("t-docker-partition", 31, rt);
    c.up(2);
    c.ok(&["node", "partition", "pg3"]);
    c.wait_status(
        Duration::from_secs(15),
        "pg3 out of the read backend",
        |s| !haproxy_status(s, "read", "pg3").starts_with("UP"),
    );
    let pg2 = c.node_address("pg2");
    let w = c.connect(c.write_port()).await.expect("write endpoint");
    w.batch_execute("CREATE TABLE during (x int); INSERT INTO during VALUES (1), (2), (3)")
        .await
        .expect("writes go on while pg3 is cut off");
    for _ in 0..6 {
        assert_eq!(c.served_by_read().await.expect("reads keep working"), pg2);
    }
    // Partitioning twice is a no-op.
    let out = c.ok(&["node", "partition", "pg3"]);
    assert!(out.contains("pg3: partition done"), "{out}");
    // A rewind cannot reach the primary from there: refused at once, naming the fix.
    c.ok(&["node", "stop", "pg3"]);
    let asked = std::time::Instant::now();
    let err = c.fails(&["node", "rewind", "pg3"]);
    assert!(err.contains("`replica-lab node heal pg3` first"), "{err}");
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "{:?}",
        asked.elapsed()
    );
    c.ok(&["node", "heal", "pg3"]);
    c.ok(&["node", "start", "pg3"]);
    c.ok(&["node", "partition", "pg3"]);

    c.ok(&["node", "heal", "pg3"]);
    eventually(Duration::from_secs(20), "pg3 streaming again", || async {
        c.streaming_from("pg1").await.contains("pg3").then_some(())
    })
    .await;
    c.wait_status(Duration::from_secs(15), "pg3 UP again", |s| {
        haproxy_status(s, "read", "pg3") == "UP"
    });
    let pg3 = support::connect(c.node_connect("pg3"), "mydatabase")
        .await
        .expect("connect pg3");
    eventually(
        Duration::from_secs(10),
        "the rows written during the partition",
        || async {
            let n: i64 = pg3
                .query_one("SELECT count(*) FROM during", &[])
                .await
                .ok()?
                .get(0);
            (n == 3).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_clusters_share_one_engine_without_interfering() {
    let Some(rt) = Rt::docker("two_clusters_share_one_engine_without_interfering") else {
        return;
    };
    let a = TestCluster::new("t-docker-a", 32, rt);
    let b = TestCluster::new("t-docker-b", 33, rt);
    a.up(1);
    b.up(1);
    let wa = a.connect(a.write_port()).await.expect("a");
    wa.batch_execute("CREATE TABLE only_in_a (x int)")
        .await
        .expect("create in a");
    let wb = b.connect(b.write_port()).await.expect("b");
    let err = wb
        .query_one("SELECT count(*) FROM only_in_a", &[])
        .await
        .expect_err("b sees a's table");
    assert_eq!(err.as_db_error().map(|d| d.code().code()), Some("42P01"));

    a.ok(&["down"]);
    assert!(
        labelled("t-docker-a").is_empty(),
        "{:?}",
        labelled("t-docker-a")
    );
    let s = b.status();
    assert_eq!(node(&s, "pg1")["role"], "primary");
    assert_eq!(node(&s, "pg2")["role"], "replica");
    let n: i64 = wb
        .query_one("SELECT 1::bigint", &[])
        .await
        .expect("b still serves")
        .get(0);
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crashed_cluster_comes_back_and_a_lost_record_is_swept_by_label() {
    let Some(rt) = Rt::docker("a_crashed_cluster_comes_back_and_a_lost_record_is_swept_by_label")
    else {
        return;
    };
    let c = TestCluster::new("t-docker-crash", 34, rt);
    c.up(1);
    // Every container dies at once, as in an engine restart.
    let ids = docker(&[
        "ps",
        "-q",
        "--filter",
        "label=io.replica-lab.cluster=t-docker-crash",
    ]);
    let ids: Vec<&str> = ids.lines().collect();
    assert_eq!(ids.len(), 3, "pg1, pg2 and haproxy");
    let mut args = vec!["kill"];
    args.extend(ids.iter().copied());
    docker(&args);
    let out = c.command(&["up"]).output().expect("up");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("restarted pg1, pg2, haproxy"), "{stderr}");
    assert_eq!(node(&c.status(), "pg2")["role"], "replica");

    // The local record is lost: `down` still finds the cluster by its labels.
    std::fs::remove_dir_all(c.cluster_dir()).expect("remove record");
    c.ok(&["down"]);
    assert!(
        labelled("t-docker-crash").is_empty(),
        "{:?}",
        labelled("t-docker-crash")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_network_with_the_clusters_name_is_never_touched() {
    let Some(rt) = Rt::docker("a_foreign_network_with_the_clusters_name_is_never_touched") else {
        return;
    };
    let c = TestCluster::new("t-docker-foreign", 35, rt);
    let _ = docker(&["network", "rm", "rl-t-docker-foreign"]);
    docker(&["network", "create", "rl-t-docker-foreign"]);
    let err = c.fails(&["up", "--replicas", "1"]);
    assert!(
        err.contains("rl-t-docker-foreign exists and is not this cluster's"),
        "{err}"
    );
    let listed = docker(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(
        listed.lines().any(|n| n == "rl-t-docker-foreign"),
        "the foreign network was removed"
    );
    c.ok(&["down"]);
    let listed = docker(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(
        listed.lines().any(|n| n == "rl-t-docker-foreign"),
        "down removed a foreign network"
    );
    docker(&["network", "rm", "rl-t-docker-foreign"]);
}

#[test]
fn an_image_that_cannot_be_pulled_names_the_offline_builder() {
    let Some(rt) = Rt::docker("an_image_that_cannot_be_pulled_names_the_offline_builder") else {
        return;
    };
    let c = TestCluster::new("t-docker-noimage", 36, rt);
    let out = c
        .command(&["up", "--replicas", "1"])
        .env("REPLICA_LAB_POSTGRES_IMAGE", "replica-lab/no-such-image:0")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("image replica-lab/no-such-image:0 is not here and cannot be pulled"),
        "{stderr}"
    );
    assert!(stderr.contains("docker/build-images.sh"), "{stderr}");
    assert!(
        labelled("t-docker-noimage").is_empty(),
        "{:?}",
        labelled("t-docker-noimage")
    );
}

/// TCP ports (`/proc/net/tcp` and `tcp6`) something listens on inside a container.
fn listening_ports(container: &str) -> Vec<u16> {
    let table = docker(&["exec", container, "cat", "/proc/net/tcp", "/proc/net/tcp6"]);
    let mut ports: Vec<u16> = table
        .lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // local_address is ADDR:PORT in hex; state 0A is LISTEN. Docker's own DNS
            // resolver listens on 127.0.0.11 (0B00007F) in every container of a network.
            let (addr, port) = cols.get(1)?.split_once(':')?;
            (cols.get(3) == Some(&"0A") && addr != "0B00007F")
                .then(|| u16::from_str_radix(port, 16).ok())?
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

#[tokio::test(flavor = "multi_thread")]
async fn haproxys_runtime_api_is_no_tcp_port_and_still_steers_the_cluster() {
    let Some(rt) = Rt::docker("haproxys_runtime_api_is_no_tcp_port_and_still_steers_the_cluster")
    else {
        return;
    };
    let c = TestCluster::new("t-docker-api", 89, rt);
    c.up(1);
    let proxy = "rl-t-docker-api-haproxy";
    // Only the endpoints and the stats page: the API that changes server states is a
    // unix socket no node container and no host port reaches.
    assert_eq!(listening_ports(proxy), vec![5435, 5436, 8404]);
    let published = docker(&["port", proxy]);
    assert_eq!(published.lines().count(), 3, "{published}");
    let mode = docker(&["exec", proxy, "stat", "-c", "%a %U", "/tmp/haproxy.sock"]);
    assert_eq!(mode.trim(), "600 root");

    // And the app still steers HAProxy through it: status reads it, a stopped node is
    // taken out of the read backend and put back.
    let status = c.status();
    assert_eq!(status["haproxy"]["state"], "up", "{status}");
    c.ok(&["node", "stop", "pg2"]);
    c.wait_status(
        Duration::from_secs(15),
        "pg2 out of the read backend",
        |s| !haproxy_status(s, "read", "pg2").starts_with("UP"),
    );
    c.ok(&["node", "start", "pg2"]);
    c.wait_status(Duration::from_secs(20), "pg2 UP again", |s| {
        haproxy_status(s, "read", "pg2") == "UP"
    });
    // A HAProxy restarted by the engine comes back with the socket, not a port.
    docker(&["restart", proxy]);
    let out = c.command(&["up"]).output().expect("up");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(listening_ports(proxy), vec![5435, 5436, 8404]);
    assert_eq!(c.status()["haproxy"]["state"], "up");
}
