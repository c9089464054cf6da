//! The cluster as plain data: which nodes exist, where they listen, how clients reach them.
//! Nothing here knows whether the nodes are processes or containers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use serde::{Deserialize, Serialize};

use crate::settings::{Credentials, Settings};

/// Where HAProxy listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    pub write: SocketAddr,
    pub read: SocketAddr,
    pub stats: SocketAddr,
}

/// One PostgreSQL server. `index` 1 is the first primary; names never change, roles do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSpec {
    pub name: String,
    pub index: u8,
    /// The address the server itself listens on, and what `inet_server_addr()` returns there.
    pub host: IpAddr,
    pub port: u16,
}

impl NodeSpec {
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }

    /// The physical replication slot this node streams from, on whichever node is primary.
    pub fn slot_name(&self) -> String {
        self.name.clone()
    }
}

/// How local nodes get distinct addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeAddressing {
    /// One loopback address per node (127.0.0.11, .12, …), all on the same port, so
    /// `inet_server_addr()` tells nodes apart as it does between containers.
    LoopbackAliases,
    /// Only 127.0.0.1 is usable (or Docker publishes there): one port per node instead,
    /// pgN on `node_ports_from + N - 1`.
    DistinctPorts,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    pub cluster: String,
    pub nodes: Vec<NodeSpec>,
    pub endpoints: Endpoints,
    pub credentials: Credentials,
    /// The address a local HAProxy connects to the nodes from, the only one the health-check
    /// login is let in from: `node_base` on loopback aliases (no node has index 0), 127.0.0.1
    /// where every node shares it. Containers use their HAProxy's network address instead.
    pub proxy_source: IpAddr,
    #[serde(default)]
    pub exposure: Exposure,
}

/// What changes when the endpoints listen beyond loopback.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exposure {
    /// The servers speak TLS, with the cluster's own certificate (see `certs`).
    pub tls: bool,
    /// The only logins HAProxy's endpoints let in, over TLS; empty lets every login in.
    pub endpoint_logins: Vec<String>,
}

impl Exposure {
    pub fn of(settings: &Settings) -> Self {
        if !settings.exposed() {
            return Exposure::default();
        }
        Exposure {
            tls: true,
            endpoint_logins: settings.endpoint_logins.clone(),
        }
    }
}

pub fn node_name(index: u8) -> String {
    format!("pg{index}")
}

/// Parses `pg3` into 3; anything else (`pg03`, `pg+3`, `pg0`, `pg300`) is not a node name.
pub fn node_index(name: &str) -> Option<u8> {
    let digits = name.strip_prefix("pg")?;
    if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|i| *i >= 1)
}

/// The nodes a new cluster starts with: pg1 plus `replicas` more.
pub fn initial_indexes(settings: &Settings) -> Vec<u8> {
    (1..=settings.replicas + 1).collect()
}

pub fn node_spec(settings: &Settings, addressing: NodeAddressing, index: u8) -> NodeSpec {
    let (host, port) = match addressing {
        NodeAddressing::LoopbackAliases => {
            let base = u32::from(settings.node_base);
            (
                IpAddr::V4(Ipv4Addr::from(base + u32::from(index))),
                settings.node_port,
            )
        }
        // A block of its own, apart from the endpoints: `node_port + index` once put pg3 and
        // pg4 on the write and read endpoints. Validated settings hold every index up to
        // MAX_NODES; saturating keeps an unvalidated one from wrapping onto low ports.
        NodeAddressing::DistinctPorts => (
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            settings
                .node_ports_from
                .saturating_add(u16::from(index).saturating_sub(1)),
        ),
    };
    NodeSpec {
        name: node_name(index),
        index,
        host,
        port,
    }
}

impl Topology {
    /// A topology for nodes `pg1..=pgN` with the given indexes.
    pub fn new(settings: &Settings, addressing: NodeAddressing, indexes: &[u8]) -> Self {
        let host = settings.bind_host;
        Topology {
            cluster: settings.name.clone(),
            nodes: indexes
                .iter()
                .map(|i| node_spec(settings, addressing, *i))
                .collect(),
            endpoints: Endpoints {
                write: SocketAddr::new(host, settings.write_port),
                read: SocketAddr::new(host, settings.read_port),
                stats: SocketAddr::new(settings.stats_host(), settings.stats_port),
            },
            credentials: settings.credentials(),
            proxy_source: match addressing {
                NodeAddressing::LoopbackAliases => IpAddr::V4(settings.node_base),
                NodeAddressing::DistinctPorts => IpAddr::V4(Ipv4Addr::LOCALHOST),
            },
            exposure: Exposure::of(settings),
        }
    }

    /// The initial layout: pg1 plus `replicas` more.
    pub fn initial(settings: &Settings, addressing: NodeAddressing) -> Self {
        Self::new(settings, addressing, &initial_indexes(settings))
    }

    pub fn node(&self, name: &str) -> Option<&NodeSpec> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The lowest index no node uses, so addresses stay in a small, predictable range.
    pub fn free_index(&self) -> u8 {
        (1..=u8::MAX)
            .find(|i| self.nodes.iter().all(|n| n.index != *i))
            .unwrap_or(u8::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_round_trip_and_reject_lookalikes() {
        assert_eq!(node_name(3), "pg3");
        assert_eq!(node_index("pg3"), Some(3));
        assert_eq!(node_index("pg10"), Some(10));
        for bad in [
            "pg0", "pg", "pg03", "PG3", "node3", "pg-1", "pg+3", "pg3x", "pg300",
        ] {
            assert_eq!(node_index(bad), None, "{bad}");
        }
    }

    #[test]
    fn aliases_give_each_node_its_own_address_on_one_port() {
        let s = Settings::default();
        let t = Topology::initial(&s, NodeAddressing::LoopbackAliases);
        let addrs: Vec<String> = t
            .nodes
            .iter()
            .map(|n| n.socket_addr().to_string())
            .collect();
        assert_eq!(
            addrs,
            [
                "127.0.0.11:5432",
                "127.0.0.12:5432",
                "127.0.0.13:5432",
                "127.0.0.14:5432"
            ]
        );
        assert_eq!(t.endpoints.write.to_string(), "127.0.0.1:5435");
        assert_eq!(t.endpoints.read.to_string(), "127.0.0.1:5436");
        assert_eq!(t.endpoints.stats.to_string(), "127.0.0.1:8404");
        // HAProxy's own address is none of the nodes'.
        assert_eq!(t.proxy_source.to_string(), "127.0.0.10");
        assert!(t.nodes.iter().all(|n| n.host != t.proxy_source));
    }

    #[test]
    fn distinct_ports_keep_every_node_on_localhost() {
        let s = Settings {
            replicas: 2,
            node_ports_from: 7001,
            ..Settings::default()
        };
        let t = Topology::initial(&s, NodeAddressing::DistinctPorts);
        let addrs: Vec<String> = t
            .nodes
            .iter()
            .map(|n| n.socket_addr().to_string())
            .collect();
        assert_eq!(
            addrs,
            ["127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"]
        );
    }

    /// The fault the defaults once had: on distinct ports, no node of any size of cluster
    /// lands on an endpoint.
    #[test]
    fn default_distinct_ports_stay_off_the_endpoints() {
        let s = Settings::default();
        let all: Vec<u8> = (1..=crate::settings::MAX_NODES).collect();
        let t = Topology::new(&s, NodeAddressing::DistinctPorts, &all);
        let ports: Vec<u16> = t.nodes.iter().map(|n| n.port).collect();
        assert_eq!(ports, (15431..=15440).collect::<Vec<u16>>());
        for n in &t.nodes {
            for e in [t.endpoints.write, t.endpoints.read, t.endpoints.stats] {
                assert_ne!(n.port, e.port(), "{} on {e}", n.name);
            }
        }
    }

    #[test]
    fn free_index_fills_the_lowest_gap() {
        let s = Settings::default();
        let t = Topology::new(&s, NodeAddressing::LoopbackAliases, &[1, 2, 5]);
        assert_eq!(t.free_index(), 3);
        assert!(t.node("pg5").is_some());
        assert!(t.node("pg3").is_none());
    }
}
