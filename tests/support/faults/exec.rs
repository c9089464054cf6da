//! Carrying steps out: each `replica-lab` command with a time limit (a command that hangs is
//! killed and reported, never waited on), HAProxy killed from outside, and the wait for the
//! cluster to settle after a step, also bounded.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{Rt, TestCluster};

use super::check::settled;
use super::observe::{Decided, StatusView};
use super::plan::{Action, Step};

/// How long each kind of wait may last.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// A node operation (promote waits up to 25 s for followers and HAProxy itself).
    pub node_op: Duration,
    /// `up` and `scale`, which wait for the whole cluster.
    pub whole: Duration,
    /// After a step, for HAProxy to agree with the roles.
    pub settle: Duration,
    /// All the planned steps together; what is left when it runs out is skipped.
    pub budget: Duration,
}

impl Limits {
    /// For a test of a few minutes.
    pub fn short() -> Limits {
        Limits {
            node_op: Duration::from_secs(20),
            whole: Duration::from_secs(20),
            settle: Duration::from_secs(6),
            budget: Duration::from_secs(110),
        }
    }

    /// For a soak, where a slow step costs only time.
    pub fn soak() -> Limits {
        Limits {
            node_op: Duration::from_secs(30),
            whole: Duration::from_secs(40),
            settle: Duration::from_secs(8),
            budget: Duration::from_secs(6 * 3600),
        }
    }
}

/// What one command did.
#[derive(Clone, Debug, Default)]
pub struct Ran {
    pub ok: bool,
    /// Killed at the limit.
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Ran {
    fn failed(why: String, took: Duration) -> Ran {
        Ran {
            stderr: why,
            took,
            ..Ran::default()
        }
    }

    /// The output's first meaningful line, for the step log; of a command that hung, its
    /// last two (what it was doing when it was killed).
    pub fn said(&self) -> String {
        let text = if self.stderr.trim().is_empty() {
            &self.stdout
        } else {
            &self.stderr
        };
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let error = lines.iter().find_map(|l| l.strip_prefix("error: "));
        let picked = match (self.timed_out, error) {
            (true, _) => lines[lines.len().saturating_sub(2)..].join(" | "),
            (false, Some(e)) => e.to_string(),
            (false, None) => lines.first().map(|l| l.to_string()).unwrap_or_default(),
        };
        picked.chars().take(200).collect()
    }
}

/// Runs `replica-lab ARGS` on `c`, killing it at `limit`; what it printed until then is kept.
pub async fn cli(c: &TestCluster, args: &[&str], limit: Duration) -> Ran {
    use tokio::io::AsyncReadExt as _;
    let started = Instant::now();
    let mut cmd = tokio::process::Command::from(c.command(args));
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return Ran::failed(format!("cannot run replica-lab: {e}"), started.elapsed()),
    };
    let drain = |pipe: Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>| {
        tokio::spawn(async move {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf).await;
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let (ok, timed_out) = match tokio::time::timeout(limit, child.wait()).await {
        Ok(Ok(status)) => (status.success(), false),
        Ok(Err(_)) => (false, false),
        Err(_) => {
            let _ = child.kill().await;
            (false, true)
        }
    };
    // A server the command started may hold a pipe open: do not wait on it for long.
    let collect = |h: tokio::task::JoinHandle<String>| async move {
        match tokio::time::timeout(Duration::from_secs(2), h).await {
            Ok(Ok(text)) => text,
            _ => String::new(),
        }
    };
    let stdout = collect(out).await;
    let mut stderr = collect(err).await;
    if timed_out {
        stderr.push_str(&format!("\n(killed after {} s)", limit.as_secs()));
    }
    Ran {
        ok,
        timed_out,
        stdout,
        stderr,
        took: started.elapsed(),
    }
}

/// SIGKILL to the cluster's HAProxy: the pid in its pid file (local), or `docker kill` of
/// its container.
pub async fn kill_proxy(c: &TestCluster) -> Ran {
    let started = Instant::now();
    match c.rt {
        Rt::Local => {
            let file = c.cluster_dir().join("haproxy").join("haproxy.pid");
            let pid = std::fs::read_to_string(&file)
                .ok()
                .and_then(|t| t.lines().next()?.trim().parse::<i32>().ok());
            let Some(pid) = pid else {
                return Ran::failed(format!("no pid in {}", file.display()), started.elapsed());
            };
            let killed = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            Ran {
                ok: killed.is_ok(),
                stderr: killed.err().map(|e| e.to_string()).unwrap_or_default(),
                took: started.elapsed(),
                ..Ran::default()
            }
        }
        Rt::Docker => {
            let container = format!("rl-{}-haproxy", c.name);
            let out = tokio::process::Command::new("docker")
                .args(["kill", &container])
                .stdin(Stdio::null())
                .output()
                .await;
            match out {
                Ok(o) => Ran {
                    ok: o.status.success(),
                    stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
                    took: started.elapsed(),
                    ..Ran::default()
                },
                Err(e) => Ran::failed(format!("cannot run docker: {e}"), started.elapsed()),
            }
        }
    }
}

/// Carries out one step.
pub async fn carry_out(c: &TestCluster, step: &Step, limits: &Limits) -> Ran {
    match (&step.action, step.args()) {
        (Action::KillProxy, _) => kill_proxy(c).await,
        (action, Some(args)) => {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let limit = match action {
                Action::Node { .. } => limits.node_op,
                _ => limits.whole,
            };
            cli(c, &args, limit).await
        }
        (_, None) => Ran::failed("nothing to run".into(), Duration::ZERO),
    }
}

/// `status --json`, bounded; `None` when it fails or says nothing readable.
pub async fn status(c: &TestCluster) -> Option<StatusView> {
    // A HAProxy that is down makes `status` exit non-zero after it printed the cluster.
    let ran = cli(c, &["status", "--json"], Duration::from_secs(15)).await;
    let v: serde_json::Value = serde_json::from_str(&ran.stdout).ok()?;
    StatusView::parse(&v)
}

/// Polls status until HAProxy agrees with the roles, up to `limit`. Returns the last status
/// and how long it took, or `None` for the time when it never settled.
pub async fn settle(c: &TestCluster, limit: Duration) -> (Option<StatusView>, Option<Duration>) {
    let started = Instant::now();
    let mut last = None;
    while started.elapsed() < limit {
        let fenced = Decided::read(&c.cluster_dir()).fenced;
        if let Some(s) = status(c).await {
            let done = settled(&s, &fenced);
            last = Some(s);
            if done {
                return (last, Some(started.elapsed()));
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    (last, None)
}

/// The last server-log lines of `node` that say something went wrong (FATAL, PANIC, ERROR),
/// for a step that hung or failed.
pub async fn log_tail(c: &TestCluster, node: &str, lines: usize) -> String {
    let text = match c.rt {
        Rt::Local => {
            let path = c.cluster_dir().join(node).join("postgres.log");
            std::fs::read_to_string(path).unwrap_or_default()
        }
        Rt::Docker => {
            let container = format!("rl-{}-{node}", c.name);
            let out = tokio::process::Command::new("docker")
                .args(["logs", "--tail", "200", &container])
                .stdin(Stdio::null())
                .output()
                .await;
            out.map(|o| {
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                )
            })
            .unwrap_or_default()
        }
    };
    let bad: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("FATAL") || l.contains("PANIC") || l.contains("ERROR"))
        .collect();
    let mut last: Vec<String> = bad[bad.len().saturating_sub(lines)..]
        .iter()
        .map(|l| l.chars().take(220).collect())
        .collect();
    last.dedup();
    last.join(" | ")
}
