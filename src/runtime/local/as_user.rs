//! Running programs and writing files as the unprivileged account the servers run as
//! (PostgreSQL refuses to run as root), with none of the caller's libpq settings.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;

use nix::unistd::{Gid, Uid, User};
use tokio::process::Command;

use super::LocalRuntime;
use crate::runtime::{Error, Result};

/// The account servers run as: PostgreSQL refuses to run as root.
#[derive(Clone, Debug)]
pub struct ServiceUser {
    pub name: String,
    pub uid: Uid,
    pub gid: Gid,
    pub home: PathBuf,
}

impl ServiceUser {
    /// `None` when replica-lab does not run as root (servers then run as the caller).
    pub fn resolve(name: &str) -> Result<Option<ServiceUser>> {
        if !Uid::effective().is_root() {
            return Ok(None);
        }
        match User::from_name(name) {
            Ok(Some(u)) => Ok(Some(ServiceUser {
                name: u.name,
                uid: u.uid,
                gid: u.gid,
                home: u.dir,
            })),
            _ => Err(Error::new(format!(
                "running as root, but the unprivileged user {name:?} that PostgreSQL must run as does not exist: \
                 create it (useradd --system --create-home {name}) or name another with REPLICA_LAB_OS_USER"
            ))),
        }
    }
}

impl LocalRuntime {
    /// A command that runs as the service user, in a folder that user can read, with no
    /// inherited libpq settings that could point it elsewhere.
    pub(super) fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.dir);
        for var in [
            "PGHOST",
            "PGPORT",
            "PGDATA",
            "PGUSER",
            "PGDATABASE",
            "PGSERVICE",
            "PGOPTIONS",
            "PGPASSWORD",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("PGPASSFILE", "/dev/null");
        if let Some(u) = &self.user {
            cmd.uid(u.uid.as_raw())
                .gid(u.gid.as_raw())
                .env("HOME", &u.home);
        }
        cmd.stdin(std::process::Stdio::null());
        cmd.kill_on_drop(false);
        cmd
    }

    pub(super) async fn run(&self, what: &str, cmd: &mut Command) -> Result<Output> {
        let out = cmd
            .output()
            .await
            .map_err(|e| Error::new(format!("{what}: cannot run: {e}")))?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(Error::new(format!("{what} failed: {}", last_lines(&out))))
        }
    }

    /// Creates a folder owned by the service user.
    pub(super) fn make_owned_dir(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::new(format!("cannot create {}: {e}", dir.display())))?;
        self.chown(dir)
    }

    pub(super) fn write_owned(&self, path: &Path, contents: &str) -> Result<()> {
        std::fs::write(path, contents)
            .map_err(|e| Error::new(format!("cannot write {}: {e}", path.display())))?;
        self.chown(path)
    }

    pub(super) fn chown(&self, path: &Path) -> Result<()> {
        if let Some(u) = &self.user {
            nix::unistd::chown(path, Some(u.uid), Some(u.gid)).map_err(|e| {
                Error::new(format!("cannot hand {} to {}: {e}", path.display(), u.name))
            })?;
        }
        Ok(())
    }
}

fn last_lines(out: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
    if tail.is_empty() {
        format!("exit status {}", out.status)
    } else {
        tail
    }
}
