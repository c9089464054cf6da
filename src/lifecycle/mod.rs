//! A cluster's life: bringing it up, opening it again, operating its nodes, removing it.
//! The runtime does the work; this layer decides the order and checks the outcome.

pub mod fence;
mod follow;
pub mod node_ops;
pub mod ops;
pub mod ports;
pub mod probe;
pub mod promote;
pub mod repair;
pub mod supervise;
pub mod template;
pub mod up;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::cluster::node_op::NodeOp;
use crate::cluster::state::{ClusterLock, ClusterRecord, RuntimeKind, cluster_dir};
use crate::cluster::topology::Topology;
use crate::error::{Error, Result};
use crate::runtime::ClusterRuntime;

pub use up::{bring_up, open, remove};

/// Something worth telling the user while an operation runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    /// A step finished, with how long it took.
    Phase {
        name: String,
        took: Duration,
    },
    Note(String),
}

/// Where an operation's progress goes: printed by the commands, a message in the app,
/// collected for a lesson's action.
pub type Report = Arc<dyn Fn(Progress) + Send + Sync>;

/// The one handle on a cluster that exists: the runtime it lives in, where its state is,
/// and its record as of opening.
#[derive(Clone)]
pub struct Cluster {
    pub rt: Arc<dyn ClusterRuntime>,
    /// The cluster's folder, holding its record.
    pub dir: PathBuf,
    /// Where cluster locks live ([`crate::settings::data_root`]).
    pub root: PathBuf,
    pub record: ClusterRecord,
    report: Report,
}

impl Cluster {
    pub fn new(rt: Arc<dyn ClusterRuntime>, root: PathBuf, record: ClusterRecord) -> Cluster {
        Cluster {
            dir: cluster_dir(&root, &record.settings.name),
            rt,
            root,
            record,
            report: Arc::new(|_| {}),
        }
    }

    /// The same cluster, telling `report` what its operations do.
    pub fn reporting(mut self, report: Report) -> Cluster {
        self.report = report;
        self
    }

    pub fn name(&self) -> &str {
        &self.record.settings.name
    }

    pub fn kind(&self) -> RuntimeKind {
        self.rt.kind()
    }

    /// The topology as of the record this handle holds.
    pub fn topology(&self) -> Topology {
        self.record.topology()
    }

    /// The record as it is on disk now: another command may have scaled the cluster.
    pub fn current_record(&self) -> Result<ClusterRecord> {
        ClusterRecord::load(&self.dir)?.ok_or_else(|| {
            Error::new(format!(
                "cluster {} is gone: start it again with `replica-lab up --name {}`",
                self.name(),
                self.name()
            ))
        })
    }

    /// Waits for other commands on the cluster; held until dropped. flock blocks, so it is
    /// taken off the async workers.
    pub async fn lock(&self) -> Result<ClusterLock> {
        lock(&self.root, self.name()).await
    }

    /// Runs `op` on the node `name`, serialised with every other command on the cluster and
    /// on its record as it is now.
    pub async fn node_op(&self, op: NodeOp, name: &str) -> Result<()> {
        self.node_op_forced(op, name, false).await
    }

    /// [`Cluster::node_op`]; with `force`, a fenced node starts as it is and a promotion stops
    /// a running primary or loses WAL another standby has, saying so.
    pub async fn node_op_forced(&self, op: NodeOp, name: &str, force: bool) -> Result<()> {
        let _lock = self.lock().await?;
        self.refreshed()?.node_op_now(op, name, force).await
    }

    /// Changes the number of replicas while the cluster serves; [`Cluster::current_record`]
    /// then reads the new shape.
    pub async fn scale(&self, replicas: u8) -> Result<()> {
        let _lock = self.lock().await?;
        let mut now = self.refreshed()?;
        ports::check_new_nodes(&now.record, replicas)?;
        now.scale_now(replicas).await
    }

    fn refreshed(&self) -> Result<Cluster> {
        let mut now = self.clone();
        now.record = self.current_record()?;
        Ok(now)
    }

    fn report(&self, p: Progress) {
        (self.report)(p);
    }

    pub(crate) fn note(&self, text: impl Into<String>) {
        self.report(Progress::Note(text.into()));
    }
}

/// Takes the lock that serialises commands on the cluster `name` under `root`.
pub async fn lock(root: &std::path::Path, name: &str) -> Result<ClusterLock> {
    let (root, name) = (root.to_path_buf(), name.to_string());
    tokio::task::spawn_blocking(move || ClusterLock::acquire(&root, &name))
        .await
        .map_err(|e| Error::new(format!("cannot lock the cluster: {e}")))?
}
