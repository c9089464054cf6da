//! The real binary in a pseudo-terminal against a real local cluster: keys in, screen out.

mod support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use support::{BIN, Rt, TestCluster};

/// The app running in a pseudo-terminal, its screen kept up to date by a reader thread.
struct Pty {
    screen: Arc<Mutex<vt100::Parser>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
}

impl Pty {
    /// Runs the app for cluster `c`, then `stty -a`, so the terminal's mode after the app can
    /// be read off the screen.
    fn start(c: &TestCluster, extra_env: &[(&str, &str)]) -> Pty {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: 40,
                cols: 140,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pty");
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
        cmd.env("TERM", "xterm-256color");
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = pty.slave.spawn_command(cmd).expect("spawn the app");
        let mut reader = pty.master.try_clone_reader().expect("reader");
        let writer = pty.master.take_writer().expect("writer");
        let screen = Arc::new(Mutex::new(vt100::Parser::new(40, 140, 0)));
        let sink = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    return;
                }
                if let Ok(mut p) = sink.lock() {
                    p.process(&buf[..n]);
                }
            }
        });
        Pty {
            screen,
            writer,
            child,
        }
    }

    fn text(&self) -> String {
        self.screen
            .lock()
            .map(|p| p.screen().contents())
            .unwrap_or_default()
    }

    fn wait_for(&self, limit: Duration, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let text = self.text();
            if cond(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write to the pty");
        self.writer.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(150));
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

const F2: &[u8] = b"\x1bOQ";
const F5: &[u8] = b"\x1b[15~";
const F6: &[u8] = b"\x1b[17~";
const F7: &[u8] = b"\x1b[18~";
const CTRL_L: &[u8] = b"\x0c";
const CTRL_Q: &[u8] = b"\x11";

fn served_by(screen: &str) -> Option<String> {
    let start = screen.find("served by ")? + "served by ".len();
    screen[start..].split_whitespace().next().map(String::from)
}

#[test]
fn a_learner_queries_both_endpoints_and_quits_cleanly() {
    let c = TestCluster::new("t-tui", 18, Rt::Local);
    c.up(3);
    let mut app = Pty::start(&c, &[]);
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
            s.contains(&marker) && served_by(s).is_some()
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
    let app = Pty::start(&c, &[("REPLICA_LAB_PANIC_HOOK", "1")]);
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
