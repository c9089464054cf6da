//! A learner joins a class as the app opens (`--join`), in a pseudo-terminal: the hub hears of
//! the lesson they open, and the instructor's broadcast reaches their screen.

mod support;

use std::process::Command;
use std::time::Duration;

use portable_pty::CommandBuilder;
use support::pty::Pty;
use support::{BIN, Rt, TestCluster};

const CTRL_Q: &[u8] = b"\x11";

/// What `after` is followed by in `text`, up to the next blank.
fn word_after(text: &str, after: &str) -> String {
    text.split(after)
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .map(|w| w.trim_end_matches([',', '.']).to_string())
        .unwrap_or_else(|| panic!("no {after:?} in:\n{text}"))
}

#[test]
fn a_learner_joins_from_the_app_and_the_class_sees_them() {
    let hub = TestCluster::new("t-class-hub", 27, Rt::Local);
    hub.up(1);
    let own = TestCluster::new("t-class-own", 28, Rt::Local);
    own.up(3);
    let dir = tempfile::tempdir().expect("temp dir");
    let instructor_dir = dir.path().join("instructor");
    let learner_dir = dir.path().join("learner");
    let db = format!(
        "postgresql://myuser:mypassword@127.0.0.1:{}/mydatabase?sslmode=disable",
        hub.write_port()
    );
    let instructor = |args: &[&str]| {
        let out = Command::new(BIN)
            .arg("classroom")
            .args(args)
            .env("REPLICA_LAB_CLASSROOM_DIR", &instructor_dir)
            .env("XDG_CONFIG_HOME", dir.path().join("no-config"))
            .output()
            .expect("run replica-lab");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "classroom {args:?}: {text}");
        text
    };
    let hosted = instructor(&["host", "--db", &db, "--title", "pty class"]);
    let code = word_after(&hosted, "join code ");
    let gate = word_after(&hosted, "--hub ");

    let mut cmd = CommandBuilder::new("sh");
    cmd.args([
        "-c",
        "\"$0\" --name \"$1\" --join \"$2\" --hub \"$3\" --learner zoe; echo \"EXIT=$?\"; sleep 5",
        BIN,
        &own.name,
        &code,
        &gate,
    ]);
    for (k, v) in own.command(&[]).get_envs() {
        if let (Some(v), Some(k)) = (v, k.to_str()) {
            cmd.env(k, v);
        }
    }
    cmd.env("REPLICA_LAB_CLASSROOM_DIR", &learner_dir);
    let mut app = Pty::spawn(cmd, 40, 160);
    app.wait_for(Duration::from_secs(30), "the class badge", |s| {
        s.contains("class: zoe · ✓") && s.contains("Step 1/")
    });

    // The hub knows where zoe is.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let roster: serde_json::Value =
            serde_json::from_str(&instructor(&["roster", "--json"])).expect("roster JSON");
        let text = roster.to_string();
        if text.contains("\"zoe\"") && text.contains("01-topology") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "zoe's lesson never reached the roster: {text}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    instructor(&["broadcast", "Lesson 11 in five minutes"]);
    app.wait_for(Duration::from_secs(20), "the broadcast", |s| {
        s.contains("Lesson 11 in five minutes")
    });

    app.send(CTRL_Q);
    let screen = app.wait_for(Duration::from_secs(15), "the exit", |s| s.contains("EXIT="));
    assert!(screen.contains("EXIT=0"), "{screen}");
}
