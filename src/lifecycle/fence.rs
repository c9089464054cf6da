//! Keeping one writable primary: fenced nodes held out of HAProxy and never started as they
//! are, a stale primary stopped before another is promoted, and a split brain, however it
//! came about, resolved in favour of the newest timeline.

use super::Cluster;
use crate::cluster::admin::Admin;
use crate::cluster::fencing::{Fence, FenceKind, split_brain_winner};
use crate::cluster::haproxy::{READ_BACKEND, WRITE_BACKEND, state_file};
use crate::cluster::status::{NodeState, NodeStatus, Role};
use crate::cluster::topology::{NodeSpec, Topology};
use crate::error::{Error, Result};
use crate::lifecycle::probe::{probe_nodes, proxy_stats};
use crate::runtime::NodeSignal;

/// Two nodes accepted writes at once; what the cluster did about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitBrain {
    /// Every node that accepted writes.
    pub writable: Vec<String>,
    /// The one on the newest timeline, which keeps the write endpoint.
    pub keeps_writes: String,
}

impl Cluster {
    /// Why `node` must not start as it is, if it must not: it is fenced, or its data says
    /// primary while the record names another.
    pub async fn fence_on(&self, node: &NodeSpec) -> Result<Option<Fence>> {
        let authority = &self.record.authority;
        if let Some(f) = authority.fence_of(&node.name) {
            return Ok(Some(f.clone()));
        }
        let Some(primary) = authority.primary.as_deref() else {
            return Ok(None);
        };
        if primary == node.name || self.rt.is_standby(node).await? {
            return Ok(None);
        }
        Ok(Some(Fence {
            node: node.name.clone(),
            kind: FenceKind::FormerPrimary,
            why: format!(
                "{} has a primary's data but {primary} is the cluster's primary (timeline {})",
                node.name, authority.timeline
            ),
        }))
    }

    /// The error for starting a fenced node without `--force`.
    pub(super) fn refuse_start(&self, fence: &Fence) -> Error {
        let n = &fence.node;
        let started_as = match fence.kind {
            FenceKind::FormerPrimary => "a second primary",
            FenceKind::Diverged => "a standby that cannot follow and serves rows the primary lacks",
        };
        Error::new(format!(
            "{}; started as it is, {n} would be {started_as}. `replica-lab node rewind {n}` makes it a \
             standby of the primary; `--force` starts it anyway (fenced: HAProxy keeps it out of both endpoints)",
            fence.why
        ))
    }

    /// Stops a node that must not accept writes: a clean stop when it answers (its standbys get
    /// its last WAL), SIGKILL when it is frozen or hangs.
    pub(super) async fn stop_rival(&self, status: &NodeStatus) -> Result<()> {
        let Some(node) = self.topology().node(&status.name).cloned() else {
            return Ok(());
        };
        match status.state {
            NodeState::Stopped => Ok(()),
            NodeState::Running => self.rt.stop_node(&node).await,
            NodeState::Paused => {
                // A frozen process cannot be stopped cleanly, and an engine refuses to kill a
                // paused container: thaw it and kill it at once.
                self.rt.signal_node(&node, NodeSignal::Resume).await?;
                self.rt.signal_node(&node, NodeSignal::Kill).await
            }
            NodeState::Unreachable => self.rt.signal_node(&node, NodeSignal::Kill).await,
        }
    }

    /// Puts fenced nodes in maintenance in both backends, and takes out of maintenance the
    /// ones no longer fenced, so HAProxy's checks decide for them again.
    pub async fn apply_fences(&self, topo: &Topology) -> Result<()> {
        let mut stats = proxy_stats(self.rt.as_ref()).await;
        // A HAProxy container just (re)created answers its API a moment after it starts, and
        // its checks would bring a fenced node UP soon after: wait for the API, briefly.
        let wanted = !self.record.authority.fenced.is_empty();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while stats.is_none() && wanted && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            stats = proxy_stats(self.rt.as_ref()).await;
        }
        let Some(stats) = stats else {
            return Ok(());
        };
        for s in &stats {
            if s.backend != WRITE_BACKEND && s.backend != READ_BACKEND {
                continue;
            }
            if topo.node(&s.server).is_none() {
                continue;
            }
            let fenced = self.record.authority.fence_of(&s.server).is_some();
            // Only our own maintenance counts: `MAINT (resolution)` is a Docker name that does
            // not resolve while its container is stopped, and comes back UP when it starts.
            let in_maint = s.status == "MAINT";
            let cmd = match (fenced, in_maint) {
                (true, false) => format!("set server {}/{} state maint", s.backend, s.server),
                // Back as DOWN, so it takes traffic only once its check has seen its role.
                (false, true) => state_file::release_commands(&s.backend, &s.server),
                _ => continue,
            };
            self.rt.proxy_api(&cmd).await?;
        }
        Ok(())
    }

    /// Finds two nodes accepting writes (a learner's own `pg_promote()`, a forced start) and
    /// settles it: the one on the newest timeline becomes the record's primary, the others
    /// are fenced out of HAProxy. Nothing is stopped: the stale one's rows are still there to
    /// be saved before a rewind discards them.
    pub async fn settle_split_brain(&mut self) -> Result<Option<SplitBrain>> {
        let _lock = self.lock().await?;
        self.settle_split_brain_now().await
    }

    /// [`Cluster::settle_split_brain`], for a caller that holds the cluster's lock.
    pub(super) async fn settle_split_brain_now(&mut self) -> Result<Option<SplitBrain>> {
        let topo = self.topology();
        let nodes = probe_nodes(self.rt.as_ref(), &topo).await;
        let mut writable = Vec::new();
        for n in nodes.iter().filter(|n| n.role == Role::Primary) {
            let Some(spec) = topo.node(&n.name) else {
                continue;
            };
            let tl =
                match Admin::tcp(self.rt.client_addr(spec), &topo.credentials, "postgres").await {
                    Ok(a) => a.primary_timeline().await.ok().flatten(),
                    Err(_) => None,
                };
            writable.push((n.name.clone(), tl));
        }
        let recorded = self.record.authority.primary.clone();
        let Some(winner) = split_brain_winner(&writable, recorded.as_deref()) else {
            return Ok(None);
        };
        let winner = winner.to_string();
        let mut record = self.current_record()?;
        let auth = &mut record.authority;
        if auth.primary.as_deref() != Some(winner.as_str()) {
            let tl = writable
                .iter()
                .find(|(n, _)| *n == winner)
                .and_then(|(_, t)| *t)
                .unwrap_or(auth.timeline);
            auth.promoted(&winner, tl, None);
        }
        for (n, tl) in writable.iter().filter(|(n, _)| *n != winner) {
            if auth.fence_of(n).is_none() {
                let on = tl.map(|t| format!(" on timeline {t}")).unwrap_or_default();
                auth.fence(
                    n,
                    FenceKind::FormerPrimary,
                    format!("{n} accepted writes{on} while {winner} was primary (split brain)"),
                );
            }
        }
        record.save(&self.dir)?;
        self.record = record;
        self.apply_fences(&topo).await?;
        Ok(Some(SplitBrain {
            writable: writable.into_iter().map(|(n, _)| n).collect(),
            keeps_writes: winner,
        }))
    }
}
