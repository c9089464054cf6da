//! What the cluster looks like right now, as plain data: roles, node states, and which
//! HAProxy servers should be UP for them. `lifecycle::probe` asks the servers.

use serde::{Deserialize, Serialize};

use super::haproxy::{READ_BACKEND, ServerStat, WRITE_BACKEND};

/// What the operating system says about a node's server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcState {
    Running,
    /// Frozen with SIGSTOP (or `docker pause`).
    Paused,
    Stopped,
}

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
