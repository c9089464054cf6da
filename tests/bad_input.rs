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

/// `replica-lab up` with the slot's settings changed one way: a flag, a variable, or a line of
/// the config file (which the slot's variable for that setting would override, so it goes).
fn up_with(c: &TestCluster, way: &str, setting: &str, value: &str) -> std::process::Output {
    let flag = format!("--{}", setting.replace('_', "-"));
    let var = format!("REPLICA_LAB_{}", setting.to_uppercase());
    let mut cmd = match way {
        "flag" => c.command(&["up", "--replicas", "1", &flag, value]),
        _ => c.command(&["up", "--replicas", "1"]),
    };
    match way {
        "env" => {
            cmd.env(&var, value);
        }
        "file" => {
            let dir = c.data_dir.join("no-config").join("replica-lab");
            std::fs::create_dir_all(&dir).expect("config folder");
            std::fs::write(dir.join("config.toml"), format!("{setting} = {value}\n"))
                .expect("config file");
            cmd.env_remove(&var);
        }
        _ => {}
    }
    let out = cmd.output().expect("run replica-lab");
    let _ = std::fs::remove_dir_all(c.data_dir.join("no-config"));
    out
}

#[test]
fn port_zero_and_privileged_ports_are_refused_from_flag_environment_and_file() {
    let c = TestCluster::new("t-lowports", 22, Rt::Local);
    let cases = [
        (
            "write_port",
            "0",
            "port 0 is not usable for the write endpoint (write_port)",
        ),
        (
            "read_port",
            "0",
            "port 0 is not usable for the read endpoint (read_port)",
        ),
        (
            "stats_port",
            "80",
            "port 80 is not usable for the stats page (stats_port)",
        ),
        ("node_port", "1023", "port 1023 is not usable for node_port"),
        (
            "node_ports_from",
            "443",
            "port 443 is not usable for the first node port (node_ports_from)",
        ),
    ];
    for (setting, value, said) in cases {
        for way in ["flag", "env", "file"] {
            let out = up_with(&c, way, setting, value);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                !out.status.success(),
                "{setting}={value} by {way}: {stderr}"
            );
            let line = one_line(&stderr);
            assert!(line.contains(said), "{setting}={value} by {way}: {line}");
            assert!(
                line.ends_with(if value == "0" {
                    "choose a port from 1024 to 65535"
                } else {
                    "run as an unprivileged user; choose a port from 1024 to 65535"
                }),
                "{line}"
            );
            assert!(
                !c.cluster_dir().exists(),
                "{setting} by {way} made a cluster"
            );
        }
    }
}

#[test]
fn an_unknown_variable_is_a_warning_naming_the_closest_setting() {
    let c = TestCluster::new("t-unknownvar", 22, Rt::Local);
    let out = c
        .command(&["down"])
        .env("REPLICA_LAB_REPLICA", "2")
        .env("REPLICA_LAB_FOO", "1")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 2, "{stderr}");
    assert!(
        warnings.contains(
            &"warning: REPLICA_LAB_REPLICA is not a replica-lab setting and is ignored; the \
              closest known variable is REPLICA_LAB_REPLICAS"
        ),
        "{stderr}"
    );
    assert!(
        warnings.iter().any(|w| w
            .starts_with("warning: REPLICA_LAB_FOO is not a replica-lab setting")
            && w.contains("the closest known variable is REPLICA_LAB_")),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("nothing to do"), "{stdout}");

    // A command that goes on to fail says why, after the warning.
    let out = c
        .command(&["status"])
        .env("REPLICA_LAB_FOO", "1")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("warning: REPLICA_LAB_FOO "), "{stderr}");
    assert!(one_line(&stderr).contains("no cluster named"), "{stderr}");
}

#[test]
fn built_in_passwords_are_refused_beyond_loopback_before_anything_listens() {
    // Slot 11's cluster never starts here: the refusal comes before any port is taken.
    let c = TestCluster::new("t-exposed", 11, Rt::Local);
    let out = c
        .command(&["up", "--replicas", "1"])
        .env("REPLICA_LAB_BIND_HOST", "0.0.0.0")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = one_line(&stderr);
    assert!(
        line.contains("bind_host 0.0.0.0 is beyond loopback")
            && line.contains("REPLICA_LAB_PASSWORD and REPLICA_LAB_REPLICATION_PASSWORD"),
        "{line}"
    );
    assert!(!c.cluster_dir().exists(), "a cluster folder was created");
    // A stats page asked for beyond loopback asks for the password, so that too must be
    // the user's own. (A hub makes strong passwords itself: see classroom_exposed.)
    let out = c
        .command(&["up", "--replicas", "1"])
        .env("REPLICA_LAB_STATS_BIND_HOST", "0.0.0.0")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = one_line(&stderr);
    assert!(
        line.contains("stats_bind_host 0.0.0.0 is beyond loopback"),
        "{line}"
    );
    assert!(!c.cluster_dir().exists(), "a cluster folder was created");
}

#[test]
fn screens_without_a_terminal_say_what_prints_instead() {
    // The app and the instructor's view, from a pipe: a message and exit 1, never a panic
    // and never a terminal left in raw mode.
    let c = TestCluster::new("t-no-tty", 11, Rt::Local);
    for (args, instead) in [
        (&[][..], "replica-lab --help"),
        (&["classroom"][..], "classroom roster"),
    ] {
        let out = std::process::Command::new(support::BIN)
            .args(args)
            .env(
                "REPLICA_LAB_DATA_DIR",
                c.cluster_dir().parent().expect("data dir"),
            )
            .env("XDG_CONFIG_HOME", "/nonexistent")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("needs a terminal") && stderr.contains(instead),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("\u{1b}[?1049"));
    }
}
