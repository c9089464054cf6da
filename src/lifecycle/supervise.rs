//! What the app does on its own while it holds a cluster (the app, `status --watch`): keeps
//! HAProxy running with the cluster's current config, keeps fenced nodes out of it, and
//! settles a split brain however it came about.
//!
//! Every duty runs under the cluster's lock, taken only when free: a command in progress
//! (another terminal's `scale`, the app's own promote) is never raced, and the duty runs on
//! the next tick instead.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Cluster;
use super::fence::SplitBrain;
use crate::cluster::state::{ClusterLock, ClusterRecord, cluster_dir};
use crate::runtime::ClusterRuntime;

/// What a duty did, for the front-end to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Supervised {
    /// HAProxy was not running; it runs again with the current config.
    ProxyRestarted { took: Duration },
    /// HAProxy was not running and could not be started.
    ProxyRestartFailed(String),
    /// Two nodes accepted writes; the newest timeline keeps the write endpoint.
    SplitBrain(SplitBrain),
}

impl Supervised {
    /// One line for the user.
    pub fn describe(&self) -> String {
        match self {
            Supervised::ProxyRestarted { took } => format!(
                "HAProxy had stopped; restarted it with the current config in {:.1} s",
                took.as_secs_f64()
            ),
            Supervised::ProxyRestartFailed(why) => format!(
                "HAProxy has stopped and could not be restarted: {why}. `replica-lab up` \
                 tries again and says why"
            ),
            Supervised::SplitBrain(sb) => {
                let others: Vec<&str> = sb
                    .writable
                    .iter()
                    .map(String::as_str)
                    .filter(|n| *n != sb.keeps_writes)
                    .collect();
                format!(
                    "split brain: {} all accept writes. {} (newest timeline) keeps the write \
                     endpoint; {} fenced out of HAProxy until `replica-lab node rewind`",
                    sb.writable.join(", "),
                    sb.keeps_writes,
                    others.join(", ")
                )
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct SuperviseConfig {
    /// How often HAProxy is looked at: a death is seen within this, and the restart follows.
    pub every: Duration,
    /// Split brains are looked for every this many ticks (it asks every node).
    pub split_brain_ticks: u32,
    /// After a failed restart, wait this long before trying again.
    pub retry_after: Duration,
}

impl Default for SuperviseConfig {
    fn default() -> Self {
        SuperviseConfig {
            every: Duration::from_millis(500),
            split_brain_ticks: 4,
            retry_after: Duration::from_secs(5),
        }
    }
}

/// The duties' task; they end when this is dropped.
pub struct Supervisor {
    task: JoinHandle<()>,
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the duties for cluster `name` under `root`. Reports go to `out`; when it is full
/// or closed they are dropped, never waited for.
pub fn supervise(
    rt: Arc<dyn ClusterRuntime>,
    root: PathBuf,
    name: String,
    config: SuperviseConfig,
    out: mpsc::Sender<Supervised>,
) -> Supervisor {
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(config.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut n: u32 = 0;
        let mut retry_at: Option<Instant> = None;
        let mut last_failure: Option<String> = None;
        loop {
            tick.tick().await;
            n = n.wrapping_add(1);
            let Some((mut cluster, _lock)) = held(&rt, &root, &name).await else {
                continue;
            };
            let cluster = &mut cluster;
            if retry_at.is_none_or(|at| Instant::now() >= at) {
                match proxy_duty(cluster).await {
                    ProxyDuty::Running => {
                        retry_at = None;
                        last_failure = None;
                    }
                    ProxyDuty::Restarted(took) => {
                        retry_at = None;
                        last_failure = None;
                        let _ = out.try_send(Supervised::ProxyRestarted { took });
                    }
                    ProxyDuty::Failed(why) => {
                        retry_at = Some(Instant::now() + config.retry_after);
                        // Tell once per cause, not every few seconds.
                        if last_failure.as_deref() != Some(why.as_str()) {
                            let _ = out.try_send(Supervised::ProxyRestartFailed(why.clone()));
                        }
                        last_failure = Some(why);
                    }
                    ProxyDuty::Unknown => {}
                }
            }
            if n % config.split_brain_ticks.max(1) == 0 {
                if let Ok(Some(sb)) = cluster.settle_split_brain_now().await {
                    let _ = out.try_send(Supervised::SplitBrain(sb));
                }
            }
        }
    });
    Supervisor { task }
}

/// The cluster as its record says now, with its lock. `None` when a command holds the lock,
/// or there is no cluster to look after (removed, or an `up` cut short that the next `up`
/// finishes).
async fn held(
    rt: &Arc<dyn ClusterRuntime>,
    root: &std::path::Path,
    name: &str,
) -> Option<(Cluster, ClusterLock)> {
    let (r, n) = (root.to_path_buf(), name.to_string());
    let lock = tokio::task::spawn_blocking(move || ClusterLock::try_acquire(&r, &n))
        .await
        .ok()?
        .ok()??;
    // Read under the lock: a `down` that finished before it removed the record.
    let dir = cluster_dir(root, name);
    let record = ClusterRecord::load(&dir).ok()??;
    if !record.complete {
        return None;
    }
    Some((Cluster::new(rt.clone(), root.to_path_buf(), record), lock))
}

enum ProxyDuty {
    Running,
    Restarted(Duration),
    Failed(String),
    /// The runtime could not say (an engine that does not answer): nothing to do yet.
    Unknown,
}

async fn proxy_duty(cluster: &Cluster) -> ProxyDuty {
    match cluster.rt.proxy_running().await {
        Ok(true) => {
            // Fences outlive HAProxy's own state: a reload from elsewhere must not undo them.
            let _ = cluster.apply_fences(&cluster.topology()).await;
            ProxyDuty::Running
        }
        Err(_) => ProxyDuty::Unknown,
        Ok(false) => {
            let started = Instant::now();
            let topo = cluster.topology();
            match cluster
                .rt
                .apply_proxy(&cluster.rt.proxy_config(&topo))
                .await
            {
                Ok(()) => {
                    let _ = cluster.apply_fences(&topo).await;
                    ProxyDuty::Restarted(started.elapsed())
                }
                Err(e) => ProxyDuty::Failed(e.to_string()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_brain_names_who_keeps_writes_and_who_is_fenced() {
        let line = Supervised::SplitBrain(SplitBrain {
            writable: vec!["pg1".into(), "pg2".into()],
            keeps_writes: "pg2".into(),
        })
        .describe();
        assert!(line.contains("pg1, pg2 all accept writes"), "{line}");
        assert!(line.contains("pg2 (newest timeline) keeps"), "{line}");
        assert!(line.contains("; pg1 fenced"), "{line}");
        let failed = Supervised::ProxyRestartFailed("port 5435 is busy".into()).describe();
        assert!(failed.contains("port 5435 is busy") && failed.contains("replica-lab up"));
    }
}
