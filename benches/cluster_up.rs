//! `cargo bench --bench cluster_up`: how long `replica-lab up --runtime local --replicas 3`
//! takes until the cluster is ready, phase by phase; how long `down` takes; how much memory
//! the running cluster uses (PSS); and the same figures for `benches/sequential-baseline.sh`,
//! which builds the same cluster the straightforward way, one step after another.
//!
//! The first round makes the scratch folder's template; later rounds are copied from it, and
//! the comparison shows both kinds of `up` against the baseline.
//!
//! A report, not a test: nothing is asserted about the figures. Every round runs the app,
//! then the baseline, on the same addresses (127.0.0.1:5435, :5436, :8404 and
//! 127.0.0.11..14:5432), so nothing else may listen there; the bench says so and stops when
//! something does. `BENCH_ROUNDS` sets the number of rounds (default 3).
//!
//! All state lives in a throwaway folder under /var/tmp (mode 0755, so the unprivileged
//! `postgres` user the servers run as under root can reach it). `down --name bench` and the
//! baseline's cleanup run whatever happens to a round.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use support::{
    BenchEnv, DownGuard, LOCAL_PASS_THROUGH, MinMedianTable, Unavailable, bench_rounds,
    cannot_start, catch_interrupts, cmdline, comm, cpu_count, cwd, finish, interrupted, median,
    mib, parse_phase, phase_table, processes_under, pss_kib, scratch_dir, tail, up_local,
    wait_until_free,
};

const BASELINE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/benches/sequential-baseline.sh"
);
const CLUSTER: &str = "bench";
const REPLICAS: u8 = 3;
/// How long to wait for the previous run's listeners to go away.
const PORT_GRACE: Duration = Duration::from_secs(5);

/// The environment of the app and the baseline: the default ports, names and sizes, which
/// both use, and no user config file.
fn bench_env(root: &Path) -> BenchEnv {
    BenchEnv::keeping(LOCAL_PASS_THROUGH).config_home(&root.join("no-config"))
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

/// Waits up to `grace` for every address the cluster binds to be free.
fn ports_free(grace: Duration) -> Result<(), String> {
    wait_until_free(&addresses(), grace).map_err(|unavailable| match unavailable {
        Unavailable::Unbindable { addr, what, error } => format!(
            "cannot bind {addr} ({what}): {error}; the bench needs loopback aliases \
             (127.0.0.11 and up), which Linux provides"
        ),
        Unavailable::Busy { addr, what, holder } => {
            let holder = holder
                .map(|h| format!(" (held by {h})"))
                .unwrap_or_default();
            format!(
                "{addr} ({what}) is busy{holder}: another cluster or server uses the bench's \
                 addresses (127.0.0.1:5435, :5436, :8404, 127.0.0.11-14:5432). Stop it \
                 (`replica-lab status` / `replica-lab down`) or wait until it is gone, then \
                 run the bench again"
            )
        }
    })
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

/// PSS of every process of the cluster in `dir`, by kind and by node.
fn measure_memory(dir: &Path) -> Memory {
    let mut mem = Memory::default();
    for pid in processes_under(dir) {
        let Some(kib) = pss_kib(pid) else {
            continue;
        };
        let kind = process_kind(&cmdline(pid), &comm(pid));
        // Servers run in their node's folder, whatever their command line says.
        let cwd = cwd(pid);
        let node = match cwd.strip_prefix(dir).ok().and_then(|d| d.iter().next()) {
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

fn app_round(root: &Path) -> Result<AppRun, String> {
    let env = bench_env(root).data_dir(root);
    let cluster_dir = root.join("clusters").join(CLUSTER);
    // `down` runs whatever happens to the round, but after the measurements.
    let mut down = DownGuard::new(env.clone(), CLUSTER, cluster_dir.clone());
    let measured = up_local(&env, CLUSTER, REPLICAS).map(|up| {
        let memory = measure_memory(&cluster_dir);
        let cfg = normalized_cfg(&cluster_dir.join("haproxy/haproxy.cfg"), &cluster_dir);
        (up, memory, cfg)
    });
    let down = down.run();
    let (up, memory, haproxy_cfg) = measured?;
    Ok(AppRun {
        phases: up.phases(),
        up: up.secs,
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
    let mut cmd = bench_env(root).command("bash");
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

fn print_phases(
    title: &str,
    runs: &[&[(String, f64)]],
    sum_label: &str,
    totals: &[(&str, Vec<f64>)],
) {
    let table = MinMedianTable { label_width: 44 };
    table.header(title);
    for (name, v) in phase_table(runs) {
        table.row(&name, &v);
    }
    let sums: Vec<f64> = runs
        .iter()
        .map(|r| r.iter().map(|(_, s)| s).sum())
        .collect();
    table.row(sum_label, &sums);
    for (name, v) in totals {
        table.row(name, v);
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

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let rounds = match bench_rounds() {
        Ok(n) => n,
        Err(e) => return cannot_start(e),
    };
    if let Err(e) = ports_free(Duration::ZERO) {
        return cannot_start(e);
    }
    let scratch = match scratch_dir("replica-lab-bench.") {
        Ok(d) => d,
        Err(e) => return cannot_start(e),
    };
    catch_interrupts();
    let root = scratch.path();
    let cpus = cpu_count();
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
        // The first round makes the data folder's template; the later ones are copied from it.
        let copied = |yes: bool| -> Vec<f64> {
            apps.iter()
                .filter(|a| a.phases.iter().any(|(n, _)| n == "copy the template") == yes)
                .map(|a| a.up)
                .collect()
        };
        for (what, ups) in [
            ("app up copied from the template", copied(true)),
            ("app up from scratch", copied(false)),
        ] {
            if !ups.is_empty() {
                let m = median(&ups);
                println!(
                    "  {what:<34} {m:>6.2} s median of {}, app/baseline {:.2}",
                    ups.len(),
                    m / base_up
                );
            }
        }
    }

    finish(&failures, busy)
}
