//! Bringing a cluster up (or back), opening a running one, and removing one, also when its
//! record is missing or damaged.

use std::path::Path;
use std::sync::Arc;

use super::{Cluster, Progress, Report, lock, ports};
use crate::cluster::fencing::Authority;
use crate::cluster::state::{ClusterRecord, RuntimeKind, cluster_dir};
use crate::cluster::topology::{NodeAddressing, initial_indexes};
use crate::error::{Error, Result};
use crate::runtime::ClusterRuntime as _;
use crate::runtime::choose::{choose_runtime, local_runtime, runtime_for};
use crate::runtime::docker::DockerRuntime;
use crate::runtime::docker::engine::PullReporter;
use crate::runtime::local::detect_addressing;
use crate::settings::{Settings, data_root};

/// Starts the cluster `settings` names, or brings back what of it is not running; returns
/// once it is ready. Shared by `up`, the app, lessons and the classroom hub, which differ
/// only in how they show progress.
pub async fn bring_up(
    settings: &Settings,
    report: Report,
    pull: Option<Arc<PullReporter>>,
) -> Result<Cluster> {
    let root = data_root(settings);
    let dir = cluster_dir(&root, &settings.name);
    // An existing cluster keeps the settings it was made with: those are what listen.
    ClusterRecord::load(&dir)?
        .map_or_else(|| settings.clone(), |r| r.settings)
        .check_exposure()
        .map_err(|e| Error::new(e.to_string()))?;
    let _lock = lock(&root, &settings.name).await?;
    if let Some(record) = ClusterRecord::load(&dir)?.filter(|r| !r.complete) {
        // A previous `up` died while making it: nothing in it is worth keeping.
        let rt = runtime_for(record.runtime, &record.settings, dir.clone(), pull.clone()).await?;
        report(Progress::Note(format!(
            "cluster {} was cut short while being made; removing what was made and starting again",
            settings.name
        )));
        rt.destroy(false).await?;
    }
    if let Some(record) = ClusterRecord::load(&dir)? {
        let rt = runtime_for(record.runtime, &record.settings, dir.clone(), pull).await?;
        let cluster = Cluster::new(rt, root, record).reporting(report.clone());
        let restarted = cluster.recover().await?;
        if !restarted.is_empty() {
            report(Progress::Note(format!(
                "cluster {} was not fully running; restarted {}",
                settings.name,
                restarted.join(", ")
            )));
        }
        return Ok(cluster);
    }
    let rt = choose_runtime(settings, dir.clone(), pull).await?;
    let kind = rt.kind();
    // Containers publish each node on its own port of 127.0.0.1.
    let addressing = match kind {
        RuntimeKind::Local => detect_addressing(settings.node_base),
        RuntimeKind::Docker => NodeAddressing::DistinctPorts,
    };
    let record = ClusterRecord {
        runtime: kind,
        addressing,
        nodes: initial_indexes(settings),
        settings: settings.clone(),
        authority: Authority::new("pg1"),
        complete: false,
        cloning: Vec::new(),
    };
    ports::check_new_cluster(&record.topology())?;
    report(Progress::Note(format!(
        "starting cluster {} ({kind} runtime, {} replicas)",
        settings.name, settings.replicas
    )));
    let cluster = Cluster::new(rt, root, record).reporting(report);
    if let Err(e) = cluster.create().await {
        // Leave nothing running and no half-made cluster for the next `up` to trip over.
        let _ = cluster.rt.destroy(false).await;
        return Err(Error::new(format!("{e} (nothing was left running)")));
    }
    Ok(cluster)
}

/// An existing cluster with its runtime, or a message that says how to make one.
pub async fn open(settings: &Settings) -> Result<Cluster> {
    let root = data_root(settings);
    let dir = cluster_dir(&root, &settings.name);
    let record = ClusterRecord::load(&dir)?.ok_or_else(|| {
        Error::new(format!(
            "no cluster named {:?}: start one with `replica-lab up{}`",
            settings.name,
            if settings.name == "default" {
                String::new()
            } else {
                format!(" --name {}", settings.name)
            }
        ))
    })?;
    let rt = runtime_for(record.runtime, &record.settings, dir, None).await?;
    Ok(Cluster::new(rt, root, record))
}

/// Stops the cluster `settings` names and removes what it made (all but the data with
/// `keep_data`); false when there was nothing to remove.
pub async fn remove(settings: &Settings, keep_data: bool) -> Result<bool> {
    let root = data_root(settings);
    let _lock = lock(&root, &settings.name).await?;
    let dir = cluster_dir(&root, &settings.name);
    if let Ok(Some(record)) = ClusterRecord::load(&dir) {
        let rt = runtime_for(record.runtime, &record.settings, dir.clone(), None).await?;
        rt.destroy(keep_data).await?;
        Ok(true)
    } else {
        sweep(settings, &dir).await
    }
}

/// Without a usable record (a run that died early, a damaged file), removes whatever carries
/// the cluster's name: its folder and processes here, its labelled objects on the engine.
async fn sweep(settings: &Settings, dir: &Path) -> Result<bool> {
    let mut swept = false;
    if dir.exists() {
        local_runtime(settings, dir.to_path_buf())?
            .destroy(false)
            .await?;
        swept = true;
    }
    if let Ok(docker) = DockerRuntime::connect(settings, dir.to_path_buf()).await {
        if docker.has_leftovers().await? {
            docker.destroy(false).await?;
            swept = true;
        }
    }
    Ok(swept)
}
