//! `cargo bench --bench telemetry`: what live telemetry costs on a running 4-node cluster.
//!
//! 1. Starts `replica-lab up --runtime local --replicas 3 --name benchtel` through the binary,
//!    on addresses no default cluster uses (127.0.0.1:24004-24006, 127.0.60.11-14:5432), with
//!    its state in a throwaway folder under /var/tmp (mode 0755, so the unprivileged `postgres`
//!    user the servers run as under root can reach it) and no user config file.
//! 2. Builds the runtime the CLI would for that cluster, runs [`Telemetry`] at 4 snapshots a
//!    second, and after a 3 s warm-up measures over `BENCH_SECONDS` (default 30) seconds: this
//!    process's CPU time, the CPU time of the server sessions telemetry keeps open (the
//!    backends whose `application_name` is `replica-lab-telemetry`), and how many snapshots
//!    arrive. HAProxy's CPU is shown beside an idle window of the same cluster, but not counted:
//!    its own health checks dominate it.
//! 3. Times one [`NodePoller::poll`] per node, 500 times on a kept connection, and 50 times on
//!    a new connection each time, which is what keeping connections saves.
//!
//! A report, not a test: nothing is asserted; the targets are printed next to the figures.
//! `down --name benchtel` runs whatever happens: on success, on failure, on a panic and on
//! Ctrl-C.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use replica_lab::cluster::state::{ClusterRecord, cluster_dir};
use replica_lab::cluster::topology::{NodeSpec, Topology};
use replica_lab::runtime::ClusterRuntime;
use replica_lab::runtime::binaries::Binaries;
use replica_lab::runtime::local::{LocalRuntime, ServiceUser};
use replica_lab::telemetry::model::Snapshot;
use replica_lab::telemetry::sample::NodePoller;
use replica_lab::telemetry::{Telemetry, TelemetryConfig};
use tokio::sync::watch;

use support::{
    BenchEnv, DownGuard, LOCAL_PASS_THROUGH, Ports, cannot_start, catch_interrupts,
    check_interrupted, clock_ticks, comm, conclude, cpu_count, cpu_ticks, env_setting, interrupted,
    max, median, min, percent_of_core, percentile, processes_under, scratch_dir, self_cpu,
    up_local, verdict,
};

const CLUSTER: &str = "benchtel";
const REPLICAS: u8 = 3;
const PORTS: Ports = Ports {
    write: 24005,
    read: 24006,
    stats: 24004,
};
const NODE_BASE: &str = "127.0.60.10";
/// The `application_name` of telemetry's sessions (see `NodePoller`).
const TELEMETRY_APP: &str = "replica-lab-telemetry";
/// The bench's own look-ups, so they are never mistaken for telemetry.
const BENCH_APP: &str = "replica-lab-bench";

const RATE: f64 = 4.0;
const WARM_UP: Duration = Duration::from_secs(3);
/// The idle window before telemetry starts: HAProxy's CPU without telemetry.
const IDLE_MAX: Duration = Duration::from_secs(10);
const POLL_WARM_UP: usize = 50;
const POLLS: usize = 500;
const FRESH_WARM_UP: usize = 5;
const FRESH_POLLS: usize = 50;
const FRESH_LIMIT: Duration = Duration::from_secs(3);

const TARGET_CPU_PCT: f64 = 1.0;
const TARGET_POLL_MS: f64 = 2.0;

// --- CPU time ----------------------------------------------------------------------------------

/// HAProxy processes of the cluster in `dir`.
fn haproxy_pids(dir: &Path) -> Vec<i32> {
    processes_under(dir)
        .into_iter()
        .filter(|pid| comm(*pid) == "haproxy")
        .collect()
}

fn ticks_of(pids: &[i32]) -> Option<u64> {
    pids.iter().map(|p| cpu_ticks(*p)).sum()
}

// --- the app -----------------------------------------------------------------------------------

/// The binary's settings: the bench's own folder, ports and node addresses, and no user
/// config file.
fn bench_env(root: &Path) -> BenchEnv {
    BenchEnv::keeping(LOCAL_PASS_THROUGH)
        .data_dir(root)
        .ports(PORTS)
        .node_base(NODE_BASE)
        .config_home(&root.join("no-config"))
}

/// The runtime the CLI builds for an existing local cluster (`commands::open`): its record,
/// then the programs and service user the record's settings name.
fn open_runtime(dir: &Path) -> Result<(Arc<dyn ClusterRuntime>, Topology), String> {
    let record = ClusterRecord::load(dir)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no cluster record in {}", dir.display()))?;
    let settings = &record.settings;
    let bins = Binaries::find(
        settings.pg_bindir.as_deref(),
        settings.haproxy_bin.as_deref(),
    )
    .map_err(|e| e.to_string())?;
    let user = ServiceUser::resolve(&settings.os_user).map_err(|e| e.to_string())?;
    let rt: Arc<dyn ClusterRuntime> = Arc::new(LocalRuntime::new(dir.to_path_buf(), bins, user));
    Ok((rt, record.topology()))
}

// --- server sessions ---------------------------------------------------------------------------

async fn bench_client(addr: SocketAddr, topo: &Topology) -> Result<tokio_postgres::Client, String> {
    let c = &topo.credentials;
    let (client, conn) = tokio_postgres::Config::new()
        .host(addr.ip().to_string())
        .port(addr.port())
        .user(&c.user)
        .password(&c.password)
        .dbname("postgres")
        .application_name(BENCH_APP)
        .connect_timeout(Duration::from_secs(3))
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// Backend pids of telemetry's sessions on one node, newest session first.
async fn telemetry_pids(addr: SocketAddr, topo: &Topology) -> Result<Vec<i32>, String> {
    let client = bench_client(addr, topo).await?;
    let rows = client
        .query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1 \
             ORDER BY backend_start DESC",
            &[&TELEMETRY_APP],
        )
        .await
        .map_err(|e| format!("pg_stat_activity on {addr}: {e}"))?;
    rows.iter()
        .map(|r| r.try_get::<_, i32>(0).map_err(|e| e.to_string()))
        .collect()
}

/// Telemetry's sessions on every node: (node, pids) or why they could not be listed.
async fn all_telemetry_pids(
    rt: &dyn ClusterRuntime,
    topo: &Topology,
) -> Vec<(String, Result<Vec<i32>, String>)> {
    let mut out = Vec::new();
    for spec in &topo.nodes {
        out.push((
            spec.name.clone(),
            telemetry_pids(rt.client_addr(spec), topo).await,
        ));
    }
    out
}

// --- waiting and counting ----------------------------------------------------------------------

/// Sleeps, waking every half second to notice Ctrl-C (rarely, so the bench itself costs
/// next to nothing).
async fn pause(length: Duration) -> Result<(), String> {
    let end = tokio::time::Instant::now() + length;
    while tokio::time::Instant::now() < end {
        check_interrupted()?;
        let step = (tokio::time::Instant::now() + Duration::from_millis(500)).min(end);
        tokio::time::sleep_until(step).await;
    }
    Ok(())
}

#[derive(Default)]
struct Received {
    snapshots: u64,
    /// Snapshots in which every node had answered at least once and was reachable.
    all_reachable: u64,
}

/// Reads every snapshot published during `length`, as a consumer (a screen) would. It wakes
/// only for snapshots (Ctrl-C is noticed at the next one) and, without any, once a second.
async fn consume(
    rx: &mut watch::Receiver<Arc<Snapshot>>,
    length: Duration,
) -> Result<Received, String> {
    let end = tokio::time::Instant::now() + length;
    let mut got = Received::default();
    loop {
        check_interrupted()?;
        let now = tokio::time::Instant::now();
        if now >= end {
            return Ok(got);
        }
        let step = (now + Duration::from_secs(1)).min(end);
        match tokio::time::timeout_at(step, rx.changed()).await {
            Ok(Ok(())) => {
                let snap = rx.borrow_and_update();
                got.snapshots += 1;
                if snap.complete() && snap.nodes.iter().all(|n| n.reachable) {
                    got.all_reachable += 1;
                }
            }
            Ok(Err(_)) => return Err("the telemetry service stopped".into()),
            Err(_) => {}
        }
    }
}

// --- the telemetry service ---------------------------------------------------------------------

fn idle_window(
    tokio_rt: &tokio::runtime::Runtime,
    dir: &Path,
    length: Duration,
) -> Result<(), String> {
    let proxies = haproxy_pids(dir);
    let hap0 = ticks_of(&proxies);
    let cpu0 = self_cpu();
    let t0 = Instant::now();
    tokio_rt.block_on(pause(length))?;
    let wall = t0.elapsed();
    let cpu = (self_cpu() - cpu0).as_secs_f64();
    let hap1 = ticks_of(&proxies);
    println!("\nidle cluster, no telemetry ({:.1} s)", wall.as_secs_f64());
    println!(
        "  {:<38} {:>7.3} % of one core (the bench's own idle cost)",
        "this process",
        percent_of_core(cpu, wall)
    );
    match (hap0, hap1) {
        (Some(a), Some(b)) => println!(
            "  {:<38} {:>7.3} % of one core ({} process{})",
            "haproxy (health checks only)",
            percent_of_core((b.saturating_sub(a)) as f64 / clock_ticks(), wall),
            proxies.len(),
            if proxies.len() == 1 { "" } else { "es" }
        ),
        _ => println!("  {:<38} {:>7}", "haproxy", "not found"),
    }
    Ok(())
}

fn telemetry_window(
    tokio_rt: &tokio::runtime::Runtime,
    rt: &Arc<dyn ClusterRuntime>,
    topo: &Topology,
    dir: &Path,
    length: Duration,
) -> Result<f64, String> {
    let telemetry = {
        let _ctx = tokio_rt.enter();
        Telemetry::spawn(rt.clone(), topo.clone(), TelemetryConfig::per_second(RATE))
    };
    let mut rx = telemetry.snapshots.clone();
    tokio_rt.block_on(async {
        pause(WARM_UP).await?;
        // Drain what the warm-up published, so the window counts only its own snapshots.
        rx.borrow_and_update();
        Ok::<_, String>(())
    })?;

    let before = tokio_rt.block_on(all_telemetry_pids(rt.as_ref(), topo));
    let sessions: Vec<(String, i32)> = before
        .iter()
        .flat_map(|(node, pids)| pids.iter().flatten().map(move |pid| (node.clone(), *pid)))
        .collect();
    let proxies = haproxy_pids(dir);

    // The window: nothing but telemetry and its consumer runs in between.
    let ticks0: Vec<Option<u64>> = sessions.iter().map(|(_, p)| cpu_ticks(*p)).collect();
    let hap0 = ticks_of(&proxies);
    let seq0 = rx.borrow().seq;
    let cpu0 = self_cpu();
    let t0 = Instant::now();
    let received = tokio_rt.block_on(consume(&mut rx, length))?;
    let cpu = (self_cpu() - cpu0).as_secs_f64();
    let wall = t0.elapsed();
    let seq1 = rx.borrow().seq;
    let ticks1: Vec<Option<u64>> = sessions.iter().map(|(_, p)| cpu_ticks(*p)).collect();
    let hap1 = ticks_of(&proxies);

    let after = tokio_rt.block_on(all_telemetry_pids(rt.as_ref(), topo));
    let last = rx.borrow().clone();
    drop(telemetry);

    let secs = wall.as_secs_f64();
    let hz = clock_ticks();
    println!(
        "\ntelemetry at {RATE}/s on {} nodes: {:.1} s measured after a {} s warm-up",
        topo.nodes.len(),
        secs,
        WARM_UP.as_secs()
    );
    println!(
        "  {:<38} {:>7} ({:.2}/s; sequence advanced {}; target ~{RATE}/s)",
        "snapshots received",
        received.snapshots,
        received.snapshots as f64 / secs,
        seq1.saturating_sub(seq0)
    );
    println!(
        "  {:<38} {:>7} of {}",
        "  with every node reachable", received.all_reachable, received.snapshots
    );
    let roles: Vec<String> = last
        .nodes
        .iter()
        .map(|n| {
            format!(
                "{} {}{}",
                n.name,
                n.role.as_str(),
                n.poll_ms
                    .map(|ms| format!(" (poll {ms:.2} ms)"))
                    .unwrap_or_default()
            )
        })
        .collect();
    println!("  {:<38} {}", "last snapshot", roles.join(", "));

    let client_pct = percent_of_core(cpu, wall);
    println!(
        "  {:<38} {:>7.3} % of one core ({:.1} ms CPU, {:.2} ms per snapshot)",
        "client: this process (all threads)",
        client_pct,
        cpu * 1000.0,
        cpu * 1000.0 / received.snapshots.max(1) as f64
    );
    let mut server_secs = 0.0;
    let mut per_node: Vec<String> = Vec::new();
    let mut lost = 0;
    for ((node, pid), (a, b)) in sessions.iter().zip(ticks0.iter().zip(&ticks1)) {
        match (a, b) {
            (Some(a), Some(b)) => {
                let s = b.saturating_sub(*a) as f64 / hz;
                server_secs += s;
                per_node.push(format!("{node} {:.3}", percent_of_core(s, wall)));
            }
            _ => {
                lost += 1;
                per_node.push(format!("{node} (pid {pid} gone)"));
            }
        }
    }
    let server_pct = percent_of_core(server_secs, wall);
    println!(
        "  {:<38} {:>7.3} % of one core ({:.0} ms CPU in {} sessions: {})",
        "server: telemetry backends",
        server_pct,
        server_secs * 1000.0,
        sessions.len(),
        per_node.join(", ")
    );
    let total = client_pct + server_pct;
    println!(
        "  {:<38} {:>7.3} % of one core   target < {TARGET_CPU_PCT} %: {}",
        "total (client + server)",
        total,
        verdict(total < TARGET_CPU_PCT)
    );
    if let (Some(a), Some(b)) = (hap0, hap1) {
        println!(
            "  {:<38} {:>7.3} % of one core (health checks + `show stat` {RATE}/s; not in the total)",
            "haproxy (whole process)",
            percent_of_core(b.saturating_sub(a) as f64 / hz, wall),
        );
    }

    // Were the sessions kept? The same pids, one per node, before and after the window.
    let problems: Vec<String> = before
        .iter()
        .zip(&after)
        .filter_map(|((node, b), (_, a))| match (b, a) {
            (Ok(b), Ok(a)) if b.len() == 1 && b == a => None,
            (Ok(b), Ok(a)) => Some(format!("{node}: pids {b:?} before, {a:?} after")),
            (Err(e), _) | (_, Err(e)) => Some(format!("{node}: {e}")),
        })
        .collect();
    if problems.is_empty() && lost == 0 {
        println!(
            "  {:<38} yes: one session per node, the same before and after",
            "connections kept"
        );
    } else {
        println!(
            "  {:<38} NO ({}): the server figure is incomplete",
            "connections kept",
            problems.join("; ")
        );
    }
    Ok(total)
}

// --- one poll ----------------------------------------------------------------------------------

struct Timings {
    ms: Vec<f64>,
    /// This process's CPU over the timed calls.
    cpu: Duration,
    /// The session's server CPU over the timed calls, when it is known.
    server: Option<Duration>,
    errors: usize,
    first_error: Option<String>,
}

impl Timings {
    fn new() -> Self {
        Timings {
            ms: Vec::new(),
            cpu: Duration::ZERO,
            server: None,
            errors: 0,
            first_error: None,
        }
    }

    fn record<T>(&mut self, started: Instant, result: Result<T, String>) {
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        match result {
            Ok(_) => self.ms.push(ms),
            Err(e) => {
                self.errors += 1;
                self.first_error.get_or_insert(e);
            }
        }
    }

    fn calls(&self) -> usize {
        self.ms.len() + self.errors
    }
}

/// `n` polls on one kept connection, after `POLL_WARM_UP` untimed ones.
async fn kept_polls(rt: &dyn ClusterRuntime, topo: &Topology, spec: &NodeSpec) -> Timings {
    let limit = TelemetryConfig::default().node_timeout;
    let addr = rt.client_addr(spec);
    let mut poller = NodePoller::new(addr, topo.credentials.clone());
    for _ in 0..POLL_WARM_UP {
        let _ = poller.poll(limit).await;
    }
    // Telemetry is stopped: the newest telemetry session on the node is this poller's.
    let pid = telemetry_pids(addr, topo)
        .await
        .ok()
        .and_then(|p| p.first().copied());
    let mut t = Timings::new();
    let server0 = pid.and_then(cpu_ticks);
    let cpu0 = self_cpu();
    for _ in 0..POLLS {
        if interrupted() {
            break;
        }
        let started = Instant::now();
        let result = poller.poll(limit).await;
        t.record(started, result);
    }
    t.cpu = self_cpu() - cpu0;
    if let (Some(a), Some(b)) = (server0, pid.and_then(cpu_ticks)) {
        t.server = Some(Duration::from_secs_f64(
            b.saturating_sub(a) as f64 / clock_ticks(),
        ));
    }
    t
}

/// `n` polls, each on a new connection (log in, prepare, query, log out).
async fn fresh_polls(rt: &dyn ClusterRuntime, topo: &Topology, spec: &NodeSpec) -> Timings {
    let addr = rt.client_addr(spec);
    for _ in 0..FRESH_WARM_UP {
        let _ = NodePoller::new(addr, topo.credentials.clone())
            .poll(FRESH_LIMIT)
            .await;
    }
    let mut t = Timings::new();
    let cpu0 = self_cpu();
    for _ in 0..FRESH_POLLS {
        if interrupted() {
            break;
        }
        let started = Instant::now();
        let mut poller = NodePoller::new(addr, topo.credentials.clone());
        let result = poller.poll(FRESH_LIMIT).await;
        drop(poller);
        t.record(started, result);
    }
    t.cpu = self_cpu() - cpu0;
    t
}

/// The process check telemetry makes before each poll (`ClusterRuntime::node_state`).
async fn state_checks(rt: &dyn ClusterRuntime, spec: &NodeSpec) -> Timings {
    let mut t = Timings::new();
    let cpu0 = self_cpu();
    for _ in 0..POLLS {
        if interrupted() {
            break;
        }
        let started = Instant::now();
        let result = rt.node_state(spec).await.map_err(|e| e.to_string());
        t.record(started, result);
    }
    t.cpu = self_cpu() - cpu0;
    t
}

fn print_row(label: &str, t: &Timings) {
    let per_call = |d: Duration| {
        let n = t.calls().max(1) as f64;
        format!("{:.3}", d.as_secs_f64() * 1000.0 / n)
    };
    if t.ms.is_empty() {
        println!("  {label:<34} no successful call");
    } else {
        println!(
            "  {label:<34} {:>5} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>9} {:>9}",
            t.ms.len(),
            min(&t.ms),
            median(&t.ms),
            percentile(&t.ms, 99.0),
            max(&t.ms),
            per_call(t.cpu),
            t.server.map_or_else(|| "-".into(), per_call),
        );
    }
    if t.errors > 0 {
        println!(
            "  {:<34} {} failed, first: {}",
            "",
            t.errors,
            t.first_error.as_deref().unwrap_or_default()
        );
    }
}

/// Returns the worst median and the worst p99 of kept-connection polls.
fn poll_costs(
    tokio_rt: &tokio::runtime::Runtime,
    rt: &Arc<dyn ClusterRuntime>,
    topo: &Topology,
) -> Result<(f64, f64), String> {
    // Let the stopped service's sessions end, so each node's newest session is the poller's.
    tokio_rt.block_on(pause(Duration::from_millis(500)))?;
    println!(
        "\none poll per node, sequential, ms of wall time; CPU in ms per call\n  \
         {:<34} {:>5} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9}",
        "", "calls", "min", "median", "p99", "max", "client", "server"
    );
    let mut worst_median: f64 = 0.0;
    let mut worst_p99: f64 = 0.0;
    for spec in &topo.nodes {
        let (kept, fresh, state) = tokio_rt.block_on(async {
            let kept = kept_polls(rt.as_ref(), topo, spec).await;
            let fresh = fresh_polls(rt.as_ref(), topo, spec).await;
            let state = state_checks(rt.as_ref(), spec).await;
            (kept, fresh, state)
        });
        check_interrupted()?;
        print_row(&format!("{} kept connection", spec.name), &kept);
        print_row(&format!("{} new connection each poll", spec.name), &fresh);
        print_row(&format!("{} node_state (process check)", spec.name), &state);
        if !kept.ms.is_empty() {
            worst_median = worst_median.max(median(&kept.ms));
            worst_p99 = worst_p99.max(percentile(&kept.ms, 99.0));
        }
        if !kept.ms.is_empty() && !fresh.ms.is_empty() {
            println!(
                "  {:<34} a new connection costs {:.1}x the wall time, {:.1}x the client CPU",
                "",
                median(&fresh.ms) / median(&kept.ms),
                (fresh.cpu.as_secs_f64() / fresh.calls().max(1) as f64)
                    / (kept.cpu.as_secs_f64() / kept.calls().max(1) as f64)
            );
        }
    }
    println!(
        "  ({POLLS} kept-connection polls after {POLL_WARM_UP} untimed; {FRESH_POLLS} \
         new-connection polls after {FRESH_WARM_UP} untimed)"
    );
    Ok((worst_median, worst_p99))
}

// --- main --------------------------------------------------------------------------------------

fn bench_seconds() -> Result<f64, String> {
    env_setting(
        "BENCH_SECONDS",
        30.0,
        |s| *s > 0.0 && s.is_finite(),
        "a number of seconds above 0",
    )
}

/// A scratch folder with an empty config folder in it.
fn scratch() -> Result<tempfile::TempDir, String> {
    let dir = scratch_dir("replica-lab-bench-telemetry.")?;
    std::fs::create_dir(dir.path().join("no-config"))
        .map_err(|e| format!("cannot create an empty config folder: {e}"))?;
    Ok(dir)
}

fn run(root: &Path, seconds: f64) -> Result<(), String> {
    let took = up_local(&bench_env(root), CLUSTER, REPLICAS)?.secs;
    let dir = cluster_dir(root, CLUSTER);
    let (rt, topo) = open_runtime(&dir)?;
    let nodes: Vec<String> = topo
        .nodes
        .iter()
        .map(|n| format!("{} {}", n.name, rt.client_addr(n)))
        .collect();
    println!("  up took {took:.1} s; nodes {}", nodes.join(", "));
    check_interrupted()?;

    // As `#[tokio::main]` builds it for the CLI.
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a tokio runtime: {e}"))?;
    let length = Duration::from_secs_f64(seconds);
    idle_window(&tokio_rt, &dir, length.min(IDLE_MAX))?;
    let cpu_pct = telemetry_window(&tokio_rt, &rt, &topo, &dir, length)?;
    let (poll_median, poll_p99) = poll_costs(&tokio_rt, &rt, &topo)?;

    println!("\ntargets");
    println!(
        "  telemetry CPU (client + server) at {RATE}/s on {} nodes < {TARGET_CPU_PCT} % of one core: \
         {cpu_pct:.3} %  {}",
        topo.nodes.len(),
        verdict(cpu_pct < TARGET_CPU_PCT)
    );
    println!(
        "  one poll per node < {TARGET_POLL_MS} ms: worst median {poll_median:.3} ms  {}; \
         worst p99 {poll_p99:.3} ms  {}",
        verdict(poll_median < TARGET_POLL_MS),
        verdict(poll_p99 < TARGET_POLL_MS)
    );
    Ok(())
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let seconds = match bench_seconds() {
        Ok(s) => s,
        Err(e) => return cannot_start(e),
    };
    let scratch = match scratch() {
        Ok(d) => d,
        Err(e) => return cannot_start(e),
    };
    catch_interrupts();
    let root = scratch.path();
    let cpus = cpu_count();
    println!(
        "telemetry: cluster {CLUSTER} (`up --runtime local --replicas {REPLICAS}`), {cpus} CPUs, \
         scratch folder {}\n  endpoints 127.0.0.1:{} (write), :{} (read), :{} (stats); nodes from {NODE_BASE}",
        root.display(),
        PORTS.write,
        PORTS.read,
        PORTS.stats
    );

    // Dropped before `scratch`, so `down` runs while the folder still exists.
    let mut down = DownGuard::new(bench_env(root), CLUSTER, cluster_dir(root, CLUSTER));
    let result = run(root, seconds);
    conclude(result, down.run())
}
