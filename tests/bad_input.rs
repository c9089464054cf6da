//! Bad input gets a one-line cause and fix, a non-zero exit, and leaves things as they were.

mod support;

use support::{Rt, TestCluster};

fn one_line(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(lines.len(), 1, "expected one error line in:\n{stderr}");
    lines[0]
}

#[test]
fn a_busy_port_is_named_and_nothing_is_started() {
    let c = TestCluster::new("t-busy", 11, Rt::Local);
    let _holder =
        std::net::TcpListener::bind(("127.0.0.1", c.write_port())).expect("hold the port");
    let err = c.fails(&["up", "--replicas", "1"]);
    let line = one_line(&err);
    assert!(
        line.contains(&format!("port {} (write endpoint", c.write_port())),
        "{line}"
    );
    assert!(line.contains("--write-port"), "{line}");
    assert!(!c.cluster_dir().exists(), "a cluster folder was created");
}

#[test]
fn out_of_range_replica_counts_are_refused() {
    let c = TestCluster::new("t-range", 12, Rt::Local);
    let line = one_line(&c.fails(&["up", "--replicas", "12"])).to_string();
    assert!(
        line.contains("replica count 12 is out of range: choose 1 to 9"),
        "{line}"
    );
    let line = one_line(&c.fails(&["scale", "0"])).to_string();
    assert!(line.contains("replica count 0 is out of range"), "{line}");
    assert!(!c.cluster_dir().exists());
}

#[test]
fn commands_on_a_missing_cluster_say_how_to_start_one() {
    let c = TestCluster::new("t-missing", 13, Rt::Local);
    for args in [&["status"][..], &["scale", "2"], &["node", "stop", "pg1"]] {
        let err = c.fails(args);
        let line = one_line(&err);
        assert!(line.contains("no cluster named \"t-missing\""), "{line}");
        assert!(line.contains("replica-lab up --name t-missing"), "{line}");
    }
}

#[test]
fn missing_programs_say_what_to_install() {
    let c = TestCluster::new("t-nobin", 14, Rt::Local);
    let err = c
        .command(&["up", "--replicas", "1"])
        .env("REPLICA_LAB_PG_BINDIR", "/nonexistent/bin")
        .output()
        .expect("run");
    assert!(!err.status.success());
    let stderr = String::from_utf8_lossy(&err.stderr);
    let line = one_line(&stderr);
    assert!(
        line.contains("/nonexistent/bin does not hold the PostgreSQL server programs"),
        "{line}"
    );

    let err = c
        .command(&["up", "--replicas", "1"])
        .env("REPLICA_LAB_HAPROXY_BIN", "/nonexistent/haproxy")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&err.stderr);
    assert!(one_line(&stderr).contains("haproxy_bin"), "{stderr}");
    assert!(!c.cluster_dir().exists());
}

#[test]
fn root_without_the_server_account_is_explained() {
    if !support::require(
        support::Need::Root,
        "root_without_the_server_account_is_explained",
    ) {
        return;
    }
    let c = TestCluster::new("t-nouser", 15, Rt::Local);
    let out = c
        .command(&["up", "--replicas", "1"])
        .env("REPLICA_LAB_OS_USER", "no-such-user-here")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = one_line(&stderr);
    assert!(line.contains("\"no-such-user-here\""), "{line}");
    assert!(
        line.contains("useradd") && line.contains("REPLICA_LAB_OS_USER"),
        "{line}"
    );
}

#[test]
fn a_damaged_setting_names_the_variable() {
    let c = TestCluster::new("t-badenv", 16, Rt::Local);
    let out = c
        .command(&["up"])
        .env("REPLICA_LAB_READ_PORT", "lots")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(one_line(&stderr).contains("read_port"), "{stderr}");
}

#[test]
fn node_operations_refuse_what_makes_no_sense() {
    let c = TestCluster::new("t-nodeops", 17, Rt::Local);
    c.up(1);
    let line = one_line(&c.fails(&["node", "stop", "pg9"])).to_string();
    assert!(
        line.contains("no node \"pg9\"") && line.contains("pg1, pg2"),
        "{line}"
    );
    let line = one_line(&c.fails(&["node", "promote", "pg1"])).to_string();
    assert!(line.contains("pg1 is already a primary"), "{line}");
    let line = one_line(&c.fails(&["node", "rewind", "pg2"])).to_string();
    assert!(line.contains("pg2 is running"), "{line}");

    // Pause and resume: the node shows as paused, and reads keep to the other node.
    c.ok(&["node", "pause", "pg2"]);
    let s = c.status();
    assert_eq!(support::node(&s, "pg2")["state"], "paused");
    let line = one_line(&c.fails(&["node", "promote", "pg2"])).to_string();
    assert!(
        line.contains("pg2 is paused") && line.contains("node resume pg2"),
        "{line}"
    );
    c.ok(&["node", "pause", "pg2"]);
    c.ok(&["node", "resume", "pg2"]);
    let s = c.status();
    assert_eq!(support::node(&s, "pg2")["state"], "running");
    assert_eq!(support::node(&s, "pg2")["role"], "replica");

    c.ok(&["node", "stop", "pg2"]);
    let line = one_line(&c.fails(&["node", "pause", "pg2"])).to_string();
    assert!(line.contains("pg2 is not running"), "{line}");
    let out = c.ok(&["node", "stop", "pg2"]);
    assert!(out.contains("pg2: stop done"), "{out}");
    c.ok(&["node", "start", "pg2"]);
    let s = c.status();
    assert_eq!(support::node(&s, "pg2")["role"], "replica");
    // Nothing above changed the cluster's shape.
    assert_eq!(s["nodes"].as_array().map(Vec::len), Some(2));
}
