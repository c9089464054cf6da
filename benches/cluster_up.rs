//! `cargo bench --bench cluster_up`: how long `replica-lab up --runtime local --replicas 3`
//! takes until the cluster is ready, phase by phase; how long `down` takes; how much memory
//! the running cluster uses (PSS); and the same figures for `benches/sequential-baseline.sh`,
//! which builds the same cluster the straightforward way, one step after another.
//!
//! A report, not a test: nothing is asserted about the figures. Every round runs the app,
//! then the baseline, on the same addresses (127.0.0.1:5435, :5436, :8404 and
//! 127.0.0.11..14:5432), so nothing else may listen there; the bench says so and stops when
//! something does. `BENCH_ROUNDS` sets the number of rounds (default 3).
//!
//! All state lives in a throwaway folder under /var/tmp (mode 0755, so the unprivileged
//! `postgres` user the servers run as under root can reach it). `down --name bench` and the
//! baseline's cleanup run whatever happens to a round.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_replica-lab");
const BASELINE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/benches/sequential-baseline.sh"
);
const CLUSTER: &str = "bench";
const REPLICAS: u8 = 3;
/// Settings the bench passes on to the app and the baseline; every other `REPLICA_LAB_*`
/// variable is dropped so ports, names and sizes are the defaults both use.
const PASS_THROUGH: [&str; 3] = [
    "REPLICA_LAB_PG_BINDIR",
    "REPLICA_LAB_HAPROXY_BIN",
    "REPLICA_LAB_OS_USER",
];
/// How long to wait for the previous run's listeners to go away.
const PORT_GRACE: Duration = Duration::from_secs(5);

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: nix::libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Ctrl-C reaches the children too (`up` stops, the baseline cleans up after itself); the
/// bench itself only notes it, so it can still run `down` before leaving.
fn catch_interrupts() {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        let _ = unsafe { sigaction(sig, &action) };
    }
}

fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

// --- addresses -----------------------------------------------------------------------------

fn addresses() -> Vec<(SocketAddr, String)> {
    let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut out = vec![
        (SocketAddr::new(local, 5435), "write endpoint".to_string()),
        (SocketAddr::new(local, 5436), "read endpoint".to_string()),
        (SocketAddr::new(local, 8404), "stats page".to_string()),
    ];
    for i in 1..=REPLICAS + 1 {
        let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10 + i));
        out.push((SocketAddr::new(ip, 5432), format!("node pg{i}")));
    }
    out
}

fn port_holder(port: u16) -> Option<String> {
    let out = Command::new("ss")
        .args(["-Hltnp", &format!("sport = :{port}")])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let users = text.split("users:((").nth(1)?;
    Some(users.split('"').nth(1)?.to_string())
}

/// Waits up to `grace` for every address the cluster binds to be free.
fn ports_free(grace: Duration) -> Result<(), String> {
    let deadline = Instant::now() + grace;
    loop {
        let mut busy = None;
        for (addr, what) in addresses() {
            match TcpListener::bind(addr) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                    busy = Some((addr, what));
                    break;
                }
                Err(e) => {
                    return Err(format!(
                        "cannot bind {addr} ({what}): {e}; the bench needs loopback aliases \
                         (127.0.0.11 and up), which Linux provides"
                    ));
                }
            }
        }
        let Some((addr, what)) = busy else {
            return Ok(());
        };
        if Instant::now() >= deadline {
            let holder = port_holder(addr.port())
                .map(|h| format!(" (held by {h})"))
                .unwrap_or_default();
            return Err(format!(
                "{addr} ({what}) is busy{holder}: another cluster or server uses the bench's \
                 addresses (127.0.0.1:5435, :5436, :8404, 127.0.0.11-14:5432). Stop it \
                 (`replica-lab status` / `replica-lab down`) or wait until it is gone, then run \
                 the bench again"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

// --- small helpers -------------------------------------------------------------------------

/// `  <phase name>   <seconds> s`, as `up` and the baseline print them.
fn parse_phase(line: &str) -> Option<(String, f64)> {
    let body = line.strip_prefix("  ")?.trim_end().strip_suffix(" s")?;
    let (name, secs) = body.trim_end().rsplit_once(' ')?;
    let secs: f64 = secs.parse().ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| (name.to_string(), secs))
}

fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| format!("    | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A command with only the settings the bench means to pass on.
fn command(program: &str, root: &Path) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if key_text.starts_with("REPLICA_LAB_") && !PASS_THROUGH.contains(&key_text.as_ref()) {
            cmd.env_remove(&key);
        }
    }
    // No user config file either: it could change ports or sizes.
    cmd.env("XDG_CONFIG_HOME", root.join("no-config"));
    cmd.stdin(Stdio::null());
    cmd
}

// --- memory ----------------------------------------------------------------------------------

#[derive(Clone, Debug, Default)]
struct Memory {
    total_kib: u64,
    processes: usize,
    /// kind -> (processes, PSS KiB)
    by_kind: BTreeMap<String, (usize, u64)>,
    /// pg1, pg2, …, haproxy -> PSS KiB
    by_node: BTreeMap<String, u64>,
}

const AUX_KINDS: [&str; 8] = [
    "checkpointer",
    "background writer",
    "walwriter",
    "autovacuum launcher",
    "autovacuum worker",
    "logical replication launcher",
    "archiver",
    "walsummarizer",
];

/// What a cluster process is, from its command line (servers rewrite theirs as
/// `postgres: <cluster_name>: <what>`).
fn process_kind(cmdline: &str, comm: &str) -> String {
    if comm == "haproxy" {
        return "haproxy".into();
    }
    if let Some(rest) = cmdline.strip_prefix("postgres: ") {
        let what = rest.split_once(": ").map_or(rest, |(_, w)| w).trim();
        for word in ["walsender", "walreceiver", "startup"] {
            if what.starts_with(word) {
                return word.into();
            }
        }
        if let Some(aux) = AUX_KINDS.iter().find(|k| what.starts_with(**k)) {
            return (*aux).to_string();
        }
        return "client backend".into();
    }
    let program = cmdline.split(' ').next().unwrap_or_default();
    if program == "postgres" || program.ends_with("/postgres") {
        return "postmaster".into();
    }
    format!("other ({comm})")
}

fn pss_kib(pid: i32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let line = text.lines().find(|l| l.starts_with("Pss:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A process of a cluster: its pid, command line and working folder.
struct ClusterProcess {
    pid: i32,
    cmdline: String,
    cwd: PathBuf,
}

/// Every process whose command line names `dir` or whose working folder lies in it, as
/// `processes_under` in src/runtime/process.rs finds a cluster's processes (server children
/// rewrite their command lines, but keep running in their data folder).
fn processes_under(dir: &Path) -> Vec<ClusterProcess> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let needle = dir.to_string_lossy().into_owned();
    let me = i32::try_from(std::process::id()).unwrap_or(-1);
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != me)
        .filter_map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                .unwrap_or_default();
            let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_default();
            (cmdline.contains(&needle) || cwd.starts_with(dir)).then(|| ClusterProcess {
                pid,
                cmdline: cmdline.trim().to_string(),
                cwd,
            })
        })
        .collect()
}

/// PSS of every process of the cluster in `dir`, by kind and by node.
fn measure_memory(dir: &Path) -> Memory {
    let mut mem = Memory::default();
    for p in processes_under(dir) {
        let Some(kib) = pss_kib(p.pid) else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{}/comm", p.pid)).unwrap_or_default();
        let kind = process_kind(&p.cmdline, comm.trim());
        let node = match p.cwd.strip_prefix(dir).ok().and_then(|d| d.iter().next()) {
            Some(first) if first.to_string_lossy().starts_with("pg") => {
                first.to_string_lossy().into_owned()
            }
            _ if kind == "haproxy" => "haproxy".into(),
            _ => "other".into(),
        };
        mem.total_kib += kib;
        mem.processes += 1;
        let slot = mem.by_kind.entry(kind).or_default();
        slot.0 += 1;
        slot.1 += kib;
        *mem.by_node.entry(node).or_default() += kib;
    }
    mem
}

/// The HAProxy configuration with the run's folder replaced, to compare the two.
fn normalized_cfg(path: &Path, dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(text.replace(&*dir.to_string_lossy(), "<dir>"))
}

// --- the app -----------------------------------------------------------------------------------

struct AppRun {
    phases: Vec<(String, f64)>,
    up: f64,
    down: f64,
    memory: Memory,
    haproxy_cfg: Option<String>,
}

/// Runs `down --name bench` when dropped unless [`Down::run`] already did, so a failed or
/// panicking round leaves nothing running.
struct Down<'a> {
    root: &'a Path,
    done: bool,
}

impl Down<'_> {
    fn run(&mut self) -> Result<f64, String> {
        self.done = true;
        let start = Instant::now();
        let out = command(BIN, self.root)
            .env("REPLICA_LAB_DATA_DIR", self.root)
            .args(["down", "--name", CLUSTER])
            .output()
            .map_err(|e| format!("cannot run {BIN}: {e}"))?;
        let took = start.elapsed().as_secs_f64();
        if out.status.success() {
            Ok(took)
        } else {
            // Last resort, so nothing outlives the scratch folder: what this cluster still
            // runs, by pid.
            let dir = self.root.join("clusters").join(CLUSTER);
            for p in processes_under(&dir) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(p.pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&out.stdout)
            );
            Err(format!(
                "`replica-lab down --name {CLUSTER}` failed:\n{}",
                tail(&text, 8)
            ))
        }
    }
}

impl Drop for Down<'_> {
    fn drop(&mut self) {
        if !self.done {
            if let Err(e) = self.run() {
                eprintln!("{e}");
            }
        }
    }
}

fn app_round(root: &Path) -> Result<AppRun, String> {
    let cluster_dir = root.join("clusters").join(CLUSTER);
    let mut down = Down { root, done: false };
    let start = Instant::now();
    let out = command(BIN, root)
        .env("REPLICA_LAB_DATA_DIR", root)
        .args(["up", "--runtime", "local", "--replicas"])
        .arg(REPLICAS.to_string())
        .args(["--name", CLUSTER])
        .output()
        .map_err(|e| format!("cannot run {BIN}: {e}"))?;
    let up = start.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let measured = if out.status.success() {
        Ok((
            measure_memory(&cluster_dir),
            normalized_cfg(&cluster_dir.join("haproxy/haproxy.cfg"), &cluster_dir),
        ))
    } else {
        Err(format!(
            "`replica-lab up` failed after {up:.2} s:\n{}",
            tail(
                &format!("{stderr}{}", String::from_utf8_lossy(&out.stdout)),
                8
            )
        ))
    };
    let down = down.run();
    let (memory, haproxy_cfg) = measured?;
    Ok(AppRun {
        phases: stderr.lines().filter_map(parse_phase).collect(),
        up,
        down: down?,
        memory,
        haproxy_cfg,
    })
}

// --- the baseline ----------------------------------------------------------------------------

struct BaselineRun {
    phases: Vec<(String, f64)>,
    ready: f64,
    teardown: f64,
    memory: Memory,
    haproxy_cfg: Option<String>,
    programs: Option<String>,
}

/// `haproxy_template`: the app's rendered configuration with `@DIR@` for its folder, so the
/// baseline runs exactly the configuration the app does.
fn baseline_round(root: &Path, haproxy_template: Option<&Path>) -> Result<BaselineRun, String> {
    let start = Instant::now();
    let mut cmd = command("bash", root);
    if let Some(t) = haproxy_template {
        cmd.env("BASELINE_HAPROXY_CFG", t);
    }
    let mut child = cmd
        .arg(BASELINE)
        .env("BASELINE_PARENT", root)
        .env("BASELINE_HOLD", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run bash {BASELINE}: {e}"))?;
    let mut stderr = child.stderr.take().expect("piped stderr");
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut phases = Vec::new();
    let mut workdir: Option<PathBuf> = None;
    let mut ready = None;
    let mut released = None;
    let mut memory = Memory::default();
    let mut haproxy_cfg = None;
    let mut programs = None;
    for line in stdout.lines() {
        let Ok(line) = line else { break };
        if let Some(dir) = line.strip_prefix("workdir ") {
            workdir = Some(PathBuf::from(dir));
        } else if let Some(what) = line.strip_prefix("sequential baseline: ") {
            programs = what
                .split_once(", PostgreSQL from ")
                .map(|(_, p)| p.to_string());
        } else if line.starts_with("READY ") {
            ready = Some(start.elapsed().as_secs_f64());
        } else if line == "holding" {
            if let Some(dir) = &workdir {
                memory = measure_memory(dir);
                haproxy_cfg = normalized_cfg(&dir.join("haproxy/haproxy.cfg"), dir);
            }
            // Closing stdin lets the script clean up.
            drop(child.stdin.take());
            released = Some(Instant::now());
        } else if let Some(phase) = parse_phase(&line) {
            phases.push(phase);
        }
    }
    drop(child.stdin.take());
    let status = child
        .wait()
        .map_err(|e| format!("waiting for the baseline: {e}"))?;
    let teardown = released.map(|r| r.elapsed().as_secs_f64());
    let errors = errors.join().unwrap_or_default();
    match (status.success(), ready, teardown) {
        (true, Some(ready), Some(teardown)) => Ok(BaselineRun {
            phases,
            ready,
            teardown,
            memory,
            haproxy_cfg,
            programs,
        }),
        _ => Err(format!(
            "the sequential baseline failed ({status}):\n{}",
            tail(&errors, 12)
        )),
    }
}

// --- the report ------------------------------------------------------------------------------

/// Phase names in first-seen order, with every round's time.
fn phase_table(runs: &[&[(String, f64)]]) -> Vec<(String, Vec<f64>)> {
    let mut table: Vec<(String, Vec<f64>)> = Vec::new();
    for run in runs {
        for (name, secs) in run.iter() {
            match table.iter_mut().find(|(n, _)| n == name) {
                Some((_, v)) => v.push(*secs),
                None => table.push((name.clone(), vec![*secs])),
            }
        }
    }
    table
}

fn print_phases(
    title: &str,
    runs: &[&[(String, f64)]],
    sum_label: &str,
    totals: &[(&str, Vec<f64>)],
) {
    println!("\n{title:<46} {:>8} {:>8}", "min", "median");
    let table = phase_table(runs);
    for (name, v) in &table {
        println!("  {name:<44} {:>8.2} {:>8.2}", min(v), median(v));
    }
    let sums: Vec<f64> = runs
        .iter()
        .map(|r| r.iter().map(|(_, s)| s).sum())
        .collect();
    println!(
        "  {:<44} {:>8.2} {:>8.2}",
        sum_label,
        min(&sums),
        median(&sums)
    );
    for (name, v) in totals {
        println!("  {name:<44} {:>8.2} {:>8.2}", min(v), median(v));
    }
}

fn print_memory(apps: &[&Memory], bases: &[&Memory]) {
    let kib_median = |mems: &[&Memory], f: &dyn Fn(&Memory) -> u64| -> f64 {
        let v: Vec<f64> = mems.iter().map(|m| mib(f(m))).collect();
        median(&v)
    };
    let show = |mems: &[&Memory], f: &dyn Fn(&Memory) -> u64| -> String {
        if mems.is_empty() {
            "-".into()
        } else {
            format!("{:.1}", kib_median(mems, f))
        }
    };
    let count = |mems: &[&Memory], kind: &str| -> usize {
        mems.iter()
            .map(|m| m.by_kind.get(kind).map_or(0, |k| k.0))
            .max()
            .unwrap_or(0)
    };
    println!(
        "\nmemory right after ready: PSS in MiB, median of rounds ({} app, {} baseline)",
        apps.len(),
        bases.len()
    );
    println!(
        "  {:<32} {:>6} {:>9}   {:>6} {:>9}",
        "process kind", "procs", "app", "procs", "baseline"
    );
    let mut kinds: Vec<String> = apps
        .iter()
        .chain(bases.iter())
        .flat_map(|m| m.by_kind.keys().cloned())
        .collect();
    kinds.sort();
    kinds.dedup();
    let of_kind = |kind: &str| {
        let k = kind.to_string();
        move |m: &Memory| m.by_kind.get(&k).map_or(0, |e| e.1)
    };
    // Largest first, by the app's figures when there are any.
    let reference = if apps.is_empty() { bases } else { apps };
    kinds.sort_by(|a, b| {
        kib_median(reference, &of_kind(b)).total_cmp(&kib_median(reference, &of_kind(a)))
    });
    for kind in &kinds {
        println!(
            "  {kind:<32} {:>6} {:>9}   {:>6} {:>9}",
            count(apps, kind),
            show(apps, &of_kind(kind)),
            count(bases, kind),
            show(bases, &of_kind(kind)),
        );
    }
    let procs = |mems: &[&Memory]| mems.iter().map(|m| m.processes).max().unwrap_or(0);
    println!(
        "  {:<32} {:>6} {:>9}   {:>6} {:>9}",
        "total",
        procs(apps),
        show(apps, &|m| m.total_kib),
        procs(bases),
        show(bases, &|m| m.total_kib),
    );
    println!(
        "\n  {:<32} {:>6} {:>9}   {:>6} {:>9}",
        "by node", "", "app", "", "baseline"
    );
    let mut nodes: Vec<String> = apps
        .iter()
        .chain(bases.iter())
        .flat_map(|m| m.by_node.keys().cloned())
        .collect();
    nodes.sort();
    nodes.dedup();
    for node in &nodes {
        let of_node = |m: &Memory| m.by_node.get(node).copied().unwrap_or(0);
        println!(
            "  {node:<32} {:>6} {:>9}   {:>6} {:>9}",
            "",
            show(apps, &of_node),
            "",
            show(bases, &of_node),
        );
    }
}

fn rounds() -> Result<usize, String> {
    match std::env::var("BENCH_ROUNDS") {
        Err(_) => Ok(3),
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(format!(
                "BENCH_ROUNDS={v:?} is not a number of rounds (1 or more)"
            )),
        },
    }
}

/// A folder the servers' unprivileged user can traverse.
fn scratch() -> Result<tempfile::TempDir, String> {
    use std::os::unix::fs::PermissionsExt;
    let parent = Path::new("/var/tmp");
    let parent = if parent.is_dir() {
        parent.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let dir = tempfile::Builder::new()
        .prefix("replica-lab-bench.")
        .tempdir_in(&parent)
        .map_err(|e| {
            format!(
                "cannot create a scratch folder in {}: {e}",
                parent.display()
            )
        })?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("cannot open up {}: {e}", dir.path().display()))?;
    Ok(dir)
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let rounds = match rounds() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("cluster_up: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = ports_free(Duration::ZERO) {
        eprintln!("cluster_up: {e}");
        return ExitCode::from(2);
    }
    let scratch = match scratch() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cluster_up: {e}");
            return ExitCode::from(2);
        }
    };
    catch_interrupts();
    let root = scratch.path();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "cluster_up: `replica-lab up --runtime local --replicas {REPLICAS}` against \
         benches/sequential-baseline.sh\n  {rounds} rounds, {cpus} CPUs, scratch folder {}",
        root.display()
    );

    let mut apps: Vec<AppRun> = Vec::new();
    let mut bases: Vec<BaselineRun> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let mut busy = None;
    let template = root.join("haproxy.cfg.app");
    let mut have_template = false;
    for round in 1..=rounds {
        println!("\nround {round}/{rounds}");
        if let Err(e) = ports_free(PORT_GRACE) {
            busy = Some(e);
            break;
        }
        match app_round(root) {
            Ok(run) => {
                println!(
                    "  app       up {:>6.2} s   down     {:>5.2} s   PSS {:>6.1} MiB in {} processes",
                    run.up,
                    run.down,
                    mib(run.memory.total_kib),
                    run.memory.processes
                );
                if !have_template {
                    if let Some(cfg) = &run.haproxy_cfg {
                        have_template =
                            std::fs::write(&template, cfg.replace("<dir>", "@DIR@")).is_ok();
                    }
                }
                apps.push(run);
            }
            Err(e) => {
                println!("  app       FAILED");
                failures.push(format!("round {round}, app: {e}"));
            }
        }
        if interrupted() {
            break;
        }
        if let Err(e) = ports_free(PORT_GRACE) {
            busy = Some(e);
            break;
        }
        match baseline_round(root, have_template.then_some(template.as_path())) {
            Ok(run) => {
                println!(
                    "  baseline  up {:>6.2} s   teardown {:>5.2} s   PSS {:>6.1} MiB in {} processes",
                    run.ready,
                    run.teardown,
                    mib(run.memory.total_kib),
                    run.memory.processes
                );
                bases.push(run);
            }
            Err(e) => {
                println!("  baseline  FAILED");
                failures.push(format!("round {round}, baseline: {e}"));
            }
        }
        if interrupted() {
            break;
        }
    }

    if let Some(p) = bases.iter().find_map(|b| b.programs.clone()) {
        println!("\nprograms: PostgreSQL from {p}");
    }
    if !apps.is_empty() {
        let phases: Vec<&[(String, f64)]> = apps.iter().map(|a| a.phases.as_slice()).collect();
        print_phases(
            "app `up` phases (s)",
            &phases,
            "(sum; haproxy overlaps the clones)",
            &[
                (
                    "up-to-ready (wall: start to exit of `up`)",
                    apps.iter().map(|a| a.up).collect(),
                ),
                ("down (wall)", apps.iter().map(|a| a.down).collect()),
            ],
        );
    }
    if !bases.is_empty() {
        let phases: Vec<&[(String, f64)]> = bases.iter().map(|b| b.phases.as_slice()).collect();
        print_phases(
            "sequential baseline phases (s)",
            &phases,
            "(sum of phases)",
            &[
                (
                    "up-to-ready (wall: start to READY)",
                    bases.iter().map(|b| b.ready).collect(),
                ),
                (
                    "teardown (wall: release to exit)",
                    bases.iter().map(|b| b.teardown).collect(),
                ),
            ],
        );
    }
    if !apps.is_empty() || !bases.is_empty() {
        let app_mem: Vec<&Memory> = apps.iter().map(|a| &a.memory).collect();
        let base_mem: Vec<&Memory> = bases.iter().map(|b| &b.memory).collect();
        print_memory(&app_mem, &base_mem);
    }
    let app_cfg = apps.iter().find_map(|a| a.haproxy_cfg.as_deref());
    let base_cfg = bases.iter().find_map(|b| b.haproxy_cfg.as_deref());
    if let (Some(a), Some(b)) = (app_cfg, base_cfg) {
        match a.lines().zip(b.lines()).position(|(x, y)| x != y) {
            None if a.lines().count() == b.lines().count() => {
                println!(
                    "\nHAProxy configuration: the baseline ran the same as the app (paths aside; {})",
                    if have_template {
                        "copied from the app's"
                    } else {
                        "the script's own"
                    }
                );
            }
            None => println!(
                "\nHAProxy configuration: DIFFERS (app {} lines, baseline {} lines)",
                a.lines().count(),
                b.lines().count()
            ),
            Some(i) => println!(
                "\nHAProxy configuration: DIFFERS at line {}:\n  app      {}\n  baseline {}",
                i + 1,
                a.lines().nth(i).unwrap_or_default(),
                b.lines().nth(i).unwrap_or_default()
            ),
        }
    }
    if !apps.is_empty() && !bases.is_empty() {
        let app_up = median(&apps.iter().map(|a| a.up).collect::<Vec<_>>());
        let base_up = median(&bases.iter().map(|b| b.ready).collect::<Vec<_>>());
        let app_down = median(&apps.iter().map(|a| a.down).collect::<Vec<_>>());
        let base_down = median(&bases.iter().map(|b| b.teardown).collect::<Vec<_>>());
        let app_pss = median(
            &apps
                .iter()
                .map(|a| mib(a.memory.total_kib))
                .collect::<Vec<_>>(),
        );
        let base_pss = median(
            &bases
                .iter()
                .map(|b| mib(b.memory.total_kib))
                .collect::<Vec<_>>(),
        );
        println!(
            "\ncomparison (medians; {} app and {} baseline rounds)",
            apps.len(),
            bases.len()
        );
        println!(
            "  {:<28} {:>10} {:>10} {:>14}",
            "", "app", "baseline", "baseline/app"
        );
        for (what, a, b) in [
            ("up-to-ready (s)", app_up, base_up),
            ("down / teardown (s)", app_down, base_down),
            ("PSS after ready (MiB)", app_pss, base_pss),
        ] {
            println!("  {what:<28} {a:>10.2} {b:>10.2} {:>14.2}", b / a);
        }
        println!("  (a ratio above 1 means the app is faster, or for PSS uses less memory)");
    }

    for f in &failures {
        eprintln!("\ncluster_up: {f}");
    }
    if let Some(e) = busy {
        eprintln!("\ncluster_up: stopped early: {e}");
        return ExitCode::from(2);
    }
    if interrupted() {
        eprintln!("\ncluster_up: interrupted");
        return ExitCode::from(130);
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
