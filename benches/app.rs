//! `cargo bench --bench app`: the interactive app, measured from the outside, the way a
//! learner uses it: the real binary in a 140×40 pseudo-terminal, its screen read with `vt100`.
//!
//! 1. Starts `replica-lab up --runtime local --replicas 3 --name benchapp` through the binary,
//!    on addresses no default cluster uses (127.0.0.1:26004-26006, 127.0.70.11-14:5432), with
//!    its state in a throwaway folder under /var/tmp (mode 0755, so the unprivileged `postgres`
//!    user the servers run as under root can reach it), and empty config and state folders
//!    (`XDG_CONFIG_HOME`, `XDG_STATE_HOME`) so the user's settings, history and log are left
//!    alone.
//! 2. Idle CPU: opens the app, waits until the dashboard shows every node, then measures the
//!    app process's CPU time (utime + stime of `/proc/<pid>/stat`) over `BENCH_IDLE_SECONDS`
//!    (default 30) seconds of live telemetry, as % of one core beside the 2 % target; and the
//!    same again with a 10,000-row result on screen, after the query below.
//! 3. A 1,000,000-row SELECT typed into the console on the write endpoint, `BENCH_QUERY_RUNS`
//!    (default 3) times: from pressing F5 to the output being cleared, to the first result
//!    rows on screen, to the `showing 10,000 of 1,000,000 rows` footer and to the served-by
//!    badge (the run finished); the app's CPU time per run and its peak memory (`VmHWM`)
//!    before and after. Beside it, `psql` with the same statement on the same endpoint, as
//!    many times: into /dev/null, into a pipe this bench reads (time to the first byte), and
//!    into a pipe with `FETCH_COUNT=10000` (psql's streaming mode), each with its peak RSS
//!    (`ru_maxrss` of that child, from `wait4`); and the server's own execution time for the
//!    statement with no rows sent (`EXPLAIN (ANALYZE, TIMING OFF)`).
//!
//! A report, not a test: nothing is asserted; targets are printed next to the figures.
//! `down --name benchapp` runs whatever happens: on success, on failure, on a panic and on
//! Ctrl-C.

mod support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, MasterPty, PtySize, native_pty_system};

use support::{
    BIN, BenchEnv, DownGuard, LOCAL_PASS_THROUGH, Ports, catch_interrupts, check_interrupted,
    cpu_secs, kill_processes_under, median, mib, open_to_servers, output_tail, percent_of_core,
    status_kib, tail, up_local, verdict,
};

const CLUSTER: &str = "benchapp";
const REPLICAS: u8 = 3;
const ROOT: &str = "/var/tmp/replica-lab-bench-app";
const PORTS: Ports = Ports {
    write: 26005,
    read: 26006,
    stats: 26004,
};
const NODE_BASE: &str = "127.0.70.10";

const ROWS: u16 = 40;
const COLS: u16 = 140;

const QUERY: &str = "SELECT g, md5(g::text) FROM generate_series(1, 1000000) g;";
/// The end of the statement, visible in the editor once it is typed.
const QUERY_TAIL: &str = "1000000) g;";
/// `md5('1')`: the second column of the first row.
const FIRST_MD5: &str = "c4ca4238a0b923820dcc509a6f75849b";
const FOOTER: &str = "showing 10,000 of 1,000,000 rows";
const RUNNING: &str = "running…";
const BADGE: &str = "[served by ";

const F2: &[u8] = b"\x1bOQ";
const F5: &[u8] = b"\x1b[15~";
const CTRL_Q: &[u8] = b"\x11";

const TARGET_IDLE_PCT: f64 = 2.0;
const DASHBOARD_LIMIT: Duration = Duration::from_secs(60);
const RUN_LIMIT: Duration = Duration::from_secs(180);
const WARM_UP: Duration = Duration::from_secs(3);
/// Quiet time between query runs, so one run's tail does not overlap the next.
const BETWEEN_RUNS: Duration = Duration::from_secs(2);

/// Sleeps `d` in short steps; `Err` as soon as the bench is interrupted.
fn sleep(d: Duration) -> Result<(), String> {
    let end = Instant::now() + d;
    loop {
        check_interrupted()?;
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|v| *v > 0)
        .unwrap_or(default)
}

// --- the cluster -----------------------------------------------------------------------------

/// The bench's settings: its own folder, ports and node addresses, no user config file and
/// no user state folder (history, log).
fn bench_env(root: &Path) -> BenchEnv {
    BenchEnv::keeping(LOCAL_PASS_THROUGH)
        .data_dir(&root.join("data"))
        .ports(PORTS)
        .node_base(NODE_BASE)
        .set("REPLICA_LAB_RUNTIME", "local")
        .config_home(&root.join("config"))
        .state_home(&root.join("state"))
}

/// A fresh root folder: what a killed run left behind is stopped and removed first.
fn prepare(root: &Path) -> Result<(), String> {
    if root.exists() {
        let _ = DownGuard::new(bench_env(root), CLUSTER, root.join("data")).run();
        // Also what `down` knew nothing of, as after a run killed half-way through `up`.
        kill_processes_under(&root.join("data"));
        std::fs::remove_dir_all(root)
            .map_err(|e| format!("cannot remove {}: {e}", root.display()))?;
    }
    for dir in ["data", "config", "state"] {
        std::fs::create_dir_all(root.join(dir))
            .map_err(|e| format!("cannot create {}: {e}", root.join(dir).display()))?;
    }
    open_to_servers(root)?;
    open_to_servers(&root.join("data"))
}

// --- the app in a pseudo-terminal --------------------------------------------------------------

/// When each sign of a run first showed on screen, as the pty reader saw it.
#[derive(Clone, Debug, Default)]
struct RunMarks {
    /// The output pane emptied and `running…` shown: the app took the key.
    cleared: Option<Instant>,
    /// The first row's value.
    rows: Option<Instant>,
    /// `showing 10,000 of 1,000,000 rows`.
    footer: Option<Instant>,
    /// The served-by badge, with `running…` gone: the run finished.
    done: Option<Instant>,
}

struct Screen {
    parser: vt100::Parser,
    /// Bytes the app wrote to the terminal.
    bytes: u64,
    /// Set while a run is watched; the reader fills it in after every chunk it parses.
    watch: Option<RunMarks>,
}

impl Screen {
    fn mark(&mut self) {
        let Some(w) = &mut self.watch else {
            return;
        };
        if w.done.is_some() {
            return;
        }
        let text = self.parser.screen().contents();
        let now = Instant::now();
        let running = text.contains(RUNNING);
        if w.cleared.is_none() {
            // Until the output was cleared, what it shows is the previous run's. The footer is
            // the output's last line, drawn after its rows: a frame cut between two reads
            // can show `running…` beside the previous footer.
            let previous = [FIRST_MD5, FOOTER, BADGE];
            if running && !previous.iter().any(|p| text.contains(p)) {
                w.cleared = Some(now);
            } else {
                return;
            }
        }
        if w.rows.is_none() && text.contains(FIRST_MD5) {
            w.rows = Some(now);
        }
        if w.footer.is_none() && text.contains(FOOTER) {
            w.footer = Some(now);
        }
        if !running && text.contains(BADGE) {
            w.done = Some(now);
        }
    }
}

struct Pty {
    screen: Arc<Mutex<Screen>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    _master: Box<dyn MasterPty + Send>,
    pid: i32,
}

impl Pty {
    fn start(env: &BenchEnv, root: &Path) -> Result<Pty, String> {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .map_err(|e| format!("cannot open a pty: {e}"))?;
        let mut cmd = CommandBuilder::new(BIN);
        cmd.args(["--name", CLUSTER]);
        for key in env.dropped() {
            cmd.env_remove(key);
        }
        for (key, value) in env.vars() {
            cmd.env(key, value);
        }
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove("NO_COLOR");
        cmd.cwd(root);
        let child = pair
            .slave
            .spawn_command(cmd)
            .map_err(|e| format!("cannot start the app: {e}"))?;
        drop(pair.slave);
        let pid = child
            .process_id()
            .and_then(|pid| i32::try_from(pid).ok())
            .ok_or_else(|| "the app has no process id".to_string())?;
        let mut reader = pair
            .master
            .try_clone_reader()
            .map_err(|e| format!("pty reader: {e}"))?;
        let writer = pair
            .master
            .take_writer()
            .map_err(|e| format!("pty writer: {e}"))?;
        let screen = Arc::new(Mutex::new(Screen {
            parser: vt100::Parser::new(ROWS, COLS, 0),
            bytes: 0,
            watch: None,
        }));
        let sink = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    return;
                }
                let mut s = sink
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                s.parser.process(&buf[..n]);
                s.bytes += n as u64;
                s.mark();
            }
        });
        Ok(Pty {
            screen,
            writer,
            child,
            _master: pair.master,
            pid,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Screen> {
        self.screen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn text(&self) -> String {
        self.lock().parser.screen().contents()
    }

    fn bytes(&self) -> u64 {
        self.lock().bytes
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn wait_for(
        &mut self,
        limit: Duration,
        what: &str,
        cond: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        let deadline = Instant::now() + limit;
        loop {
            let text = self.text();
            if cond(&text) {
                return Ok(text);
            }
            if !self.alive() {
                return Err(format!(
                    "the app ended while waiting for {what}; screen:\n{text}"
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "timed out after {limit:?} waiting for {what}; screen:\n{text}"
                ));
            }
            sleep(Duration::from_millis(20))?;
        }
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.writer
            .write_all(bytes)
            .and_then(|()| self.writer.flush())
            .map_err(|e| format!("cannot write to the pty: {e}"))
    }

    /// Ctrl-Q, then up to 10 s for the app to end; killed otherwise.
    fn quit(&mut self) -> Result<(), String> {
        self.send(CTRL_Q)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !self.alive() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        Err("the app did not end within 10 s of Ctrl-Q (killed)".into())
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if self.alive() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

struct Idle {
    secs: f64,
    cpu_pct: f64,
    bytes_per_sec: f64,
}

/// The app's CPU time and terminal output over `window`, touching nothing.
fn idle(app: &mut Pty, window: Duration) -> Result<Idle, String> {
    let cpu0 = cpu_secs(app.pid).ok_or("cannot read the app's /proc/<pid>/stat")?;
    let bytes0 = app.bytes();
    let start = Instant::now();
    sleep(window)?;
    let cpu1 = cpu_secs(app.pid).ok_or("the app ended while idle")?;
    let wall = start.elapsed();
    let secs = wall.as_secs_f64();
    let bytes1 = app.bytes();
    Ok(Idle {
        secs,
        cpu_pct: percent_of_core(cpu1 - cpu0, wall),
        bytes_per_sec: (bytes1 - bytes0) as f64 / secs,
    })
}

struct AppRun {
    /// Seconds from F5 to each mark.
    cleared: Option<f64>,
    rows: Option<f64>,
    footer: Option<f64>,
    done: f64,
    cpu: f64,
    hwm_kib: Option<u64>,
    rss_kib: Option<u64>,
}

/// Presses F5 on the statement in the editor and follows the run on screen.
fn app_run(app: &mut Pty) -> Result<AppRun, String> {
    app.lock().watch = Some(RunMarks::default());
    let cpu0 = cpu_secs(app.pid).ok_or("cannot read the app's /proc/<pid>/stat")?;
    let pressed = Instant::now();
    app.send(F5)?;
    let deadline = pressed + RUN_LIMIT;
    let marks = loop {
        let marks = app.lock().watch.clone().unwrap_or_default();
        if marks.done.is_some() {
            break marks;
        }
        if !app.alive() {
            return Err(format!(
                "the app ended during the run; screen:\n{}",
                app.text()
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the run did not finish within {RUN_LIMIT:?}; screen:\n{}",
                app.text()
            ));
        }
        sleep(Duration::from_millis(2))?;
    };
    app.lock().watch = None;
    let cpu1 = cpu_secs(app.pid).ok_or("the app ended after the run")?;
    let since = |t: Option<Instant>| t.map(|t| t.duration_since(pressed).as_secs_f64());
    let text = app.text();
    if marks.rows.is_none() || marks.footer.is_none() {
        eprintln!(
            "app: the run finished but the first row or the footer was never seen; screen:\n{text}"
        );
    }
    Ok(AppRun {
        cleared: since(marks.cleared),
        rows: since(marks.rows),
        footer: since(marks.footer),
        done: since(marks.done).unwrap_or(f64::NAN),
        cpu: cpu1 - cpu0,
        hwm_kib: status_kib(app.pid, "VmHWM"),
        rss_kib: status_kib(app.pid, "VmRSS"),
    })
}

struct AppReport {
    startup: f64,
    idle: Idle,
    idle_result: Idle,
    hwm_before: Option<u64>,
    rss_before: Option<u64>,
    runs: Vec<AppRun>,
    rss_end: Option<u64>,
}

fn dashboard_ready(s: &str) -> bool {
    ["pg1", "pg2", "pg3", "pg4"].iter().all(|n| s.contains(n))
        && s.contains("UP")
        && s.contains("replica")
        && s.contains("primary")
}

fn measure_app(root: &Path, window: Duration, runs: usize) -> Result<AppReport, String> {
    let opened = Instant::now();
    let mut app = Pty::start(&bench_env(root), root)?;
    app.wait_for(
        DASHBOARD_LIMIT,
        "the dashboard with every node",
        dashboard_ready,
    )?;
    let startup = opened.elapsed().as_secs_f64();
    println!("  dashboard shows every node after {startup:.2} s");
    sleep(WARM_UP)?;

    println!(
        "  idle: measuring the app's CPU over {} s …",
        window.as_secs()
    );
    let idle_dash = idle(&mut app, window)?;
    let hwm_before = status_kib(app.pid, "VmHWM");
    let rss_before = status_kib(app.pid, "VmRSS");

    app.send(F2)?;
    sleep(Duration::from_millis(200))?;
    app.send(QUERY.as_bytes())?;
    app.wait_for(
        Duration::from_secs(10),
        "the statement in the editor",
        |s| s.contains(QUERY_TAIL),
    )?;
    sleep(Duration::from_millis(300))?;

    let mut results = Vec::new();
    for i in 1..=runs {
        let r = app_run(&mut app)?;
        println!(
            "  run {i}: first rows after {}, finished after {}",
            secs_or_dash(r.rows),
            secs_or_dash(Some(r.done))
        );
        results.push(r);
        sleep(BETWEEN_RUNS)?;
    }

    println!(
        "  idle with the result on screen: measuring over {} s …",
        window.as_secs()
    );
    let idle_result = idle(&mut app, window)?;
    let rss_end = status_kib(app.pid, "VmRSS");
    if let Err(e) = app.quit() {
        eprintln!("app: {e}");
    }
    Ok(AppReport {
        startup,
        idle: idle_dash,
        idle_result,
        hwm_before,
        rss_before,
        runs: results,
        rss_end,
    })
}

// --- psql ------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum PsqlMode {
    /// `> /dev/null`.
    DevNull,
    /// Into a pipe this bench drains, timing the first byte.
    Pipe,
    /// As `Pipe`, with `FETCH_COUNT=10000`: psql fetches through a cursor and prints as it goes.
    Fetch,
}

struct PsqlRun {
    wall: f64,
    first_byte: Option<f64>,
    bytes: u64,
    maxrss_kib: u64,
}

/// Waits for `pid` and returns its own resource usage (not that of every child so far).
fn wait_usage(pid: u32) -> Result<(i32, nix::libc::rusage), String> {
    let pid = nix::libc::pid_t::try_from(pid).map_err(|e| e.to_string())?;
    let mut status: nix::libc::c_int = 0;
    // SAFETY: `rusage` is plain integers, for which all zeroes is a valid value.
    let mut usage: nix::libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `status` and `usage` are live and writable; `pid` is our own child, which
        // nothing else waits for.
        let got = unsafe { nix::libc::wait4(pid, &mut status, 0, &mut usage) };
        if got == pid {
            return Ok((status, usage));
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("wait4: {err}"));
        }
    }
}

/// psql on the write endpoint as the learner's login, without `~/.psqlrc`.
fn psql() -> Command {
    let mut cmd = Command::new("psql");
    cmd.args(["-X", "-h", "127.0.0.1", "-p", &PORTS.write.to_string()])
        .args(["-U", "myuser", "-d", "mydatabase", "-v", "ON_ERROR_STOP=1"])
        .env("PGPASSWORD", "mypassword")
        .env_remove("PGSERVICE")
        .env_remove("PGOPTIONS")
        .stdin(Stdio::null());
    cmd
}

/// The server's own time for the statement, rows computed but not sent:
/// `EXPLAIN (ANALYZE, TIMING OFF)`'s execution time, in seconds.
fn server_secs() -> Result<f64, String> {
    let out = psql()
        .args(["-At", "-c"])
        .arg(format!("EXPLAIN (ANALYZE, TIMING OFF) {QUERY}"))
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Execution Time:"))
        .and_then(|v| v.trim().strip_suffix("ms"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|ms| ms / 1000.0)
        .ok_or_else(|| format!("no execution time from EXPLAIN:\n{}", output_tail(&out)))
}

fn psql_run(mode: PsqlMode) -> Result<PsqlRun, String> {
    let mut cmd = psql();
    if mode == PsqlMode::Fetch {
        cmd.args(["-v", "FETCH_COUNT=10000"]);
    }
    cmd.args(["-c", QUERY])
        .stderr(Stdio::piped())
        .stdout(if mode == PsqlMode::DevNull {
            Stdio::null()
        } else {
            Stdio::piped()
        });
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("cannot run psql: {e}"))?;
    let mut first_byte = None;
    let mut bytes = 0u64;
    if let Some(mut out) = child.stdout.take() {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match out.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if first_byte.is_none() {
                        first_byte = Some(start.elapsed().as_secs_f64());
                    }
                    bytes += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("reading psql's output: {e}")),
            }
        }
    }
    let mut errors = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut errors);
    }
    let (status, usage) = wait_usage(child.id())?;
    let wall = start.elapsed().as_secs_f64();
    if !(nix::libc::WIFEXITED(status) && nix::libc::WEXITSTATUS(status) == 0) {
        return Err(format!("psql failed:\n{}", tail(&errors, 8)));
    }
    Ok(PsqlRun {
        wall,
        first_byte,
        bytes,
        maxrss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
    })
}

// --- the report ------------------------------------------------------------------------------

fn secs_or_dash(v: Option<f64>) -> String {
    match v {
        Some(s) if s.is_finite() => format!("{s:.3} s"),
        _ => "—".into(),
    }
}

/// One line of the table: a label, one cell per run and the median.
fn row(label: &str, values: &[Option<f64>], unit: &str, decimals: usize) {
    let cell = |v: Option<f64>| match v {
        Some(x) if x.is_finite() => format!("{x:.decimals$}{unit}"),
        _ => "—".into(),
    };
    let mut line = format!("  {label:<44}");
    for v in values {
        line.push_str(&format!("{:>12}", cell(*v)));
    }
    let finite: Vec<f64> = values.iter().flatten().copied().collect();
    let med = (!finite.is_empty()).then(|| median(&finite));
    line.push_str(&format!("{:>12}", cell(med)));
    println!("{line}");
}

fn header(runs: usize) {
    let mut line = format!("  {:<44}", "");
    for i in 1..=runs {
        line.push_str(&format!("{:>12}", format!("run {i}")));
    }
    line.push_str(&format!("{:>12}", "median"));
    println!("{line}");
    println!("  {}", "-".repeat(44 + 12 * (runs + 1)));
}

fn report(app: &AppReport, psql: &[(PsqlMode, Vec<PsqlRun>)], server: &[f64], runs: usize) {
    println!();
    println!("Idle CPU of the app (4 nodes, live telemetry, {COLS}×{ROWS}):");
    for (what, i) in [
        ("dashboard only", &app.idle),
        ("10,000-row result on screen", &app.idle_result),
    ] {
        let verdict = verdict(i.cpu_pct < TARGET_IDLE_PCT);
        println!(
            "  {what:<30} {:>6.2} % of one core over {:.1} s  (target < {TARGET_IDLE_PCT} %: {verdict}); \
             {:.0} bytes/s to the terminal",
            i.cpu_pct, i.secs, i.bytes_per_sec
        );
    }
    println!(
        "  app opened to every node on the dashboard: {:.2} s",
        app.startup
    );

    println!();
    println!("{QUERY}  (write endpoint, {runs} runs)");
    header(runs);
    let r = &app.runs;
    row(
        "server: execution, rows not sent (EXPLAIN)",
        &server.iter().map(|x| Some(*x)).collect::<Vec<_>>(),
        " s",
        3,
    );
    row(
        "app: F5 → output cleared, running…",
        &r.iter().map(|x| x.cleared).collect::<Vec<_>>(),
        " s",
        3,
    );
    row(
        "app: F5 → first rows on screen",
        &r.iter().map(|x| x.rows).collect::<Vec<_>>(),
        " s",
        3,
    );
    row(
        "app: F5 → \"showing 10,000 of 1,000,000\"",
        &r.iter().map(|x| x.footer).collect::<Vec<_>>(),
        " s",
        3,
    );
    row(
        "app: F5 → finished (served-by badge)",
        &r.iter().map(|x| Some(x.done)).collect::<Vec<_>>(),
        " s",
        3,
    );
    row(
        "app: CPU time during the run",
        &r.iter().map(|x| Some(x.cpu)).collect::<Vec<_>>(),
        " s",
        3,
    );
    row(
        "app: VmHWM after the run",
        &r.iter().map(|x| x.hwm_kib.map(mib)).collect::<Vec<_>>(),
        " MiB",
        1,
    );
    row(
        "app: VmRSS after the run",
        &r.iter().map(|x| x.rss_kib.map(mib)).collect::<Vec<_>>(),
        " MiB",
        1,
    );
    for (mode, runs) in psql {
        let name = match mode {
            PsqlMode::DevNull => "psql > /dev/null",
            PsqlMode::Pipe => "psql | pipe",
            PsqlMode::Fetch => "psql FETCH_COUNT=10000 | pipe",
        };
        if *mode != PsqlMode::DevNull {
            row(
                &format!("{name}: first byte"),
                &runs.iter().map(|x| x.first_byte).collect::<Vec<_>>(),
                " s",
                3,
            );
        }
        row(
            &format!("{name}: wall"),
            &runs.iter().map(|x| Some(x.wall)).collect::<Vec<_>>(),
            " s",
            3,
        );
        row(
            &format!("{name}: peak RSS"),
            &runs
                .iter()
                .map(|x| Some(mib(x.maxrss_kib)))
                .collect::<Vec<_>>(),
            " MiB",
            1,
        );
        if *mode == PsqlMode::Pipe {
            row(
                &format!("{name}: output"),
                &runs
                    .iter()
                    .map(|x| Some(x.bytes as f64 / (1024.0 * 1024.0)))
                    .collect::<Vec<_>>(),
                " MiB",
                1,
            );
        }
    }
    println!();
    let show = |v: Option<u64>| v.map_or("—".to_string(), |k| format!("{:.1} MiB", mib(k)));
    println!(
        "  app memory: VmHWM {} and VmRSS {} before the first run; VmHWM {} after the last; \
         VmRSS {} at the end",
        show(app.hwm_before),
        show(app.rss_before),
        show(app.runs.last().and_then(|r| r.hwm_kib)),
        show(app.rss_end)
    );
    let app_rows = median(&r.iter().filter_map(|x| x.rows).collect::<Vec<_>>());
    let app_done = median(&r.iter().map(|x| x.done).collect::<Vec<_>>());
    let psql_of = |m: PsqlMode| psql.iter().find(|(mode, _)| *mode == m).map(|(_, r)| r);
    let ttfb = |m: PsqlMode| {
        psql_of(m).map(|p| median(&p.iter().filter_map(|x| x.first_byte).collect::<Vec<_>>()))
    };
    let vs = |a: f64, b: f64| format!("{a:.3} s vs {b:.3} s ({:+.0} %)", 100.0 * (a / b - 1.0));
    if let Some(t) = ttfb(PsqlMode::Pipe) {
        println!("  first rows, app vs psql: {}", vs(app_rows, t));
    }
    if let Some(t) = ttfb(PsqlMode::Fetch) {
        println!(
            "  first rows, app vs psql FETCH_COUNT=10000: {}",
            vs(app_rows, t)
        );
    }
    if let Some(p) = psql_of(PsqlMode::DevNull) {
        let wall = median(&p.iter().map(|x| x.wall).collect::<Vec<_>>());
        println!(
            "  finished, app vs psql > /dev/null: {}",
            vs(app_done, wall)
        );
    }
}

// --- main ------------------------------------------------------------------------------------

fn bench() -> Result<(), String> {
    let window = Duration::from_secs(env_number("BENCH_IDLE_SECONDS", 30));
    let runs = usize::try_from(env_number("BENCH_QUERY_RUNS", 3)).unwrap_or(3);
    if Command::new("psql")
        .arg("--version")
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        return Err("psql is not installed: it is the baseline".into());
    }
    let root = PathBuf::from(ROOT);
    prepare(&root)?;
    // The root folder is not a temporary one: it goes with the cluster.
    let mut down =
        DownGuard::new(bench_env(&root), CLUSTER, root.join("data")).removing(root.clone());
    println!(
        "app: `up --runtime local --replicas {REPLICAS} --name {CLUSTER}` \
         (127.0.0.1:{}/{}/{}, nodes from {NODE_BASE}) …",
        PORTS.write, PORTS.read, PORTS.stats
    );
    let up = up_local(&bench_env(&root), CLUSTER, REPLICAS);
    // Ctrl-C stops `up` as well: say the bench was interrupted, not that `up` failed.
    check_interrupted()?;
    let up_secs = up?.secs;
    println!("  ready after {up_secs:.2} s");

    let app = measure_app(&root, window, runs)?;

    let mut psql = Vec::new();
    for mode in [PsqlMode::DevNull, PsqlMode::Pipe, PsqlMode::Fetch] {
        let mut results = Vec::new();
        for _ in 0..runs {
            check_interrupted()?;
            results.push(psql_run(mode)?);
            sleep(Duration::from_millis(500))?;
        }
        psql.push((mode, results));
    }
    let mut server = Vec::new();
    for _ in 0..runs {
        server.push(server_secs()?);
    }
    println!("  psql: {} runs done", 4 * runs);

    let down_secs = down.run()?;
    println!("  down after {down_secs:.2} s");
    report(&app, &psql, &server, runs);
    Ok(())
}

fn main() -> ExitCode {
    // The app in the pseudo-terminal has a session of its own and does not see Ctrl-C.
    catch_interrupts();
    match bench() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("app: {e}");
            ExitCode::FAILURE
        }
    }
}
