//! Addresses a cluster is about to bind must be free, checked before anything starts, so a
//! busy port is one clear message instead of a half-made cluster.

use crate::cluster::state::ClusterRecord;
use crate::cluster::topology::{Topology, node_spec};
use crate::error::{Error, Result};
use crate::runtime::local::{port_holder, port_in_use};

/// Every address a new local cluster binds: endpoints, stats page and nodes.
pub fn check_new_cluster(topo: &Topology) -> Result<()> {
    let mut wanted = vec![
        (topo.endpoints.write, "write endpoint", "--write-port"),
        (topo.endpoints.read, "read endpoint", "--read-port"),
        (topo.endpoints.stats, "stats page", "--stats-port"),
    ];
    wanted.extend(
        topo.nodes
            .iter()
            .map(|n| (n.socket_addr(), "node", "--node-port")),
    );
    for (addr, what, flag) in wanted {
        if port_in_use(addr) {
            let holder = port_holder(addr.port())
                .map(|h| format!(" by {h}"))
                .unwrap_or_default();
            return Err(Error::new(format!(
                "port {} ({what} {addr}) is in use{holder}: free it, or choose another with {flag}",
                addr.port()
            )));
        }
    }
    Ok(())
}

/// The addresses of the local nodes scaling to `replicas` would add.
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
        if port_in_use(n.socket_addr()) {
            return Err(Error::new(format!(
                "address {} for the new node {} is in use: free it first",
                n.socket_addr(),
                n.name
            )));
        }
    }
    Ok(())
}
