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

    /// Creates a folder owned by the service user that no one else may enter (also when it
    /// existed, made by an older version with wider modes).
    pub(super) fn make_owned_dir(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::new(format!("cannot create {}: {e}", dir.display())))?;
        restrict(dir, 0o700)?;
        self.chown(dir)
    }

    /// Writes a file owned by the service user that only that user may read: the cluster's
    /// files hold passwords (`primary_conninfo`) or say how to reach the servers.
    pub(super) fn write_owned(&self, path: &Path, contents: &str) -> Result<()> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(path)?;
            file.write_all(contents.as_bytes())
        };
        write().map_err(|e| Error::new(format!("cannot write {}: {e}", path.display())))?;
        restrict(path, 0o600)?;
        self.chown(path)
    }

    /// The OS accounts that may log in as `postgres` over a node's socket: the one the app
    /// runs as, and the servers' (the same account when the app does not run as root).
    pub(super) fn socket_accounts(&self) -> Vec<String> {
        let mut names: Vec<String> = self.user.iter().map(|u| u.name.clone()).collect();
        if let Ok(Some(me)) = User::from_uid(Uid::effective()) {
            names.push(me.name);
        }
        names
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

/// Sets `path`'s mode, which a file or folder made by an older version may have wider.
pub(super) fn restrict(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::new(format!("cannot restrict {}: {e}", path.display())))
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
        // The status says itself: "exit status: 1", "signal: 9 (SIGKILL)".
        format!("no output, {}", out.status)
    } else {
        tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn a_failure_is_its_last_lines_or_its_status_said_once() {
        let out = |code: i32, stderr: &str| Output {
            status: std::process::ExitStatus::from_raw(code),
            stdout: Vec::new(),
            stderr: stderr.as_bytes().to_vec(),
        };
        assert_eq!(last_lines(&out(256, "")), "no output, exit status: 1");
        assert_eq!(last_lines(&out(256, "a\n\nb\nc\nd\n")), "b | c | d");
    }
}
