//! `classroom host`: a hub (the PostgreSQL given, or one started through the runtime), its
//! schema brought up to date, a session with a fresh join code, and the command learners run.
//! `classroom down`: stops the started hub.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use super::connect::{self, HubError, connect, with_login};
use crate::cluster::state::{ClusterRecord, cluster_dir};
use crate::error::{Error, Result};
use crate::lifecycle::{Cluster, Progress, Report, bring_up};
use crate::runtime::docker::engine::PullReporter;
use crate::settings::{Settings, data_root, load_toml};

mod ports;
use ports::check_hub_ports;
pub use ports::{HUB_PORTS, check_hub_apart, hub_settings};

/// The cluster `classroom host` starts when no `--db` is given.
pub const HUB_CLUSTER: &str = "classroom-hub";
/// The login learners' `join` uses; it may only call `classroom.join()`.
pub const GATE_USER: &str = "classroom_gate";
pub const GATE_PASSWORD: &str = "classroom_gate";
/// The group every learner's login is in (made by the hub's schema).
pub const LEARNER_GROUP: &str = "classroom_learner";
const CODE_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
pub const CODE_LEN: usize = 8;

/// `hub.toml` in the classroom folder: which hub and session the instructor's commands use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubFile {
    /// The instructor's login to the hub (the file is readable by its owner only).
    pub url: String,
    pub session_id: i64,
    pub title: String,
}

impl HubFile {
    pub fn path(classroom_dir: &Path) -> PathBuf {
        classroom_dir.join("hub.toml")
    }

    /// The hub last hosted from this machine; `None` when there is none.
    pub fn load(classroom_dir: &Path) -> Result<Option<HubFile>> {
        load_toml(
            &Self::path(classroom_dir),
            "run `replica-lab classroom host` again, or give --db",
        )
    }

    /// Written readable by its owner only: the URL holds the instructor's password.
    pub fn save(&self, classroom_dir: &Path) -> Result<PathBuf> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        use std::os::unix::fs::PermissionsExt as _;
        let path = Self::path(classroom_dir);
        let fail = |e: std::io::Error| {
            Error::new(format!(
                "cannot write {}: {e}; set classroom_dir (REPLICA_LAB_CLASSROOM_DIR) to a \
                 writable folder",
                path.display()
            ))
        };
        std::fs::create_dir_all(classroom_dir).map_err(fail)?;
        let text = toml::to_string(self)
            .map_err(|e| Error::new(format!("cannot write the hub file: {e}")))?;
        let tmp = path.with_extension("toml.tmp");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(fail)?;
        // An existing file keeps its mode through `open`; set it whatever it was.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(fail)?;
        file.write_all(text.as_bytes()).map_err(fail)?;
        file.sync_all().map_err(fail)?;
        std::fs::rename(&tmp, &path).map_err(fail)?;
        Ok(path)
    }
}

/// Eight characters from an alphabet without 0/O and 1/I, drawn from the system's CSPRNG.
pub fn new_code() -> std::result::Result<String, HubError> {
    let mut bytes = [0u8; CODE_LEN];
    getrandom::fill(&mut bytes)
        .map_err(|e| HubError::Other(format!("no random numbers for a join code: {e}")))?;
    Ok(code_from(bytes))
}

fn code_from(bytes: [u8; CODE_LEN]) -> String {
    symbols(&bytes)
}

/// 32 symbols divide 256, so every symbol is equally likely.
fn symbols(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| char::from(CODE_ALPHABET[usize::from(*b) % CODE_ALPHABET.len()]))
        .collect()
}

/// A new session whose join code is accepted for `valid_for`; returns its id and the code.
/// The hub keeps only the code's SHA-256 (hex, of the upper-case code).
pub async fn create_session(
    client: &Client,
    title: &str,
    valid_for: Duration,
) -> std::result::Result<(i64, String), HubError> {
    let title = title.trim();
    if title.is_empty() {
        return Err(HubError::Other(
            "the class needs a title: give --title".into(),
        ));
    }
    let code = new_code()?;
    let row = client
        .query_one(
            "INSERT INTO classroom.sessions (title, join_code_hash, code_expires_at)
             VALUES ($1, encode(sha256(convert_to(upper($2), 'UTF8')), 'hex'),
                     now() + make_interval(secs => $3))
             RETURNING id",
            &[&title, &code, &valid_for.as_secs_f64()],
        )
        .await
        .map_err(|e| HubError::sql("cannot create the class's session on the hub", &e))?;
    Ok((row.get(0), code))
}

/// The hub URL with the gate's login, which learners' `join` uses.
pub fn gate_url(hub_url: &str) -> std::result::Result<String, HubError> {
    with_login(hub_url, GATE_USER, GATE_PASSWORD)
}

/// Every learner gets a login of their own, made by `classroom.join()` as the hub login.
pub async fn check_can_create_roles(client: &Client) -> std::result::Result<(), HubError> {
    let row = client
        .query_one(
            "SELECT current_user::text, rolsuper OR rolcreaterole
             FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .map_err(|e| HubError::sql("cannot ask the hub what this login may do", &e))?;
    let (user, can): (String, bool) = (row.get(0), row.get(1));
    if can {
        return Ok(());
    }
    Err(HubError::Other(format!(
        "the hub login {user} cannot create roles, and each learner gets a login of their own: \
         as a superuser run ALTER ROLE \"{user}\" CREATEROLE, or host with a superuser's URL"
    )))
}

/// `90m`, `4h`, `1h30m`, `45s`, `2d`: numbers each followed by a unit.
pub fn parse_valid_for(text: &str) -> std::result::Result<Duration, String> {
    let bad = || {
        format!("--code-valid {text:?} is not a duration: write e.g. 90m, 4h or 1h30m (d, h, m, s)")
    };
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(bad)?;
        number.clear();
    }
    if !number.is_empty() || total == 0 {
        return Err(bad());
    }
    if total > 30 * 86_400 {
        return Err(format!(
            "--code-valid {text:?} is longer than 30 days: a join code should not outlive the class"
        ));
    }
    Ok(Duration::from_secs(total))
}

/// Starts (or restarts) the hub cluster; returns the instructor's URL and the learners'.
pub async fn start_hub(
    base: &Settings,
    bind: Option<IpAddr>,
    port: u16,
    report: Report,
    pull: Option<Arc<PullReporter>>,
) -> Result<(String, String)> {
    let mut settings = hub_settings(base, bind, port).map_err(Error::new)?;
    let dir = cluster_dir(&data_root(&settings), HUB_CLUSTER);
    let existing = ClusterRecord::load(&dir)?;
    if existing.is_none() {
        check_hub_apart(&settings, base).map_err(Error::new)?;
        check_hub_ports(&settings)?;
    }
    if let Some(made) = existing.as_ref().map(|r| r.settings.bind_host) {
        if made != settings.bind_host {
            report(Progress::Note(format!(
                "the hub was made to listen on {made}: it keeps it (classroom down --purge, then \
                 host again to move it)"
            )));
        }
    } else if settings.exposed() && guard(&mut settings)? {
        report(Progress::Note(format!(
            "the built-in passwords are public, so the hub got strong ones of its own: they are \
             in {}, readable by you only, and your classroom commands find them in hub.toml",
            dir.join("cluster.toml").display()
        )));
    }
    let cluster = bring_up(&settings, report.clone(), pull).await?;
    make_room(&cluster).await?;
    let topo = cluster.topology();
    let write = topo.endpoints.write;
    if existing.is_some() && write.port() != port {
        report(Progress::Note(format!(
            "the hub was made with --port {}: it keeps it (classroom down --purge, then host \
             again to move it)",
            write.port()
        )));
    }
    let c = &topo.credentials;
    let local = if write.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), write.port())
    } else {
        write
    };
    let path = format!("/{}", connect::percent_encode(&c.database));
    let guarded = !topo.exposure.endpoint_logins.is_empty();
    // A guarded hub's endpoints let only the gate and learners in: the instructor's
    // superuser reaches the nodes themselves, on loopback, whichever is primary.
    let (at, attrs) = if guarded {
        let nodes: Vec<String> = topo
            .nodes
            .iter()
            .map(|n| cluster.rt.client_addr(n).to_string())
            .collect();
        (nodes.join(","), "&target_session_attrs=read-write")
    } else {
        (local.to_string(), "")
    };
    let instructor = format!(
        "postgresql://{}:{}@{at}{path}?sslmode=disable{attrs}",
        connect::percent_encode(&c.user),
        connect::percent_encode(&c.password),
    );
    let reach = if write.ip().is_unspecified() {
        format!("{}:{}", this_host(), write.port())
    } else {
        write.to_string()
    };
    let tls = if topo.exposure.tls {
        "?sslmode=require"
    } else {
        ""
    };
    let learners = format!("postgresql://{GATE_USER}:{GATE_PASSWORD}@{reach}{path}{tls}");
    if topo.exposure.tls {
        report(Progress::Note(format!(
            "learners' connections are encrypted (TLS) and only the gate and learners' own \
             logins get in through {reach}; to have them check the hub's certificate too, give \
             them {} and add &sslrootcert=THAT-FILE to the URL",
            crate::cluster::certs::ca_path(&dir).display()
        )));
    }
    if write.ip().is_unspecified() {
        report(Progress::Note(format!(
            "the hub listens on every interface; learners reach it as {reach}: if that name \
             does not resolve for them, give them this machine's address instead"
        )));
    }
    Ok((instructor, learners))
}

/// A hub beyond loopback: its endpoints let in only the gate and learners, over TLS; the
/// built-in passwords it would otherwise keep are replaced by strong ones, kept in the hub's
/// cluster record and `hub.toml` (both readable by their owner only). Says whether it made
/// any.
fn guard(settings: &mut Settings) -> Result<bool> {
    settings.endpoint_logins = vec![GATE_USER.into(), format!("+{LEARNER_GROUP}")];
    let builtin = Settings::default();
    let mut made = false;
    if settings.password == builtin.password {
        settings.password = strong_password()?;
        made = true;
    }
    if settings.replication_password == builtin.replication_password {
        settings.replication_password = strong_password()?;
        made = true;
    }
    Ok(made)
}

/// 26 symbols of 5 bits each from the system's CSPRNG: 130 bits.
fn strong_password() -> Result<String> {
    let mut bytes = [0u8; 26];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::new(format!("no random numbers for a password: {e}")))?;
    Ok(symbols(&bytes).to_lowercase())
}

/// Connections a started hub accepts: every learner's app keeps one open, and PostgreSQL's
/// default of 100 would turn a large class away.
pub const HUB_MAX_CONNECTIONS: u32 = 500;

/// Raises `max_connections` on a started hub (once: it takes a restart). The standby first: a
/// standby refuses to run with fewer connections than its primary.
async fn make_room(cluster: &Cluster) -> Result<()> {
    use crate::cluster::admin::Admin;
    use crate::cluster::node_op::NodeOp;
    let topo = cluster.topology();
    let c = &topo.credentials;
    let mut nodes: Vec<_> = topo.nodes.iter().collect();
    // pg1 is the hub's first primary; the standby goes first.
    nodes.sort_by_key(|n| n.name == "pg1");
    let mut restart = Vec::new();
    for node in &nodes {
        let admin = Admin::tcp(cluster.rt.client_addr(node), c, "postgres").await?;
        let now: String = admin
            .client()
            .query_one("SHOW max_connections", &[])
            .await
            .map_err(|e| Error::new(format!("SHOW max_connections on {}: {e}", node.name)))?
            .get(0);
        if now.parse::<u32>().unwrap_or(0) >= HUB_MAX_CONNECTIONS {
            continue;
        }
        admin
            .client()
            .batch_execute(&format!(
                "ALTER SYSTEM SET max_connections = {HUB_MAX_CONNECTIONS}"
            ))
            .await
            .map_err(|e| Error::new(format!("raising max_connections on {}: {e}", node.name)))?;
        restart.push(node.name.clone());
    }
    if restart.is_empty() {
        return Ok(());
    }
    cluster.note(format!(
        "room for {HUB_MAX_CONNECTIONS} connections: restarting {}",
        restart.join(", ")
    ));
    for name in &restart {
        cluster.node_op(NodeOp::Stop, name).await?;
        cluster.node_op(NodeOp::Start, name).await?;
    }
    cluster.wait_ready(&topo).await
}

/// This machine's name, for learners on other machines.
fn this_host() -> String {
    crate::cluster::certs::host_name().unwrap_or_else(|| "THIS-MACHINE".into())
}

/// HAProxy routes the write endpoint once its checks have seen the primary: give it a moment.
pub async fn connect_started(url: &str) -> std::result::Result<connect::Hub, HubError> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match connect(url, "replica-lab classroom host").await {
            Ok(hub) => return Ok(hub),
            Err(HubError::Unreachable { .. } | HubError::Refused { .. })
                if Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_the_unambiguous_alphabet_evenly() {
        assert_eq!(code_from([0, 31, 32, 255, 8, 9, 10, 100]), "2Z2ZABC6");
        let code = new_code().unwrap();
        assert_eq!(code.len(), CODE_LEN);
        assert!(code.chars().all(|c| !"0O1I".contains(c)), "{code}");
        assert!(code.chars().all(|c| CODE_ALPHABET.contains(&(c as u8))));
        assert_ne!(new_code().unwrap(), code, "two codes in a row differ");
    }

    #[test]
    fn durations_parse_as_written() {
        let d = |s| parse_valid_for(s).map(|d| d.as_secs());
        assert_eq!(d("90m"), Ok(5_400));
        assert_eq!(d("4h"), Ok(14_400));
        assert_eq!(d("1h30m"), Ok(5_400));
        assert_eq!(d("45s"), Ok(45));
        assert_eq!(d("1d"), Ok(86_400));
        for bad in [
            "",
            "4",
            "h",
            "4x",
            "-1h",
            "0m",
            "1.5h",
            "99999999999999999999h",
        ] {
            let e = parse_valid_for(bad).unwrap_err();
            assert!(e.contains("--code-valid"), "{bad}: {e}");
        }
        assert!(parse_valid_for("31d").unwrap_err().contains("30 days"));
    }

    #[test]
    fn the_gate_url_is_the_hub_with_the_gates_login() {
        assert_eq!(
            gate_url("postgresql://teacher:pw@hub:5439/mydatabase?sslmode=verify-full").unwrap(),
            "postgresql://classroom_gate:classroom_gate@hub:5439/mydatabase?sslmode=verify-full"
        );
    }

    #[test]
    fn the_hub_file_is_private_and_round_trips() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(HubFile::load(dir.path()).unwrap(), None);
        let f = HubFile {
            url: "postgresql://u:pw@h/db".into(),
            session_id: 7,
            title: "class".into(),
        };
        let path = f.save(&dir.path().join("sub")).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(HubFile::load(&dir.path().join("sub")).unwrap(), Some(f));
        std::fs::write(&path, "url = 3").unwrap();
        assert!(HubFile::load(&dir.path().join("sub")).is_err());
    }
}
