//! Operations on one node: the faults lessons inflict and the repairs they teach.

use std::time::{Duration, Instant};

use super::Cluster;
use crate::cluster::admin::Admin;
use crate::cluster::node_op::NodeOp;
use crate::cluster::status::ProcState;
use crate::cluster::topology::{NodeSpec, Topology};
use crate::error::{Error, Result};
use crate::runtime::NodeSignal;

impl Cluster {
    /// Runs `op` on `name`; repeating an operation whose effect is already there is a no-op
    /// with a note, not an error.
    /// `force` lets a fenced node start as it is and a promotion stop the running primary or
    /// lose the WAL another standby has.
    pub(super) async fn node_op_now(&self, op: NodeOp, name: &str, force: bool) -> Result<()> {
        let topo = self.topology();
        let node = topo.node(name).cloned().ok_or_else(|| {
            let names: Vec<&str> = topo.nodes.iter().map(|n| n.name.as_str()).collect();
            Error::new(format!(
                "no node {name:?} in cluster {}: its nodes are {}",
                topo.cluster,
                names.join(", ")
            ))
        })?;
        let state = self.rt.node_state(&node).await?.ok_or_else(|| {
            Error::new(format!(
                "{name} has no data: remove the cluster with `replica-lab down --name {}` and start again",
                topo.cluster
            ))
        })?;
        let already = |what: &str| {
            self.note(format!("{name} is already {what}"));
            Ok(())
        };
        // pg_rewind and the re-clone behind it read from the primary: cut off, they would
        // wait for a network that is not there.
        if op == NodeOp::Rewind && self.rt.is_partitioned(&node).await? {
            return Err(Error::new(format!(
                "{name} is cut off from the cluster's network, and a rewind needs the primary: \
                 `replica-lab node heal {name}` first"
            )));
        }
        match (op, state) {
            (NodeOp::Stop, ProcState::Stopped) => already("stopped"),
            (NodeOp::Stop, _) => self.rt.stop_node(&node).await,
            (NodeOp::Start, ProcState::Running) => already("running"),
            (NodeOp::Start, ProcState::Paused) => Err(paused(name)),
            (NodeOp::Start, ProcState::Stopped) => self.start_checked(&node, force).await,
            (NodeOp::Kill, ProcState::Stopped) => already("stopped"),
            (NodeOp::Kill, _) => self.rt.signal_node(&node, NodeSignal::Kill).await,
            (NodeOp::Pause, ProcState::Paused) => already("paused"),
            (NodeOp::Pause, ProcState::Running) => {
                self.rt.signal_node(&node, NodeSignal::Pause).await
            }
            (NodeOp::Resume, ProcState::Running) => already("running"),
            (NodeOp::Resume, ProcState::Paused) => {
                self.rt.signal_node(&node, NodeSignal::Resume).await?;
                // A promotion while it was frozen could not repoint it.
                self.follow_primary(&topo, &node).await
            }
            (NodeOp::Pause | NodeOp::Resume, ProcState::Stopped) => Err(not_running(name)),
            (NodeOp::Promote, ProcState::Running) => self.promote(&topo, &node, force).await,
            (NodeOp::Promote, ProcState::Paused) => Err(paused(name)),
            (NodeOp::Promote, ProcState::Stopped) => Err(not_running(name)),
            (NodeOp::Rewind, ProcState::Stopped) => self.rejoin(&topo, &node).await,
            // A diverged standby serves nothing anyway: stop it on the way.
            (NodeOp::Rewind, ProcState::Running)
                if self.record.authority.fence_of(name).is_some() =>
            {
                self.rt.stop_node(&node).await?;
                self.rejoin(&topo, &node).await
            }
            (NodeOp::Partition | NodeOp::Heal, _) => {
                let cut = op == NodeOp::Partition;
                if self.rt.is_partitioned(&node).await? == cut {
                    return already(if cut { "partitioned" } else { "connected" });
                }
                self.rt.set_partitioned(&node, cut).await?;
                if cut {
                    return Ok(());
                }
                self.follow_primary(&topo, &node).await
            }
            (NodeOp::Rewind, _) => Err(Error::new(format!(
                "{name} is running; pg_rewind needs it stopped: `replica-lab node stop {name}` first"
            ))),
        }
    }

    /// Starts a stopped node, unless it is fenced and not forced.
    async fn start_checked(&self, node: &NodeSpec, force: bool) -> Result<()> {
        match self.fence_on(node).await? {
            Some(fence) if !force => Err(self.refuse_start(&fence)),
            Some(fence) => {
                let mut record = self.current_record()?;
                if record.authority.fence_of(&node.name).is_none() {
                    record
                        .authority
                        .fence(&node.name, fence.kind, fence.why.clone());
                    record.save(&self.dir)?;
                }
                let mut now = self.clone();
                now.record = record;
                now.apply_fences(&now.topology()).await?;
                self.rt.start_node(node).await?;
                self.note(format!(
                    "{} started as it is ({}); it is fenced: HAProxy keeps it out of both \
                     endpoints until `replica-lab node rewind {}`",
                    node.name,
                    fence.kind.as_str(),
                    node.name
                ));
                Ok(())
            }
            None => self.rt.start_node(node).await,
        }
    }

    /// pg_rewind against the current primary, then restart as its standby.
    async fn rejoin(&self, topo: &Topology, node: &NodeSpec) -> Result<()> {
        let primary = self.primary(topo).await?;
        let admin =
            Admin::tcp(self.rt.client_addr(&primary), &topo.credentials, "postgres").await?;
        admin.ensure_slot(&node.slot_name()).await?;
        // Right after a promotion the new primary's control file still names the old
        // timeline until its first checkpoint, and pg_rewind would wrongly find nothing to do.
        admin.checkpoint().await?;
        // A crashed node gets crash recovery in single-user mode first, which refuses to run
        // as a standby; the node becomes one again right after.
        let plain = self.rt.node_conf(node).render(&topo.credentials);
        self.rt.configure_node(node, &plain, false).await?;
        self.rt.rewind(node, &primary, topo).await?;
        let conf = self.rt.standby_conf(node, &primary);
        self.rt
            .configure_node(node, &conf.render(&topo.credentials), true)
            .await?;
        self.rt.start_node(node).await?;
        self.wait_streaming(topo, &primary, node).await?;
        let mut record = self.current_record()?;
        if record.authority.fence_of(&node.name).is_some() {
            record.authority.unfence(&node.name);
            record.save(&self.dir)?;
            let mut now = self.clone();
            now.record = record;
            now.apply_fences(topo).await?;
        }
        Ok(())
    }

    async fn wait_streaming(
        &self,
        topo: &Topology,
        primary: &NodeSpec,
        node: &NodeSpec,
    ) -> Result<()> {
        let admin = Admin::tcp(self.rt.client_addr(primary), &topo.credentials, "postgres").await?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if admin.streaming_standbys().await?.contains(&node.name) {
                self.note(format!("{} streams from {}", node.name, primary.name));
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(Error::new(format!(
            "{} started but does not stream from {} after 60 s: see its server log",
            node.name, primary.name
        )))
    }
}

fn paused(name: &str) -> Error {
    Error::new(format!(
        "{name} is paused: `replica-lab node resume {name}` first"
    ))
}

fn not_running(name: &str) -> Error {
    Error::new(format!(
        "{name} is not running: `replica-lab node start {name}` first"
    ))
}
