//! Doing a lesson's actions to the live cluster: node operations, replay control, scaling,
//! and SQL run on the lesson's behalf (not as the learner: `ran` checks never see it).

use std::sync::{Arc, Mutex};

use super::model::Action;
use crate::cluster::admin::Admin;
use crate::error::{Error, Result};
use crate::lifecycle::{Cluster, Progress, Report};
use crate::sql::{Target, target_addr};

/// Runs one action on `cluster`; the text is what it reported along the way (may be empty).
pub async fn run(cluster: &Cluster, action: &Action) -> Result<String> {
    match action {
        Action::Node { op, node, force } => {
            let notes = Notes::default();
            cluster
                .clone()
                .reporting(notes.reporter())
                .node_op_forced(*op, node, *force)
                .await?;
            Ok(notes.text())
        }
        Action::Scale { replicas } => {
            let notes = Notes::default();
            cluster
                .clone()
                .reporting(notes.reporter())
                .scale(*replicas)
                .await?;
            Ok(notes.text())
        }
        Action::PauseReplay { node } => {
            sql(
                cluster,
                &Target::Node(node.clone()),
                "SELECT pg_wal_replay_pause()",
            )
            .await
        }
        Action::ResumeReplay { node } => {
            sql(
                cluster,
                &Target::Node(node.clone()),
                "SELECT pg_wal_replay_resume()",
            )
            .await
        }
        Action::ReplayDelay { node, ms } => {
            let set = if *ms == 0 {
                "ALTER SYSTEM RESET recovery_min_apply_delay".to_string()
            } else {
                format!("ALTER SYSTEM SET recovery_min_apply_delay = '{ms}ms'")
            };
            // ALTER SYSTEM cannot share a transaction: two statements, one string each.
            let target = Target::Node(node.clone());
            sql(cluster, &target, &set).await?;
            sql(cluster, &target, "SELECT pg_reload_conf()").await
        }
        Action::Sql { sql: text, target } => {
            let topo = cluster.current_record()?.topology();
            let filled =
                super::template::fill(text, &super::template::vars(&topo, cluster.rt.as_ref()));
            sql(cluster, target, &filled).await
        }
    }
}

async fn sql(cluster: &Cluster, target: &Target, sql: &str) -> Result<String> {
    let topo = cluster.current_record()?.topology();
    let addr = target_addr(cluster.rt.as_ref(), &topo, target).ok_or_else(|| {
        Error::new(format!(
            "no node {} in cluster {}",
            target.label(),
            cluster.name()
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

/// What an operation reports along the way, kept to show once it is done.
#[derive(Clone, Default)]
struct Notes(Arc<Mutex<Vec<String>>>);

impl Notes {
    fn reporter(&self) -> Report {
        let sink = self.0.clone();
        Arc::new(move |p: Progress| {
            if let (Progress::Note(n), Ok(mut v)) = (p, sink.lock()) {
                v.push(n);
            }
        })
    }

    fn text(&self) -> String {
        self.0.lock().map(|v| v.join("; ")).unwrap_or_default()
    }
}
