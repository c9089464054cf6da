//! Where nodes run. The cluster logic in `cluster::ops` drives a runtime through these
//! primitives only, so every runtime bootstraps, clones, promotes and rewinds the same way.

pub mod binaries;
pub mod choose;
pub mod docker;
pub mod local;
pub mod process;

use std::net::SocketAddr;
use std::path::Path;

use async_trait::async_trait;

use crate::cluster::admin::Admin;
use crate::cluster::haproxy::{ProxyServer, node_target};
use crate::cluster::pgconf::NodeConf;
use crate::cluster::state::RuntimeKind;
use crate::cluster::status::ProcState;
use crate::cluster::topology::{NodeSpec, Topology};
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeSignal {
    Kill,
    Pause,
    Resume,
}

/// Everything that differs between processes and containers.
#[async_trait]
pub trait ClusterRuntime: Send + Sync {
    fn kind(&self) -> RuntimeKind;

    /// The folder that holds the cluster record (and, for processes, the nodes' data).
    fn cluster_dir(&self) -> &Path;

    /// Where replica-lab itself connects to a node.
    fn client_addr(&self, node: &NodeSpec) -> SocketAddr;

    /// The per-node settings file for `node`, before any upstream is added.
    fn node_conf(&self, node: &NodeSpec) -> NodeConf;

    /// Creates what the cluster needs before any node (folders, networks).
    async fn prepare(&self, topo: &Topology) -> Result<()>;

    /// `initdb` plus the shared configuration; the server is not started.
    async fn init_primary(&self, node: &NodeSpec, topo: &Topology) -> Result<()>;

    /// A superuser session over a private channel, for bootstrapping roles before any
    /// password exists.
    async fn bootstrap_session(&self, node: &NodeSpec) -> Result<Admin>;

    /// `pg_basebackup` from `primary` through the slot named after `node`.
    async fn clone_replica(
        &self,
        node: &NodeSpec,
        primary: &NodeSpec,
        topo: &Topology,
    ) -> Result<()>;

    /// `pg_rewind` of a stopped node against the running `primary`.
    async fn rewind(&self, node: &NodeSpec, primary: &NodeSpec, topo: &Topology) -> Result<()>;

    /// Rewrites the node's login rules (`pg_hba.conf` and what goes with it) as this version
    /// makes them, takes access to its secret files from everyone but their owner, and
    /// reloads the server if it runs: `up` brings a cluster made by an older version to the
    /// current rules this way.
    async fn refresh_access(&self, node: &NodeSpec, topo: &Topology) -> Result<()>;

    /// Writes the per-node settings and makes the node a standby or not.
    async fn configure_node(&self, node: &NodeSpec, conf: &str, standby: bool) -> Result<()>;

    /// Whether the node's data says it starts as a standby.
    async fn is_standby(&self, node: &NodeSpec) -> Result<bool>;

    /// Makes a running server re-read its configuration.
    async fn reload_node(&self, node: &NodeSpec) -> Result<()>;

    /// Starts the server and returns once it accepts connections.
    async fn start_node(&self, node: &NodeSpec) -> Result<()>;

    /// A fast shutdown (sessions are ended, the server stops cleanly).
    async fn stop_node(&self, node: &NodeSpec) -> Result<()>;

    async fn signal_node(&self, node: &NodeSpec, signal: NodeSignal) -> Result<()>;

    /// The address the node's server listens on, as `inet_server_addr()` would say, when
    /// the runtime knows it without asking the server.
    async fn node_ip(&self, node: &NodeSpec) -> Option<String> {
        Some(node.host.to_string())
    }

    /// `None` when the node has no data at all.
    async fn node_state(&self, node: &NodeSpec) -> Result<Option<ProcState>>;

    /// Stops the node if needed and deletes its data.
    async fn remove_node(&self, node: &NodeSpec) -> Result<()>;

    /// How the other nodes and HAProxy reach the node.
    fn peer_addr(&self, node: &NodeSpec) -> (String, u16);

    /// The settings of `node` as a standby of `primary`.
    fn standby_conf(&self, node: &NodeSpec, primary: &NodeSpec) -> NodeConf {
        let (host, port) = self.peer_addr(primary);
        self.node_conf(node).streaming_from(host, port)
    }

    /// HAProxy's servers: every node, at the address HAProxy reaches it by.
    fn proxy_servers(&self, topo: &Topology) -> Vec<ProxyServer> {
        topo.nodes
            .iter()
            .map(|n| ProxyServer {
                name: n.name.clone(),
                target: node_target(self.peer_addr(n)),
            })
            .collect()
    }

    /// The HAProxy config for this runtime's paths and name resolution.
    fn proxy_config(&self, topo: &Topology) -> String;

    /// Starts HAProxy, or reloads it without dropping established sessions when it runs.
    async fn apply_proxy(&self, config: &str) -> Result<()>;

    /// Ends HAProxy however it is, stuck included, and starts it afresh with every server
    /// held DOWN until checked. Its sessions are cut: for a HAProxy that cannot be reloaded.
    async fn restart_proxy(&self, config: &str) -> Result<()>;

    /// One command on HAProxy's runtime API; returns its answer.
    async fn proxy_api(&self, command: &str) -> Result<String>;

    async fn proxy_running(&self) -> Result<bool>;

    /// Cuts the node off the cluster network, or reconnects it.
    async fn set_partitioned(&self, _node: &NodeSpec, _cut: bool) -> Result<()> {
        Err(Error::new(
            "this runtime cannot cut a node off the network: use --runtime docker",
        ))
    }

    async fn is_partitioned(&self, _node: &NodeSpec) -> Result<bool> {
        Ok(false)
    }

    /// What a copy of a node's data made here depends on besides the cluster's settings (the
    /// server programs, the account that owns the files), as text to tell copies apart;
    /// `None` where [`ClusterRuntime::keep_copy`] and [`ClusterRuntime::put_back`] do not
    /// work, which is where the nodes' data is not in the cluster's folder.
    fn copies_shape(&self) -> Option<String> {
        None
    }

    /// Copies the stopped node's data into the folder `dest`.
    async fn keep_copy(&self, node: &NodeSpec, _dest: &Path) -> Result<()> {
        Err(Error::new(format!(
            "this runtime keeps no copies of {}'s data",
            node.name
        )))
    }

    /// Puts the copy [`ClusterRuntime::keep_copy`] made in `src` in place of the data of a
    /// node that does not run (whatever is left of it is removed); the server is not
    /// started. For a `standby` the copy's replication slots are left out: they are the
    /// primary's.
    async fn put_back(&self, node: &NodeSpec, _src: &Path, _standby: bool) -> Result<()> {
        Err(Error::new(format!(
            "this runtime keeps no copies of {}'s data",
            node.name
        )))
    }

    /// Stops everything of the cluster; removes its data unless `keep_data`.
    async fn destroy(&self, keep_data: bool) -> Result<()>;
}
