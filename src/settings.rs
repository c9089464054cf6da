//! Settings, layered: built-in defaults < the config file < `REPLICA_LAB_*` environment
//! variables < command-line flags.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

mod env;
mod exposure;
mod ports;
pub use env::UnknownVar;
pub use exposure::valid_endpoint_login;
pub use ports::{MIN_PORT, PortRole, PortUse};

pub const ENV_PREFIX: &str = "REPLICA_LAB_";

pub const MIN_REPLICAS: u8 = 1;
pub const MAX_REPLICAS: u8 = 9;
/// Every node a cluster can ever have: pg1 and the most replicas. Ports are reserved for all
/// of them, so scaling up never lands a node on a port something else of the cluster uses.
pub const MAX_NODES: u8 = MAX_REPLICAS + 1;

/// Logins every runtime creates the same way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// The learner's superuser, as in the tutorial the project grew from.
    pub user: String,
    pub password: String,
    pub database: String,
    pub replication_user: String,
    pub replication_password: String,
    /// A login with no privileges, trusted only for the `postgres` database, so HAProxy's
    /// health check can read `in_hot_standby` without a password.
    pub check_user: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeChoice {
    /// Docker when an engine answers, else local processes.
    #[default]
    Auto,
    Local,
    Docker,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The cluster's name: one folder of state, one set of ports.
    pub name: String,
    pub runtime: RuntimeChoice,
    pub replicas: u8,
    pub user: String,
    pub password: String,
    pub database: String,
    pub replication_user: String,
    pub replication_password: String,
    pub check_user: String,
    /// Where the endpoints listen. Loopback unless the user asks otherwise; beyond it the
    /// servers speak TLS and the built-in passwords are refused.
    pub bind_host: IpAddr,
    /// Where the stats page listens when `bind_host` is beyond loopback: on 127.0.0.1 unless
    /// this says otherwise, and then it asks for `user` and `password`.
    pub stats_bind_host: Option<IpAddr>,
    /// The only logins HAProxy's endpoints let in, over TLS only, when they listen beyond
    /// loopback (`pg_hba.conf` names, `+group` for a group's members). Empty: every login.
    pub endpoint_logins: Vec<String>,
    pub write_port: u16,
    pub read_port: u16,
    pub stats_port: u16,
    /// Local nodes listen on `node_base + index` (127.0.0.11 for pg1 by default) at this port.
    pub node_base: Ipv4Addr,
    pub node_port: u16,
    /// Where each node has no address of its own (Docker publishing on 127.0.0.1, or no
    /// loopback aliases), pgN is on `node_ports_from + N - 1`: a block of [`MAX_NODES`] ports
    /// kept apart from the endpoints.
    pub node_ports_from: u16,
    /// Overrides where cluster state lives.
    pub data_dir: Option<PathBuf>,
    /// Overrides where the PostgreSQL server binaries are found.
    pub pg_bindir: Option<PathBuf>,
    pub haproxy_bin: Option<PathBuf>,
    /// The unprivileged account servers run as when replica-lab runs as root.
    pub os_user: String,
    pub postgres_image: String,
    pub haproxy_image: String,
    /// `dark`, `light`; NO_COLOR in the environment always wins.
    pub theme: String,
    /// Key overrides for the app: action name → key (`run = "ctrl-r"`); see `replica-lab --help`.
    pub keys: std::collections::BTreeMap<String, String>,
    /// A folder of lesson files used instead of the lessons built into the binary.
    pub lessons: Option<PathBuf>,
    /// Whose progress the app records; the login name when not set.
    pub learner: Option<String>,
    /// Overrides where learners' progress is kept.
    pub progress_dir: Option<PathBuf>,
    /// Overrides where the classroom's files live (hub address, membership, event queue).
    pub classroom_dir: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            name: "default".into(),
            runtime: RuntimeChoice::Auto,
            replicas: 3,
            user: "myuser".into(),
            password: "mypassword".into(),
            database: "mydatabase".into(),
            replication_user: "replicator".into(),
            replication_password: "replicator-secret".into(),
            check_user: "haproxy_check".into(),
            bind_host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            stats_bind_host: None,
            endpoint_logins: Vec::new(),
            write_port: 5435,
            read_port: 5436,
            stats_port: 8404,
            node_base: Ipv4Addr::new(127, 0, 0, 10),
            node_port: 5432,
            node_ports_from: 15431,
            data_dir: None,
            pg_bindir: None,
            haproxy_bin: None,
            os_user: "postgres".into(),
            postgres_image: "postgres:17".into(),
            haproxy_image: "haproxy:3.2".into(),
            theme: "dark".into(),
            keys: std::collections::BTreeMap::new(),
            lessons: None,
            learner: None,
            progress_dir: None,
            classroom_dir: None,
        }
    }
}

/// Why settings could not be used; each message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid settings: {0}")]
    Parse(String),
    #[error("replica count {0} is out of range: choose {MIN_REPLICAS} to {MAX_REPLICAS}")]
    ReplicaCount(u8),
    #[error(
        "cluster name {0:?} is not usable: use 1 to 32 lowercase letters, digits or '-', starting with a letter"
    )]
    Name(String),
    #[error("port {first_port} is both {first} and {second}: choose ports that do not overlap")]
    PortClash {
        first_port: u16,
        first: String,
        second: String,
    },
    #[error("port 0 is not usable for {0}: choose a port from {MIN_PORT} to 65535")]
    PortZero(String),
    #[error(
        "port {port} is not usable for {what}: ports below {MIN_PORT} need root, and the servers \
         run as an unprivileged user; choose a port from {MIN_PORT} to 65535"
    )]
    PortPrivileged { port: u16, what: String },
    #[error(
        "node_ports_from {0} leaves no room: pg1 to pg{MAX_NODES} need {MAX_NODES} ports from it, \
         past 65535; choose node_ports_from {max} or lower",
        max = u16::MAX - u16::from(MAX_NODES) + 1
    )]
    NodePortsOverflow(u16),
    #[error(
        "{key} {host} is beyond loopback, and {which} still the built-in default that \
         anyone can read in replica-lab's source: set {vars}, each to a strong password of your \
         own, before exposing the cluster (or keep {key} on 127.0.0.1)"
    )]
    DefaultPasswordExposed {
        key: &'static str,
        host: IpAddr,
        which: String,
        vars: String,
    },
    #[error(
        "endpoint_logins entry {0:?} is not a login: write a role name, or + and a lower-case \
         group name (e.g. \"+students\")"
    )]
    EndpointLogin(String),
}

impl Settings {
    /// Defaults, then `file` if it exists, then the environment, then `overrides`
    /// (typically the command-line flags that were given, serialised with `None`s skipped).
    /// `REPLICA_LAB_*` variables that name no setting are ignored; see [`Settings::load_noting`].
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &impl Serialize,
    ) -> Result<Settings, SettingsError> {
        Self::load_noting(file, env, overrides).map(|(settings, _)| settings)
    }

    /// As [`Settings::load`], with the `REPLICA_LAB_*` variables that were ignored because
    /// they name no setting, for a warning. A misspelt key in the file is still an error: the
    /// file is the user's own, and names only settings.
    pub fn load_noting(
        file: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
        overrides: &impl Serialize,
    ) -> Result<(Settings, Vec<UnknownVar>), SettingsError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file(file));
        }
        let (pairs, unknown) = env::split(vars);
        figment = figment.merge(env::EnvPairs { pairs });
        let settings: Settings = figment
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| SettingsError::Parse(e.to_string()))?;
        settings.validate()?;
        Ok((settings, unknown))
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        if !(MIN_REPLICAS..=MAX_REPLICAS).contains(&self.replicas) {
            return Err(SettingsError::ReplicaCount(self.replicas));
        }
        validate_name(&self.name)?;
        self.check_ports()?;
        if let Some(bad) = self
            .endpoint_logins
            .iter()
            .find(|l| !valid_endpoint_login(l))
        {
            return Err(SettingsError::EndpointLogin(bad.clone()));
        }
        Ok(())
    }

    /// Whose progress this is: the `learner` setting, else the login name.
    pub fn learner_name(&self) -> String {
        let login = || {
            std::env::var("USER").ok().or_else(|| {
                nix::unistd::User::from_uid(nix::unistd::getuid())
                    .ok()
                    .flatten()
                    .map(|u| u.name)
            })
        };
        self.learner
            .clone()
            .filter(|n| !n.trim().is_empty())
            .or_else(login)
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "learner".into())
    }

    pub fn credentials(&self) -> Credentials {
        Credentials {
            user: self.user.clone(),
            password: self.password.clone(),
            database: self.database.clone(),
            replication_user: self.replication_user.clone(),
            replication_password: self.replication_password.clone(),
            check_user: self.check_user.clone(),
        }
    }
}

pub fn validate_name(name: &str) -> Result<(), SettingsError> {
    let ok = (1..=32).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(SettingsError::Name(name.to_string()))
    }
}

/// The user's config file: `$XDG_CONFIG_HOME/replica-lab/config.toml` or the platform's equivalent.
pub fn config_file() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "replica-lab")
        .map(|d| d.config_dir().join("config.toml"))
}

/// Where clusters keep their state. Root's home is private, and the servers run as an
/// unprivileged user who must reach their data, so root uses the system location.
pub fn data_root(settings: &Settings) -> PathBuf {
    if let Some(dir) = &settings.data_dir {
        return dir.clone();
    }
    if nix::unistd::Uid::effective().is_root() {
        return PathBuf::from("/var/lib/replica-lab");
    }
    directories::ProjectDirs::from("", "", "replica-lab")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("replica-lab"))
}

/// The text of `path`, or `None` when there is no such file.
pub fn read_if_exists(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The TOML file at `path` as a `T`, or `None` when there is no such file. The error names the
/// file; for a damaged one it ends with `fix`, what to do about it.
pub fn load_toml<T: serde::de::DeserializeOwned>(
    path: &Path,
    fix: &str,
) -> crate::error::Result<Option<T>> {
    let text = read_if_exists(path)
        .map_err(|e| crate::error::Error::new(format!("cannot read {}: {e}", path.display())))?;
    let Some(text) = text else {
        return Ok(None);
    };
    toml::from_str(&text).map(Some).map_err(|e| {
        crate::error::Error::new(format!("{} is damaged ({e}): {fix}", path.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Default)]
    struct Flags {
        #[serde(skip_serializing_if = "Option::is_none")]
        replicas: Option<u8>,
        #[serde(skip_serializing_if = "Option::is_none")]
        write_port: Option<u16>,
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_the_tutorials() {
        let s = Settings::load(None, env(&[]), &Flags::default()).expect("defaults load");
        assert_eq!(s, Settings::default());
        assert_eq!(
            (s.user.as_str(), s.password.as_str()),
            ("myuser", "mypassword")
        );
        assert_eq!(s.database, "mydatabase");
        assert_eq!(
            (s.write_port, s.read_port, s.stats_port),
            (5435, 5436, 8404)
        );
        assert!(s.bind_host.is_loopback());
    }

    #[test]
    fn flags_beat_environment_beat_file_beat_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("config.toml");
        std::fs::write(
            &file,
            "replicas = 2\nwrite_port = 6000\nstats_port = 9000\n",
        )
        .expect("write config");
        let e = env(&[
            ("REPLICA_LAB_WRITE_PORT", "7000"),
            ("REPLICA_LAB_USER", "alice"),
            ("OTHER_WRITE_PORT", "1"),
        ]);
        let flags = Flags {
            write_port: Some(8000),
            ..Flags::default()
        };
        let s = Settings::load(Some(&file), e, &flags).expect("layers load");
        assert_eq!(s.write_port, 8000, "flag wins");
        assert_eq!(s.user, "alice", "environment beats default");
        assert_eq!(s.replicas, 2, "file beats default");
        assert_eq!(s.stats_port, 9000, "file beats default");
        assert_eq!(s.read_port, 5436, "default stays");

        let s = Settings::load(
            Some(&file),
            env(&[("REPLICA_LAB_REPLICAS", "4")]),
            &Flags::default(),
        )
        .expect("env over file");
        assert_eq!(s.replicas, 4, "environment beats file");
    }

    #[test]
    fn a_missing_file_is_just_defaults() {
        let s = Settings::load(
            Some(Path::new("/nonexistent/replica-lab.toml")),
            env(&[]),
            &Flags::default(),
        )
        .expect("missing file is fine");
        assert_eq!(s.replicas, 3);
    }

    #[test]
    fn bad_values_name_the_problem() {
        let err = Settings::load(
            None,
            env(&[]),
            &Flags {
                replicas: Some(12),
                ..Flags::default()
            },
        )
        .expect_err("12 replicas");
        assert!(err.to_string().contains("choose 1 to 9"), "{err}");

        let err = Settings::load(
            None,
            env(&[("REPLICA_LAB_WRITE_PORT", "many")]),
            &Flags::default(),
        )
        .expect_err("not a port");
        assert!(err.to_string().contains("write_port"), "{err}");

        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("config.toml");
        std::fs::write(&file, "replcias = 2\n").expect("write config");
        let err = Settings::load(Some(&file), env(&[]), &Flags::default()).expect_err("typo");
        assert!(err.to_string().contains("replcias"), "{err}");

        let err = Settings::load(
            None,
            env(&[]),
            &Flags {
                write_port: Some(8404),
                ..Flags::default()
            },
        )
        .expect_err("clash");
        assert!(err.to_string().contains("8404"), "{err}");
    }

    #[test]
    fn cluster_names_are_safe_for_paths_and_labels() {
        for good in ["default", "lab-2", "a"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Default", "2lab", "../x", "a b", &"x".repeat(33)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_optional_toml_file_is_none_when_missing_and_named_when_damaged() {
        #[derive(Deserialize, Debug, PartialEq)]
        struct Kept {
            n: u8,
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kept.toml");
        assert_eq!(load_toml::<Kept>(&path, "fix it").expect("missing"), None);
        std::fs::write(&path, "n = 3\n").expect("write");
        assert_eq!(
            load_toml::<Kept>(&path, "fix it").expect("good"),
            Some(Kept { n: 3 })
        );
        std::fs::write(&path, "n = \"three\"\n").expect("write");
        let err = load_toml::<Kept>(&path, "fix it").expect_err("damaged");
        let text = err.to_string();
        assert!(
            text.contains("kept.toml is damaged") && text.ends_with(": fix it"),
            "{text}"
        );
    }
}
