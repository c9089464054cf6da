//! `cargo bench --bench docker_up`: the same cluster on the same Docker engine and images,
//! started two ways, side by side:
//!
//! - the app: `replica-lab up --runtime docker --replicas 3 --name benchd`, which returns once
//!   every replica streams and HAProxy routes by role, and prints its phases;
//! - the project's own `compose.yaml`: `up --wait --scale replica=3`, which returns once every
//!   container passes its health check. With the standalone docker-compose 1.x, which has no
//!   `--wait`, that is `up -d` and then polling the same health states. As a health check says
//!   less than the app's readiness, the bench also times compose until the app's criterion
//!   holds ("settled": every replica streaming, HAProxy's stats showing one server up for
//!   writes and every replica up for reads).
//!
//! Each round measures a cold start (images present; no containers, volumes or network, as
//! after `down`) and a warm restart (app: `down --keep-data`, then `up`; compose: `stop`, then
//! `up --wait`). Rounds alternate which of the two goes first. A report, not a test: nothing
//! is asserted about the figures. `BENCH_ROUNDS` sets the number of rounds (default 3).
//!
//! Both run with their own ports (app: 24004-24006 and nodes from 24011; compose:
//! 24104-24106) and the app with a throwaway data folder; `replica-lab down --name benchd`
//! and `down -v` of the compose project run before the first round and whatever happens to
//! a round. Images: `replica-lab/postgres:15` and `replica-lab/haproxy:2.6` (built offline by
//! docker/build-images.sh), or `BENCH_POSTGRES_IMAGE` / `BENCH_HAPROXY_IMAGE`.

#[path = "../tests/support/compose.rs"]
mod compose_driver;
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use compose_driver::{Cli, Project, docker};
use replica_lab::cluster::haproxy::{READ_BACKEND, WRITE_BACKEND, parse_stat_csv};
use support::{
    BenchEnv, MinMedianTable, Ports, bench_rounds, cannot_start, catch_interrupts, cpu_count,
    finish, interrupted, median, phase_table, run_bin,
};

const CLUSTER: &str = "benchd";
const PROJECT: &str = "rlbenchd";
const REPLICAS: usize = 3;
const APP_PORTS: Ports = Ports {
    write: 24005,
    read: 24006,
    stats: 24004,
};
/// The Docker runtime publishes node N on 127.0.0.1:(this + N).
const APP_NODE_PORT: u16 = 24010;
const COMPOSE_PORTS: Ports = Ports {
    write: 24105,
    read: 24106,
    stats: 24104,
};
const UP_TIMEOUT: Duration = Duration::from_secs(300);
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Seconds of the min / median tables: wide enough for the longest label.
const TABLE: MinMedianTable = MinMedianTable { label_width: 52 };

// --- small helpers -------------------------------------------------------------------------

fn timed<T>(f: impl FnOnce() -> Result<T, String>) -> Result<(T, f64), String> {
    let start = Instant::now();
    let out = f()?;
    Ok((out, start.elapsed().as_secs_f64()))
}

fn images() -> (String, String) {
    (
        std::env::var("BENCH_POSTGRES_IMAGE").unwrap_or_else(|_| "replica-lab/postgres:15".into()),
        std::env::var("BENCH_HAPROXY_IMAGE").unwrap_or_else(|_| "replica-lab/haproxy:2.6".into()),
    )
}

// --- the app -----------------------------------------------------------------------------

/// The app's settings: the bench's images, ports and data folder, no user config file, and
/// none of the caller's `REPLICA_LAB_*` variables (the local runtime's included).
fn bench_env(root: &Path) -> BenchEnv {
    let (pg, proxy) = images();
    BenchEnv::keeping(&[])
        .config_home(&root.join("no-config"))
        .data_dir(&root.join("data"))
        .set("REPLICA_LAB_POSTGRES_IMAGE", pg)
        .set("REPLICA_LAB_HAPROXY_IMAGE", proxy)
        .ports(APP_PORTS)
        .set("REPLICA_LAB_NODE_PORT", APP_NODE_PORT.to_string())
}

/// Runs the app; its phases from stderr.
fn app(root: &Path, args: &[&str]) -> Result<Vec<(String, f64)>, String> {
    run_bin(&bench_env(root), args).map(|run| run.phases())
}

fn app_down(root: &Path) -> Result<(), String> {
    app(root, &["down", "--name", CLUSTER]).map(|_| ())
}

// --- compose -----------------------------------------------------------------------------

fn compose_project(cli: Cli) -> Project {
    let (pg, proxy) = images();
    let env = [
        ("REPLICA_LAB_POSTGRES_IMAGE", pg),
        ("REPLICA_LAB_HAPROXY_IMAGE", proxy),
        ("REPLICA_LAB_WRITE_PORT", COMPOSE_PORTS.write.to_string()),
        ("REPLICA_LAB_READ_PORT", COMPOSE_PORTS.read.to_string()),
        ("REPLICA_LAB_STATS_PORT", COMPOSE_PORTS.stats.to_string()),
    ];
    Project {
        cli,
        name: PROJECT.into(),
        file: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("compose.yaml"),
        env: env.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    }
}

fn compose_up(project: &Project) -> Result<(), String> {
    let scale = format!("replica={REPLICAS}");
    project
        .up_wait(&["--scale", &scale], UP_TIMEOUT)
        .map_err(|e| e.to_string())
}

// --- readiness as the app defines it --------------------------------------------------------

/// HAProxy's stats page as CSV.
fn stats_csv(port: u16) -> Result<String, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET /;csv HTTP/1.0\r\nHost: bench\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| e.to_string())?;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or("no HTTP answer from the stats page")?;
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        Ok(body.to_string())
    }
}

/// The body of a chunked HTTP answer (HAProxy chunks even for HTTP/1.0 clients).
fn dechunk(mut rest: &str) -> Result<String, String> {
    let mut body = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").ok_or("truncated chunk")?;
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|e| format!("bad chunk size {size:?}: {e}"))?;
        if size == 0 {
            return Ok(body);
        }
        let chunk = after.get(..size).ok_or("truncated chunk")?;
        body.push_str(chunk);
        rest = after[size..]
            .strip_prefix("\r\n")
            .ok_or("malformed chunk")?;
    }
}

/// Every replica streams from the primary, and HAProxy routes writes to one server and reads
/// to every replica: what `replica-lab up` waits for.
async fn settled(ports: Ports) -> Result<(), String> {
    let rows = parse_stat_csv(&stats_csv(ports.stats)?);
    let up = |backend: &str| {
        rows.iter()
            .filter(|r| r.backend == backend && r.routable())
            .count()
    };
    let (writers, readers) = (up(WRITE_BACKEND), up(READ_BACKEND));
    if writers != 1 || readers != REPLICAS {
        return Err(format!(
            "HAProxy routes writes to {writers} and reads to {readers} servers"
        ));
    }
    let (client, connection) = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(ports.write)
        .user("myuser")
        .password("mypassword")
        .dbname("mydatabase")
        .connect_timeout(Duration::from_secs(2))
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let row = client
        .query_one(
            "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
            &[],
        )
        .await
        .map_err(|e| e.to_string())?;
    let streaming: i64 = row.get(0);
    if streaming as usize == REPLICAS {
        Ok(())
    } else {
        Err(format!("{streaming} replicas stream"))
    }
}

/// Seconds until [`settled`] holds.
fn wait_settled(rt: &tokio::runtime::Runtime, ports: Ports) -> Result<f64, String> {
    let start = Instant::now();
    loop {
        match rt.block_on(settled(ports)) {
            Ok(()) => return Ok(start.elapsed().as_secs_f64()),
            Err(e) if start.elapsed() > SETTLE_TIMEOUT => {
                return Err(format!(
                    "not settled after {} s: {e}",
                    SETTLE_TIMEOUT.as_secs()
                ));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

// --- rounds ------------------------------------------------------------------------------

/// Removes both clusters when dropped, so a failed or interrupted round leaves nothing.
struct Cleanup<'a> {
    root: &'a Path,
    project: &'a Project,
}

impl Cleanup<'_> {
    fn run(&self) -> Result<(), String> {
        let app = app_down(self.root);
        let compose = self.project.down().map_err(|e| e.to_string());
        app.and(compose)
    }
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.run() {
            eprintln!("docker_up: cleanup: {e}");
        }
    }
}

struct AppRound {
    cold: f64,
    cold_phases: Vec<(String, f64)>,
    /// Whether the bench's own readiness check agreed the moment `up` returned.
    cold_settled: bool,
    keep_down: f64,
    warm: f64,
    warm_phases: Vec<(String, f64)>,
    down: f64,
}

struct ComposeRound {
    cold: f64,
    cold_settle: f64,
    stop: f64,
    warm: f64,
    warm_settle: f64,
    down: f64,
}

fn app_round(root: &Path, rt: &tokio::runtime::Runtime) -> Result<AppRound, String> {
    let replicas = REPLICAS.to_string();
    let (cold_phases, cold) = timed(|| {
        app(
            root,
            &[
                "up",
                "--runtime",
                "docker",
                "--replicas",
                &replicas,
                "--name",
                CLUSTER,
            ],
        )
    })?;
    let cold_settled = rt.block_on(settled(APP_PORTS)).is_ok();
    let (_, keep_down) = timed(|| app(root, &["down", "--name", CLUSTER, "--keep-data"]))?;
    let (warm_phases, warm) = timed(|| app(root, &["up", "--name", CLUSTER]))?;
    let (_, down) = timed(|| app_down(root))?;
    Ok(AppRound {
        cold,
        cold_phases,
        cold_settled,
        keep_down,
        warm,
        warm_phases,
        down,
    })
}

fn compose_round(project: &Project, rt: &tokio::runtime::Runtime) -> Result<ComposeRound, String> {
    let (_, cold) = timed(|| compose_up(project))?;
    let cold_settle = wait_settled(rt, COMPOSE_PORTS)?;
    let (_, stop) = timed(|| {
        project
            .run(&["stop", "-t", "60"])
            .map(|_| ())
            .map_err(|e| e.to_string())
    })?;
    let (_, warm) = timed(|| compose_up(project))?;
    let warm_settle = wait_settled(rt, COMPOSE_PORTS)?;
    let (_, down) = timed(|| project.down().map_err(|e| e.to_string()))?;
    Ok(ComposeRound {
        cold,
        cold_settle,
        stop,
        warm,
        warm_settle,
        down,
    })
}

// --- report ------------------------------------------------------------------------------

/// Every phase name in order of first appearance, with its figures across rounds.
fn phase_rows(runs: &[&[(String, f64)]]) {
    let table = phase_table(runs);
    if table.is_empty() {
        println!("    (no phases printed)");
    }
    for (name, values) in table {
        TABLE.row(&format!("  {name}"), &values);
    }
}

fn ratio(what: &str, compose: &[f64], app: &[f64]) {
    if compose.is_empty() || app.is_empty() {
        println!("  {what:<52} {:>8}", "-");
    } else {
        let (c, a) = (median(compose), median(app));
        println!("  {what:<52} {:>8.2}   ({c:.2} s / {a:.2} s)", c / a);
    }
}

fn main() -> ExitCode {
    let rounds = match bench_rounds() {
        Ok(n) => n,
        Err(e) => return cannot_start(e),
    };
    if docker(&["version", "--format", "{{.Server.Version}}"]).is_err() {
        println!("docker_up: SKIPPED: no Docker engine answers on this machine");
        return ExitCode::SUCCESS;
    }
    let Some(cli) = Cli::detect() else {
        println!(
            "docker_up: SKIPPED: no Docker Compose (neither `docker compose` nor `docker-compose`)"
        );
        return ExitCode::SUCCESS;
    };
    let (pg, proxy) = images();
    for image in [&pg, &proxy] {
        if docker(&["image", "inspect", image]).is_err() {
            return cannot_start(format!(
                "image {image} is not on the engine: build it with docker/build-images.sh \
                 (this bench never pulls)"
            ));
        }
    }
    let scratch = match tempfile::Builder::new()
        .prefix("replica-lab-docker-bench.")
        .tempdir()
    {
        Ok(d) => d,
        Err(e) => return cannot_start(format!("cannot create a scratch folder: {e}")),
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return cannot_start(e),
    };
    catch_interrupts();
    let root = scratch.path();
    let project = compose_project(cli.clone());
    let engine = docker(&["version", "--format", "{{.Server.Version}}"]).unwrap_or_default();
    let cpus = cpu_count();
    println!(
        "docker_up: `replica-lab up --runtime docker --replicas {REPLICAS}` against \
         compose.yaml `up --wait --scale replica={REPLICAS}`\n  \
         Docker engine {}, {} {}{}, images {pg} + {proxy}, {rounds} rounds, {cpus} CPUs",
        engine.trim(),
        cli.name(),
        cli.version,
        if cli.can_wait() {
            ""
        } else {
            " (no --wait: `up -d`, then polling health states every 0.2 s)"
        }
    );

    let cleanup = Cleanup {
        root,
        project: &project,
    };
    // Leftovers of an earlier, killed run.
    if let Err(e) = cleanup.run() {
        return cannot_start(format!("removing leftovers: {e}"));
    }
    let mut apps: Vec<AppRound> = Vec::new();
    let mut composes: Vec<ComposeRound> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    for round in 1..=rounds {
        println!("\nround {round}/{rounds}");
        let app_first = round % 2 == 1;
        for part in if app_first { [0, 1] } else { [1, 0] } {
            if interrupted() {
                break;
            }
            if part == 0 {
                match app_round(root, &rt) {
                    Ok(r) => {
                        println!(
                            "  app      cold up {:>6.2} s{}   down --keep-data {:>5.2} s   \
                             warm up {:>6.2} s   down {:>5.2} s",
                            r.cold,
                            if r.cold_settled { "" } else { " (NOT settled)" },
                            r.keep_down,
                            r.warm,
                            r.down
                        );
                        apps.push(r);
                    }
                    Err(e) => {
                        println!("  app      FAILED");
                        failures.push(format!("round {round}, app: {e}"));
                    }
                }
            } else {
                match compose_round(&project, &rt) {
                    Ok(r) => {
                        println!(
                            "  compose  cold up {:>6.2} s (+{:.2} s to settle)   stop {:>5.2} s   \
                             warm up {:>6.2} s (+{:.2} s)   down -v {:>5.2} s",
                            r.cold, r.cold_settle, r.stop, r.warm, r.warm_settle, r.down
                        );
                        composes.push(r);
                    }
                    Err(e) => {
                        println!("  compose  FAILED");
                        failures.push(format!("round {round}, compose: {e}"));
                    }
                }
            }
            // Whatever happened, the next part starts cold.
            if let Err(e) = cleanup.run() {
                failures.push(format!("round {round}, cleanup: {e}"));
            }
        }
        if interrupted() {
            break;
        }
    }

    let a = |f: fn(&AppRound) -> f64| apps.iter().map(f).collect::<Vec<f64>>();
    let c = |f: fn(&ComposeRound) -> f64| composes.iter().map(f).collect::<Vec<f64>>();
    let app_cold = a(|r| r.cold);
    let app_warm = a(|r| r.warm);
    let compose_cold = c(|r| r.cold);
    let compose_cold_settled = c(|r| r.cold + r.cold_settle);
    let compose_warm = c(|r| r.warm);
    let compose_warm_settled = c(|r| r.warm + r.warm_settle);

    TABLE.header("seconds, over the rounds");
    println!("cold start (images present; no containers, volumes or network)");
    TABLE.row("app: `up` to ready (streaming, HAProxy settled)", &app_cold);
    let cold_phases: Vec<&[(String, f64)]> =
        apps.iter().map(|r| r.cold_phases.as_slice()).collect();
    phase_rows(&cold_phases);
    TABLE.row("compose: `up --wait`", &compose_cold);
    TABLE.row(
        "compose: `up --wait`, then until settled",
        &compose_cold_settled,
    );
    println!("warm restart (data kept, containers stopped)");
    TABLE.row("app: `down --keep-data`", &a(|r| r.keep_down));
    TABLE.row("app: `up` to ready", &app_warm);
    let warm_phases: Vec<&[(String, f64)]> =
        apps.iter().map(|r| r.warm_phases.as_slice()).collect();
    phase_rows(&warm_phases);
    TABLE.row("compose: `stop`", &c(|r| r.stop));
    TABLE.row("compose: `up --wait`", &compose_warm);
    TABLE.row(
        "compose: `up --wait`, then until settled",
        &compose_warm_settled,
    );
    println!("teardown");
    TABLE.row("app: `down`", &a(|r| r.down));
    TABLE.row("compose: `down -v`", &c(|r| r.down));

    println!("\nratio compose / app (medians; above 1: the app is faster)");
    ratio("cold: `up --wait` / `up`", &compose_cold, &app_cold);
    ratio(
        "cold: `up --wait` until settled / `up`",
        &compose_cold_settled,
        &app_cold,
    );
    ratio("warm: `up --wait` / `up`", &compose_warm, &app_warm);
    ratio(
        "warm: `up --wait` until settled / `up`",
        &compose_warm_settled,
        &app_warm,
    );
    if apps.iter().any(|r| !r.cold_settled) {
        println!(
            "  note: in some rounds the app's `up` returned before the bench's own check agreed"
        );
    }

    drop(cleanup);
    finish(&failures, None)
}
