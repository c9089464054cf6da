//! `compose.yaml` serves the README's tutorial: `up --wait --scale replica=3` on the offline
//! images, the endpoints through HAProxy, then `down -v` leaves nothing of the project behind.
//!
//! Runs where a Docker engine answers and Docker Compose is installed (the plugin or the
//! standalone `docker-compose`); says SKIPPED otherwise. The project has a fixed name and
//! ports of its own (23004-23006), so a killed run's leftovers are removed before starting,
//! and `down -v` runs whatever happens to the test.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

#[path = "support/compose.rs"]
mod compose_driver;
mod support;

use compose_driver::{Cli, Project, docker};
use support::Need;

const PROJECT: &str = "rlcomposetest";
const WRITE_PORT: u16 = 23005;
const READ_PORT: u16 = 23006;
const STATS_PORT: u16 = 23004;
const PG_IMAGE: &str = "replica-lab/postgres:15";
const PROXY_IMAGE: &str = "replica-lab/haproxy:2.6";
const REPLICAS: usize = 3;
const UP_TIMEOUT: Duration = Duration::from_secs(240);
const SETTLE: Duration = Duration::from_secs(10);

/// Runs `down -v` when dropped, unless the test already did.
struct Cleanup {
    project: Project,
    armed: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if self.armed {
            if let Err(e) = self.project.down() {
                eprintln!("cleanup of compose project {PROJECT} failed: {e}");
            }
        }
    }
}

fn project(cli: Cli) -> Project {
    let env = [
        ("REPLICA_LAB_POSTGRES_IMAGE", PG_IMAGE.to_string()),
        ("REPLICA_LAB_HAPROXY_IMAGE", PROXY_IMAGE.to_string()),
        ("REPLICA_LAB_WRITE_PORT", WRITE_PORT.to_string()),
        ("REPLICA_LAB_READ_PORT", READ_PORT.to_string()),
        ("REPLICA_LAB_STATS_PORT", STATS_PORT.to_string()),
    ];
    Project {
        cli,
        name: PROJECT.into(),
        file: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("compose.yaml"),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

fn logs(project: &Project) -> String {
    match project.run(&["logs", "--no-color", "--tail", "25"]) {
        Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
        Err(e) => e.to_string(),
    }
}

async fn connect(port: u16) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(port)
        .user("myuser")
        .password("mypassword")
        .dbname("mydatabase")
        .connect_timeout(Duration::from_secs(3))
        .connect(NoTls)
        .await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// The README's tutorial, step by step, against the compose cluster's endpoints.
async fn tutorial() {
    // Writes go to the primary as soon as `up --wait` returns.
    let write = connect(WRITE_PORT)
        .await
        .expect("connect to the write endpoint");
    write
        .batch_execute(
            "CREATE TABLE t (id serial PRIMARY KEY, m text); INSERT INTO t (m) VALUES ('hello')",
        )
        .await
        .expect("create and insert through the write endpoint");
    let row = write
        .query_one("SELECT pg_is_in_recovery(), host(inet_server_addr())", &[])
        .await
        .expect("ask the write endpoint's role");
    assert!(
        !row.get::<_, bool>(0),
        "the write endpoint reached a standby"
    );
    let primary_addr: String = row.get(1);

    // The roles and database the app creates, with the same attributes.
    let roles = write
        .query(
            "SELECT rolname, rolsuper, rolreplication, rolcanlogin,
                    coalesce(array_to_string(rolconfig, ','), '')
             FROM pg_roles WHERE rolname IN ('myuser', 'replicator', 'haproxy_check')
             ORDER BY rolname",
            &[],
        )
        .await
        .expect("read the roles");
    let roles: Vec<(String, bool, bool, bool, String)> = roles
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    assert_eq!(
        roles,
        [
            (
                "haproxy_check".to_string(),
                false,
                false,
                true,
                "log_min_messages=fatal,default_transaction_read_only=on".to_string()
            ),
            ("myuser".into(), true, false, true, String::new()),
            ("replicator".into(), false, true, true, String::new()),
        ]
    );
    let owner: String = write
        .query_one(
            "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = current_database()",
            &[],
        )
        .await
        .expect("read the database owner")
        .get(0);
    assert_eq!(owner, "myuser");

    // The row reaches a replica within moments.
    let deadline = Instant::now() + SETTLE;
    loop {
        let seen = async {
            let read = connect(READ_PORT).await.map_err(|e| e.to_string())?;
            read.query_opt("SELECT m FROM t WHERE m = 'hello'", &[])
                .await
                .map_err(|e| e.to_string())
                .map(|r| r.is_some())
        }
        .await;
        match seen {
            Ok(true) => break,
            other => assert!(
                Instant::now() < deadline,
                "the row did not reach the read endpoint within {} s: {other:?}",
                SETTLE.as_secs()
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The read endpoint is read-only.
    let read = connect(READ_PORT)
        .await
        .expect("connect to the read endpoint");
    let err = read
        .batch_execute("INSERT INTO t (m) VALUES ('no')")
        .await
        .expect_err("an INSERT through the read endpoint must fail");
    assert_eq!(
        err.code(),
        Some(&SqlState::READ_ONLY_SQL_TRANSACTION),
        "expected 25006, got {err}"
    );
    drop(read);

    // Each new connection moves on to the next replica.
    let mut addrs = Vec::new();
    for _ in 0..2 * REPLICAS {
        let read = connect(READ_PORT)
            .await
            .expect("connect to the read endpoint");
        let row = read
            .query_one("SELECT host(inet_server_addr()), pg_is_in_recovery()", &[])
            .await
            .expect("ask a replica's address");
        assert!(
            row.get::<_, bool>(1),
            "the read endpoint reached the primary"
        );
        addrs.push(row.get::<_, String>(0));
    }
    let distinct: BTreeSet<&String> = addrs.iter().collect();
    assert_eq!(
        distinct.len(),
        REPLICAS,
        "6 connections reached {addrs:?}, not {REPLICAS} replicas"
    );
    assert!(!distinct.contains(&primary_addr), "{addrs:?}");

    // Every replica streams through a slot of its own, named like its application_name.
    let deadline = Instant::now() + SETTLE;
    loop {
        let rows = write
            .query(
                "SELECT s.slot_name, r.application_name
                 FROM pg_replication_slots s
                 LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid AND r.state = 'streaming'
                 ORDER BY 1",
                &[],
            )
            .await
            .expect("read the primary's slots");
        let pairs: Vec<(String, Option<String>)> =
            rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let streaming = pairs
            .iter()
            .filter(|(slot, app)| slot.starts_with("replica_") && app.as_ref() == Some(slot))
            .count();
        if streaming == REPLICAS && pairs.len() == REPLICAS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "slots and streaming replicas disagree: {pairs:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The committed HAProxy configuration is one the real HAProxy accepts (no Docker needed).
#[test]
fn compose_haproxy_cfg_passes_haproxy_check() {
    const TEST: &str = "compose_haproxy_cfg_passes_haproxy_check";
    let Some(haproxy) = support::require_with(Need::Haproxy, TEST, support::need::haproxy()) else {
        return;
    };
    let committed = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/compose/haproxy.cfg");
    let text = std::fs::read_to_string(&committed).expect("read the committed haproxy.cfg");
    assert!(text.contains("init-addr last,libc,none"));
    // Outside Docker the names do not resolve: leave them unresolved rather than ask this
    // machine's resolver about `primary` and `replica`.
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("haproxy.cfg");
    std::fs::write(
        &cfg,
        text.replace("init-addr last,libc,none", "init-addr none"),
    )
    .expect("write the config");
    let out = std::process::Command::new(haproxy)
        .arg("-c")
        .arg("-f")
        .arg(&cfg)
        .output()
        .expect("run haproxy -c");
    assert!(
        out.status.success(),
        "haproxy -c rejected {}:\n{}{}",
        committed.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn label_filter() -> String {
    format!("label=com.docker.compose.project={PROJECT}")
}

#[test]
fn compose_file_serves_the_tutorial_and_leaves_nothing() {
    const TEST: &str = "compose_file_serves_the_tutorial_and_leaves_nothing";
    if !support::require(Need::Docker, TEST) {
        return;
    }
    let detected = Cli::detect().ok_or("neither `docker compose` nor `docker-compose` answers");
    let Some(cli) = support::require_with(Need::Compose, TEST, detected.map_err(String::from))
    else {
        return;
    };
    for image in [PG_IMAGE, PROXY_IMAGE] {
        assert!(
            docker(&["image", "inspect", image]).is_ok(),
            "image {image} is missing: build it offline with docker/build-images.sh"
        );
    }
    let project = project(cli.clone());
    // A killed run may have left the project behind, holding its ports.
    project
        .down()
        .expect("down -v of a previous run's leftovers");
    let mut cleanup = Cleanup {
        project: project.clone(),
        armed: true,
    };

    let started = Instant::now();
    let scale = format!("replica={REPLICAS}");
    if let Err(e) = project.up_wait(&["--scale", &scale], UP_TIMEOUT) {
        panic!("compose up failed: {e}\n{}", logs(&project));
    }
    eprintln!(
        "{} {} (up{}): ready in {:.1} s",
        cli.name(),
        cli.version,
        if cli.can_wait() {
            " --wait"
        } else {
            " -d, then waiting for health checks"
        },
        started.elapsed().as_secs_f64()
    );
    let states = project.container_states().expect("list containers");
    assert_eq!(states.len(), REPLICAS + 2, "{states:?}");
    assert!(states.iter().all(|c| c.ready()), "{states:?}");
    let volumes = project.volumes().expect("list volumes");
    assert_eq!(volumes.len(), REPLICAS + 1, "{volumes:?}");

    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let outcome =
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(90), tutorial()).await });
    drop(rt);
    if outcome.is_err() {
        panic!("the tutorial took over 90 s\n{}", logs(&project));
    }

    project.down().expect("down -v");
    cleanup.armed = false;
    assert_eq!(
        project.container_ids().expect("list containers"),
        Vec::<String>::new(),
        "containers left"
    );
    for v in &volumes {
        assert!(
            docker(&["volume", "inspect", v]).is_err(),
            "volume {v} left behind"
        );
    }
    let labelled = |what: &str| {
        docker(&[what, "ls", "-q", "--filter", &label_filter()])
            .unwrap_or_else(|e| panic!("docker {what} ls: {e}"))
    };
    assert_eq!(labelled("volume").trim(), "", "labelled volumes left");
    assert_eq!(labelled("network").trim(), "", "labelled networks left");
    assert!(
        docker(&["network", "inspect", &format!("{PROJECT}_default")]).is_err(),
        "network {PROJECT}_default left behind"
    );
}
