//! Removing a cluster from the engine: by label, never by name pattern, and never what is
//! not the cluster's.

use super::*;

impl DockerRuntime {
    /// Whether the engine holds anything labelled with this cluster's name.
    pub async fn has_leftovers(&self) -> Result<bool> {
        let containers = self
            .docker
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&self.cluster_filter())
                    .build(),
            ))
            .await
            .map_err(|e| api_error("listing containers", e))?;
        let volumes = self
            .docker
            .list_volumes(Some(
                ListVolumesOptionsBuilder::default()
                    .filters(&self.cluster_filter())
                    .build(),
            ))
            .await
            .map_err(|e| api_error("listing volumes", e))?;
        let network = self
            .docker
            .inspect_network(&self.network(), None)
            .await
            .ok();
        let our_network = network
            .and_then(|n| n.labels)
            .is_some_and(|l| l.get(LABEL_CLUSTER) == Some(&self.cluster));
        Ok(
            !containers.is_empty()
                || !volumes.volumes.unwrap_or_default().is_empty()
                || our_network,
        )
    }

    pub(super) async fn remove_everything(&self, keep_data: bool) -> Result<()> {
        let containers = self
            .docker
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&self.cluster_filter())
                    .build(),
            ))
            .await
            .map_err(|e| api_error("listing the cluster's containers", e))?;
        let names: Vec<String> = containers.into_iter().filter_map(|c| c.id).collect();
        let removals = names.iter().map(|id| async move {
            if keep_data {
                let _ = self.docker.unpause_container(id).await;
                self.docker
                    .stop_container(
                        id,
                        Some(StopContainerOptionsBuilder::default().t(60).build()),
                    )
                    .await
            } else {
                engine::force_remove(&self.docker, id).await
            }
        });
        for r in futures::future::join_all(removals).await {
            if let Err(e) = r {
                if !is_not_found(&e) && !keep_data {
                    return Err(api_error("removing a container", e));
                }
            }
        }
        if keep_data {
            return Ok(());
        }
        let volumes = self
            .docker
            .list_volumes(Some(
                ListVolumesOptionsBuilder::default()
                    .filters(&self.cluster_filter())
                    .build(),
            ))
            .await
            .map_err(|e| api_error("listing the cluster's volumes", e))?;
        for v in volumes.volumes.unwrap_or_default() {
            self.docker
                .remove_volume(
                    &v.name,
                    Some(RemoveVolumeOptionsBuilder::default().force(true).build()),
                )
                .await
                .map_err(|e| api_error(&format!("removing volume {}", v.name), e))?;
        }
        if let Ok(n) = self.docker.inspect_network(&self.network(), None).await {
            if n.labels.and_then(|l| l.get(LABEL_CLUSTER).cloned()) == Some(self.cluster.clone()) {
                self.docker
                    .remove_network(&self.network())
                    .await
                    .map_err(|e| api_error("removing the cluster network", e))?;
            }
        }
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(RuntimeError::new(format!(
                "cannot remove {}: {e}",
                self.dir.display()
            ))),
        }
    }
}
