//! What a curious local user gets from a running cluster: no login without a password over
//! any socket or port, no file with a secret, no secret on any command line, and from the
//! health-check login nothing useful (a few connections, no writes, nothing created), also on
//! Docker. Needs root to make the unprivileged account (see `support::intruder`); says
//! SKIPPED otherwise.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::intruder::{Intruder, RawSession, argv_holding, argv_with};
use support::{Need, Rt, TestCluster, need, node, require};
use tokio_postgres::NoTls;

const LEARNER_PW: &str = "learner-Zq7wsecret";
const REPL_PW: &str = "repl-Zq7wsecret";
const CHECK: &str = "haproxy_check";

/// The learner's login with the test's password.
async fn learner(addr: SocketAddr) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::Config::new()
        .host(addr.ip().to_string())
        .port(addr.port())
        .user("myuser")
        .password(LEARNER_PW)
        .dbname("postgres")
        .connect_timeout(Duration::from_secs(3))
        .connect(NoTls)
        .await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

fn up(t: &TestCluster, replicas: u8) {
    let out = t
        .command(&["up", "--replicas", &replicas.to_string()])
        .env("REPLICA_LAB_PASSWORD", LEARNER_PW)
        .env("REPLICA_LAB_REPLICATION_PASSWORD", REPL_PW)
        .output()
        .expect("run up");
    assert!(
        out.status.success(),
        "up failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Watches every command line while `f` runs: returns the ones that held a secret, and
/// whether a `pg_rewind` or `pg_basebackup` was seen at all (else the watch proved nothing).
fn watching_argv(f: impl FnOnce()) -> (Vec<(String, String)>, Vec<String>) {
    let stop = Arc::new(AtomicBool::new(false));
    let leaks = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let watcher = {
        let (stop, leaks, seen) = (stop.clone(), leaks.clone(), seen.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let found = argv_holding(&[LEARNER_PW, REPL_PW]);
                if let Ok(mut l) = leaks.lock() {
                    l.extend(found);
                }
                for tool in ["pg_rewind", "pg_basebackup"] {
                    if !argv_with(tool).iter().any(|l| !l.contains("security-")) {
                        continue;
                    }
                    if let Ok(mut s) = seen.lock() {
                        if !s.iter().any(|t: &String| t == tool) {
                            s.push(tool.to_string());
                        }
                    }
                }
            }
        })
    };
    f();
    stop.store(true, Ordering::Relaxed);
    watcher.join().expect("watcher");
    let leaks = leaks.lock().map(|l| l.clone()).unwrap_or_default();
    let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
    (leaks, seen)
}

/// Every file under `dir` that holds a secret, with its mode.
fn secret_files(dir: &Path) -> Vec<(String, u32)> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(p);
            } else if meta.is_file() && meta.len() < 4 << 20 {
                let text = std::fs::read(&p).unwrap_or_default();
                let text = String::from_utf8_lossy(&text);
                if text.contains(LEARNER_PW) || text.contains(REPL_PW) {
                    out.push((p.display().to_string(), meta.permissions().mode() & 0o777));
                }
            }
        }
    }
    out
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread")]
async fn a_local_user_gets_nothing_from_a_local_cluster() {
    const TEST: &str = "a_local_user_gets_nothing_from_a_local_cluster";
    let Some(rt) = Rt::local(TEST) else {
        return;
    };
    if !require(Need::Root, TEST) {
        return;
    }
    let bindir = need::postgres().expect("PostgreSQL programs");
    let intruder = Intruder::ensure(&bindir);
    let t = TestCluster::new("t-security-local", 90, rt);
    up(&t, 2);
    let dir = t.cluster_dir();
    let status = t.status();
    let nodes = ["pg1", "pg2", "pg3"];

    // Files: nothing readable, every secret file the owner's alone; the template the
    // cluster kept (its passwords' hashes, a replica's conninfo) included.
    assert_eq!(intruder.readable_files(&dir), Vec::<String>::new());
    let templates = t.data_dir.join("templates");
    assert!(templates.is_dir(), "no template kept");
    assert_eq!(intruder.readable_files(&templates), Vec::<String>::new());
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("cluster.toml")), 0o600);
    let secrets = secret_files(&dir);
    assert!(
        secrets.iter().any(|(p, _)| p.ends_with("cluster.toml")),
        "the scan found no secret at all: {secrets:?}"
    );
    for (path, m) in &secrets {
        assert_eq!(*m & 0o077, 0, "{path} holds a password and has mode {m:o}");
    }

    // Sockets: peer for the owner's accounts only; the intruder gets nowhere. The same psql as
    // root proves the socket answers.
    for n in nodes {
        let run = dir.join(n).join("run").display().to_string();
        let port = t.node_port();
        let root = std::process::Command::new(bindir.join("psql"))
            .args(["-X", "-w", "-A", "-t", "-h", &run, "-p", &port.to_string()])
            .args(["-U", "postgres", "-d", "postgres", "-c", "SELECT 1"])
            .env("PGPASSFILE", "/dev/null")
            .output()
            .expect("psql as root");
        assert!(
            root.status.success(),
            "root over {n}'s socket: {}",
            String::from_utf8_lossy(&root.stderr)
        );
        assert_eq!(mode(&dir.join(n).join("run")), 0o700);
        for user in ["postgres", "myuser", "replicator", CHECK] {
            let out = intruder.psql(&run, port, user, "postgres", "SELECT 1");
            assert!(
                !out.status.success(),
                "{user} over {n}'s socket let the intruder in"
            );
        }
    }

    // TCP: the nodes and both endpoints want a password from everyone; the check login is
    // refused from any address but HAProxy's.
    let mut targets: Vec<(String, u16)> = nodes
        .iter()
        .map(|n| {
            let a: SocketAddr = node(&status, n)["connect"]
                .as_str()
                .expect("connect")
                .parse()
                .expect("addr");
            (a.ip().to_string(), a.port())
        })
        .collect();
    targets.push(("127.0.0.1".into(), t.write_port()));
    targets.push(("127.0.0.1".into(), t.read_port()));
    for (host, port) in &targets {
        for user in ["postgres", "myuser", "replicator"] {
            let out = intruder.psql(host, *port, user, "postgres", "SELECT 1");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                !out.status.success(),
                "{user} at {host}:{port} without a password"
            );
            assert!(err.contains("password"), "{user} at {host}:{port}: {err}");
        }
    }
    for (host, port) in &targets[..nodes.len()] {
        let out = intruder.psql(host, *port, CHECK, "postgres", "SELECT 1");
        assert!(
            !out.status.success(),
            "the check login at {host}:{port} from 127.0.0.1"
        );
        let out = intruder.psql(host, *port, CHECK, "mydatabase", "SELECT 1");
        assert!(
            !out.status.success(),
            "the check login to mydatabase at {host}:{port}"
        );
    }

    // From HAProxy's address (any local account may bind it) the check login lands, but can
    // create nothing and holds only a few connections; the learner still gets in.
    let source: IpAddr = "127.0.90.10".parse().expect("ip");
    let pg1: SocketAddr = format!("{}:{}", targets[0].0, targets[0].1)
        .parse()
        .expect("addr");
    let mut s = RawSession::login(source, pg1, CHECK, "postgres")
        .await
        .expect("the check login from HAProxy's address");
    let err = s
        .query("CREATE TABLE t (x int)")
        .await
        .expect_err("read-only");
    assert!(err.contains("read-only"), "{err}");
    // The read-only default is the session's to turn off; the privileges are not.
    s.query("SET default_transaction_read_only = off")
        .await
        .expect("a session may change its defaults");
    for sql in [
        "CREATE TABLE t (x int)",
        "CREATE TEMP TABLE t (x int)",
        "CREATE SCHEMA s",
    ] {
        let err = s.query(sql).await.expect_err(sql);
        assert!(err.contains("permission denied"), "{sql}: {err}");
    }
    assert!(
        RawSession::login(source, pg1, CHECK, "mydatabase")
            .await
            .is_err()
    );
    let mut held = vec![s];
    let mut refused = None;
    for _ in 0..40 {
        match RawSession::login(source, pg1, CHECK, "postgres").await {
            Ok(s) => held.push(s),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let refused = refused.expect("the check login's connections have a limit");
    assert!(refused.contains("too many connections"), "{refused}");
    assert!(held.len() <= 10, "{} check sessions at once", held.len());
    for _ in 0..20 {
        let c = learner(pg1)
            .await
            .expect("the learner while the check login is exhausted");
        c.simple_query("SELECT 1").await.expect("a query");
    }
    drop(held);

    // No secret on any command line, through a rewind and a new clone.
    let (leaks, seen) = watching_argv(|| {
        t.ok(&["node", "stop", "pg3"]);
        t.ok(&["node", "rewind", "pg3"]);
        t.ok(&["scale", "3"]);
    });
    assert_eq!(
        leaks,
        Vec::<(String, String)>::new(),
        "secrets on command lines"
    );
    assert!(
        seen.iter().any(|s| s == "pg_basebackup"),
        "the watch never saw pg_basebackup run (saw {seen:?})"
    );
    eprintln!("argv watch saw: {seen:?}");

    // A cluster made by an older version is brought to these rules by `up`.
    let pg2_data = dir.join("pg2").join("data");
    std::fs::write(
        pg2_data.join("pg_hba.conf"),
        "local all all trust\nhost all all 127.0.0.0/8 trust\n",
    )
    .expect("old hba");
    let chmod = |p: &Path, m: u32| {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod");
    };
    chmod(&dir.join("pg2").join("run"), 0o755);
    chmod(&dir, 0o755);
    chmod(&dir.join("cluster.toml"), 0o644);
    let c = learner(pg1).await.expect("learner");
    c.batch_execute(&format!(
        "ALTER ROLE {CHECK} CONNECTION LIMIT -1; ALTER ROLE {CHECK} RESET default_transaction_read_only; \
         GRANT TEMPORARY ON DATABASE postgres TO PUBLIC"
    ))
    .await
    .expect("loosen the check role");
    up(&t, 3);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("cluster.toml")), 0o600);
    assert_eq!(mode(&dir.join("pg2").join("run")), 0o700);
    let hba = std::fs::read_to_string(pg2_data.join("pg_hba.conf")).expect("hba");
    assert!(hba.contains("peer map=replica-lab"), "{hba}");
    assert_eq!(hba.matches("trust").count(), 1, "{hba}");
    let row = c
        .query_one(
            "SELECT rolconnlimit, rolconfig::text,
                    has_database_privilege($1, 'postgres', 'TEMPORARY')
             FROM pg_roles WHERE rolname = $1",
            &[&CHECK],
        )
        .await
        .expect("the check role");
    assert_eq!(row.get::<_, i32>(0), 10);
    assert!(
        row.get::<_, String>(1)
            .contains("default_transaction_read_only=on")
    );
    assert!(!row.get::<_, bool>(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_lets_the_check_login_in_from_haproxy_only() {
    const TEST: &str = "docker_lets_the_check_login_in_from_haproxy_only";
    let Some(rt) = Rt::docker(TEST) else {
        return;
    };
    let t = TestCluster::new("t-security-docker", 91, rt);
    up(&t, 1);
    let pg1 = format!("rl-{}-pg1", t.name);
    let pg2 = format!("rl-{}-pg2", t.name);
    let proxy = format!("rl-{}-haproxy", t.name);
    // Each statement its own `-c`, so each runs in a transaction of its own.
    let psql_all = |container: &str, user: &str, host: &str, sqls: &[&str]| {
        let mut c = std::process::Command::new("docker");
        c.args([
            "exec",
            "-u",
            "postgres",
            "-e",
            "PGCONNECT_TIMEOUT=3",
            container,
        ])
        .args(["psql", "-X", "-w", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
        .args(["-h", host, "-U", user, "-d", "postgres"]);
        for sql in sqls {
            c.args(["-c", sql]);
        }
        c.output().expect("docker exec")
    };
    let psql = |container: &str, user: &str, host: &str, sql: &str| {
        psql_all(container, user, host, &[sql])
    };
    // From another node: refused.
    let out = psql(&pg2, CHECK, "pg1", "SELECT 1");
    assert!(!out.status.success(), "the check login from pg2");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pg_hba.conf"), "{err}");
    // From the host, through pg1's published port: refused too.
    let status = t.status();
    let addr: SocketAddr = node(&status, "pg1")["connect"]
        .as_str()
        .expect("connect")
        .parse()
        .expect("addr");
    let host = RawSession::login("127.0.0.1".parse().expect("ip"), addr, CHECK, "postgres").await;
    assert!(host.is_err(), "the check login from the host");
    // From HAProxy's container: in, but it creates nothing.
    let out = psql(&proxy, CHECK, "pg1", "SELECT current_user");
    assert!(
        out.status.success(),
        "the check login from HAProxy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for sql in ["CREATE TABLE t (x int)", "CREATE TEMP TABLE t (x int)"] {
        let out = psql_all(
            &proxy,
            CHECK,
            "pg1",
            &["SET default_transaction_read_only = off", sql],
        );
        assert!(!out.status.success(), "{sql} as the check login");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("permission denied"), "{sql}: {err}");
    }
    // Its connection limit, and the learner still gets in once it is used up.
    let hold = std::process::Command::new("docker")
        .args(["exec", "-u", "postgres", &proxy, "sh", "-c"])
        .arg(format!(
            "for i in $(seq 1 14); do psql -X -w -h pg1 -U {CHECK} -d postgres \
             -c 'SELECT pg_sleep(8)' >/dev/null 2>/tmp/hold.$i & done; sleep 3; \
             grep -l 'too many connections' /tmp/hold.* | wc -l; wait"
        ))
        .output()
        .expect("hold connections");
    let refused: u32 = String::from_utf8_lossy(&hold.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(refused >= 4, "only {refused} of 14 check sessions refused");
    let c = learner(addr).await;
    assert!(
        c.is_ok(),
        "the learner with the check login's limit used up"
    );
    let _ = psql(&pg1, "postgres", "/tmp", "SELECT 1");
}
