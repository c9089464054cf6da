//! `cargo bench --bench classroom`: a class of simulated learners against a hub, and how fast
//! the instructor's roster follows them.
//!
//! 1. Starts `replica-lab up --runtime local --replicas 1 --name benchclass` through the
//!    binary, on addresses no default cluster, test or other bench uses (127.0.0.1:24305-24307,
//!    nodes from 127.0.63.10), raises the primary's `max_connections` so every learner can keep
//!    a connection of their own (the replica is stopped for that, and stays stopped: the hub
//!    is the primary), migrates the hub's schema and opens a session.
//! 2. Joins `BENCH_LEARNERS` (default 200) learners through the gate login, each then
//!    connected as their own role.
//! 3. Steady phase, `BENCH_SECONDS` (default 30): every learner makes `BENCH_RATE` (default 5)
//!    events a second and sends what it has every `BENCH_FLUSH_MS` (default 1000) in one
//!    `INSERT`, the statement the reporter uses. Meanwhile an instructor connection LISTENs on
//!    `classroom_events` and re-reads the roster as the live view does (one read in flight,
//!    one more when notified meanwhile). For every batch: the time from its commit (as the
//!    learner saw it acknowledged) to the first roster read that shows it.
//! 4. Flat-out phase, `BENCH_BURST_SECONDS` (default 5): every learner sends batches of
//!    `BENCH_BURST_BATCH` (default 20) back to back: the most the hub absorbs. The hub takes
//!    at most `guard::RATE_EVENTS` events per learner in 10 s; INSERTs it refuses for that
//!    are counted apart and sent again.
//! 5. Checks the hub against what was sent: events lost, events duplicated, and whether the
//!    roster's counters agree with the events.
//!
//! A report, not a test: nothing is asserted; the target (roster delay p99 < 500 ms) is
//! printed beside the figure. `down --name benchclass` runs whatever happens.

mod support;

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt as _;
use replica_lab::classroom::catalogue::{self, CatalogueLesson, HubCatalogue};
use replica_lab::classroom::guard;
use replica_lab::classroom::reporter::INSERT_EVENTS;
use replica_lab::classroom::roster::{self, RosterRow};
use replica_lab::cluster::state::cluster_dir;
use replica_lab::tui::instructor::RosterReads;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client, NoTls, Notification};

use support::{
    BenchEnv, DownGuard, LOCAL_PASS_THROUGH, Ports, cannot_start, catch_interrupts,
    check_interrupted, conclude, cpu_count, env_setting, interrupted, max, median, percentile,
    run_bin, scratch_dir, up_local, verdict,
};

const CLUSTER: &str = "benchclass";
const REPLICAS: u8 = 1;
const PORTS: Ports = Ports {
    stats: 24305,
    write: 24306,
    read: 24307,
};
const NODE_BASE: &str = "127.0.63.10";
const USER: &str = "myuser";
const PASSWORD: &str = "mypassword";
const DATABASE: &str = "mydatabase";
/// Enough for every learner, the instructor and the bench's own look-ups.
const MAX_CONNECTIONS: u32 = 400;
const TARGET_P99_MS: f64 = 500.0;
/// How long the roster may take to show the last batches after a phase ends.
const SETTLE: Duration = Duration::from_secs(5);
const LESSON: &str = "01-topology";
/// The steps of [`LESSON`] in the class's catalogue, `s1` on: the hub takes events about
/// these only, and a learner moves to the next every ten events.
const STEPS: usize = 5000;

struct Config {
    seconds: f64,
    learners: usize,
    rate: f64,
    flush: Duration,
    burst_seconds: f64,
    burst_batch: usize,
}

fn config() -> Result<Config, String> {
    let positive = |s: &f64| *s > 0.0 && s.is_finite();
    Ok(Config {
        seconds: env_setting(
            "BENCH_SECONDS",
            30.0,
            positive,
            "a number of seconds above 0",
        )?,
        learners: env_setting(
            "BENCH_LEARNERS",
            200,
            |n| (1..=2000).contains(n),
            "a number of learners from 1 to 2000",
        )?,
        rate: env_setting("BENCH_RATE", 5.0, positive, "events per second above 0")?,
        flush: Duration::from_millis(env_setting(
            "BENCH_FLUSH_MS",
            1000,
            |n| *n >= 10,
            "milliseconds, 10 or more",
        )?),
        burst_seconds: env_setting(
            "BENCH_BURST_SECONDS",
            5.0,
            |s: &f64| *s >= 0.0 && s.is_finite(),
            "a number of seconds, 0 to skip",
        )?,
        burst_batch: env_setting(
            "BENCH_BURST_BATCH",
            20,
            |n| (1..=guard::RATE_EVENTS).contains(n),
            "events per INSERT, 1 to 300 (the hub's limit per learner in 10 s)",
        )?,
    })
}

fn bench_env(root: &Path) -> BenchEnv {
    BenchEnv::keeping(LOCAL_PASS_THROUGH)
        .data_dir(root)
        .ports(PORTS)
        .node_base(NODE_BASE)
        .config_home(&root.join("no-config"))
}

fn hub_url() -> String {
    format!(
        "postgresql://{USER}:{PASSWORD}@127.0.0.1:{}/{DATABASE}?sslmode=disable",
        PORTS.write
    )
}

/// A connection whose notifications, if any, come out of the returned channel.
async fn connect(url: &str) -> Result<(Client, mpsc::UnboundedReceiver<Notification>), String> {
    let (client, mut conn) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| format!("cannot connect to the hub: {e}"))?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(Ok(m)) = messages.next().await {
            if let AsyncMessage::Notification(n) = m {
                let _ = tx.send(n);
            }
        }
    });
    Ok((client, rx))
}

// --- the hub -----------------------------------------------------------------------------------

/// Waits until the write endpoint answers, up to `limit`.
async fn reachable(limit: Duration) -> Result<Client, String> {
    let deadline = Instant::now() + limit;
    loop {
        match connect(&hub_url()).await {
            Ok((c, _)) => return Ok(c),
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// A class of 200 needs more than PostgreSQL's 100 connections: the primary is restarted with
/// more. A standby must allow at least as many as its primary, so the replica stays stopped.
async fn raise_connections(env: &BenchEnv) -> Result<(), String> {
    let owner = reachable(Duration::from_secs(10)).await?;
    let current: String = owner
        .query_one("SHOW max_connections", &[])
        .await
        .map_err(|e| format!("SHOW max_connections: {e}"))?
        .get(0);
    if current.parse::<u32>().unwrap_or(0) >= MAX_CONNECTIONS {
        return Ok(());
    }
    owner
        .batch_execute(&format!(
            "ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS}"
        ))
        .await
        .map_err(|e| format!("ALTER SYSTEM: {e}"))?;
    drop(owner);
    for args in [
        ["node", "stop", "pg2"],
        ["node", "stop", "pg1"],
        ["node", "start", "pg1"],
    ] {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--name", CLUSTER]);
        run_bin(env, &all)?;
    }
    let owner = reachable(Duration::from_secs(30)).await?;
    let now: String = owner
        .query_one("SHOW max_connections", &[])
        .await
        .map_err(|e| format!("SHOW max_connections: {e}"))?
        .get(0);
    println!("  max_connections {current} → {now} (replica pg2 stopped)");
    Ok(())
}

struct Learner {
    id: i64,
    client: Client,
}

async fn join_class(owner: &Client, n: usize) -> Result<(i64, Vec<Learner>), String> {
    replica_lab::classroom::migrate::migrate(owner)
        .await
        .map_err(|e| e.to_string())?;
    let (session, code) =
        replica_lab::classroom::host::create_session(owner, "bench", Duration::from_secs(3600))
            .await
            .map_err(|e| e.to_string())?;
    let lessons = HubCatalogue {
        lessons: vec![CatalogueLesson {
            id: LESSON.into(),
            steps: (1..=STEPS).map(|n| format!("s{n}")).collect(),
        }],
    };
    catalogue::upload(owner, session, &lessons)
        .await
        .map_err(|e| e.to_string())?;
    let gate_url = replica_lab::classroom::host::gate_url(&hub_url()).map_err(|e| e.to_string())?;
    let (gate, _) = connect(&gate_url).await?;
    let mut learners = Vec::with_capacity(n);
    for i in 0..n {
        check_interrupted()?;
        let row = gate
            .query_one(
                "SELECT learner_id, role_name, password FROM classroom.join($1, $2)",
                &[&code, &format!("learner-{i:03}")],
            )
            .await
            .map_err(|e| format!("join #{i}: {e}"))?;
        let (id, role, password): (i64, String, String) = (row.get(0), row.get(1), row.get(2));
        let url = replica_lab::classroom::connect::with_login(&hub_url(), &role, &password)
            .map_err(|e| e.to_string())?;
        let (client, _) = connect(&url).await?;
        learners.push(Learner { id, client });
    }
    Ok((session, learners))
}

// --- one learner -------------------------------------------------------------------------------

/// A batch on its way: how far the learner's counters go once it is in, and when its commit
/// was acknowledged (`None` until then).
struct Pending {
    progress: u32,
    acked: Option<Instant>,
}

/// What the learner tasks and the instructor share.
struct Shared {
    pending: Vec<Mutex<VecDeque<Pending>>>,
    index: HashMap<i64, usize>,
    inserted: AtomicU64,
    /// Rows an INSERT reported fewer than it sent: already on the hub.
    duplicates: AtomicU64,
    errors: AtomicU64,
    /// INSERTs refused by the hub's rate limit (sent again).
    throttled: AtomicU64,
    first_error: Mutex<Option<String>>,
}

/// Event `seq` of a learner: a step opened every tenth event, then checks, a hint, a pass.
fn kind(seq: i64) -> &'static str {
    match seq % 10 {
        1 => "step_opened",
        8 => "hint",
        0 => "passed",
        _ => "checked",
    }
}

/// The roster counters (checks + hints + steps passed) once events 1..=seq are in.
fn progress_after(seq: i64) -> u32 {
    let opened = (seq + 9) / 10;
    u32::try_from(seq - opened).unwrap_or(u32::MAX)
}

fn progress_of(row: &RosterRow) -> u32 {
    row.checks + row.hints + row.steps_passed
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Sends events `from..from + n` in one INSERT, again until the hub takes it or `stop`.
async fn send(
    learner: &Learner,
    slot: usize,
    from: i64,
    n: usize,
    shared: &Shared,
    stop: &AtomicBool,
) -> bool {
    let seqs: Vec<i64> = (from..from + n as i64).collect();
    let kinds: Vec<&str> = seqs.iter().map(|s| kind(*s)).collect();
    let lessons: Vec<Option<&str>> = vec![Some(LESSON); n];
    let steps: Vec<String> = seqs
        .iter()
        .map(|s| format!("s{}", (s - 1) / 10 + 1))
        .collect();
    let steps: Vec<Option<&str>> = steps.iter().map(|s| Some(s.as_str())).collect();
    let detail = serde_json::json!({});
    let details: Vec<&serde_json::Value> = vec![&detail; n];
    let at: Vec<i64> = vec![now_ms(); n];
    let progress = progress_after(from + n as i64 - 1);
    if let Ok(mut p) = shared.pending[slot].lock() {
        p.push_back(Pending {
            progress,
            acked: None,
        });
    }
    loop {
        let result = learner
            .client
            .execute(
                INSERT_EVENTS,
                &[
                    &learner.id,
                    &seqs,
                    &kinds,
                    &lessons,
                    &steps,
                    &details,
                    &at,
                    &now_ms(),
                ],
            )
            .await;
        match result {
            Ok(rows) => {
                let acked = Instant::now();
                if let Ok(mut p) = shared.pending[slot].lock() {
                    if let Some(entry) = p.iter_mut().find(|e| e.progress == progress) {
                        entry.acked = Some(acked);
                    }
                }
                shared.inserted.fetch_add(rows, Ordering::Relaxed);
                shared
                    .duplicates
                    .fetch_add((n as u64).saturating_sub(rows), Ordering::Relaxed);
                return true;
            }
            Err(e) if e.code().map(|c| c.code()) == Some(guard::TOO_FAST) => {
                shared.throttled.fetch_add(1, Ordering::Relaxed);
                if stop.load(Ordering::Relaxed) {
                    return false;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut first) = shared.first_error.lock() {
                    first.get_or_insert(e.to_string());
                }
                if stop.load(Ordering::Relaxed) {
                    return false;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// How a learner sends: `per_batch` events every `every` (steady), or back to back when
/// `every` is `None`, starting `offset` into the phase.
#[derive(Clone, Copy)]
struct Cadence {
    per_batch: usize,
    every: Option<Duration>,
    offset: Duration,
}

/// A learner's phase; returns the next sequence number.
async fn learner_phase(
    learner: Arc<Learner>,
    slot: usize,
    mut seq: i64,
    cadence: Cadence,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
) -> i64 {
    let Cadence {
        per_batch,
        every,
        offset,
    } = cadence;
    let mut tick = every.map(|e| {
        let mut t = tokio::time::interval_at(tokio::time::Instant::now() + offset, e);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    while !stop.load(Ordering::Relaxed) {
        if let Some(t) = tick.as_mut() {
            t.tick().await;
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
        if send(&learner, slot, seq, per_batch, &shared, &stop).await {
            seq += per_batch as i64;
        } else {
            break;
        }
    }
    seq
}

// --- the instructor ----------------------------------------------------------------------------

#[derive(Default)]
struct Seen {
    /// Commit → roster, ms.
    delays: Vec<f64>,
    notes: u64,
    reads: u64,
    read_ms: Vec<f64>,
}

/// Re-reads the roster on notifications, as the live view does, until `stop` and every
/// batch is shown, or `SETTLE` after `stop`.
async fn instructor(
    session: i64,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
) -> Result<Seen, String> {
    let (client, mut notes) = connect(&hub_url()).await?;
    client
        .batch_execute("LISTEN classroom_events")
        .await
        .map_err(|e| format!("LISTEN: {e}"))?;
    let client = Arc::new(client);
    let (tx, mut done) = mpsc::channel::<Result<(Vec<RosterRow>, f64), String>>(4);
    let start_read = |tx: mpsc::Sender<_>| {
        let client = client.clone();
        tokio::spawn(async move {
            let t0 = Instant::now();
            let r = roster::fetch(&client, session).await;
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            let _ = tx
                .send(match r {
                    Ok(Some(r)) => Ok((r.rows, ms)),
                    Ok(None) => Err("the session is gone".into()),
                    Err(e) => Err(format!("roster read: {e}")),
                })
                .await;
        });
    };
    let mut refresh = RosterReads::default();
    let mut seen = Seen::default();
    let mut settle_until: Option<Instant> = None;
    let want = session.to_string();
    loop {
        if stop.load(Ordering::Relaxed) {
            let until = *settle_until.get_or_insert_with(|| Instant::now() + SETTLE);
            let outstanding = shared
                .pending
                .iter()
                .any(|p| p.lock().map(|p| !p.is_empty()).unwrap_or(false));
            if !outstanding || Instant::now() > until {
                return Ok(seen);
            }
        }
        tokio::select! {
            n = notes.recv() => {
                let Some(n) = n else { return Err("the instructor's connection ended".into()) };
                seen.notes += 1;
                if n.payload() == want && refresh.wanted() {
                    start_read(tx.clone());
                }
            }
            Some(r) = done.recv() => {
                let shown = Instant::now();
                let (rows, ms) = r?;
                seen.reads += 1;
                seen.read_ms.push(ms);
                for row in &rows {
                    let Some(slot) = shared.index.get(&row.learner_id) else { continue };
                    let have = progress_of(row);
                    let Ok(mut p) = shared.pending[*slot].lock() else { continue };
                    while p.front().is_some_and(|e| e.progress <= have) {
                        if let Some(e) = p.pop_front() {
                            // Shown before the learner saw its commit acknowledged: no delay.
                            let acked = e.acked.unwrap_or(shown);
                            seen.delays.push(shown.saturating_duration_since(acked).as_secs_f64() * 1000.0);
                        }
                    }
                }
                if refresh.finished() {
                    start_read(tx.clone());
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
}

// --- a phase -----------------------------------------------------------------------------------

struct Phase {
    wall: f64,
    inserted: u64,
    seen: Seen,
    unshown: usize,
}

async fn phase(
    learners: &[Arc<Learner>],
    seqs: &mut [i64],
    session: i64,
    shared: &Arc<Shared>,
    per_batch: usize,
    every: Option<Duration>,
    length: Duration,
) -> Result<Phase, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let inserted0 = shared.inserted.load(Ordering::Relaxed);
    let watcher = tokio::spawn(instructor(session, shared.clone(), stop.clone()));
    // Let the instructor LISTEN before the first event.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t0 = Instant::now();
    let n = learners.len() as u32;
    let tasks: Vec<_> = learners
        .iter()
        .enumerate()
        .map(|(i, l)| {
            // Spread over one period, as a class is: nobody acts in step with the others.
            let cadence = Cadence {
                per_batch,
                every,
                offset: every.map_or(Duration::ZERO, |e| e * i as u32 / n),
            };
            tokio::spawn(learner_phase(
                l.clone(),
                i,
                seqs[i],
                cadence,
                shared.clone(),
                stop.clone(),
            ))
        })
        .collect();
    let end = t0 + length;
    while Instant::now() < end && !interrupted() {
        tokio::time::sleep(
            Duration::from_millis(200).min(end.saturating_duration_since(Instant::now())),
        )
        .await;
    }
    // Absorbed over the window learners were sending in; what was in flight at its end counts.
    let wall = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for (i, t) in tasks.into_iter().enumerate() {
        seqs[i] = t.await.map_err(|e| format!("a learner task failed: {e}"))?;
    }
    let inserted = shared.inserted.load(Ordering::Relaxed) - inserted0;
    let seen = watcher
        .await
        .map_err(|e| format!("the instructor task failed: {e}"))??;
    let unshown = shared
        .pending
        .iter()
        .map(|p| {
            p.lock()
                .map(|mut p| std::mem::take(&mut *p).len())
                .unwrap_or(0)
        })
        .sum();
    Ok(Phase {
        wall,
        inserted,
        seen,
        unshown,
    })
}

fn report(title: &str, p: &Phase, offered: Option<f64>) {
    println!("\n{title} ({:.1} s)", p.wall);
    let rate = p.inserted as f64 / p.wall;
    match offered {
        Some(o) => println!(
            "  {:<36} {:>10.0} /s (offered {o:.0} /s; {} events)",
            "events absorbed by the hub", rate, p.inserted
        ),
        None => println!(
            "  {:<36} {:>10.0} /s ({} events)",
            "events absorbed by the hub", rate, p.inserted
        ),
    }
    let d = &p.seen.delays;
    if d.is_empty() {
        println!("  {:<36} none measured", "commit → roster delay");
    } else {
        let p99 = percentile(d, 99.0);
        println!(
            "  {:<36} p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} batches); target p99 < {TARGET_P99_MS} ms: {}",
            "commit → roster delay",
            percentile(d, 50.0),
            p99,
            max(d),
            d.len(),
            verdict(p99 < TARGET_P99_MS)
        );
    }
    println!(
        "  {:<36} {} notifications, {} roster reads (median {:.1} ms, p99 {:.1} ms)",
        "instructor",
        p.seen.notes,
        p.seen.reads,
        median(&p.seen.read_ms),
        percentile(&p.seen.read_ms, 99.0)
    );
    if p.unshown > 0 {
        println!(
            "  {:<36} {} batches not on the roster {} s after the phase",
            "NOT SHOWN",
            p.unshown,
            SETTLE.as_secs()
        );
    }
}

// --- checking the hub --------------------------------------------------------------------------

async fn check(
    owner: &Client,
    session: i64,
    learners: &[Arc<Learner>],
    seqs: &[i64],
    shared: &Shared,
) -> Result<(), String> {
    let ids: Vec<i64> = learners.iter().map(|l| l.id).collect();
    let rows = owner
        .query(
            "SELECT learner_id, count(*), count(DISTINCT seq), coalesce(max(seq), 0)
               FROM classroom.events WHERE learner_id = ANY($1) GROUP BY learner_id",
            &[&ids],
        )
        .await
        .map_err(|e| format!("counting events: {e}"))?;
    let mut on_hub: HashMap<i64, (i64, i64, i64)> = HashMap::new();
    for r in rows {
        on_hub.insert(r.get(0), (r.get(1), r.get(2), r.get(3)));
    }
    let (mut sent, mut lost, mut duplicated, mut extra) = (0i64, 0i64, 0i64, 0i64);
    let mut expected_progress: u64 = 0;
    for (l, next) in learners.iter().zip(seqs) {
        let n = next - 1;
        sent += n;
        expected_progress += u64::from(progress_after(n));
        let (count, distinct, top) = on_hub.get(&l.id).copied().unwrap_or((0, 0, 0));
        lost += (n - distinct).max(0);
        duplicated += count - distinct;
        extra += (top - n).max(0);
    }
    duplicated += i64::try_from(shared.duplicates.load(Ordering::Relaxed)).unwrap_or(0);
    let roster = roster::fetch(owner, session)
        .await
        .map_err(|e| format!("roster: {e}"))?
        .ok_or("the session is gone")?;
    let shown: u64 = roster.rows.iter().map(|r| u64::from(progress_of(r))).sum();
    println!("\nwhat the hub holds");
    println!("  {:<36} {sent}", "events sent and acknowledged");
    println!("  {:<36} {lost}", "lost");
    println!("  {:<36} {duplicated}", "duplicated");
    if extra > 0 {
        println!("  {:<36} {extra}", "on the hub but never acknowledged");
    }
    println!(
        "  {:<36} {} (counters {shown}, events {expected_progress})",
        "roster agrees with the events",
        if shown == expected_progress {
            "yes"
        } else {
            "NO"
        }
    );
    let throttled = shared.throttled.load(Ordering::Relaxed);
    if throttled > 0 {
        println!(
            "  {:<36} {throttled} (sent again; the hub takes {} events per learner in {} s)",
            "INSERTs held back by the rate limit",
            guard::RATE_EVENTS,
            guard::RATE_WINDOW.as_secs()
        );
    }
    let errors = shared.errors.load(Ordering::Relaxed);
    if errors > 0 {
        let first = shared
            .first_error
            .lock()
            .ok()
            .and_then(|f| f.clone())
            .unwrap_or_default();
        println!(
            "  {:<36} {errors} (sent again); first: {first}",
            "failed INSERTs"
        );
    }
    Ok(())
}

// --- main --------------------------------------------------------------------------------------

async fn class(env: &BenchEnv, cfg: &Config) -> Result<(), String> {
    raise_connections(env).await?;
    let (owner, _) = connect(&hub_url()).await?;
    let t0 = Instant::now();
    let (session, learners) = join_class(&owner, cfg.learners).await?;
    println!(
        "  {} learners joined and connected in {:.1} s",
        learners.len(),
        t0.elapsed().as_secs_f64()
    );
    let shared = Arc::new(Shared {
        pending: (0..learners.len())
            .map(|_| Mutex::new(VecDeque::new()))
            .collect(),
        index: learners
            .iter()
            .enumerate()
            .map(|(i, l)| (l.id, i))
            .collect(),
        inserted: AtomicU64::new(0),
        duplicates: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        throttled: AtomicU64::new(0),
        first_error: Mutex::new(None),
    });
    let learners: Vec<Arc<Learner>> = learners.into_iter().map(Arc::new).collect();
    let mut seqs = vec![1i64; learners.len()];

    let per_batch = ((cfg.rate * cfg.flush.as_secs_f64()).round() as usize).max(1);
    let offered = cfg.learners as f64 * per_batch as f64 / cfg.flush.as_secs_f64();
    let steady = phase(
        &learners,
        &mut seqs,
        session,
        &shared,
        per_batch,
        Some(cfg.flush),
        Duration::from_secs_f64(cfg.seconds),
    )
    .await?;
    report(
        &format!(
            "steady: {} learners, {per_batch} events per INSERT every {} ms each",
            cfg.learners,
            cfg.flush.as_millis()
        ),
        &steady,
        Some(offered),
    );
    check_interrupted()?;
    if cfg.burst_seconds > 0.0 {
        let burst = phase(
            &learners,
            &mut seqs,
            session,
            &shared,
            cfg.burst_batch,
            None,
            Duration::from_secs_f64(cfg.burst_seconds),
        )
        .await?;
        report(
            &format!(
                "flat out: {} learners, {} events per INSERT, back to back",
                cfg.learners, cfg.burst_batch
            ),
            &burst,
            None,
        );
    }
    check(&owner, session, &learners, &seqs, &shared).await
}

fn run(root: &Path, cfg: &Config) -> Result<(), String> {
    let env = bench_env(root);
    let took = up_local(&env, CLUSTER, REPLICAS)?.secs;
    println!("  up took {took:.1} s");
    check_interrupted()?;
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a tokio runtime: {e}"))?;
    tokio_rt.block_on(class(&env, cfg))
}

fn main() -> ExitCode {
    let cfg = match config() {
        Ok(c) => c,
        Err(e) => return cannot_start(e),
    };
    let scratch = match scratch_dir("replica-lab-bench-classroom.") {
        Ok(d) => d,
        Err(e) => return cannot_start(e),
    };
    if let Err(e) = std::fs::create_dir(scratch.path().join("no-config")) {
        return cannot_start(format!("cannot create an empty config folder: {e}"));
    }
    catch_interrupts();
    let root = scratch.path();
    println!(
        "classroom: hub cluster {CLUSTER} (`up --runtime local --replicas {REPLICAS}`), {} CPUs, \
         scratch folder {}\n  hub at 127.0.0.1:{} (write endpoint); nodes from {NODE_BASE}; \
         {} learners, {} events/s each, sent every {} ms",
        cpu_count(),
        root.display(),
        PORTS.write,
        cfg.learners,
        cfg.rate,
        cfg.flush.as_millis()
    );
    let mut down = DownGuard::new(bench_env(root), CLUSTER, cluster_dir(root, CLUSTER));
    let result = run(root, &cfg);
    conclude(result, down.run())
}
