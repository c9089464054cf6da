//! Removing a cluster from the engine: by label, never by name pattern, and never what is
//! not the cluster's.

use super::*;

impl DockerRuntime {
    /// Ids of every container labelled with this cluster's name, running or not.
    async fn labelled_containers(&self) -> Result<Vec<String>> {
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&self.cluster_filter())
            .build();
        let found = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| api_error("listing the cluster's containers", e))?;
        Ok(found.into_iter().filter_map(|c| c.id).collect())
    }

    /// Names of every volume labelled with this cluster's name.
    async fn labelled_volumes(&self) -> Result<Vec<String>> {
        let options = ListVolumesOptionsBuilder::default()
            .filters(&self.cluster_filter())
            .build();
        let found = self
            .docker
            .list_volumes(Some(options))
            .await
            .map_err(|e| api_error("listing the cluster's volumes", e))?;
        Ok(found
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.name)
            .collect())
    }

    /// `None` when no network has the cluster's name; `Some(false)` when one does but it
    /// is somebody else's.
    pub(super) async fn network_is_ours(&self) -> Option<bool> {
        let n = self
            .docker
            .inspect_network(&self.network(), None)
            .await
            .ok()?;
        Some(n.labels.and_then(|l| l.get(LABEL_CLUSTER).cloned()) == Some(self.cluster.clone()))
    }

    /// Whether the engine holds anything labelled with this cluster's name.
    pub async fn has_leftovers(&self) -> Result<bool> {
        Ok(!self.labelled_containers().await?.is_empty()
            || !self.labelled_volumes().await?.is_empty()
            || self.network_is_ours().await == Some(true))
    }

    pub(super) async fn remove_everything(&self, keep_data: bool) -> Result<()> {
        // A command killed while creating a container leaves the engine finishing that
        // request after we list: remove what is there, and again until the volumes are free.
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.remove_containers(keep_data).await?;
            if keep_data {
                return Ok(());
            }
            match self.remove_volumes().await {
                Err(e) if attempt < 5 && e.to_string().contains("in use") => {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                other => break other?,
            }
        }
        if self.network_is_ours().await == Some(true) {
            self.docker
                .remove_network(&self.network())
                .await
                .map_err(|e| api_error("removing the cluster network", e))?;
        }
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::new(format!(
                "cannot remove {}: {e}",
                self.dir.display()
            ))),
        }
    }

    /// Stops (keeping data) or removes every container of the cluster.
    async fn remove_containers(&self, keep_data: bool) -> Result<()> {
        let containers = self.labelled_containers().await?;
        let removals = containers.iter().map(|id| async move {
            if keep_data {
                let _ = self.docker.unpause_container(id).await;
                let stop = StopContainerOptionsBuilder::default().t(60).build();
                self.docker.stop_container(id, Some(stop)).await
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
        Ok(())
    }

    async fn remove_volumes(&self) -> Result<()> {
        for name in self.labelled_volumes().await? {
            let options = RemoveVolumeOptionsBuilder::default().force(true).build();
            self.docker
                .remove_volume(&name, Some(options))
                .await
                .map_err(|e| api_error(&format!("removing volume {name}"), e))?;
        }
        Ok(())
    }
}
