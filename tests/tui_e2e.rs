//! The real binary in a pseudo-terminal against a real local cluster: keys in, screen out.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use portable_pty::CommandBuilder;
use support::pty::Pty;
use support::{BIN, Rt, TestCluster};

/// The app for cluster `c`, then `stty -a`, so the terminal's mode after the app can be read
/// off the screen.
fn start(c: &TestCluster, extra_env: &[(&str, &str)]) -> Pty {
    let mut cmd = CommandBuilder::new("sh");
    cmd.args([
        "-c",
        "\"$0\" --name \"$1\"; echo \"EXIT=$?\"; stty -a; sleep 5",
        BIN,
        &c.name,
    ]);
    for (k, v) in c.command(&[]).get_envs() {
        if let (Some(v), Some(k)) = (v, k.to_str()) {
            cmd.env(k, v);
        }
    }
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    Pty::spawn(cmd, 40, 140)
}

const F2: &[u8] = b"\x1bOQ";
const F5: &[u8] = b"\x1b[15~";
const F6: &[u8] = b"\x1b[17~";
const F7: &[u8] = b"\x1b[18~";
const CTRL_L: &[u8] = b"\x0c";
const F4: &[u8] = b"\x1bOS";
const F10: &[u8] = b"\x1b[21~";
const CTRL_N: &[u8] = b"\x0e";
const TAB: &[u8] = b"\t";
const DOWN: &[u8] = b"\x1b[B";
const ENTER: &[u8] = b"\r";
const CTRL_Q: &[u8] = b"\x11";

fn served_by(screen: &str) -> Option<String> {
    let start = screen.find("served by ")? + "served by ".len();
    screen[start..].split_whitespace().next().map(String::from)
}

#[test]
fn a_learner_queries_both_endpoints_and_quits_cleanly() {
    let c = TestCluster::new("t-tui", 18, Rt::Local);
    c.up(3);
    let mut app = start(&c, &[]);
    app.wait_for(Duration::from_secs(20), "every node and HAProxy UP", |s| {
        ["pg1", "pg2", "pg3", "pg4"].iter().all(|n| s.contains(n))
            && s.contains("UP")
            && s.contains("replica")
    });

    app.send(F2);
    app.send(b"SELECT 6 * 7 AS answer;");
    app.send(F5);
    let screen = app.wait_for(Duration::from_secs(10), "the result with its badge", |s| {
        s.contains("answer") && s.contains("42") && s.contains("served by pg1")
    });
    assert!(screen.contains("primary"), "{screen}");

    // Read endpoint, a fresh connection per run: more than one replica answers.
    app.send(F6);
    app.send(F7);
    let mut seen = BTreeSet::new();
    for run in 1..=6 {
        // Each run's text differs, so its result is told apart from the previous one.
        app.send(CTRL_L);
        app.send(format!("SELECT inet_server_addr() AS run_{run};").as_bytes());
        app.send(F5);
        let marker = format!("run_{run}");
        let screen = app.wait_for(Duration::from_secs(10), "a read result", |s| {
            // Once in the editor, once more as the result's column: the output is this run's.
            s.matches(marker.as_str()).count() >= 2 && served_by(s).is_some()
        });
        seen.extend(served_by(&screen));
    }
    assert!(seen.len() > 1, "only {seen:?} answered");
    assert!(
        seen.iter()
            .all(|n| ["pg2", "pg3", "pg4"].contains(&n.as_str())),
        "{seen:?}"
    );

    app.send(CTRL_Q);
    let screen = app.wait_for(Duration::from_secs(10), "the exit status and stty", |s| {
        s.contains("EXIT=") && s.contains("icanon")
    });
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(
        !screen.contains("-icanon"),
        "the terminal is still raw:\n{screen}"
    );
    assert!(!screen.contains("-echo "), "echo is still off:\n{screen}");
    assert!(screen.contains("keeps running"), "{screen}");
}

#[test]
fn a_panic_in_a_background_task_restores_the_terminal() {
    let c = TestCluster::new("t-tui-panic", 19, Rt::Local);
    c.up(1);
    let app = start(&c, &[("REPLICA_LAB_PANIC_HOOK", "1")]);
    let screen = app.wait_for(Duration::from_secs(30), "the app to stop", |s| {
        s.contains("EXIT=") && s.contains("icanon")
    });
    assert!(screen.contains("EXIT=101"), "{screen}");
    assert!(
        screen.contains("stopped after an internal error"),
        "{screen}"
    );
    assert!(
        !screen.contains("-icanon"),
        "the terminal is still raw:\n{screen}"
    );
    assert!(!screen.contains("-echo "), "echo is still off:\n{screen}");
}

/// Lesson 2 from the lesson list to its last quiz, each step turning green by itself after
/// the statement that does it; then the progress file and `lessons list` agree.
#[test]
fn a_learner_walks_through_lesson_two() {
    let c = TestCluster::new("t-tui-lesson", 20, Rt::Local);
    // The size the lessons are written for: opening them changes nothing.
    c.up(3);
    let mut app = start(&c, &[]);
    app.wait_for(Duration::from_secs(20), "lesson 1 open", |s| {
        s.contains("Step 1/") && s.contains("pg3") && s.contains("UP")
    });

    // Lesson 2 from the list; lesson 1 is not done, so the app asks first.
    app.send(F10);
    app.wait_for(Duration::from_secs(5), "the lesson list", |s| {
        s.contains("02-write-read") && s.contains("0/4")
    });
    app.send(DOWN);
    app.send(ENTER);
    app.wait_for(Duration::from_secs(5), "the prerequisite question", |s| {
        s.contains("Open 02-write-read now?")
    });
    app.send(b"y");
    // Opening a lesson may make the cluster anew; F5 waits for that (the app says so).
    let screen = app.wait_for(Duration::from_secs(60), "step 1 of lesson 2, ready", |s| {
        s.contains("Step 1/4")
            && s.contains("CREATE TABLE IF NOT EXISTS replication_test")
            && !s.contains("preparing:")
    });
    assert!(screen.contains("SQL → write"), "{screen}");

    // Step 1: the editor holds the CREATE TABLE; running it is the step.
    app.send(F5);
    app.wait_for(Duration::from_secs(20), "step 1 done", |s| {
        s.contains("Step done") && s.contains("CREATE TABLE")
    });

    // Step 2: a hint, then the INSERT.
    app.send(CTRL_N);
    app.wait_for(Duration::from_secs(10), "step 2", |s| {
        s.contains("Step 2/4")
    });
    app.send(F4);
    app.wait_for(Duration::from_secs(5), "the first hint", |s| {
        s.contains("Hints")
    });
    app.send(F2);
    app.send(CTRL_L);
    app.send(b"INSERT INTO replication_test (message) VALUES ('from the pty');");
    app.send(F5);
    app.wait_for(Duration::from_secs(20), "step 2 done", |s| {
        s.contains("INSERT 0 1") && s.contains("Step done")
    });

    // Step 3 points the console at `read`.
    app.send(CTRL_N);
    app.wait_for(Duration::from_secs(10), "step 3 on read", |s| {
        s.contains("Step 3/4") && s.contains("SQL → read")
    });
    app.send(F2);
    app.send(CTRL_L);
    app.send(b"SELECT message, inet_server_addr() FROM replication_test;");
    app.send(F5);
    let screen = app.wait_for(Duration::from_secs(20), "step 3 done", |s| {
        s.contains("from the pty") && s.contains("Step done")
    });
    let replica = served_by(&screen).unwrap_or_default();
    assert!(
        ["pg2", "pg3", "pg4"].contains(&replica.as_str()),
        "{screen}"
    );

    // Step 4: a statement and a quiz; a wrong answer first.
    app.send(CTRL_N);
    app.wait_for(Duration::from_secs(10), "step 4", |s| {
        s.contains("Step 4/4")
    });
    app.send(F2);
    app.send(CTRL_L);
    app.send(b"SELECT pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn();");
    app.send(F5);
    app.wait_for(Duration::from_secs(20), "the LSNs and the ran check", |s| {
        s.contains("✓ ran “pg_last_wal_replay_lsn”")
    });
    app.send(TAB);
    app.send(TAB);
    app.send(TAB);
    app.send(b"1");
    app.wait_for(Duration::from_secs(5), "the wrong answer marked", |s| {
        s.contains("not that answer")
    });
    app.send(b"2");
    app.wait_for(Duration::from_secs(10), "step 4 done", |s| {
        s.contains("Step done") && s.contains("next lesson")
    });

    app.send(CTRL_Q);
    let screen = app.wait_for(Duration::from_secs(10), "the exit", |s| s.contains("EXIT="));
    assert!(screen.contains("EXIT=0"), "{screen}");

    let out = std::process::Command::new(BIN)
        .args(["lessons", "list", "--json"])
        .env("REPLICA_LAB_PROGRESS_DIR", c.data_dir.join("progress"))
        .env("REPLICA_LAB_LEARNER", "tester")
        .output()
        .expect("lessons list");
    let listed: serde_json::Value = serde_json::from_str(&String::from_utf8_lossy(&out.stdout))
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let lesson = |id: &str| {
        listed["lessons"]
            .as_array()
            .and_then(|l| l.iter().find(|x| x["id"] == id))
            .cloned()
            .unwrap_or_default()
    };
    let two = lesson("02-write-read");
    assert_eq!(two["done"], 4, "{listed}");
    assert_eq!(two["with_help"], 0, "{listed}");
    assert_eq!(two["complete"], true, "{listed}");
    assert_eq!(lesson("01-topology")["done"], 0, "{listed}");
    assert_eq!(listed["learner"], "tester", "{listed}");
}
