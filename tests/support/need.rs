//! The one place a test decides not to run. A test that needs something this machine may lack
//! (a Docker engine with the offline images, Docker Compose, HAProxy, the PostgreSQL server
//! programs, a given account) asks [`require`] or [`require_with`]: when the need is met the
//! test goes on; when it is not, the test prints `SKIPPED <test>: <why>; <how to make it run>`
//! and returns, unless `REPLICA_LAB_REQUIRE` lists the need, in which case it fails saying
//! what is missing and how to get it. CI lists every need its machine meets, so a test that
//! would skip there fails instead.
//!
//! `REPLICA_LAB_REQUIRE` is a comma-separated list of need names (`docker`, `compose`,
//! `haproxy`, `postgres`, `root`, `unprivileged`); `all` stands for every need that can be
//! installed (all but the two accounts, of which a run can only ever meet one).

use std::collections::BTreeSet;
use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use replica_lab::runtime::binaries::{find_haproxy, find_pg_bindir};

use super::{PG_IMAGE, PROXY_IMAGE};

/// The environment variable naming the needs a run must meet.
pub const REQUIRE_ENV: &str = "REPLICA_LAB_REQUIRE";

/// Something a test may need that a machine may not have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Need {
    /// A Docker engine that answers, holding the offline images the tests run.
    Docker,
    /// Docker Compose: the plugin (`docker compose`) or the standalone `docker-compose`.
    Compose,
    /// The `haproxy` program.
    Haproxy,
    /// The PostgreSQL server programs (`initdb`, `pg_ctl`, `postgres`, `pg_basebackup`).
    Postgres,
    /// Running as root.
    Root,
    /// Running as an ordinary user, whom file permissions stop.
    Unprivileged,
}

impl Need {
    pub const ALL: [Need; 6] = [
        Need::Docker,
        Need::Compose,
        Need::Haproxy,
        Need::Postgres,
        Need::Root,
        Need::Unprivileged,
    ];

    /// The needs `all` stands for: every one that can be installed.
    pub const INSTALLABLE: [Need; 4] = [Need::Docker, Need::Compose, Need::Haproxy, Need::Postgres];

    /// Its name in `REPLICA_LAB_REQUIRE`.
    pub fn name(self) -> &'static str {
        match self {
            Need::Docker => "docker",
            Need::Compose => "compose",
            Need::Haproxy => "haproxy",
            Need::Postgres => "postgres",
            Need::Root => "root",
            Need::Unprivileged => "unprivileged",
        }
    }

    /// How to meet it.
    pub fn fix(self) -> &'static str {
        match self {
            Need::Docker => {
                "start a Docker engine (or point DOCKER_HOST at one) and build the offline \
                 images with docker/build-images.sh (scripts/test does this where an engine \
                 answers)"
            }
            Need::Compose => {
                "install Docker Compose: the plugin (apt-get install docker-compose-plugin) or \
                 the standalone docker-compose (apt-get install docker-compose)"
            }
            Need::Haproxy => {
                "install it with scripts/install-deps (Debian/Ubuntu: apt-get install \
                 haproxy), or set REPLICA_LAB_HAPROXY_BIN to the program"
            }
            Need::Postgres => {
                "install them with scripts/install-deps (Debian/Ubuntu: apt-get install \
                 postgresql), or set REPLICA_LAB_PG_BINDIR to the folder holding initdb"
            }
            Need::Root => "run the tests as root",
            Need::Unprivileged => "run the tests as an ordinary user, not as root",
        }
    }

    /// Whether this machine meets it; the error says what is missing.
    pub fn probe(self) -> Result<(), String> {
        match self {
            Need::Docker => docker_ready(),
            Need::Compose => compose_answers(),
            Need::Haproxy => haproxy().map(drop),
            Need::Postgres => postgres().map(drop),
            Need::Root => {
                if is_root() {
                    Ok(())
                } else {
                    Err("it only means something when run as root".into())
                }
            }
            Need::Unprivileged => {
                if is_root() {
                    Err("permissions do not stop root".into())
                } else {
                    Ok(())
                }
            }
        }
    }
}

impl fmt::Display for Need {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The needs a run must meet, as `REPLICA_LAB_REQUIRE` lists them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Required {
    needs: BTreeSet<Need>,
    /// The variable's value, for messages.
    raw: String,
}

impl Required {
    /// Parses the variable's value; `None` (unset) and an empty value require nothing.
    /// Names are case-insensitive and may be spaced; an unknown name is an error, so a typo
    /// cannot quietly let tests skip.
    pub fn parse(value: Option<&str>) -> Result<Required, String> {
        let raw = value.unwrap_or("").trim().to_string();
        let mut needs = BTreeSet::new();
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let item = item.to_ascii_lowercase();
            if item == "all" {
                needs.extend(Need::INSTALLABLE);
                continue;
            }
            let need = Need::ALL
                .into_iter()
                .find(|n| n.name() == item)
                .ok_or_else(|| {
                    let known: Vec<&str> = Need::ALL.iter().map(|n| n.name()).collect();
                    format!(
                        "{REQUIRE_ENV}={raw}: unknown need {item:?} (known: {}, or all)",
                        known.join(", ")
                    )
                })?;
            needs.insert(need);
        }
        if needs.contains(&Need::Root) && needs.contains(&Need::Unprivileged) {
            return Err(format!(
                "{REQUIRE_ENV}={raw}: root and unprivileged exclude each other"
            ));
        }
        Ok(Required { needs, raw })
    }

    /// What this process's environment requires; a bad value fails the test at once.
    pub fn from_env() -> Required {
        let value = std::env::var(REQUIRE_ENV).ok();
        Required::parse(value.as_deref()).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn includes(&self, need: Need) -> bool {
        self.needs.contains(&need)
    }

    pub fn needs(&self) -> impl Iterator<Item = Need> + '_ {
        self.needs.iter().copied()
    }
}

/// What to do about an unmet need.
#[derive(Debug, PartialEq, Eq)]
pub enum Unmet {
    /// Print this line and return.
    Skip(String),
    /// Fail with this message.
    Fail(String),
}

/// The decision for `test`, whose `need` is unmet because of `why`, under `required`.
pub fn decide(need: Need, test: &str, why: &str, required: &Required) -> Unmet {
    if required.includes(need) {
        Unmet::Fail(format!(
            "{test} needs {need}, which {REQUIRE_ENV}={} requires, but {why}; {}",
            required.raw,
            need.fix()
        ))
    } else {
        Unmet::Skip(format!("SKIPPED {test}: {why}; {}", need.fix()))
    }
}

/// Whether `test` runs: probes `need` on this machine; see [`require_with`].
pub fn require(need: Need, test: &str) -> bool {
    require_with(need, test, need.probe()).is_some()
}

/// Whether `test` runs, given what the probe for `need` found: `Some` goes on with it; `None`
/// means the test must return now, and its SKIPPED line is printed; when
/// `REPLICA_LAB_REQUIRE` lists the need, this fails the test instead.
pub fn require_with<T>(need: Need, test: &str, found: Result<T, String>) -> Option<T> {
    // Read first, so a bad value fails even where every need is met.
    let required = Required::from_env();
    let why = match found {
        Ok(v) => return Some(v),
        Err(why) => why,
    };
    match decide(need, test, &why, &required) {
        Unmet::Fail(message) => panic!("{message}"),
        Unmet::Skip(line) => {
            // Straight to the process's stderr: the harness captures `eprintln!` of a passing
            // test, and a skip must show in every run.
            let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
            None
        }
    }
}

/// Every need `test` names is met (each unmet one is reported as [`require`] does).
pub fn require_all(needs: &[Need], test: &str) -> bool {
    let mut met = true;
    for need in needs {
        met &= require(*need, test);
    }
    met
}

// --- probes -------------------------------------------------------------------------------

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The first line a failed command wrote, for a reason.
fn first_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no output")
        .to_string()
}

/// An engine answers and holds the images the tests use; asked once per test binary.
fn docker_ready() -> Result<(), String> {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    READY
        .get_or_init(|| {
            let out = Command::new("docker")
                .args(["version", "--format", "{{.Server.Version}}"])
                .output()
                .map_err(|e| format!("the docker command cannot run ({e})"))?;
            if !out.status.success() {
                return Err(format!(
                    "no Docker engine answers (docker version: {})",
                    first_line(&out.stderr)
                ));
            }
            let missing: Vec<&str> = [PG_IMAGE, PROXY_IMAGE]
                .into_iter()
                .filter(|image| {
                    !Command::new("docker")
                        .args(["image", "inspect", "--format", "{{.Id}}", image])
                        .output()
                        .is_ok_and(|o| o.status.success())
                })
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "the Docker engine lacks the image(s) {}",
                    missing.join(", ")
                ))
            }
        })
        .clone()
}

/// `docker compose` or `docker-compose` answers `version`.
fn compose_answers() -> Result<(), String> {
    let answers = |program: &[&str]| {
        Command::new(program[0])
            .args(&program[1..])
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if answers(&["docker", "compose"]) || answers(&["docker-compose"]) {
        Ok(())
    } else {
        Err("neither `docker compose` nor `docker-compose` answers".into())
    }
}

/// The `haproxy` program, where `REPLICA_LAB_HAPROXY_BIN` or the usual places have it.
pub fn haproxy() -> Result<PathBuf, String> {
    match std::env::var_os("REPLICA_LAB_HAPROXY_BIN").map(PathBuf::from) {
        Some(explicit) => find_haproxy(Some(&explicit)).map_err(|e| e.to_string()),
        None => find_haproxy(None).map_err(|_| "haproxy is not on PATH, nor in /usr/sbin".into()),
    }
}

/// The folder of the PostgreSQL server programs, where `REPLICA_LAB_PG_BINDIR` or the usual
/// places have them.
pub fn postgres() -> Result<PathBuf, String> {
    match std::env::var_os("REPLICA_LAB_PG_BINDIR").map(PathBuf::from) {
        Some(explicit) => find_pg_bindir(Some(&explicit)).map_err(|e| e.to_string()),
        None => find_pg_bindir(None).map_err(|_| {
            "the PostgreSQL server programs (initdb, pg_ctl, pg_basebackup, pg_rewind) are not \
             on PATH, nor under /usr/lib/postgresql"
                .into()
        }),
    }
}
