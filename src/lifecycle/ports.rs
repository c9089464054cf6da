//! Addresses a cluster is about to bind must be free, checked before anything starts, so a
//! busy port is one clear message instead of a half-made cluster. Docker publishes nodes and
//! endpoints on host ports, so the same checks hold for both runtimes.

use std::net::SocketAddr;

use crate::cluster::state::ClusterRecord;
use crate::cluster::topology::{NodeAddressing, Topology, node_spec};
use crate::error::{Error, Result};
use crate::runtime::local::{port_holder, port_in_use};

/// The setting that moves a node's port under `addressing`.
fn node_flag(addressing: NodeAddressing) -> &'static str {
    match addressing {
        NodeAddressing::LoopbackAliases => "--node-port",
        NodeAddressing::DistinctPorts => "--node-ports-from",
    }
}

/// Nodes on loopback aliases share one port; on distinct ports each has its own.
fn addressing_of(topo: &Topology) -> NodeAddressing {
    if topo.nodes.windows(2).any(|w| w[0].port != w[1].port) {
        NodeAddressing::DistinctPorts
    } else {
        NodeAddressing::LoopbackAliases
    }
}

/// ` by PROCESS` when the OS says who holds the port.
fn held_by(addr: SocketAddr) -> String {
    port_holder(addr.port())
        .map(|h| format!(" by {h}"))
        .unwrap_or_default()
}

/// Every address a new cluster binds or publishes: endpoints, stats page and nodes.
pub fn check_new_cluster(topo: &Topology) -> Result<()> {
    let node = node_flag(addressing_of(topo));
    let mut wanted = vec![
        (topo.endpoints.write, "write endpoint", "--write-port"),
        (topo.endpoints.read, "read endpoint", "--read-port"),
        (topo.endpoints.stats, "stats page", "--stats-port"),
    ];
    wanted.extend(topo.nodes.iter().map(|n| (n.socket_addr(), "node", node)));
    for (addr, what, flag) in wanted {
        if port_in_use(addr) {
            return Err(Error::new(format!(
                "port {} ({what} {addr}) is in use{}: free it, or choose another with {flag}",
                addr.port(),
                held_by(addr)
            )));
        }
    }
    Ok(())
}

/// The addresses of the nodes scaling to `replicas` would add (bound by local processes,
/// published by Docker).
pub fn check_new_nodes(record: &ClusterRecord, replicas: u8) -> Result<()> {
    let mut topo = record.topology();
    let wanted = usize::from(replicas) + 1;
    while topo.nodes.len() < wanted {
        let i = topo.free_index();
        topo.nodes
            .push(node_spec(&record.settings, record.addressing, i));
    }
    for n in topo
        .nodes
        .iter()
        .filter(|n| !record.nodes.contains(&n.index))
    {
        let addr = n.socket_addr();
        if port_in_use(addr) {
            return Err(Error::new(format!(
                "port {} (the new node {} at {addr}) is in use{}: free it first, or scale \
                 to fewer replicas",
                addr.port(),
                n.name,
                held_by(addr)
            )));
        }
    }
    Ok(())
}
