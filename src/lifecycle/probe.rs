//! Asking the runtime and the servers themselves what the cluster looks like right now.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::cluster::admin::Admin;
use crate::cluster::haproxy::ServerStat;
use crate::cluster::status::{NodeState, NodeStatus, ProcState, Role};
use crate::cluster::topology::{NodeSpec, Topology};
use crate::runtime::ClusterRuntime;

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Asks nodes for their role, keeping one connection per node between calls so that
/// repeated polls cost a query, not a login.
#[derive(Default)]
pub struct Prober {
    sessions: HashMap<String, Admin>,
}

impl Prober {
    /// One node's state and role; a frozen or dead server costs at most [`PROBE_TIMEOUT`].
    pub async fn probe_node(
        &mut self,
        rt: &dyn ClusterRuntime,
        topo: &Topology,
        node: &NodeSpec,
    ) -> NodeStatus {
        let proc_state = rt.node_state(node).await.ok().flatten();
        let mut address = None;
        let (state, role) = match proc_state {
            None | Some(ProcState::Stopped) => (NodeState::Stopped, Role::Unknown),
            Some(ProcState::Paused) => (NodeState::Paused, Role::Unknown),
            Some(ProcState::Running) => {
                match self.ask_role(rt.client_addr(node), topo, &node.name).await {
                    Some((standby, addr)) => {
                        address = addr;
                        let role = if standby {
                            Role::Replica
                        } else {
                            Role::Primary
                        };
                        (NodeState::Running, role)
                    }
                    None => (NodeState::Unreachable, Role::Unknown),
                }
            }
        };
        if role == Role::Unknown {
            self.sessions.remove(&node.name);
        }
        NodeStatus {
            name: node.name.clone(),
            role,
            state,
            // What the server itself says; the configured address when it cannot be asked.
            address: match address {
                Some(a) => a,
                None => rt.node_ip(node).await.unwrap_or_default(),
            },
            port: node.port,
            connect: rt.client_addr(node).to_string(),
        }
    }

    async fn ask_role(
        &mut self,
        addr: SocketAddr,
        topo: &Topology,
        name: &str,
    ) -> Option<(bool, Option<String>)> {
        let sessions = &mut self.sessions;
        let ask = async {
            if !sessions.contains_key(name) {
                let admin = Admin::tcp(addr, &topo.credentials, "postgres").await.ok()?;
                sessions.insert(name.to_string(), admin);
            }
            sessions.get(name)?.role_and_address().await.ok()
        };
        tokio::time::timeout(PROBE_TIMEOUT, ask)
            .await
            .ok()
            .flatten()
    }

    /// Every node; a dead node's timeout is paid once per call, not once per node.
    pub async fn probe_nodes(
        &mut self,
        rt: &dyn ClusterRuntime,
        topo: &Topology,
    ) -> Vec<NodeStatus> {
        // Connections are taken out so each node's probe can run concurrently.
        let mut probes = Vec::new();
        for node in &topo.nodes {
            let mut own = Prober::default();
            if let Some(s) = self.sessions.remove(&node.name) {
                own.sessions.insert(node.name.clone(), s);
            }
            probes.push(async move {
                let status = own.probe_node(rt, topo, node).await;
                (status, own)
            });
        }
        let mut out = Vec::new();
        for (status, own) in futures::future::join_all(probes).await {
            self.sessions.extend(own.sessions);
            out.push(status);
        }
        out
    }
}

pub async fn probe_node(rt: &dyn ClusterRuntime, topo: &Topology, node: &NodeSpec) -> NodeStatus {
    Prober::default().probe_node(rt, topo, node).await
}

pub async fn probe_nodes(rt: &dyn ClusterRuntime, topo: &Topology) -> Vec<NodeStatus> {
    Prober::default().probe_nodes(rt, topo).await
}

pub async fn proxy_stats(rt: &dyn ClusterRuntime) -> Option<Vec<ServerStat>> {
    let csv = rt.proxy_api("show stat").await.ok()?;
    Some(crate::cluster::haproxy::parse_stat_csv(&csv))
}
