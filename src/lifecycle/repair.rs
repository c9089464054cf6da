//! Bringing back the nodes of a cluster that was cut short: by a crash of the machine, of the
//! app, or of a command in the middle of cloning. The primary comes first; a replica whose
//! data is missing or will not start is cloned again, since a replica holds nothing the
//! primary lacks; a fenced node stays stopped.

use super::Cluster;
use crate::cluster::admin::Admin;
use crate::cluster::status::ProcState;
use crate::cluster::topology::{NodeSpec, Topology};
use crate::error::{Error, Result};
use crate::runtime::NodeSignal;

impl Cluster {
    /// Starts or resumes what is not running; returns what it did, node by node.
    pub(super) async fn bring_back_nodes(&self, topo: &Topology) -> Result<Vec<String>> {
        let primary_name = self
            .record
            .authority
            .primary
            .clone()
            .or_else(|| topo.nodes.first().map(|n| n.name.clone()))
            .unwrap_or_default();
        let primary = topo.node(&primary_name).cloned().ok_or_else(|| {
            Error::new(format!(
                "the cluster record names {primary_name} as primary, but it has no such node: \
                 remove the cluster with `replica-lab down --name {}` and run `up` again",
                topo.cluster
            ))
        })?;
        let mut done = Vec::new();
        // The primary first: a replica that must be cloned again needs it.
        if let Some(what) = self.bring_back_primary(&primary, topo).await? {
            done.push(what);
        }
        for node in topo.nodes.iter().filter(|n| n.name != primary.name) {
            if let Some(what) = self.bring_back_replica(node, &primary, topo).await? {
                done.push(what);
            }
        }
        Ok(done)
    }

    async fn bring_back_primary(&self, node: &NodeSpec, topo: &Topology) -> Result<Option<String>> {
        match self.rt.node_state(node).await? {
            None => Err(Error::new(format!(
                "{}, the primary, has no data left: remove the cluster with `replica-lab down --name {}` \
                 and run `up` again",
                node.name, topo.cluster
            ))),
            Some(ProcState::Running) => Ok(None),
            Some(ProcState::Paused) => {
                self.rt.signal_node(node, NodeSignal::Resume).await?;
                Ok(Some(format!("{} (resumed)", node.name)))
            }
            Some(ProcState::Stopped) => {
                self.rt.start_node(node).await.map_err(|e| {
                    Error::new(format!(
                        "{e}; {} is the primary, so nothing was cloned over it: see its server log",
                        node.name
                    ))
                })?;
                Ok(Some(node.name.clone()))
            }
        }
    }

    async fn bring_back_replica(
        &self,
        node: &NodeSpec,
        primary: &NodeSpec,
        topo: &Topology,
    ) -> Result<Option<String>> {
        if self.record.cloning.contains(&node.name) {
            return self
                .clone_again(node, primary, topo, "its clone was cut short")
                .await;
        }
        let state = self.rt.node_state(node).await?;
        if state == Some(ProcState::Stopped) {
            if let Some(fence) = self.fence_on(node).await? {
                self.note(format!(
                    "{} left stopped: {}; `replica-lab node rewind {}` makes it a standby",
                    node.name, fence.why, node.name
                ));
                return Ok(None);
            }
        }
        let why = match state {
            Some(ProcState::Running) => return Ok(None),
            Some(ProcState::Paused) => {
                self.rt.signal_node(node, NodeSignal::Resume).await?;
                return Ok(Some(format!("{} (resumed)", node.name)));
            }
            Some(ProcState::Stopped) => match self.rt.start_node(node).await {
                Ok(()) => return Ok(Some(node.name.clone())),
                Err(e) => format!("it did not start ({e})"),
            },
            None => "its data is missing".to_string(),
        };
        self.clone_again(node, primary, topo, &why).await
    }

    /// What a replica has, the primary has too: a damaged or half-made one is made anew.
    async fn clone_again(
        &self,
        node: &NodeSpec,
        primary: &NodeSpec,
        topo: &Topology,
        why: &str,
    ) -> Result<Option<String>> {
        self.note(format!(
            "{}: {why}; cloning it again from {}",
            node.name, primary.name
        ));
        self.rt.remove_node(node).await?;
        Admin::tcp(self.rt.client_addr(primary), &topo.credentials, "postgres")
            .await?
            .ensure_slot(&node.slot_name())
            .await?;
        self.add_replica(node, primary, topo).await?;
        let mut record = self.current_record()?;
        if record.cloning.contains(&node.name) {
            record.cloning.retain(|n| *n != node.name);
            record.save(&self.dir)?;
        }
        Ok(Some(format!("{} (cloned again)", node.name)))
    }
}
