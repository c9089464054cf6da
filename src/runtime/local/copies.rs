//! Copies of stopped nodes' data, for templates (see `lifecycle::template`): a node's data
//! folder copied aside, and copied back in place of a node's.

use std::path::Path;

use super::LocalRuntime;
use crate::cluster::topology::NodeSpec;
use crate::runtime::{ClusterRuntime as _, Error, Result};

impl LocalRuntime {
    /// The server programs (where, and which build: an upgrade replaces the file) and the
    /// account that owns the data.
    pub(super) fn shape(&self) -> Option<String> {
        let postgres = self.bins.pg("postgres");
        let meta = std::fs::metadata(&postgres).ok()?;
        let built = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        let owner = match &self.user {
            Some(u) => u.uid.as_raw(),
            None => nix::unistd::geteuid().as_raw(),
        };
        Some(format!(
            "local {} {} bytes {built} uid {owner}",
            postgres.display(),
            meta.len()
        ))
    }

    pub(super) async fn copy_data_to(&self, node: &NodeSpec, dest: &Path) -> Result<()> {
        discard(dest)?;
        if let Some(parent) = dest.parent() {
            self.make_owned_dir(parent)?;
        }
        self.make_owned_dir(dest)?;
        self.copy_tree(&self.data_dir(node), &dest.join("data"), &node.name)
            .await
    }

    pub(super) async fn data_from(&self, node: &NodeSpec, src: &Path, standby: bool) -> Result<()> {
        self.remove_node(node).await?;
        self.make_owned_dir(&self.node_dir(node))?;
        self.make_owned_dir(&self.socket_dir(node))?;
        self.copy_tree(&src.join("data"), &self.data_dir(node), &node.name)
            .await?;
        let data = self.data_dir(node);
        // Names the copy's folder; `pg_ctl` would read it on a restart.
        let _ = std::fs::remove_file(data.join("postmaster.opts"));
        if standby {
            let slots = data.join("pg_replslot");
            let entries = std::fs::read_dir(&slots)
                .map_err(|e| Error::new(format!("cannot read {}: {e}", slots.display())))?;
            for slot in entries.flatten() {
                discard(&slot.path())?;
            }
        }
        Ok(())
    }

    /// `cp` keeps modes and times, and shares blocks where the filesystem can (reflink).
    async fn copy_tree(&self, from: &Path, to: &Path, node: &str) -> Result<()> {
        self.run(
            &format!("copying the data of {node}"),
            self.command("cp")
                .arg("-a")
                .arg("--reflink=auto")
                .arg("--no-target-directory")
                .arg(from)
                .arg(to),
        )
        .await
        .map(|_| ())
    }
}

fn discard(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::new(format!("cannot remove {}: {e}", dir.display()))),
    }
}
