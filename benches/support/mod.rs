//! What the benchmarks share: running the binary in an environment of their own, removing
//! their cluster whatever happens to a run, reading a process's CPU time and memory from
//! `/proc`, and summarising and printing the figures.
//!
//! Each bench is a crate of its own and uses only part of this module; what one of them
//! leaves unused is not worth a warning.
#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::fmt::Display;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The search the local runtime's own `down` makes for what a cluster still runs, so a bench
/// kills and measures exactly what the app counts as part of the cluster.
pub use replica_lab::runtime::process::processes_under;

/// The binary under test, as cargo built it for this bench.
pub const BIN: &str = env!("CARGO_BIN_EXE_replica-lab");
/// The bench's name (`cluster_up`, `telemetry`, …): the prefix of the messages it prints.
const BENCH_NAME: &str = env!("CARGO_CRATE_NAME");

// --- Ctrl-C ------------------------------------------------------------------------------------

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: nix::libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Makes Ctrl-C and SIGTERM only set a flag, which the bench checks between its steps.
///
/// The signal still reaches the children in the bench's process group (a running `up` stops,
/// the baseline script cleans up after itself), but the bench has to live on long enough to
/// run `down`: killed outright, it would leave a cluster running on its fixed addresses.
pub fn catch_interrupts() {
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

/// Whether Ctrl-C (or SIGTERM) arrived since [`catch_interrupts`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// `Err("interrupted")` once the bench is interrupted, so a step can leave with `?`; `main`
/// tells that from a failure by [`interrupted`].
pub fn check_interrupted() -> Result<(), String> {
    if interrupted() {
        Err("interrupted".into())
    } else {
        Ok(())
    }
}

// --- the bench's settings ----------------------------------------------------------------------

/// Settings a machine may need for the local runtime to run at all (where PostgreSQL and
/// HAProxy are, which user the servers run as). The local benches pass them on; any other
/// `REPLICA_LAB_*` variable would make the figures depend on the caller's shell.
pub const LOCAL_PASS_THROUGH: &[&str] = &[
    "REPLICA_LAB_PG_BINDIR",
    "REPLICA_LAB_HAPROXY_BIN",
    "REPLICA_LAB_OS_USER",
];

/// The three ports a cluster's HAProxy listens on. A bench that may run beside a default
/// cluster (or beside the tests) uses its own, so it neither disturbs nor measures another.
#[derive(Clone, Copy, Debug)]
pub struct Ports {
    pub write: u16,
    pub read: u16,
    pub stats: u16,
}

/// The environment a bench runs the binary (and its helpers) in: this process's
/// `REPLICA_LAB_*` variables are dropped, but for those it keeps, and the bench's own
/// settings are set, so the figures depend neither on the caller's shell nor on their config
/// file, history or clusters.
#[derive(Clone, Debug)]
pub struct BenchEnv {
    keep: &'static [&'static str],
    vars: Vec<(&'static str, OsString)>,
}

impl BenchEnv {
    /// Passes on only the `REPLICA_LAB_*` variables named in `keep` (for the local runtime,
    /// [`LOCAL_PASS_THROUGH`]), so whatever the bench does not set is the app's default.
    pub fn keeping(keep: &'static [&'static str]) -> Self {
        BenchEnv {
            keep,
            vars: Vec::new(),
        }
    }

    /// Any other setting (images, the runtime, …).
    pub fn set(mut self, key: &'static str, value: impl AsRef<OsStr>) -> Self {
        self.vars.push((key, value.as_ref().to_os_string()));
        self
    }

    /// Where the binary keeps its clusters (`REPLICA_LAB_DATA_DIR`): a folder of the bench's,
    /// so it never sees, or touches, the user's clusters.
    pub fn data_dir(self, dir: &Path) -> Self {
        self.set("REPLICA_LAB_DATA_DIR", dir)
    }

    /// HAProxy's ports (`REPLICA_LAB_WRITE_PORT`, `_READ_PORT`, `_STATS_PORT`).
    pub fn ports(self, ports: Ports) -> Self {
        self.set("REPLICA_LAB_WRITE_PORT", ports.write.to_string())
            .set("REPLICA_LAB_READ_PORT", ports.read.to_string())
            .set("REPLICA_LAB_STATS_PORT", ports.stats.to_string())
    }

    /// The address the nodes' addresses count up from (`REPLICA_LAB_NODE_BASE`), for node
    /// addresses that no default cluster uses.
    pub fn node_base(self, base: &str) -> Self {
        self.set("REPLICA_LAB_NODE_BASE", base)
    }

    /// `XDG_CONFIG_HOME`: a folder without the user's config file, which could change ports,
    /// sizes or timings.
    pub fn config_home(self, dir: &Path) -> Self {
        self.set("XDG_CONFIG_HOME", dir)
    }

    /// `XDG_STATE_HOME`: a folder of the bench's, so the user's history and log are left alone.
    pub fn state_home(self, dir: &Path) -> Self {
        self.set("XDG_STATE_HOME", dir)
    }

    /// This process's variables the children must not see.
    pub fn dropped(&self) -> Vec<OsString> {
        std::env::vars_os()
            .map(|(key, _)| key)
            .filter(|key| {
                let key = key.to_string_lossy();
                key.starts_with("REPLICA_LAB_") && !self.keep.contains(&key.as_ref())
            })
            .collect()
    }

    /// The bench's own settings, for launchers other than [`Command`] (a pseudo-terminal).
    pub fn vars(&self) -> &[(&'static str, OsString)] {
        &self.vars
    }

    /// `program` in this environment, with no stdin: nothing a bench runs may wait on a prompt.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        for key in self.dropped() {
            cmd.env_remove(key);
        }
        cmd.envs(self.vars.iter().map(|(k, v)| (*k, v)))
            .stdin(Stdio::null());
        cmd
    }
}

/// A `BENCH_*` setting from the environment: `default` when unset, an error that says what is
/// expected when it does not parse or `valid` rejects it (rather than a silent default, which
/// would print figures for a run nobody asked for).
pub fn env_setting<T: FromStr>(
    name: &str,
    default: T,
    valid: impl Fn(&T) -> bool,
    expected: &str,
) -> Result<T, String> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => match v.trim().parse::<T>() {
            Ok(x) if valid(&x) => Ok(x),
            _ => Err(format!("{name}={v:?} is not {expected}")),
        },
    }
}

/// `BENCH_ROUNDS`: how many times a bench repeats its measurements (3 unless set).
pub fn bench_rounds() -> Result<usize, String> {
    env_setting(
        "BENCH_ROUNDS",
        3,
        |n| *n >= 1,
        "a number of rounds (1 or more)",
    )
}

/// Says why the bench cannot start, and returns the exit code for that (2, as for a usage
/// error: nothing was measured).
pub fn cannot_start(why: impl Display) -> ExitCode {
    eprintln!("{BENCH_NAME}: {why}");
    ExitCode::from(2)
}

/// How many CPUs this machine offers, printed beside the figures, which depend on it.
pub fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get())
}

/// Ends a bench that runs rounds, after its report: says what failed, then returns the exit
/// code: 2 when it had to stop early (for `stopped_early`), 130 after Ctrl-C, 1 when a round
/// failed. The report comes first, so rounds that did finish still count.
pub fn finish(failures: &[String], stopped_early: Option<String>) -> ExitCode {
    for f in failures {
        eprintln!("\n{BENCH_NAME}: {f}");
    }
    if let Some(e) = stopped_early {
        eprintln!("\n{BENCH_NAME}: stopped early: {e}");
        return ExitCode::from(2);
    }
    if interrupted() {
        eprintln!("\n{BENCH_NAME}: interrupted");
        return ExitCode::from(130);
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The exit of a bench that ran on a cluster of its own: `result` is the bench's, `removed`
/// what `DownGuard::run` said; both are reported, and either failing fails the bench.
pub fn conclude(result: Result<(), String>, removed: Result<f64, String>) -> ExitCode {
    match &removed {
        Ok(took) => println!("\n  down took {took:.1} s"),
        Err(e) => eprintln!("\n{BENCH_NAME}: {e}"),
    }
    match result {
        Err(_) if interrupted() => {
            eprintln!("{BENCH_NAME}: interrupted");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("{BENCH_NAME}: {e}");
            ExitCode::FAILURE
        }
        Ok(()) if removed.is_err() => ExitCode::FAILURE,
        Ok(()) => ExitCode::SUCCESS,
    }
}

// --- folders -----------------------------------------------------------------------------------

/// A throwaway folder under /var/tmp (the temporary folder where there is none) that the
/// unprivileged `postgres` user the servers run as under root can reach: mode 0755.
pub fn scratch_dir(prefix: &str) -> Result<tempfile::TempDir, String> {
    let parent = Path::new("/var/tmp");
    let parent = if parent.is_dir() {
        parent.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(&parent)
        .map_err(|e| {
            format!(
                "cannot create a scratch folder in {}: {e}",
                parent.display()
            )
        })?;
    open_to_servers(dir.path())?;
    Ok(dir)
}

/// Mode 0755, so the servers' unprivileged user can traverse `dir` to its cluster folders.
pub fn open_to_servers(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("cannot open up {}: {e}", dir.display()))
}

// --- running the binary ------------------------------------------------------------------------

/// A run of the binary that succeeded: how long it took, and what it printed on stderr (where
/// `up` prints its phases).
pub struct Finished {
    pub secs: f64,
    pub stderr: String,
}

impl Finished {
    /// The phases `up` printed, with their seconds.
    pub fn phases(&self) -> Vec<(String, f64)> {
        self.stderr.lines().filter_map(parse_phase).collect()
    }
}

/// Runs the binary with `args`, timed from start to exit. A failure carries the last lines of
/// its output, so the report says why without a log to dig through.
pub fn run_bin(env: &BenchEnv, args: &[&str]) -> Result<Finished, String> {
    let start = Instant::now();
    let out = env
        .command(BIN)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {BIN}: {e}"))?;
    let secs = start.elapsed().as_secs_f64();
    if out.status.success() {
        Ok(Finished {
            secs,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    } else {
        Err(format!(
            "`replica-lab {}` failed after {secs:.2} s:\n{}",
            args.join(" "),
            output_tail(&out)
        ))
    }
}

/// `replica-lab up --runtime local --replicas <replicas> --name <cluster>`: returns once the
/// cluster is ready.
pub fn up_local(env: &BenchEnv, cluster: &str, replicas: u8) -> Result<Finished, String> {
    let replicas = replicas.to_string();
    run_bin(
        env,
        &[
            "up",
            "--runtime",
            "local",
            "--replicas",
            &replicas,
            "--name",
            cluster,
        ],
    )
}

/// Removes a bench's cluster with `replica-lab down --name <cluster>` once: when
/// [`DownGuard::run`] is called, or else when the guard is dropped, so a failed step, a panic
/// or Ctrl-C leaves nothing running on the bench's fixed addresses.
pub struct DownGuard {
    env: BenchEnv,
    cluster: &'static str,
    /// Whose processes are killed when `down` fails: nothing may outlive the scratch folder.
    leftovers: PathBuf,
    /// A folder to remove after `down`, for a bench whose folder is not a temporary one.
    remove: Option<PathBuf>,
    done: bool,
}

impl DownGuard {
    pub fn new(env: BenchEnv, cluster: &'static str, leftovers: PathBuf) -> Self {
        DownGuard {
            env,
            cluster,
            leftovers,
            remove: None,
            done: false,
        }
    }

    /// Also removes `dir` once `down` has run, whether it succeeded or not.
    pub fn removing(mut self, dir: PathBuf) -> Self {
        self.remove = Some(dir);
        self
    }

    /// Runs `down` and returns its seconds; after the first call, does nothing (`Ok(0.0)`).
    /// When `down` fails, the cluster's processes are killed, and the error says so.
    pub fn run(&mut self) -> Result<f64, String> {
        if self.done {
            return Ok(0.0);
        }
        self.done = true;
        let start = Instant::now();
        // Its own process group: a second Ctrl-C must not cut the clean-up short.
        let out = self
            .env
            .command(BIN)
            .args(["down", "--name", self.cluster])
            .process_group(0)
            .output();
        let took = start.elapsed().as_secs_f64();
        let failure = match out {
            Ok(out) if out.status.success() => None,
            Ok(out) => Some(output_tail(&out)),
            Err(e) => Some(format!("    | cannot run {BIN}: {e}")),
        };
        if failure.is_some() {
            kill_processes_under(&self.leftovers);
        }
        if let Some(dir) = &self.remove {
            let _ = std::fs::remove_dir_all(dir);
        }
        match failure {
            None => Ok(took),
            Some(f) => Err(format!(
                "`replica-lab down --name {}` failed (its processes were killed):\n{f}",
                self.cluster
            )),
        }
    }
}

impl Drop for DownGuard {
    fn drop(&mut self) {
        if let Err(e) = self.run() {
            eprintln!("{BENCH_NAME}: {e}");
        }
    }
}

// --- addresses ---------------------------------------------------------------------------------

/// Why an address a bench listens on cannot be used.
pub enum Unavailable {
    /// Something listens there; `holder` is the program, when `ss` can tell.
    Busy {
        addr: SocketAddr,
        what: String,
        holder: Option<String>,
    },
    /// The address cannot be bound at all (no such local address, say).
    Unbindable {
        addr: SocketAddr,
        what: String,
        error: std::io::Error,
    },
}

/// Waits up to `grace` until each of `addrs` (an address and what listens there) can be
/// bound: the previous run's listeners take a moment to go, and a bench that started beside
/// another cluster would measure, or break, that one instead.
pub fn wait_until_free(addrs: &[(SocketAddr, String)], grace: Duration) -> Result<(), Unavailable> {
    let deadline = Instant::now() + grace;
    loop {
        let mut busy = None;
        for (addr, what) in addrs {
            match TcpListener::bind(addr) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                    busy = Some((*addr, what));
                    break;
                }
                Err(error) => {
                    return Err(Unavailable::Unbindable {
                        addr: *addr,
                        what: what.clone(),
                        error,
                    });
                }
            }
        }
        let Some((addr, what)) = busy else {
            return Ok(());
        };
        if Instant::now() >= deadline {
            return Err(Unavailable::Busy {
                addr,
                what: what.clone(),
                holder: port_holder(addr.port()),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The program listening on `port`, as `ss` names it.
fn port_holder(port: u16) -> Option<String> {
    let out = Command::new("ss")
        .args(["-Hltnp", &format!("sport = :{port}")])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let users = text.split("users:((").nth(1)?;
    Some(users.split('"').nth(1)?.to_string())
}

// --- processes ---------------------------------------------------------------------------------

/// The last resort of a clean-up: SIGKILL to whatever still runs from `dir`.
pub fn kill_processes_under(dir: &Path) {
    for pid in processes_under(dir) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// A process's command line, arguments separated by spaces (servers rewrite theirs as
/// `postgres: <cluster_name>: <what>`); empty once it is gone.
pub fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// A process's program name (`haproxy`, `postgres`); empty once it is gone.
pub fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// A process's working folder: a server's is its data folder, whatever its command line says.
pub fn cwd(pid: i32) -> PathBuf {
    std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_default()
}

/// Clock ticks per second, the unit of `/proc/<pid>/stat`'s CPU times.
pub fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { nix::libc::sysconf(nix::libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// utime + stime of a process, every thread included, in clock ticks: the CPU another
/// process used, which `getrusage` cannot tell.
pub fn cpu_ticks(pid: i32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses; the fields after it do not.
    let fields: Vec<&str> = text[text.rfind(')')? + 1..].split_whitespace().collect();
    // Field 3 (state) comes first, so utime (14) and stime (15) are at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// [`cpu_ticks`] in seconds.
pub fn cpu_secs(pid: i32) -> Option<f64> {
    Some(cpu_ticks(pid)? as f64 / clock_ticks())
}

/// User plus system CPU time of this process, every thread included.
pub fn self_cpu() -> Duration {
    // SAFETY: `rusage` is plain integers, for which all zeroes is a valid value.
    let mut usage: nix::libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF is valid and `usage` is a live, writable `rusage`.
    if unsafe { nix::libc::getrusage(nix::libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: nix::libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// CPU time over a stretch of wall time, as % of one core.
pub fn percent_of_core(cpu_secs: f64, wall: Duration) -> f64 {
    100.0 * cpu_secs / wall.as_secs_f64()
}

/// A process's proportional set size in KiB: shared pages count once across the processes
/// sharing them, so a cluster's processes add up to what the cluster really takes.
pub fn pss_kib(pid: i32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let line = text.lines().find(|l| l.starts_with("Pss:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A `kB` line of `/proc/<pid>/status` (`VmHWM`, `VmRSS`), in KiB.
pub fn status_kib(pid: i32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

// --- figures -----------------------------------------------------------------------------------

/// The finite values, sorted: a measurement that could not be taken is recorded as NaN, and
/// must not move a median or a percentile.
fn finite_sorted(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v
}

pub fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

pub fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// The median of the finite values; NaN when there are none.
pub fn median(values: &[f64]) -> f64 {
    let v = finite_sorted(values);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Nearest-rank percentile of the finite values: always one of the values measured.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let v = finite_sorted(values);
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// How a figure compares with its target, in the words the reports use.
pub fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

/// `  <phase name>   <seconds> s`, as `up` (and the sequential baseline) print their phases.
pub fn parse_phase(line: &str) -> Option<(String, f64)> {
    let body = line.strip_prefix("  ")?.trim_end().strip_suffix(" s")?;
    let (name, secs) = body.trim_end().rsplit_once(' ')?;
    let secs: f64 = secs.parse().ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| (name.to_string(), secs))
}

/// Phase names in the order they first appear, each with its seconds in every round: rounds
/// can differ in their phases, and the report keeps the order a run goes through them.
pub fn phase_table(runs: &[&[(String, f64)]]) -> Vec<(String, Vec<f64>)> {
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

/// A table of seconds with a min and a median column, over rounds: the min shows what the
/// machine can do, the median what a run usually takes.
pub struct MinMedianTable {
    /// How wide the label column is, past its two spaces of indent.
    pub label_width: usize,
}

impl MinMedianTable {
    /// A blank line, then `title` over the column names.
    pub fn header(&self, title: &str) {
        let width = self.label_width + 2;
        println!("\n{title:<width$} {:>8} {:>8}", "min", "median");
    }

    /// One row; dashes when there are no values (every round failed).
    pub fn row(&self, label: &str, values: &[f64]) {
        let width = self.label_width;
        if values.is_empty() {
            println!("  {label:<width$} {:>8} {:>8}", "-", "-");
        } else {
            println!(
                "  {label:<width$} {:>8.2} {:>8.2}",
                min(values),
                median(values)
            );
        }
    }
}

// --- output ------------------------------------------------------------------------------------

/// The last `lines` non-blank lines of `text`, indented and marked, to quote a failure.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| format!("    | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a finished command printed: stderr, where the binary says what went wrong, first.
fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    )
}

/// The last 8 lines of what a failed command printed.
pub fn output_tail(out: &Output) -> String {
    tail(&output_text(out), 8)
}
