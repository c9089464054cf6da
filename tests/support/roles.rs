//! Probes that open fresh connections through an endpoint, as new clients do, and count the
//! ones answered by a server of the wrong role; and ways to kill HAProxy as a crash would.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;

use super::{Rt, TestCluster};

/// What one probe saw: answers by role, and the wrong ones in detail.
#[derive(Debug, Default)]
pub struct Seen {
    pub right: usize,
    /// `(server's cluster_name, what was wrong)` for every answer by the wrong role.
    pub wrong: Vec<String>,
    /// Connections refused or cut (an endpoint with no server for a moment is allowed).
    pub failed: usize,
}

/// A task asking `SELECT pg_is_in_recovery()` on a fresh connection through `port` every
/// few milliseconds until stopped. `want_standby`: what every answer must say.
pub struct RoleProbe {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    task: JoinHandle<()>,
    label: &'static str,
}

impl RoleProbe {
    pub fn start(port: u16, want_standby: bool, label: &'static str) -> RoleProbe {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (s, out) = (stop.clone(), seen.clone());
        let task = tokio::spawn(async move {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            while !s.load(Ordering::Relaxed) {
                let answer = async {
                    let c = super::connect(addr, "mydatabase").await.ok()?;
                    let row = c
                        .query_one(
                            "SELECT pg_is_in_recovery(), current_setting('cluster_name')",
                            &[],
                        )
                        .await
                        .ok()?;
                    Some((row.get::<_, bool>(0), row.get::<_, String>(1)))
                };
                let got = tokio::time::timeout(Duration::from_secs(4), answer)
                    .await
                    .ok()
                    .flatten();
                if let Ok(mut seen) = out.lock() {
                    match got {
                        Some((standby, _)) if standby == want_standby => seen.right += 1,
                        Some((standby, node)) => seen
                            .wrong
                            .push(format!("{node} answered (pg_is_in_recovery() = {standby})")),
                        None => seen.failed += 1,
                    }
                }
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
        });
        RoleProbe {
            stop,
            seen,
            task,
            label,
        }
    }

    /// Stops the probe and returns what it saw.
    pub async fn finish(self) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        let mut seen = self
            .seen
            .lock()
            .map(|mut g| std::mem::take(&mut *g))
            .unwrap_or_default();
        eprintln!(
            "{}: {} right, {} wrong, {} failed",
            self.label,
            seen.right,
            seen.wrong.len(),
            seen.failed
        );
        seen.wrong.truncate(20);
        seen
    }
}

/// A write probe and a read probe on `c`'s endpoints.
pub fn both(c: &TestCluster) -> (RoleProbe, RoleProbe) {
    (
        RoleProbe::start(c.write_port(), false, "write endpoint"),
        RoleProbe::start(c.read_port(), true, "read endpoint"),
    )
}

/// Stops both probes; panics naming every wrong answer.
pub async fn assert_no_wrong_role(probes: (RoleProbe, RoleProbe), during: &str) {
    let (w, r) = (probes.0.finish().await, probes.1.finish().await);
    assert!(
        w.right > 0 && r.right > 0,
        "the probes got no right answer at all during {during}: writes {w:?}, reads {r:?}"
    );
    assert!(
        w.wrong.is_empty() && r.wrong.is_empty(),
        "during {during}: writes reached a standby {:?}; reads reached a primary {:?}",
        w.wrong,
        r.wrong
    );
}

/// Kills HAProxy as a crash would: SIGKILL to the local process, `docker kill` of the
/// container.
pub fn kill_haproxy(c: &TestCluster) {
    match c.rt {
        Rt::Local => {
            let pidfile = c.cluster_dir().join("haproxy").join("haproxy.pid");
            let pid = std::fs::read_to_string(&pidfile).expect("HAProxy's pid file");
            let status = std::process::Command::new("kill")
                .args(["-9", pid.trim()])
                .status()
                .expect("run kill");
            assert!(status.success(), "kill -9 {pid}");
        }
        Rt::Docker => {
            let status = std::process::Command::new("docker")
                .args(["kill", &format!("rl-{}-haproxy", c.name)])
                .output()
                .expect("run docker kill");
            assert!(status.status.success(), "docker kill: {status:?}");
        }
    }
}
