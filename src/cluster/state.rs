//! What a cluster folder remembers between commands: the settings it was made with, the
//! runtime, which nodes exist, and who the app made primary. Live roles are asked of the
//! servers; the record says which node may be primary, so a restart cannot make two.

use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::fencing::Authority;
use super::topology::{NodeAddressing, Topology};
use crate::error::Error;
use crate::settings::{Settings, load_toml};

pub const RECORD_FILE: &str = "cluster.toml";
const LOCK_FILE: &str = ".lock";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    Local,
    Docker,
}

impl std::fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RuntimeKind::Local => "local",
            RuntimeKind::Docker => "docker",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterRecord {
    pub runtime: RuntimeKind,
    pub addressing: NodeAddressing,
    /// Node indexes: 1 is `pg1`.
    pub nodes: Vec<u8>,
    pub settings: Settings,
    /// Which node is primary by the app's decision, and which are fenced.
    #[serde(default)]
    pub authority: Authority,
    /// False while `up` is still making the cluster: a record left so was cut short, and the
    /// next `up` starts over instead of starting half-made nodes.
    #[serde(default = "finished")]
    pub complete: bool,
    /// Replicas being cloned by a `scale`: one still listed after a crash is cloned again.
    #[serde(default)]
    pub cloning: Vec<String>,
}

fn finished() -> bool {
    true
}

impl ClusterRecord {
    pub fn topology(&self) -> Topology {
        Topology::new(&self.settings, self.addressing, &self.nodes)
    }

    pub fn load(cluster_dir: &Path) -> Result<Option<ClusterRecord>, Error> {
        let name = cluster_dir
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        load_toml(
            &cluster_dir.join(RECORD_FILE),
            &format!("remove the cluster with `replica-lab down --name {name}`"),
        )
    }

    /// Written to a temporary file, synced, then renamed over the old one: a crash leaves
    /// either the old record or the new one. Only its owner may read it: it holds the
    /// cluster's passwords.
    pub fn save(&self, cluster_dir: &Path) -> Result<(), Error> {
        let path = cluster_dir.join(RECORD_FILE);
        let tmp = cluster_dir.join(format!("{RECORD_FILE}.tmp"));
        let text = toml::to_string_pretty(self)
            .map_err(|e| Error::new(format!("cannot encode the cluster record: {e}")))?;
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            // A temporary file left by a crashed older version kept its wider mode.
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            if let Ok(dir) = File::open(cluster_dir) {
                let _ = dir.sync_all();
            }
            Ok(())
        };
        write().map_err(|e| Error::new(format!("cannot write {}: {e}", path.display())))
    }
}

pub fn cluster_dir(data_root: &Path, name: &str) -> PathBuf {
    data_root.join("clusters").join(name)
}

/// Serialises commands that change one cluster; held until dropped.
pub struct ClusterLock {
    _lock: Flock<File>,
}

impl ClusterLock {
    /// Waits for another replica-lab command on the same cluster to finish.
    pub fn acquire(data_root: &Path, name: &str) -> Result<ClusterLock, Error> {
        let locks = data_root.join("locks");
        std::fs::create_dir_all(&locks)
            .map_err(|e| Error::new(format!("cannot create {}: {e}", locks.display())))?;
        let path = locks.join(format!("{name}{LOCK_FILE}"));
        let file = File::create(&path)
            .map_err(|e| Error::new(format!("cannot open {}: {e}", path.display())))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::new(format!("cannot lock {}: {e}", path.display())))?;
        Ok(ClusterLock { _lock: lock })
    }

    /// The lock if no other command holds it now, else `None`: for duties that can wait for
    /// their next turn rather than queue behind a long command.
    pub fn try_acquire(data_root: &Path, name: &str) -> Result<Option<ClusterLock>, Error> {
        let path = data_root.join("locks").join(format!("{name}{LOCK_FILE}"));
        let file = match File::options().write(true).open(&path) {
            Ok(f) => f,
            // No lock file: no command ever ran, so there is no cluster to look after.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::new(format!("cannot open {}: {e}", path.display()))),
        };
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(Some(ClusterLock { _lock: lock })),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, e)) => Err(Error::new(format!("cannot lock {}: {e}", path.display()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_rebuilds_the_topology() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rec = ClusterRecord {
            runtime: RuntimeKind::Local,
            addressing: NodeAddressing::LoopbackAliases,
            nodes: vec![1, 2, 4],
            settings: Settings::default(),
            authority: Authority::new("pg1"),
            complete: true,
            cloning: Vec::new(),
        };
        rec.save(dir.path()).expect("save");
        let back = ClusterRecord::load(dir.path())
            .expect("load")
            .expect("present");
        assert_eq!(back, rec);
        let names: Vec<String> = back.topology().nodes.into_iter().map(|n| n.name).collect();
        assert_eq!(names, ["pg1", "pg2", "pg4"]);
        assert!(!dir.path().join("cluster.toml.tmp").exists());
    }

    #[test]
    fn only_the_owner_may_read_a_record_also_one_made_readable_before() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(RECORD_FILE);
        std::fs::write(&path, "old").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let rec = ClusterRecord {
            runtime: RuntimeKind::Local,
            addressing: NodeAddressing::LoopbackAliases,
            nodes: vec![1],
            settings: Settings::default(),
            authority: Authority::new("pg1"),
            complete: true,
            cloning: Vec::new(),
        };
        rec.save(dir.path()).expect("save");
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn no_record_is_none_and_a_damaged_one_says_how_to_recover() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(ClusterRecord::load(dir.path()).expect("load").is_none());
        std::fs::write(dir.path().join(RECORD_FILE), "runtime = 3").expect("write");
        let err = ClusterRecord::load(dir.path()).expect_err("damaged");
        assert!(err.to_string().contains("replica-lab down"), "{err}");
    }
}
