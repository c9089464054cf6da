//! Doing a lesson's actions to the live cluster: node operations, replay control, scaling,
//! and SQL run on the lesson's behalf (not as the learner: `ran` checks never see it).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::model::Action;
use crate::error::Error;
use crate::cluster::admin::Admin;
use crate::cluster::ops::{Cluster, Progress, Reporter};
use crate::cluster::state::{ClusterLock, ClusterRecord};
use crate::cluster::topology::Topology;
use crate::runtime::{ClusterRuntime, RuntimeKind};
use crate::sql::Target;

/// Where a client reaches `target` from this machine; `None` for a node the cluster lacks, and
/// for a URL target (`\connect`), which names its hosts itself.
pub fn target_addr(
    rt: &dyn ClusterRuntime,
    topo: &Topology,
    target: &Target,
) -> Option<SocketAddr> {
    match target {
        Target::Write => Some(topo.endpoints.write),
        Target::Read => Some(topo.endpoints.read),
        Target::Node(n) => topo.node(n).map(|spec| rt.client_addr(spec)),
        Target::Url(_) => None,
    }
}

/// A running cluster, as actions need it.
#[derive(Clone)]
pub struct Lab {
    pub rt: Arc<dyn ClusterRuntime>,
    /// The cluster's folder, holding its record.
    pub dir: PathBuf,
    /// Where cluster locks live ([`crate::settings::data_root`]).
    pub root: PathBuf,
    pub name: String,
}

impl Lab {
    /// The cluster's record as it is on disk now (scaling changes it).
    pub fn record(&self) -> Result<ClusterRecord, Error> {
        ClusterRecord::load(&self.dir)?.ok_or_else(|| {
            Error::new(format!(
                "cluster {} is gone: start it again with `replica-lab up --name {}`",
                self.name, self.name
            ))
        })
    }

    /// Runs one action; the text is what it reported along the way (may be empty).
    pub async fn run(&self, action: &Action) -> Result<String, Error> {
        match action {
            Action::Node { op, node } => {
                let _lock = self.lock().await?;
                let notes = Notes::default();
                let report = notes.reporter();
                self.cluster(&report)?.node_op(*op, node).await?;
                Ok(notes.text())
            }
            Action::Scale { replicas } => {
                let _lock = self.lock().await?;
                let notes = Notes::default();
                let report = notes.reporter();
                let mut cluster = self.cluster(&report)?;
                if cluster.rt.kind() == RuntimeKind::Local {
                    crate::commands::check_new_node_ports(&cluster.record, *replicas)?;
                }
                cluster.scale(*replicas).await?;
                Ok(notes.text())
            }
            Action::PauseReplay { node } => {
                self.sql(&Target::Node(node.clone()), "SELECT pg_wal_replay_pause()")
                    .await
            }
            Action::ResumeReplay { node } => {
                self.sql(&Target::Node(node.clone()), "SELECT pg_wal_replay_resume()")
                    .await
            }
            Action::ReplayDelay { node, ms } => {
                let set = if *ms == 0 {
                    "ALTER SYSTEM RESET recovery_min_apply_delay".to_string()
                } else {
                    format!("ALTER SYSTEM SET recovery_min_apply_delay = '{ms}ms'")
                };
                // ALTER SYSTEM cannot share a transaction: two statements, one string each.
                self.sql(&Target::Node(node.clone()), &set).await?;
                self.sql(&Target::Node(node.clone()), "SELECT pg_reload_conf()")
                    .await
            }
            Action::Sql { sql, target } => {
                let filled = super::template::fill(
                    sql,
                    &super::template::vars(&self.record()?.topology(), self.rt.as_ref()),
                );
                self.sql(target, &filled).await
            }
        }
    }

    async fn sql(&self, target: &Target, sql: &str) -> Result<String, Error> {
        let topo = self.record()?.topology();
        let addr = target_addr(self.rt.as_ref(), &topo, target).ok_or_else(|| {
            Error::new(format!(
                "no node {} in cluster {}",
                target.label(),
                self.name
            ))
        })?;
        let admin = Admin::tcp(addr, &topo.credentials, &topo.credentials.database).await?;
        admin.client().batch_execute(sql).await.map_err(|e| {
            let cause = e
                .as_db_error()
                .map_or_else(|| e.to_string(), |db| db.message().to_string());
            Error::new(format!("SQL on {} failed: {cause}", target.label()))
        })?;
        Ok(String::new())
    }

    /// Waits for other commands on the cluster; held until dropped.
    async fn lock(&self) -> Result<ClusterLock, Error> {
        let (root, name) = (self.root.clone(), self.name.clone());
        tokio::task::spawn_blocking(move || ClusterLock::acquire(&root, &name))
            .await
            .map_err(|e| Error::new(format!("cannot lock the cluster: {e}")))?
    }

    fn cluster<'a>(&'a self, report: Reporter<'a>) -> Result<Cluster<'a>, Error> {
        Ok(Cluster {
            rt: self.rt.as_ref(),
            dir: self.dir.clone(),
            record: self.record()?,
            report,
        })
    }
}

/// What an operation reports along the way, kept to show once it is done.
#[derive(Clone, Default)]
struct Notes(Arc<Mutex<Vec<String>>>);

impl Notes {
    fn reporter(&self) -> impl Fn(Progress) + Send + Sync + use<> {
        let sink = self.0.clone();
        move |p: Progress| {
            if let (Progress::Note(n), Ok(mut v)) = (p, sink.lock()) {
                v.push(n);
            }
        }
    }

    fn text(&self) -> String {
        self.0.lock().map(|v| v.join("; ")).unwrap_or_default()
    }
}
