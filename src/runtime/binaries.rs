//! Finding the PostgreSQL server programs and HAProxy on this machine.

use std::path::{Path, PathBuf};

use super::Error;

/// The server programs the local runtime runs.
pub const PG_PROGRAMS: [&str; 5] = ["postgres", "initdb", "pg_ctl", "pg_basebackup", "pg_rewind"];

#[derive(Clone, Debug)]
pub struct Binaries {
    pub pg_bindir: PathBuf,
    pub haproxy: PathBuf,
}

impl Binaries {
    pub fn pg(&self, program: &str) -> PathBuf {
        self.pg_bindir.join(program)
    }

    pub fn find(pg_bindir: Option<&Path>, haproxy: Option<&Path>) -> Result<Self, Error> {
        Ok(Binaries {
            pg_bindir: find_pg_bindir(pg_bindir)?,
            haproxy: find_haproxy(haproxy)?,
        })
    }
}

fn has_server_programs(dir: &Path) -> bool {
    PG_PROGRAMS.iter().all(|p| dir.join(p).is_file())
}

/// The explicit setting, then PATH, then `pg_config --bindir`, then the newest
/// `/usr/lib/postgresql/*/bin` (Debian keeps server programs off PATH).
pub fn find_pg_bindir(explicit: Option<&Path>) -> Result<PathBuf, Error> {
    if let Some(dir) = explicit {
        return if has_server_programs(dir) {
            Ok(dir.to_path_buf())
        } else {
            Err(Error::new(format!(
                "{} does not hold the PostgreSQL server programs ({}): fix the pg_bindir setting",
                dir.display(),
                PG_PROGRAMS.join(", ")
            )))
        };
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(initdb) = which("initdb") {
        candidates.extend(initdb.parent().map(Path::to_path_buf));
    }
    if let Ok(out) = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
    {
        if out.status.success() {
            candidates.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        }
    }
    candidates.extend(debian_bindirs());
    candidates
        .into_iter()
        .find(|d| has_server_programs(d))
        .ok_or_else(|| {
            Error::new(
                "PostgreSQL server programs (initdb, pg_ctl, pg_basebackup, pg_rewind) not found: \
                 install them (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql) \
                 or set REPLICA_LAB_PG_BINDIR",
            )
        })
}

/// `/usr/lib/postgresql/<major>/bin`, newest major first.
fn debian_bindirs() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") else {
        return Vec::new();
    };
    let mut majors: Vec<(u32, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((major, e.path().join("bin")))
        })
        .collect();
    majors.sort_by_key(|m| std::cmp::Reverse(m.0));
    majors.into_iter().map(|(_, p)| p).collect()
}

pub fn find_haproxy(explicit: Option<&Path>) -> Result<PathBuf, Error> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(Error::new(format!(
                "{} is not a file: fix the haproxy_bin setting",
                p.display()
            )))
        };
    }
    which("haproxy")
        .or_else(|| ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"].iter().map(PathBuf::from).find(|p| p.is_file()))
        .ok_or_else(|| {
            Error::new(
                "haproxy not found: install it (Debian/Ubuntu: apt-get install haproxy; macOS: brew install haproxy) \
                 or set REPLICA_LAB_HAPROXY_BIN",
            )
        })
}

pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}
