//! Templates: a new primary's data, kept once per shape of cluster (the server programs, the
//! number of replicas, the credentials, this version of the app) in the data folder, so that
//! the next cluster of that shape, a lesson's reset included, is copied from it instead of
//! running initdb and pg_basebackup.
//!
//! The template is taken while the first such cluster is made, once the primary has its
//! roles and its replicas' slots and before anything else: the primary is stopped cleanly
//! for the moment of the copy. Every node of a cluster made from it is a copy: the primary
//! as it was, each replica the same data without the slots, as a standby, which is what a
//! copy of a cleanly stopped primary may become. The cluster starts as the first one did,
//! timeline 1, slots not yet used, nothing of any learner in it. What depends on where a
//! cluster listens (each node's settings file, the login rules, the certificates) is
//! written afresh for each. Clusters copied from one template share its system identifier;
//! none archives WAL, so they share nothing else.

use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::{Cluster, Progress};
use crate::cluster::topology::{NodeSpec, Topology};
use crate::error::{Error, Result};
use crate::runtime::ClusterRuntime;
use crate::runtime::process::pid_exists;
use crate::settings::Settings;

/// Marks a whole template; written last.
const MADE_BY: &str = "made-by";

/// Where the template for clusters like `settings` on `rt` is, or would be.
pub(super) struct Template {
    dir: PathBuf,
}

impl Template {
    /// `None` where the runtime keeps no copies. The folder's name is a digest of the
    /// shape: it holds the passwords, which stay out of file names.
    pub(super) fn for_cluster(
        root: &Path,
        settings: &Settings,
        rt: &dyn ClusterRuntime,
    ) -> Option<Self> {
        let runtime = rt.copies_shape()?;
        let mut digest = Sha256::new();
        for part in [
            made_by().as_str(),
            &runtime,
            &settings.replicas.to_string(),
            &settings.user,
            &settings.password,
            &settings.database,
            &settings.replication_user,
            &settings.replication_password,
            &settings.check_user,
        ] {
            digest.update(part.as_bytes());
            digest.update([0]);
        }
        let name: String = digest.finalize()[..10]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Some(Template {
            dir: root.join("templates").join(name),
        })
    }

    /// Whether the template was made whole.
    pub(super) fn exists(&self) -> bool {
        self.dir.join(MADE_BY).is_file()
    }

    fn primary(&self) -> PathBuf {
        self.dir.join("primary")
    }

    /// Removes the template: it did not work.
    fn discard(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn made_by() -> String {
    format!("replica-lab {}\n", env!("CARGO_PKG_VERSION"))
}

/// Copies under way in processes that are gone (a killed `up`): never to be finished.
fn remove_abandoned_parts(templates: Option<&Path>) {
    let Some(entries) = templates.and_then(|t| std::fs::read_dir(t).ok()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.rsplit_once(".part-"))
            .and_then(|(_, pid)| pid.parse::<i32>().ok());
        if pid.is_some_and(|pid| !pid_exists(pid)) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn remove_if_there(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::new(format!("cannot remove {}: {e}", dir.display()))),
    }
}

impl Cluster {
    /// Copies the template into every node, writes what is this cluster's own and starts
    /// the nodes; HAProxy starts meanwhile. A template that fails is removed, and the error
    /// says so; what was copied is removed too, for the caller to make the cluster from
    /// scratch.
    pub(super) async fn create_from(&self, template: &Template, topo: &Topology) -> Result<()> {
        let made = self.copy_and_start(template, topo).await;
        if let Err(e) = &made {
            template.discard();
            for node in &topo.nodes {
                let _ = self.rt.remove_node(node).await;
            }
            return Err(Error::new(format!(
                "the cluster could not be made from its template ({e}); the template was \
                 removed"
            )));
        }
        made
    }

    async fn copy_and_start(&self, template: &Template, topo: &Topology) -> Result<()> {
        let (primary, replicas) = topo
            .nodes
            .split_first()
            .ok_or_else(|| Error::new("a cluster needs at least one node"))?;
        self.phase("copy the template", async {
            let from = template.primary();
            let from = &from;
            let copies = topo.nodes.iter().map(|n| async move {
                let standby = n.name != primary.name;
                self.rt.put_back(n, from, standby).await
            });
            futures::future::try_join_all(copies).await?;
            // Where this cluster listens, and who may log in from where.
            let primary_conf = self.rt.node_conf(primary).render(&topo.credentials);
            self.rt
                .configure_node(primary, &primary_conf, false)
                .await?;
            for r in replicas {
                let conf = self.rt.standby_conf(r, primary).render(&topo.credentials);
                self.rt.configure_node(r, &conf, true).await?;
            }
            for n in &topo.nodes {
                self.rt.refresh_access(n, topo).await?;
            }
            Ok(())
        })
        .await?;
        self.phase(
            &format!("start {}", primary.name),
            self.rt.start_node(primary),
        )
        .await?;
        let starts = self.phase("start replicas", async {
            let all = replicas.iter().map(|r| self.rt.start_node(r));
            futures::future::try_join_all(all).await.map(|_| ())
        });
        let config = self.rt.proxy_config(topo);
        let proxy = self.phase("start haproxy", self.rt.apply_proxy(&config));
        tokio::try_join!(starts, proxy)?;
        Ok(())
    }

    /// Stops the primary, copies it aside as the template and starts it again. A template
    /// that cannot be made is only said: this cluster is whole without it.
    pub(super) async fn make_template(
        &self,
        template: &Template,
        primary: &NodeSpec,
    ) -> Result<()> {
        let started = Instant::now();
        self.rt.stop_node(primary).await?;
        let made = self.copy_aside(template, primary).await;
        self.rt.start_node(primary).await?;
        match made {
            Ok(()) => self.report(Progress::Phase {
                name: "keep a template for the next ones".into(),
                took: started.elapsed(),
            }),
            Err(e) => self.note(format!(
                "no template kept ({e}): the next cluster like this one is made from scratch \
                 too"
            )),
        }
        Ok(())
    }

    /// Into a folder of its own first, renamed into place once whole: two clusters made at
    /// once never mix their copies, and a copy cut short is never used.
    async fn copy_aside(&self, template: &Template, primary: &NodeSpec) -> Result<()> {
        let part = template
            .dir
            .with_extension(format!("part-{}", std::process::id()));
        remove_if_there(&part)?;
        remove_abandoned_parts(template.dir.parent());
        let copied = async {
            self.rt.keep_copy(primary, &part.join("primary")).await?;
            std::fs::write(part.join(MADE_BY), made_by())
                .map_err(|e| Error::new(format!("cannot write in {}: {e}", part.display())))
        }
        .await;
        let placed = copied.and_then(|()| match std::fs::rename(&part, &template.dir) {
            Ok(()) => Ok(()),
            // Another cluster of this shape made it meanwhile: one is as good as the other.
            Err(_) if template.exists() => Ok(()),
            Err(e) => Err(Error::new(format!(
                "cannot move the template into {}: {e}",
                template.dir.display()
            ))),
        });
        let _ = remove_if_there(&part);
        placed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_copies_of_processes_that_are_gone_are_removed() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let gone = dir.path().join("abc.part-999999999");
        let mine = dir.path().join(format!("abc.part-{}", std::process::id()));
        let whole = dir.path().join("abc");
        for d in [&gone, &mine, &whole] {
            std::fs::create_dir(d).expect("make a folder");
        }
        remove_abandoned_parts(Some(dir.path()));
        assert!(!gone.exists());
        assert!(mine.exists(), "a copy under way was removed");
        assert!(whole.exists(), "a template was removed");
    }
}
