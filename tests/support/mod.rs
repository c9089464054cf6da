//! Real clusters for tests: each test gets its own name, ports, loopback addresses and data
//! folder, so tests run side by side; the cluster is removed when the handle drops, also when
//! the test fails, and leftovers of a killed run are swept before starting.
#![allow(dead_code)]

pub mod intruder;
pub mod need;
pub mod pty;
pub mod roles;
pub mod screen;

// Each test binary uses its own part.
#[allow(unused_imports)]
pub use need::{Need, require, require_all, require_with};

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio_postgres::{Client, NoTls};

pub const BIN: &str = env!("CARGO_BIN_EXE_replica-lab");

/// The runtime a test cluster uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rt {
    Local,
    Docker,
}

impl Rt {
    pub fn name(self) -> &'static str {
        match self {
            Rt::Local => "local",
            Rt::Docker => "docker",
        }
    }

    /// The local runtime, where this machine has the PostgreSQL server programs and HAProxy
    /// (`scripts/test` installs them); otherwise `None`, the test skipped (see [`need`]).
    pub fn local(test: &str) -> Option<Rt> {
        require_all(&[Need::Postgres, Need::Haproxy], test).then_some(Rt::Local)
    }

    /// The Docker runtime, where an engine answers and holds the offline images
    /// (`scripts/test` builds them); otherwise `None`, the test skipped (see [`need`]).
    pub fn docker(test: &str) -> Option<Rt> {
        require(Need::Docker, test).then_some(Rt::Docker)
    }
}

pub const PG_IMAGE: &str = "replica-lab/postgres:15";
pub const PROXY_IMAGE: &str = "replica-lab/haproxy:2.6";

pub struct TestCluster {
    pub name: String,
    pub slot: u8,
    pub rt: Rt,
    pub data_dir: PathBuf,
    /// Whether dropping the handle removes `data_dir` (not for a cluster [`TestCluster::beside`]
    /// another).
    owns_dir: bool,
}

/// Where test clusters live: readable by the unprivileged server account when run as root.
fn test_root() -> PathBuf {
    let root = PathBuf::from("/var/tmp/replica-lab-tests");
    let _ = std::fs::create_dir_all(&root);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755));
    }
    root
}

impl TestCluster {
    /// A cluster handle for slot `slot` (1..=49), with 20 ports of its own from
    /// base = 20000 + 20·slot: stats base + 1, write + 2, read + 3, node_port + 4 (nodes on
    /// the loopback addresses 127.0.slot.x), node_ports_from + 5 (pg1 to pg10 on base + 5 to
    /// base + 14 where nodes share 127.0.0.1); base and base + 15 to + 19 stay free for a test's
    /// own use. The settings' validation holds the layout disjoint.
    pub fn new(name: &str, slot: u8, rt: Rt) -> TestCluster {
        let t = TestCluster {
            name: name.to_string(),
            slot,
            rt,
            data_dir: test_root().join(name),
            owns_dir: true,
        };
        // A previous run killed mid-test may have left this cluster behind.
        let _ = t.cmd(&["down"]);
        t
    }

    /// Another cluster in this one's data folder, so it shares its templates, on slot
    /// `slot`. Dropping it removes only its own cluster: declare it after this one.
    pub fn beside(&self, name: &str, slot: u8) -> TestCluster {
        let t = TestCluster {
            name: name.to_string(),
            slot,
            rt: self.rt,
            data_dir: self.data_dir.clone(),
            owns_dir: false,
        };
        let _ = t.cmd(&["down"]);
        t
    }

    fn base(&self) -> u16 {
        20_000 + u16::from(self.slot) * 20
    }

    pub fn stats_port(&self) -> u16 {
        self.base() + 1
    }

    pub fn write_port(&self) -> u16 {
        self.base() + 2
    }

    pub fn read_port(&self) -> u16 {
        self.base() + 3
    }

    /// Where nodes on loopback aliases (127.0.slot.x) listen.
    pub fn node_port(&self) -> u16 {
        self.base() + 4
    }

    /// pg1's port where nodes share 127.0.0.1 (Docker's published ports): pg1 to pg10 take
    /// base + 5 to base + 14, so the slot's 20 ports hold the endpoints, node_port and every
    /// node a test could scale to.
    pub fn node_ports_from(&self) -> u16 {
        self.base() + 5
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .arg("--name")
            .arg(&self.name)
            .env("REPLICA_LAB_DATA_DIR", &self.data_dir)
            .env("REPLICA_LAB_WRITE_PORT", self.write_port().to_string())
            .env("REPLICA_LAB_READ_PORT", self.read_port().to_string())
            .env("REPLICA_LAB_STATS_PORT", self.stats_port().to_string())
            .env("REPLICA_LAB_NODE_BASE", format!("127.0.{}.10", self.slot))
            .env("REPLICA_LAB_NODE_PORT", self.node_port().to_string())
            .env(
                "REPLICA_LAB_NODE_PORTS_FROM",
                self.node_ports_from().to_string(),
            )
            .env("REPLICA_LAB_RUNTIME", self.rt.name())
            .env("REPLICA_LAB_POSTGRES_IMAGE", PG_IMAGE)
            .env("REPLICA_LAB_HAPROXY_IMAGE", PROXY_IMAGE)
            .env("XDG_CONFIG_HOME", self.data_dir.join("no-config"))
            // The console's history and the app's log stay in the test's folder.
            .env("XDG_STATE_HOME", self.data_dir.join("state"))
            .env("REPLICA_LAB_PROGRESS_DIR", self.data_dir.join("progress"))
            .env("REPLICA_LAB_LEARNER", "tester");
        c
    }

    pub fn cmd(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run replica-lab")
    }

    /// Runs a command that must succeed.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args);
        assert!(
            out.status.success(),
            "replica-lab {args:?} failed:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a command that must fail; returns its stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.cmd(args);
        assert!(
            !out.status.success(),
            "replica-lab {args:?} should have failed:\nstdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    pub fn up(&self, replicas: u8) {
        self.ok(&["up", "--replicas", &replicas.to_string()]);
    }

    pub fn status(&self) -> Value {
        serde_json::from_str(&self.ok(&["status", "--json"])).expect("status --json is JSON")
    }

    /// What `inet_server_addr()` says on that node.
    pub fn node_address(&self, name: &str) -> String {
        let status = self.status();
        node(&status, name)["address"]
            .as_str()
            .expect("address")
            .to_string()
    }

    /// Where this machine reaches the node directly.
    pub fn node_connect(&self, name: &str) -> SocketAddr {
        let status = self.status();
        let connect = node(&status, name)["connect"].as_str().expect("connect");
        connect.parse().expect("connect is host:port")
    }

    pub fn cluster_dir(&self) -> PathBuf {
        self.data_dir.join("clusters").join(&self.name)
    }

    pub async fn connect(&self, port: u16) -> Result<Client, tokio_postgres::Error> {
        connect(SocketAddr::from(([127, 0, 0, 1], port)), "mydatabase").await
    }

    /// A fresh connection through the read endpoint, asking who answered.
    pub async fn served_by_read(&self) -> Result<String, tokio_postgres::Error> {
        let c = self.connect(self.read_port()).await?;
        let row = c.query_one("SELECT host(inet_server_addr())", &[]).await?;
        Ok(row.get(0))
    }

    /// Waits for `cond` on `status --json`, up to `limit`; returns the last status.
    pub fn wait_status(&self, limit: Duration, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let s = self.status();
            if cond(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {s:#}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Names of the standbys streaming from `primary`, asked of the primary itself.
    pub async fn streaming_from(&self, primary: &str) -> BTreeSet<String> {
        let c = connect(self.node_connect(primary), "postgres")
            .await
            .expect("connect to primary");
        c.query(
            "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'",
            &[],
        )
        .await
        .expect("pg_stat_replication")
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect()
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        let _ = self.cmd(&["down"]);
        if self.owns_dir {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}

pub async fn connect(addr: SocketAddr, db: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::Config::new()
        .host(addr.ip().to_string())
        .port(addr.port())
        .user("myuser")
        .password("mypassword")
        .dbname(db)
        .connect_timeout(Duration::from_secs(3))
        .connect(NoTls)
        .await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

pub fn node<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["nodes"]
        .as_array()
        .and_then(|nodes| nodes.iter().find(|n| n["name"] == name))
        .unwrap_or_else(|| panic!("node {name} not in {status:#}"))
}

pub fn haproxy_status<'a>(status: &'a Value, backend: &str, server: &str) -> &'a str {
    status["haproxy"]["servers"]
        .as_array()
        .and_then(|rows| {
            rows.iter()
                .find(|r| r["backend"] == backend && r["name"] == server)
        })
        .and_then(|r| r["status"].as_str())
        .unwrap_or("absent")
}

/// Waits until `f` returns `Some`, polling every 100 ms, up to `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to stats");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}
