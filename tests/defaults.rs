//! The README's commands on pure defaults, once per runtime: `replica-lab up` with no port,
//! name or folder settings, then the default endpoints 5435 (write), 5436 (read) and 8404
//! (stats) and the nodes where `status` says they are, then `replica-lab down` leaving
//! nothing behind. Every other test moves its cluster off the defaults, which is how a
//! default layout that could not start on Docker (pg3 and pg4 published on 5435 and 5436)
//! went unseen.
//!
//! Both runs use the same ports and the same cluster name, so they run one after the other in
//! one test. They use this machine's real default state folder (`/var/lib/replica-lab` as
//! root, the user's data folder otherwise; HOME and the XDG variables are left as they are).
//! A cluster named `default` already there, or a config file, would make the run something
//! other than the defaults, so the test refuses to start and says what to do; `REPLICA_LAB_*`
//! settings in the test's own environment are not passed on.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use replica_lab::cluster::state::cluster_dir;
use replica_lab::settings::{Settings, config_file, data_root};
use serde_json::Value;
use support::{BIN, PG_IMAGE, PROXY_IMAGE, Rt, connect, eventually, http_get, node};

/// `REPLICA_LAB_*` variables that are not settings, kept for the child.
const NOT_SETTINGS: [&str; 3] = [
    "REPLICA_LAB_LOG",
    "REPLICA_LAB_PANIC_HOOK",
    "REPLICA_LAB_REQUIRE",
];
const WRITE: u16 = 5435;
const READ: u16 = 5436;
const STATS: u16 = 8404;

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_works_on_pure_defaults_with_each_runtime() {
    let test = "the_readme_works_on_pure_defaults_with_each_runtime";
    // Local first, then Docker; a failure of one still lets the other run and report.
    let local = match Rt::local(test) {
        Some(rt) => Some(tokio::spawn(on_defaults(rt)).await),
        None => None,
    };
    let docker = match Rt::docker(test) {
        Some(rt) => Some(tokio::spawn(on_defaults(rt)).await),
        None => None,
    };
    for run in [local, docker].into_iter().flatten() {
        if let Err(e) = run {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

/// The variables a default run adds: none for the local runtime; for Docker, the runtime and
/// the offline images, since there is no registry to pull the official ones from.
fn env_for(rt: Rt) -> Vec<(&'static str, &'static str)> {
    match rt {
        Rt::Local => {
            // `auto` takes Docker where the official images are on the engine; only then does
            // the local run have to ask for its runtime.
            if official_images_present() {
                eprintln!("postgres:17 and haproxy:3.2 are on the engine: asking for local");
                vec![("REPLICA_LAB_RUNTIME", "local")]
            } else {
                Vec::new()
            }
        }
        Rt::Docker => vec![
            ("REPLICA_LAB_RUNTIME", "docker"),
            ("REPLICA_LAB_POSTGRES_IMAGE", PG_IMAGE),
            ("REPLICA_LAB_HAPROXY_IMAGE", PROXY_IMAGE),
        ],
    }
}

fn official_images_present() -> bool {
    Command::new("docker")
        .args(["image", "inspect", "postgres:17", "haproxy:3.2"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `replica-lab ARGS` with the environment as the user has it, less any settings.
fn run(rt: Rt, args: &[&str]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("REPLICA_LAB_") && !NOT_SETTINGS.contains(&k.as_str()) {
            c.env_remove(k);
        }
    }
    c.envs(env_for(rt));
    c.output().expect("run replica-lab")
}

fn ok(rt: Rt, args: &[&str]) -> String {
    let out = run(rt, args);
    assert!(
        out.status.success(),
        "replica-lab {args:?} ({} runtime) failed:\nstdout: {}\nstderr: {}",
        rt.name(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Objects on the engine labelled as the cluster `default`'s.
fn docker_objects() -> Vec<String> {
    let filter = "label=io.replica-lab.cluster=default";
    let mut found = Vec::new();
    for kind in [
        &["ps", "-a", "--format", "{{.Names}}", "--filter", filter][..],
        &["volume", "ls", "--format", "{{.Name}}", "--filter", filter],
        &["network", "ls", "--format", "{{.Name}}", "--filter", filter],
    ] {
        if let Ok(out) = Command::new("docker").args(kind).output() {
            found.extend(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .map(String::from),
            );
        }
    }
    found
}

fn free(addr: SocketAddr) -> bool {
    std::net::TcpListener::bind(addr).is_ok()
}

/// Refuses to run where the machine is not clean: this test must not touch a user's cluster
/// and must run on the built-in defaults only.
fn assert_clean(dir: &std::path::Path) {
    assert!(
        !dir.exists(),
        "a cluster named `default` already exists on this machine ({}): this test needs the \
         default name and ports; run `replica-lab down` first",
        dir.display()
    );
    let objects = docker_objects();
    assert!(
        objects.is_empty(),
        "Docker holds objects of a cluster named `default` ({objects:?}): run `replica-lab \
         down` first"
    );
    if let Some(file) = config_file().filter(|f| f.exists()) {
        panic!(
            "{} would change the defaults this test runs on: move it aside while the test runs",
            file.display()
        );
    }
    for port in [WRITE, READ, STATS] {
        assert!(
            free(SocketAddr::from(([127, 0, 0, 1], port))),
            "port {port} is in use (`ss -ltnp 'sport = :{port}'` says by whom): this test needs \
             the default ports; stop what holds it"
        );
    }
}

/// Takes the default cluster down if the run ends before its own `down`, as when an
/// assertion fails.
struct Down {
    rt: Rt,
    armed: bool,
}

impl Drop for Down {
    fn drop(&mut self) {
        if self.armed {
            let _ = run(self.rt, &["down"]);
        }
    }
}

async fn on_defaults(rt: Rt) {
    let defaults = Settings::default();
    let dir: PathBuf = cluster_dir(&data_root(&defaults), &defaults.name);
    assert_clean(&dir);
    let mut guard = Down { rt, armed: true };

    let started = Instant::now();
    ok(rt, &["up"]);
    let up_took = started.elapsed();

    let status: Value =
        serde_json::from_str(&ok(rt, &["status", "--json"])).expect("status --json is JSON");
    assert_eq!(status["name"], "default");
    assert_eq!(status["runtime"], rt.name());
    assert_eq!(status["endpoints"]["write"], "127.0.0.1:5435");
    assert_eq!(status["endpoints"]["read"], "127.0.0.1:5436");
    assert_eq!(status["endpoints"]["stats"], "127.0.0.1:8404");
    let roles: Vec<(String, String, String)> = status["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| {
            let s = |k: &str| n[k].as_str().unwrap_or_default().to_string();
            (s("name"), s("role"), s("state"))
        })
        .collect();
    let running = |name: &str, role: &str| (name.into(), role.into(), "running".into());
    assert_eq!(
        roles,
        [
            running("pg1", "primary"),
            running("pg2", "replica"),
            running("pg3", "replica"),
            running("pg4", "replica"),
        ],
        "{status:#}"
    );
    let names = ["pg1", "pg2", "pg3", "pg4"];
    let connect_at: Vec<SocketAddr> = names
        .iter()
        .map(|n| {
            node(&status, n)["connect"]
                .as_str()
                .and_then(|c| c.parse().ok())
                .unwrap_or_else(|| panic!("{n} has no host:port to connect to: {status:#}"))
        })
        .collect();
    // The layouts the README promises: Docker publishes pgN on 127.0.0.1:15430+N; local
    // nodes listen on their own loopback address at 5432 (or, where only 127.0.0.1 is
    // usable, on the Docker layout's ports).
    let published: Vec<SocketAddr> = (1..=4u16)
        .map(|i| SocketAddr::from(([127, 0, 0, 1], 15_430 + i)))
        .collect();
    let aliases: Vec<SocketAddr> = (1..=4u8)
        .map(|i| SocketAddr::from(([127, 0, 0, 10 + i], 5432)))
        .collect();
    match rt {
        Rt::Docker => assert_eq!(connect_at, published),
        Rt::Local => assert!(
            connect_at == aliases || connect_at == published,
            "{connect_at:?}"
        ),
    }
    let address = |n: &str| {
        node(&status, n)["address"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };

    // Each node answers directly where status says, as the role status gives it.
    for (name, at) in names.iter().zip(&connect_at) {
        let c = connect(*at, "mydatabase")
            .await
            .unwrap_or_else(|e| panic!("{name} at {at}: {e}"));
        let row = c
            .query_one("SELECT pg_is_in_recovery(), host(inet_server_addr())", &[])
            .await
            .unwrap_or_else(|e| panic!("{name} at {at}: {e}"));
        assert_eq!(row.get::<_, bool>(0), *name != "pg1", "{name} at {at}");
        assert_eq!(row.get::<_, String>(1), address(name), "{name} at {at}");
    }

    // A write through 5435 lands on the primary.
    let w = connect(SocketAddr::from(([127, 0, 0, 1], WRITE)), "mydatabase")
        .await
        .expect("the write endpoint 127.0.0.1:5435");
    let row = w
        .query_one("SELECT pg_is_in_recovery(), host(inet_server_addr())", &[])
        .await
        .expect("ask the write endpoint who it is");
    assert!(!row.get::<_, bool>(0), "5435 reached a standby");
    assert_eq!(row.get::<_, String>(1), address("pg1"));
    let marker = format!("defaults-{}-{}", rt.name(), std::process::id());
    w.execute(
        "CREATE TABLE IF NOT EXISTS defaults_check (m text PRIMARY KEY)",
        &[],
    )
    .await
    .expect("create a table on the primary");
    w.execute("INSERT INTO defaults_check VALUES ($1)", &[&marker])
        .await
        .expect("insert on the primary");

    // Every replica has the row (replication is asynchronous: give it a moment)...
    for (name, at) in names.iter().zip(&connect_at).skip(1) {
        eventually(
            Duration::from_secs(15),
            &format!("the row on {name}"),
            || {
                let marker = marker.clone();
                async move {
                    let c = connect(*at, "mydatabase").await.ok()?;
                    let n: i64 = c
                        .query_one(
                            "SELECT count(*) FROM defaults_check WHERE m = $1",
                            &[&marker],
                        )
                        .await
                        .ok()?
                        .get(0);
                    (n == 1).then_some(())
                }
            },
        )
        .await;
    }
    // ...and fresh connections through 5436 are answered by replicas only, which see it.
    let replicas: BTreeSet<String> = names[1..].iter().map(|n| address(n)).collect();
    let mut served = BTreeSet::new();
    for i in 0..12 {
        let r = connect(SocketAddr::from(([127, 0, 0, 1], READ)), "mydatabase")
            .await
            .unwrap_or_else(|e| panic!("fresh read connection {i} to 127.0.0.1:5436: {e}"));
        let row = r
            .query_one(
                "SELECT pg_is_in_recovery(), host(inet_server_addr()),
                        (SELECT count(*) FROM defaults_check WHERE m = $1)",
                &[&marker],
            )
            .await
            .expect("read through 5436");
        let (standby, by, seen): (bool, String, i64) = (row.get(0), row.get(1), row.get(2));
        assert!(standby, "5436 reached the primary ({by})");
        assert!(
            replicas.contains(&by),
            "5436 reached {by}, not a replica of {replicas:?}"
        );
        assert_eq!(seen, 1, "{by} does not see the row written through 5435");
        served.insert(by);
    }
    assert!(
        served.len() > 1,
        "12 fresh connections all reached {served:?}: reads are not balanced"
    );

    // The stats page answers on 8404 with every server of both backends.
    let csv = http_get(STATS, "/;csv");
    assert!(csv.starts_with("HTTP/1.1 200"), "{csv}");
    for name in names {
        for backend in ["write", "read"] {
            let row = format!("{backend},{name},");
            assert!(
                csv.contains(&row),
                "{row} missing from the stats page:\n{csv}"
            );
        }
    }
    drop(w);

    let stopping = Instant::now();
    ok(rt, &["down"]);
    let down_took = stopping.elapsed();
    guard.armed = false;
    eprintln!(
        "defaults on the {} runtime: up to ready {:.1} s, down {:.1} s",
        rt.name(),
        up_took.as_secs_f64(),
        down_took.as_secs_f64()
    );

    // Nothing is left: no folder, no processes, no engine objects, every port free.
    assert!(!dir.exists(), "{} is left after down", dir.display());
    let left = replica_lab::runtime::process::processes_under(&dir);
    assert!(left.is_empty(), "processes left after down: {left:?}");
    let objects = docker_objects();
    assert!(
        objects.is_empty(),
        "Docker objects left after down: {objects:?}"
    );
    let mut wanted: Vec<SocketAddr> = [WRITE, READ, STATS]
        .iter()
        .map(|p| SocketAddr::from(([127, 0, 0, 1], *p)))
        .collect();
    wanted.extend(&connect_at);
    for addr in wanted {
        // Docker's port forwarders go with their containers; allow them a moment.
        eventually(
            Duration::from_secs(5),
            &format!("{addr} free after down"),
            || async move { free(addr).then_some(()) },
        )
        .await;
    }
}
