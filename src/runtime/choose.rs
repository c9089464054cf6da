//! Which runtime a cluster gets: the one its record names, or for a new cluster the one the
//! settings ask for (`auto` decides from what this machine has).

use std::path::PathBuf;
use std::sync::Arc;

use super::ClusterRuntime;
use super::binaries::Binaries;
use super::docker::DockerRuntime;
use super::docker::engine::PullReporter;
use super::local::{LocalRuntime, ServiceUser};
use crate::cluster::state::RuntimeKind;
use crate::error::{Error, Result};
use crate::settings::{RuntimeChoice, Settings};

pub fn local_runtime(settings: &Settings, dir: PathBuf) -> Result<LocalRuntime> {
    let bins = Binaries::find(
        settings.pg_bindir.as_deref(),
        settings.haproxy_bin.as_deref(),
    )?;
    let user = ServiceUser::resolve(&settings.os_user)?;
    Ok(LocalRuntime::new(dir, bins, user))
}

/// The runtime of an existing cluster, as its record names it.
pub async fn runtime_for(
    kind: RuntimeKind,
    settings: &Settings,
    dir: PathBuf,
    pull: Option<Arc<PullReporter>>,
) -> Result<Arc<dyn ClusterRuntime>> {
    match kind {
        RuntimeKind::Local => Ok(Arc::new(local_runtime(settings, dir)?)),
        RuntimeKind::Docker => Ok(Arc::new(docker_runtime(settings, dir, pull).await?)),
    }
}

async fn docker_runtime(
    settings: &Settings,
    dir: PathBuf,
    pull: Option<Arc<PullReporter>>,
) -> Result<DockerRuntime> {
    let docker = DockerRuntime::connect(settings, dir).await?;
    Ok(match pull {
        Some(p) => docker.with_pull_reporter(p),
        None => docker,
    })
}

/// The runtime a new cluster gets. `auto` takes Docker when an engine answers and already
/// has the images, local processes when this machine can run them, and otherwise Docker
/// (which then pulls the images).
pub async fn choose_runtime(
    settings: &Settings,
    dir: PathBuf,
    pull: Option<Arc<PullReporter>>,
) -> Result<Arc<dyn ClusterRuntime>> {
    match settings.runtime {
        RuntimeChoice::Local => runtime_for(RuntimeKind::Local, settings, dir, pull).await,
        RuntimeChoice::Docker => runtime_for(RuntimeKind::Docker, settings, dir, pull).await,
        RuntimeChoice::Auto => match docker_runtime(settings, dir.clone(), pull).await {
            Ok(docker) if docker.images_present().await => Ok(Arc::new(docker)),
            Ok(docker) => match local_runtime(settings, dir) {
                Ok(local) => Ok(Arc::new(local)),
                Err(_) => Ok(Arc::new(docker)),
            },
            Err(no_docker) => match local_runtime(settings, dir) {
                Ok(local) => Ok(Arc::new(local)),
                Err(no_local) => Err(Error::new(format!("{no_local}; {no_docker}"))),
            },
        },
    }
}
