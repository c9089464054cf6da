//! A hub on an address beyond loopback, as an instructor runs it for a class on a network:
//! `classroom host --bind-host ADDR` with no password set. Its address is the gateway of a
//! Docker network this test makes, a real non-loopback address of this machine that nothing
//! outside it can reach. Tried as an attacker on that network would, with `psql`: no built-in
//! password, no superuser and no streaming through the endpoints, no login without TLS, no
//! stats page; the learners' path works over TLS the hub's own certificate authority signs.

mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::need::{Need, require};
use support::{BIN, PG_IMAGE, PROXY_IMAGE, Rt, TestCluster};

/// A Docker network made for the test, removed when dropped; its gateway is this machine's.
struct Network {
    name: String,
    gateway: String,
}

impl Network {
    fn new(name: &str) -> Network {
        let _ = docker(&["network", "rm", name]);
        let made = docker(&["network", "create", name]);
        assert!(made.status.success(), "{}", text(&made.stderr));
        let inspect = docker(&[
            "network",
            "inspect",
            name,
            "-f",
            "{{(index .IPAM.Config 0).Gateway}}",
        ]);
        let gateway = text(&inspect.stdout).trim().to_string();
        assert!(
            gateway
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| !ip.is_loopback()),
            "gateway {gateway:?}"
        );
        Network {
            name: name.into(),
            gateway,
        }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = docker(&["network", "rm", &self.name]);
    }
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().expect("docker")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `classroom host` in a folder and on ports of its own; everything removed when dropped.
struct ExposedHub {
    dir: PathBuf,
    port: u16,
    rt: Rt,
    node_base: String,
}

impl ExposedHub {
    fn new(name: &str, slot: u8, rt: Rt) -> ExposedHub {
        let h = ExposedHub {
            dir: PathBuf::from("/var/tmp/replica-lab-tests").join(name),
            port: 20_000 + u16::from(slot) * 20,
            rt,
            node_base: format!("127.0.{slot}.10"),
        };
        let _ = h.run(&["classroom", "down", "--purge"]);
        let _ = std::fs::remove_dir_all(&h.dir);
        h
    }

    fn run_in(&self, classroom: &Path, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .env("REPLICA_LAB_DATA_DIR", &self.dir)
            .env("REPLICA_LAB_CLASSROOM_DIR", classroom)
            .env("REPLICA_LAB_NODE_BASE", &self.node_base)
            .env("REPLICA_LAB_RUNTIME", self.rt.name())
            .env("REPLICA_LAB_POSTGRES_IMAGE", PG_IMAGE)
            .env("REPLICA_LAB_HAPROXY_IMAGE", PROXY_IMAGE)
            .env("XDG_CONFIG_HOME", self.dir.join("no-config"))
            .env("REPLICA_LAB_PROGRESS_DIR", self.dir.join("progress"))
            .env_remove("REPLICA_LAB_PASSWORD")
            .env_remove("REPLICA_LAB_REPLICATION_PASSWORD")
            .output()
            .expect("run replica-lab")
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_in(&self.dir.join("classroom"), args)
    }

    fn hub_dir(&self) -> PathBuf {
        self.dir.join("clusters").join("classroom-hub")
    }

    /// A value of the hub's cluster record.
    fn recorded(&self, key: &str) -> String {
        let record = std::fs::read_to_string(self.hub_dir().join("cluster.toml")).expect("record");
        let table: toml::Table = toml::from_str(&record).expect("record parses");
        table["settings"][key]
            .as_str()
            .expect("a string setting")
            .to_string()
    }
}

impl Drop for ExposedHub {
    fn drop(&mut self) {
        let _ = self.run(&["classroom", "down", "--purge"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// `psql` with a connection string and a password; its output (stdout, then stderr).
fn psql(conninfo: &str, password: &str, sql: &str) -> (bool, String) {
    let out = Command::new("psql")
        .args([conninfo, "-XAtc", sql])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql");
    (
        out.status.success(),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

/// The superuser without the app's client certificate, whatever password it offers.
fn refused_without_certificate(conninfo: &str, password: &str, what: &str) {
    let (worked, said) = psql(conninfo, password, "SELECT current_user");
    assert!(
        !worked && said.contains("requires a valid client certificate"),
        "{what} got in through the endpoint: {said}"
    );
}

fn refused_by_rules(conninfo: &str, password: &str, what: &str) {
    let (worked, said) = psql(conninfo, password, "SELECT current_user");
    assert!(
        !worked && said.contains("pg_hba.conf rejects"),
        "{what} got in through the endpoint: {said}"
    );
}

fn http_status(addr: &str) -> Option<String> {
    use std::io::{Read as _, Write as _};
    let addr: std::net::SocketAddr = addr.parse().expect("address");
    let mut s =
        std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(3)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    Some(text(&head[9..12]))
}

fn join_code(stdout: &str) -> String {
    stdout
        .split_whitespace()
        .skip_while(|w| *w != "code")
        .nth(1)
        .expect("a join code")
        .trim_end_matches(',')
        .to_string()
}

fn exposed_hub(rt: Rt, slot: u8) {
    let tag = rt.name();
    let net = Network::new(&format!("rl-test-exposed-{tag}"));
    let hub = ExposedHub::new(&format!("classroom-exposed-{tag}"), slot, rt);
    let gw = net.gateway.clone();
    let port = hub.port.to_string();
    let host = |title: &str| {
        hub.run(&[
            "classroom",
            "host",
            "--bind-host",
            &gw,
            "--port",
            &port,
            "--title",
            title,
        ])
    };
    let out = host("network class");
    let stdout = ok(&out);
    let stderr = text(&out.stderr);

    // No built-in password: strong ones were made, kept readable by their owner only.
    let password = hub.recorded("password");
    let replication = hub.recorded("replication_password");
    assert!(
        password.len() >= 24 && password != "mypassword",
        "{password}"
    );
    assert!(replication.len() >= 24 && replication != "replicator-secret");
    assert!(!stdout.contains(&password) && !stderr.contains(&password));
    assert_eq!(mode(&hub.hub_dir().join("cluster.toml")), 0o600);
    assert_eq!(mode(&hub.dir.join("classroom").join("hub.toml")), 0o600);
    assert_eq!(mode(&hub.hub_dir().join("tls").join("server.key")), 0o600);
    let ca = hub.hub_dir().join("tls").join("ca.crt");
    let ca = ca.to_str().expect("path");
    assert!(
        stderr.contains("encrypted (TLS)") && stderr.contains(ca),
        "{stderr}"
    );
    let record = hub.hub_dir().join("cluster.toml");
    assert!(
        stderr.contains("strong ones of its own")
            && stderr.contains(record.to_str().expect("path")),
        "where the passwords are: {stderr}"
    );
    let learners = format!(
        "postgresql://classroom_gate:classroom_gate@{gw}:{port}/mydatabase?sslmode=require"
    );
    assert!(stdout.contains(&format!("--hub {learners}")), "{stdout}");

    // What an attacker on the network tries, with PostgreSQL's own client.
    let at = |user: &str, db: &str, extra: &str| {
        format!("host={gw} port={port} user={user} dbname={db} sslmode=require {extra}")
    };
    refused_without_certificate(
        &at("myuser", "mydatabase", ""),
        "mypassword",
        "the built-in login",
    );
    refused_without_certificate(&at("myuser", "mydatabase", ""), &password, "the superuser");
    refused_by_rules(&at("postgres", "postgres", ""), &password, "postgres");
    refused_by_rules(
        &at("replicator", "mydatabase", "replication=true"),
        &replication,
        "a replication login",
    );
    let (worked, said) = psql(
        &format!("host={gw} port={port} user=classroom_gate dbname=mydatabase sslmode=disable"),
        "classroom_gate",
        "SELECT 1",
    );
    assert!(
        !worked && said.contains("no encryption"),
        "the gate got in without TLS: {said}"
    );
    // The learners' path: TLS, with a certificate for this address signed by the hub's CA.
    let (worked, said) = psql(
        &at(
            "classroom_gate",
            "mydatabase",
            &format!("sslmode=verify-full sslrootcert={ca}"),
        ),
        "classroom_gate",
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    );
    assert!(worked && said.trim() == "t", "{said}");
    let (worked, said) = psql(
        &at("classroom_gate", "mydatabase", ""),
        "classroom_gate",
        "CREATE TABLE mine (x int)",
    );
    assert!(!worked && said.contains("permission denied"), "{said}");

    // The stats page stays on loopback.
    let stats = hub.port + 2;
    assert_eq!(http_status(&format!("{gw}:{stats}")), None, "stats on {gw}");
    assert_eq!(
        http_status(&format!("127.0.0.1:{stats}")).as_deref(),
        Some("200")
    );

    // A learner joins over TLS; the instructor's roster reaches the hub on loopback.
    let code = join_code(&stdout);
    let learner = hub.dir.join("learner");
    ok(&hub.run_in(
        &learner,
        &[
            "classroom",
            "join",
            &code,
            "--name",
            "ada",
            "--hub",
            &learners,
        ],
    ));
    let roster = ok(&hub.run(&["classroom", "roster", "--json"]));
    assert!(roster.contains("\"ada\""), "{roster}");

    // Hosting again keeps the hub, its passwords and its certificate.
    let cert = std::fs::read_to_string(hub.hub_dir().join("tls").join("server.crt")).expect("cert");
    ok(&host("second class"));
    assert_eq!(hub.recorded("password"), password);
    assert_eq!(
        std::fs::read_to_string(hub.hub_dir().join("tls").join("server.crt")).expect("cert"),
        cert
    );

    let stdout = ok(&hub.run(&["classroom", "down", "--purge"]));
    assert!(stdout.contains("removed"), "{stdout}");
    assert!(!hub.hub_dir().exists());
    let (worked, _) = psql(
        &at("classroom_gate", "mydatabase", ""),
        "classroom_gate",
        "SELECT 1",
    );
    assert!(!worked, "the hub still answers after down --purge");
}

/// Both runtimes in turn: a hub is the cluster `classroom-hub` on either, and Docker's
/// container names are the machine's, so two at once would step on each other.
#[test]
fn a_hub_beyond_loopback_makes_its_passwords_speaks_tls_and_lets_no_superuser_in() {
    const TEST: &str =
        "a_hub_beyond_loopback_makes_its_passwords_speaks_tls_and_lets_no_superuser_in";
    // The address is a Docker network's gateway, so both need Docker for it.
    if !require(Need::Docker, TEST) {
        return;
    }
    if let Some(rt) = Rt::local(TEST) {
        // Slot 94: ports 21 880 to 21 893.
        exposed_hub(rt, 94);
    }
    // Slot 95: ports 21 900 to 21 913.
    exposed_hub(Rt::Docker, 95);
}

/// A plain cluster (`up --bind-host ADDR`, with passwords of the user's own) beyond loopback:
/// through its endpoints the superuser gets in with the app's client certificate only, so the
/// app's own paths work and a password seen on the network is not enough; every other login
/// needs TLS, and no one streams.
fn exposed_cluster(rt: Rt, slot: u8) {
    let tag = rt.name();
    let net = Network::new(&format!("rl-test-exposed-up-{tag}"));
    let c = TestCluster::new(&format!("t-exposed-up-{tag}"), slot, rt);
    let gw = net.gateway.clone();
    let (password, replication) = ("a-password-of-my-own-7Q", "a-replication-one-9Z");
    let run = |args: &[&str]| {
        c.command(args)
            .env("REPLICA_LAB_BIND_HOST", &gw)
            .env("REPLICA_LAB_PASSWORD", password)
            .env("REPLICA_LAB_REPLICATION_PASSWORD", replication)
            .output()
            .expect("run replica-lab")
    };
    ok(&run(&["up", "--replicas", "2"]));
    let tls = c.cluster_dir().join("tls");
    assert_eq!(mode(&tls.join("client.key")), 0o600);
    let file = |name: &str| tls.join(name).to_str().expect("path").to_string();
    let port = c.write_port();
    let at = |user: &str, extra: &str| {
        format!("host={gw} port={port} user={user} dbname=mydatabase sslmode=require {extra}")
    };

    // From the network, with the right password: no certificate, no superuser.
    refused_without_certificate(&at("myuser", ""), password, "the superuser");
    refused_by_rules(
        &at("myuser", "").replace("sslmode=require", "sslmode=disable"),
        password,
        "the superuser without TLS",
    );
    refused_by_rules(
        &at("replicator", "replication=true"),
        replication,
        "a replication login",
    );
    // With the app's certificate, verified against the cluster's authority for this address.
    let with_cert = at(
        "myuser",
        &format!(
            "sslmode=verify-full sslrootcert={} sslcert={} sslkey={}",
            file("ca.crt"),
            file("client.crt"),
            file("client.key")
        ),
    );
    let (worked, said) = psql(&with_cert, password, "SELECT current_user");
    assert!(worked && said.trim() == "myuser", "{said}");

    // The app's own path through the read endpoint: every connection answered by a replica.
    let tally = ok(&run(&["served-by", "--connections", "4", "--json"]));
    let tally: serde_json::Value = serde_json::from_str(&tally).expect("served-by --json");
    assert_eq!(tally["failures"], serde_json::json!([]), "{tally}");
    let answered: u64 = tally["by_node"]
        .as_object()
        .expect("by_node")
        .iter()
        .map(|(node, n)| {
            assert_ne!(node, "pg1", "the primary answered a read: {tally}");
            n.as_u64().unwrap_or(0)
        })
        .sum();
    assert_eq!(answered, 4, "{tally}");

    // A login of the user's own, made on the node from this machine, gets in over TLS only.
    let node = c.node_connect("pg1");
    let (worked, said) = psql(
        &format!(
            "host={} port={} user=myuser dbname=mydatabase",
            node.ip(),
            node.port()
        ),
        password,
        "CREATE ROLE reader LOGIN PASSWORD 'reader-pw'",
    );
    assert!(worked, "{said}");
    let (worked, said) = psql(&at("reader", ""), "reader-pw", "SELECT current_user");
    assert!(worked && said.trim() == "reader", "{said}");
    let (worked, said) = psql(
        &at("reader", "").replace("sslmode=require", "sslmode=disable"),
        "reader-pw",
        "SELECT 1",
    );
    assert!(!worked && said.contains("no encryption"), "{said}");

    ok(&run(&["down"]));
}

#[test]
fn a_cluster_beyond_loopback_lets_the_superuser_through_its_endpoints_with_the_apps_certificate_only()
 {
    const TEST: &str = "a_cluster_beyond_loopback_lets_the_superuser_through_its_endpoints_with_the_apps_certificate_only";
    if !require(Need::Docker, TEST) {
        return;
    }
    if let Some(rt) = Rt::local(TEST) {
        // Slot 96: ports 21 920 to 21 939.
        exposed_cluster(rt, 96);
    }
    // Slot 97: ports 21 940 to 21 959.
    exposed_cluster(Rt::Docker, 97);
}
