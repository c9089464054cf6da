//! What the cluster looks like right now, asked of the runtime and the servers themselves.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

use super::admin::Admin;
use super::haproxy::{READ_BACKEND, ServerStat, WRITE_BACKEND};
use super::topology::{NodeSpec, Topology};
use crate::runtime::{ClusterRuntime, ProcState, RuntimeKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Primary,
    Replica,
    Unknown,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Replica => "replica",
            Role::Unknown => "unknown",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    Running,
    Stopped,
    Paused,
    /// The process runs but does not answer SQL.
    Unreachable,
}

impl NodeState {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Running => "running",
            NodeState::Stopped => "stopped",
            NodeState::Paused => "paused",
            NodeState::Unreachable => "unreachable",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    pub name: String,
    pub role: Role,
    pub state: NodeState,
    /// What `inet_server_addr()` returns on this node.
    pub address: String,
    pub port: u16,
    /// Where clients on this machine reach the node directly (`psql -h … -p …`).
    pub connect: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EndpointsView {
    pub write: String,
    pub read: String,
    pub stats: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct ClusterStatus {
    pub name: String,
    pub runtime: RuntimeKind,
    pub endpoints: EndpointsView,
    pub nodes: Vec<NodeStatus>,
    pub haproxy: Vec<ServerStat>,
}

impl ClusterStatus {
    pub fn primaries(&self) -> Vec<&NodeStatus> {
        self.nodes
            .iter()
            .filter(|n| n.role == Role::Primary)
            .collect()
    }
}

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

pub async fn cluster_status(rt: &dyn ClusterRuntime, topo: &Topology) -> ClusterStatus {
    let (nodes, stats) = tokio::join!(probe_nodes(rt, topo), proxy_stats(rt));
    ClusterStatus {
        name: topo.cluster.clone(),
        runtime: rt.kind(),
        endpoints: EndpointsView {
            write: topo.endpoints.write.to_string(),
            read: topo.endpoints.read.to_string(),
            stats: topo.endpoints.stats.to_string(),
        },
        nodes,
        haproxy: stats.unwrap_or_default(),
    }
}

pub async fn proxy_stats(rt: &dyn ClusterRuntime) -> Option<Vec<ServerStat>> {
    let csv = rt.proxy_api("show stat").await.ok()?;
    Some(super::haproxy::parse_stat_csv(&csv))
}

/// Which servers HAProxy should have UP for these roles: the primary alone for writes,
/// every answering replica for reads.
pub fn expected_up(nodes: &[NodeStatus]) -> Vec<(&'static str, String, bool)> {
    let mut want = Vec::new();
    for n in nodes {
        want.push((WRITE_BACKEND, n.name.clone(), n.role == Role::Primary));
        want.push((READ_BACKEND, n.name.clone(), n.role == Role::Replica));
    }
    want
}

/// The servers whose HAProxy state still differs from `expected_up`; empty when settled.
/// A server counts as settled once a check has run and its state matches its role.
pub fn unsettled(nodes: &[NodeStatus], stats: &[ServerStat]) -> Vec<String> {
    expected_up(nodes)
        .into_iter()
        .filter(|(backend, server, up)| {
            let row = stats
                .iter()
                .find(|s| s.backend == *backend && s.server == *server);
            match row {
                None => true,
                Some(s) if *up => !(s.is_up() && s.checked()),
                Some(s) => !(s.status.starts_with("DOWN") || s.status.starts_with("MAINT")),
            }
        })
        .map(|(backend, server, up)| {
            format!("{backend}/{server} {}", if up { "UP" } else { "DOWN" })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, role: Role) -> NodeStatus {
        NodeStatus {
            name: name.into(),
            role,
            state: NodeState::Running,
            address: "127.0.0.1".into(),
            port: 5432,
            connect: "127.0.0.1:5432".into(),
        }
    }

    fn stat(backend: &str, server: &str, status: &str, check: &str) -> ServerStat {
        ServerStat {
            backend: backend.into(),
            server: server.into(),
            status: status.into(),
            check_status: check.into(),
            check_duration_ms: None,
            current_sessions: 0,
            total_sessions: 0,
            last_change_s: None,
        }
    }

    #[test]
    fn settled_means_primary_alone_writes_and_replicas_read() {
        let nodes = [
            node("pg1", Role::Primary),
            node("pg2", Role::Replica),
            node("pg3", Role::Unknown),
        ];
        let good = [
            stat("write", "pg1", "UP", "L7OK"),
            stat("write", "pg2", "DOWN", "L7RSP"),
            stat("write", "pg3", "DOWN", "L4CON"),
            stat("read", "pg1", "DOWN", "L7RSP"),
            stat("read", "pg2", "UP", "L7OK"),
            stat("read", "pg3", "DOWN", "L4CON"),
        ];
        assert!(unsettled(&nodes, &good).is_empty());

        // Before the first checks HAProxy shows every server UP: not settled.
        let mut early = good.clone();
        early[1] = stat("write", "pg2", "UP 1/2", "L7RSP");
        early[4] = stat("read", "pg2", "UP", "INI");
        assert_eq!(unsettled(&nodes, &early), ["write/pg2 DOWN", "read/pg2 UP"]);

        // A server HAProxy does not know yet is not settled either.
        assert_eq!(unsettled(&nodes, &good[..5]), ["read/pg3 DOWN"]);
    }
}
