//! `cargo bench --bench render`: what drawing a frame costs.
//!
//! Renders a full frame of a busy main screen — 4 nodes with lag history, HAProxy rows,
//! served-by counts, events, a 3-line query, a result holding 10,000 of 1,000,000 rows, and
//! the lesson — at 200×60 into ratatui's `TestBackend`, `FRAMES` times (default 2000), after a
//! warm-up. Frames alternate between two states (the result scrolled by a row and the
//! selected node moved) so every frame has changed cells to diff and write, as a live screen
//! does. Prints mean, median, p99 and worst per frame beside the 2 ms target: wall-clock
//! time, and this thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), which leaves out the time a busy machine
//! gives to other processes in the middle of a frame.
//!
//! A report, not a test: nothing is asserted.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use replica_lab::cluster::haproxy::ServerStat;
use replica_lab::cluster::node_ops::NodeOp;
use replica_lab::cluster::status::{EndpointsView, NodeState, Role};
use replica_lab::runtime::RuntimeKind;
use replica_lab::sql::{ResultSet, Target};
use replica_lab::telemetry::model::{Event, EventKind, Lag, LagFlag, NodeTelemetry, Snapshot};
use replica_lab::tui::editor::Editor;
use replica_lab::tui::state::{ActionStatus, Focus, LessonPane, Phase, ServedBy, State, ThemeName};
use replica_lab::tui::ui::draw;

const TARGET: Duration = Duration::from_millis(2);
const T0: u64 = 1_700_000_000_000;

fn node(name: &str, role: Role, replay_bytes: i64, flags: Vec<LagFlag>) -> NodeTelemetry {
    NodeTelemetry {
        name: name.into(),
        role,
        state: NodeState::Running,
        address: format!("127.0.0.1{}", &name[2..]),
        port: 5432,
        connect: format!("127.0.0.1{}:5432", &name[2..]),
        reachable: true,
        timeline: Some(1),
        current_lsn: Some("0/3000148".into()),
        receive_lsn: Some("0/3000148".into()),
        replay_lsn: Some("0/3000148".into()),
        lag: (role == Role::Replica).then(|| Lag {
            sent_bytes: 0,
            write_bytes: 0,
            flush_bytes: 0,
            replay_bytes,
            write_ms: Some(0.4),
            flush_ms: Some(0.6),
            replay_ms: Some(0.7),
            reply_age_ms: Some(120.0),
            replay_paused: flags.contains(&LagFlag::ReplayPaused),
            streaming: true,
        }),
        slot: None,
        sync_state: Some("async".into()),
        flags,
        poll_ms: Some(1.5),
        error: None,
    }
}

fn stat(backend: &str, server: &str, status: &str, sessions: u64) -> ServerStat {
    ServerStat {
        backend: backend.into(),
        server: server.into(),
        status: status.into(),
        check_status: "L7OK".into(),
        check_duration_ms: Some(2),
        current_sessions: sessions,
        total_sessions: sessions * 10,
        last_change_s: Some(30),
    }
}

fn busy() -> State {
    let lesson = LessonPane {
        title: "1 · Streaming replication".into(),
        text: "# Streaming replication\n\nThe **primary** writes every change to its WAL \
               first; each replica receives it and replays it. `pg_stat_replication` shows \
               one row per replica.\n\n## Try it\n- Pause replay on a replica with \
               `SELECT pg_wal_replay_pause();` and watch *behind* grow.\n\n```\nSELECT \
               pg_last_wal_replay_lsn();\n```\n"
            .repeat(4),
        scroll: 0,
    };
    let mut s = State::new("lab".into(), lesson, ThemeName::Dark);
    s.phase = Phase::Running;
    s.focus = Focus::Nodes;
    s.console.editor = Editor::from_text(
        "SELECT g AS id, md5(g::text) AS hash, g % 7 AS bucket\n  FROM generate_series(1, 1000000) g\n ORDER BY g; -- capped",
    );
    s.console.target = Target::Read;
    s.console.timing = true;
    s.console.output.results = vec![ResultSet {
        columns: ["id", "hash", "bucket", "at"].map(String::from).to_vec(),
        rows: (1..=10_000u64)
            .map(|g| {
                vec![
                    Some(g.to_string()),
                    Some(format!(
                        "{:016x}{:016x}",
                        g.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                        g
                    )),
                    Some((g % 7).to_string()),
                    Some("2023-11-14 22:14:03.123456+00".into()),
                ]
            })
            .collect(),
        total_rows: 1_000_000,
        tag: Some("SELECT 1000000".into()),
    }];
    s.console.output.served_by = Some(ServedBy {
        node: Some("pg2".into()),
        address: "127.0.0.12".into(),
        role: Some("replica".into()),
    });
    s.console.output.elapsed = Some(Duration::from_millis(840));
    let events = (0..40)
        .map(|i| Event {
            at_ms: T0 + i * 1_000,
            kind: [
                EventKind::NodeUp,
                EventKind::StreamingStarted,
                EventKind::ProxyTransition,
            ][(i % 3) as usize],
            node: format!("pg{}", 1 + i % 4),
            detail: "read/pg3 UP → DOWN after 3 failed checks".into(),
        })
        .collect();
    s.dash.snapshot = Some(Arc::new(Snapshot {
        name: "lab".into(),
        runtime: RuntimeKind::Docker,
        endpoints: EndpointsView {
            write: "127.0.0.1:5435".into(),
            read: "127.0.0.1:5436".into(),
            stats: "127.0.0.1:8404".into(),
        },
        taken_at_ms: T0,
        seq: 1,
        nodes: vec![
            node("pg1", Role::Primary, 0, Vec::new()),
            node("pg2", Role::Replica, 0, Vec::new()),
            node("pg3", Role::Replica, 1_572_864, vec![LagFlag::ReplayPaused]),
            node("pg4", Role::Replica, 4_096, vec![LagFlag::ReceiverSilent]),
        ],
        haproxy: ["write", "read"]
            .iter()
            .flat_map(|b| {
                (1..=4).map(move |i| {
                    let up = (*b == "write") == (i == 1);
                    stat(b, &format!("pg{i}"), if up { "UP" } else { "DOWN" }, i)
                })
            })
            .collect(),
        events,
    }));
    s.dash.replay_history = (1..=4)
        .map(|i| {
            let h: Vec<u64> = (0..120u64).map(|k| (k * 4_096 * i) % 1_600_000).collect();
            (format!("pg{i}"), h)
        })
        .collect();
    s.dash.served_by = Some(BTreeMap::from([
        ("pg2".to_string(), 34),
        ("pg3".to_string(), 33),
        ("pg4".to_string(), 33),
    ]));
    s.dash.action = Some(ActionStatus {
        op: NodeOp::Pause,
        node: "pg3".into(),
        outcome: Some(Ok("pg3 is paused: its connections hang".into())),
    });
    s
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// CPU time this thread has used, to the nanosecond.
fn thread_cpu() -> Duration {
    let mut ts = nix::libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    if unsafe { nix::libc::clock_gettime(nix::libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

struct Stats {
    mean: Duration,
    median: Duration,
    p99: Duration,
    worst: Duration,
}

fn stats(mut times: Vec<Duration>) -> Stats {
    times.sort();
    let n = times.len().max(1);
    let total: Duration = times.iter().sum();
    let at = |i: usize| times.get(i.min(n - 1)).copied().unwrap_or_default();
    Stats {
        mean: total / u32::try_from(n).unwrap_or(u32::MAX),
        median: at(n / 2),
        p99: at(n * 99 / 100),
        worst: at(n - 1),
    }
}

fn report(what: &str, s: &Stats) {
    let verdict = |d: Duration| if d <= TARGET { "under" } else { "OVER" };
    println!("  {what}");
    for (name, d) in [("mean", s.mean), ("median", s.median), ("p99", s.p99)] {
        println!(
            "    {name:<6} {:7.3} ms   ({} the {} ms target)",
            ms(d),
            verdict(d),
            ms(TARGET)
        );
    }
    println!("    worst  {:7.3} ms", ms(s.worst));
}

fn main() {
    let frames: usize = std::env::var("FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let a = busy();
    let mut b = a.clone();
    b.console.output.scroll_row = 1;
    b.dash.selected = 3;
    let states = [a, b];

    let mut term = match Terminal::new(TestBackend::new(200, 60)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("no test terminal: {e}");
            return;
        }
    };
    let mut frame = |i: usize| {
        let state = black_box(&states[i % 2]);
        let cpu = thread_cpu();
        let started = Instant::now();
        let _ = term.draw(|f| draw(f, state));
        (started.elapsed(), thread_cpu().saturating_sub(cpu))
    };
    for i in 0..200 {
        frame(i);
    }
    let (wall, cpu): (Vec<Duration>, Vec<Duration>) = (0..frames).map(&mut frame).unzip();
    println!("render: busy main screen at 200×60, TestBackend, {frames} frames");
    report("wall clock per frame", &stats(wall));
    report("thread CPU time per frame", &stats(cpu));
}
