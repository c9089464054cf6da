//! The screen, as text: hand-built states rendered into a test terminal at 80×24 and 160×48.
//! Every fixture uses fixed times, addresses and LSNs, so the snapshots are stable.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Position;
use ratatui::style::{Color, Modifier};
use ratatui::text::Span;

use replica_lab::cluster::haproxy::ServerStat;
use replica_lab::cluster::node_ops::NodeOp;
use replica_lab::cluster::status::{EndpointsView, NodeState, Role};
use replica_lab::runtime::RuntimeKind;
use replica_lab::runtime::docker::engine::PullProgress;
use replica_lab::sql::{Notice, ResultSet, SqlError, Target, TxState};
use replica_lab::telemetry::model::{
    Event, EventKind, Lag, LagFlag, NodeTelemetry, SlotInfo, Snapshot,
};
use replica_lab::tui::editor::Editor;
use replica_lab::tui::state::{
    ActionStatus, Confirm, Focus, LessonPane, Output, Overlay, Phase, ServedBy, StartupStep, State,
    ThemeName,
};
use replica_lab::tui::ui::draw;

/// 2023-11-14 22:13:20 UTC.
const T0: u64 = 1_700_000_000_000;

const LESSON: &str = "\
# Streaming replication

The **primary** writes every change to its WAL first. Each replica connects to it, \
receives that WAL and replays it: `pg_stat_replication` on the primary shows one row \
per replica.

## Try it
- Run `SELECT * FROM pg_stat_replication;` against the write endpoint (F6 → write).
- Pause replay on a replica and watch its *behind* column grow.

```
SELECT pg_wal_replay_pause();
```

Reads through the read endpoint go round-robin over the replicas: press F7 for a \
fresh connection per run and watch the served-by badge change.";

fn replica(name: &str, n: u8, replay_bytes: i64, flags: Vec<LagFlag>) -> NodeTelemetry {
    NodeTelemetry {
        name: name.into(),
        role: Role::Replica,
        state: NodeState::Running,
        address: format!("127.0.0.1{n}"),
        port: 5432,
        connect: format!("127.0.0.1{n}:5432"),
        reachable: true,
        timeline: Some(1),
        current_lsn: None,
        receive_lsn: Some("0/3000148".into()),
        replay_lsn: Some("0/3000148".into()),
        lag: Some(Lag {
            sent_bytes: 0,
            write_bytes: 0,
            flush_bytes: 0,
            replay_bytes,
            write_ms: Some(0.4),
            flush_ms: Some(0.6),
            replay_ms: Some(0.7),
            reply_age_ms: Some(120.0),
            replay_paused: flags.contains(&LagFlag::ReplayPaused),
            streaming: !flags.contains(&LagFlag::NotStreaming),
        }),
        slot: Some(SlotInfo {
            name: format!("{name}_slot"),
            active: true,
            retained_bytes: Some(replay_bytes),
        }),
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

fn event(secs: u64, kind: EventKind, node: &str, detail: &str) -> Event {
    Event {
        at_ms: T0 + secs * 1000,
        kind,
        node: node.into(),
        detail: detail.into(),
    }
}

fn snapshot() -> Snapshot {
    let primary = NodeTelemetry {
        name: "pg1".into(),
        role: Role::Primary,
        state: NodeState::Running,
        address: "127.0.0.11".into(),
        port: 5432,
        connect: "127.0.0.11:5432".into(),
        reachable: true,
        timeline: Some(1),
        current_lsn: Some("0/3000148".into()),
        receive_lsn: None,
        replay_lsn: None,
        lag: None,
        slot: None,
        sync_state: None,
        flags: Vec::new(),
        poll_ms: Some(1.1),
        error: None,
    };
    let mut pg4 = replica("pg4", 4, 0, vec![LagFlag::NotStreaming]);
    pg4.state = NodeState::Stopped;
    pg4.reachable = false;
    pg4.lag = None;
    pg4.error = Some("connection refused".into());
    Snapshot {
        name: "lab".into(),
        runtime: RuntimeKind::Docker,
        endpoints: EndpointsView {
            write: "127.0.0.1:5435".into(),
            read: "127.0.0.1:5436".into(),
            stats: "127.0.0.1:8404".into(),
        },
        taken_at_ms: T0 + 60_000,
        seq: 42,
        nodes: vec![
            primary,
            replica("pg2", 2, 0, Vec::new()),
            replica("pg3", 3, 1_572_864, vec![LagFlag::ReplayPaused]),
            pg4,
        ],
        haproxy: vec![
            stat("write", "pg1", "UP", 1),
            stat("write", "pg2", "DOWN", 0),
            stat("write", "pg3", "DOWN", 0),
            stat("write", "pg4", "DOWN", 0),
            stat("read", "pg1", "DOWN", 0),
            stat("read", "pg2", "UP", 3),
            stat("read", "pg3", "UP", 2),
            stat("read", "pg4", "MAINT", 0),
        ],
        events: vec![
            event(0, EventKind::NodeUp, "pg1", "running as primary"),
            event(2, EventKind::StreamingStarted, "pg2", "streaming from pg1"),
            event(2, EventKind::StreamingStarted, "pg3", "streaming from pg1"),
            event(3, EventKind::StreamingStarted, "pg4", "streaming from pg1"),
            event(41, EventKind::NodeDown, "pg4", "killed: the server is gone"),
            event(
                41,
                EventKind::StreamingStopped,
                "pg4",
                "no walsender for pg4",
            ),
            event(43, EventKind::ProxyTransition, "pg4", "read/pg4 UP → MAINT"),
        ],
    }
}

fn result(columns: &[&str], rows: &[&[Option<&str>]]) -> ResultSet {
    ResultSet {
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows: rows
            .iter()
            .map(|r| r.iter().map(|v| v.map(str::to_string)).collect())
            .collect(),
        total_rows: rows.len() as u64,
        tag: Some(format!("SELECT {}", rows.len())),
    }
}

/// A cluster at work: 4 nodes, one replica paused and behind, one stopped, a query answered
/// by a replica, served-by counts, events and a finished node action.
fn busy() -> State {
    let lesson = LessonPane {
        title: "1 · Streaming replication".into(),
        text: LESSON.into(),
        scroll: 0,
    };
    let mut s = State::new("lab".into(), lesson, ThemeName::Dark);
    s.phase = Phase::Running;
    s.focus = Focus::Editor;
    let c = &mut s.console;
    c.editor = Editor::from_text(
        "SELECT name, setting\n  FROM pg_settings\n WHERE name LIKE 'hot_standby%'; -- 2 rows",
    );
    c.target = Target::Read;
    c.timing = true;
    c.history = vec![
        "SELECT 1;".into(),
        "SELECT * FROM pg_stat_replication;".into(),
        "INSERT INTO t VALUES (1);".into(),
        "SELECT pg_is_in_recovery(),\n       inet_server_addr();".into(),
        "SELECT name, setting FROM pg_settings;".into(),
    ];
    c.output = Output {
        preview: false,
        results: vec![result(
            &["name", "setting", "unit"],
            &[
                &[Some("hot_standby"), Some("on"), None],
                &[Some("hot_standby_feedback"), Some("off"), None],
                &[
                    Some("max_standby_streaming_delay"),
                    Some("30000"),
                    Some("ms"),
                ],
            ],
        )],
        notices: Vec::new(),
        error: None,
        served_by: Some(ServedBy {
            node: Some("pg2".into()),
            address: "127.0.0.12".into(),
            role: Some("replica".into()),
        }),
        elapsed: Some(Duration::from_micros(3_240)),
        info: None,
        scroll_row: 0,
        scroll_col: 0,
    };
    let d = &mut s.dash;
    d.snapshot = Some(Arc::new(snapshot()));
    d.replay_history = BTreeMap::from([
        ("pg1".to_string(), Vec::new()),
        ("pg2".to_string(), vec![0, 0, 0, 4096, 0, 0, 0, 0, 0, 0]),
        (
            "pg3".to_string(),
            vec![
                0, 0, 0, 8_192, 65_536, 262_144, 524_288, 786_432, 1_048_576, 1_572_864,
            ],
        ),
        ("pg4".to_string(), vec![0, 0, 0, 0, 0]),
    ]);
    d.served_by = Some(BTreeMap::from([
        ("pg2".to_string(), 10),
        ("pg3".to_string(), 10),
    ]));
    d.action = Some(ActionStatus {
        op: NodeOp::Kill,
        node: "pg4".into(),
        outcome: Some(Ok("pg4 is down; HAProxy stops sending it reads".into())),
    });
    s
}

/// The same cluster after a bad statement inside a transaction.
fn with_error() -> State {
    let mut s = busy();
    s.focus = Focus::Results;
    let c = &mut s.console;
    c.editor = Editor::from_text("BEGIN;\nINSERT INTO accounts VALUES (1, 'ann');");
    c.target = Target::Write;
    c.fresh = false;
    c.tx = TxState::Failed;
    c.output = Output {
        preview: false,
        results: vec![ResultSet {
            columns: Vec::new(),
            rows: Vec::new(),
            total_rows: 0,
            tag: Some("BEGIN".into()),
        }],
        notices: vec![Notice {
            severity: "NOTICE".into(),
            message: "table \"accounts\" is not replicated by logical publications".into(),
        }],
        error: Some(SqlError {
            sqlstate: Some("42P01".into()),
            severity: Some("ERROR".into()),
            message: "relation \"accounts\" does not exist".into(),
            detail: Some("No table of that name in schema \"public\".".into()),
            hint: Some(
                "Create it through the write endpoint: it reaches the replicas by WAL.".into(),
            ),
            position: Some(13),
        }),
        served_by: Some(ServedBy {
            node: Some("pg1".into()),
            address: "127.0.0.11".into(),
            role: Some("primary".into()),
        }),
        elapsed: Some(Duration::from_millis(12)),
        info: None,
        scroll_row: 0,
        scroll_col: 0,
    };
    s
}

/// `\x` on: one `column │ value` line per field, scrolled to the second record.
fn expanded() -> State {
    let mut s = busy();
    s.focus = Focus::Results;
    s.console.expanded = true;
    s.console.editor = Editor::from_text("SELECT * FROM pg_stat_replication;");
    s.console.target = Target::Node("pg1".into());
    s.console.fresh = true;
    s.console.output.results = vec![result(
        &[
            "application_name",
            "client_addr",
            "state",
            "sync_state",
            "replay_lag",
        ],
        &[
            &[
                Some("pg2"),
                Some("127.0.0.12"),
                Some("streaming"),
                Some("async"),
                Some("00:00:00.0007"),
            ],
            &[
                Some("pg3"),
                Some("127.0.0.13"),
                Some("streaming"),
                Some("async"),
                None,
            ],
            &[
                Some("pg4"),
                Some("127.0.0.14"),
                Some("catchup"),
                Some("async"),
                None,
            ],
        ],
    )];
    s.console.output.scroll_row = 1;
    s.console.output.served_by = Some(ServedBy {
        node: Some("pg1".into()),
        address: "127.0.0.11".into(),
        role: Some("primary".into()),
    });
    s
}

/// A capped result: 10,000 of 1,000,000 rows kept, scrolled down and right; the nodes pane
/// has the focus with pg3 selected.
fn big_result() -> State {
    let mut s = busy();
    s.focus = Focus::Nodes;
    s.dash.selected = 2;
    s.console.timing = false;
    s.console.editor = Editor::from_text(
        "SELECT g AS id, md5(g::text) AS hash, g % 7 AS bucket,\n       now() AS at, NULL AS nothing, 'x' AS tail\n  FROM generate_series(1, 1000000) g;",
    );
    let rows: Vec<Vec<Option<String>>> = (1..=10_000u64)
        .map(|g| {
            vec![
                Some(g.to_string()),
                Some(format!(
                    "{:016x}{:016x}",
                    g.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                    g.wrapping_mul(0xc2b2_ae3d_27d4_eb4f)
                )),
                Some((g % 7).to_string()),
                Some("2023-11-14 22:14:03.123456+00".into()),
                None,
                Some("x".into()),
            ]
        })
        .collect();
    s.console.output.results = vec![ResultSet {
        columns: ["id", "hash", "bucket", "at", "nothing", "tail"]
            .map(String::from)
            .to_vec(),
        rows,
        total_rows: 1_000_000,
        tag: Some("SELECT 1000000".into()),
    }];
    s.console.output.scroll_row = 20;
    s.console.output.scroll_col = 1;
    s
}

/// Everything in flight: a query running, a transaction open, served-by sampling, a node
/// action running, and an informational line.
fn in_flight() -> State {
    let mut s = busy();
    s.console.running = Some(7);
    s.console.tx = TxState::InTransaction;
    s.console.fresh = true;
    s.console.output.info = Some("cancel requested: waiting for the server".into());
    s.dash.served_by_running = true;
    s.dash.action = Some(ActionStatus {
        op: NodeOp::Promote,
        node: "pg2".into(),
        outcome: None,
    });
    s
}

/// The app just started: no snapshot yet, nothing typed, nothing run.
fn waiting() -> State {
    let mut s = State::new(
        "lab".into(),
        LessonPane {
            title: String::new(),
            text: "# Welcome\nPress Tab to move between panes.".into(),
            scroll: 0,
        },
        ThemeName::Dark,
    );
    s.phase = Phase::Running;
    s
}

fn starting() -> State {
    let mut s = busy();
    s.phase = Phase::Starting {
        steps: vec![
            StartupStep {
                name: "check the Docker engine".into(),
                took: Some(Duration::from_millis(41)),
            },
            StartupStep {
                name: "create network replica-lab-lab".into(),
                took: Some(Duration::from_millis(180)),
            },
            StartupStep {
                name: "pull image postgres:17-alpine".into(),
                took: None,
            },
        ],
        notes: vec![
            "first run: the image is pulled once and then kept".into(),
            "HAProxy listens on 127.0.0.1:5435 (write), :5436 (read) and :8404 (stats)".into(),
        ],
        pull: Some(PullProgress {
            image: "postgres:17-alpine".into(),
            layers_done: 3,
            layers: 8,
            bytes_done: 47_396_864,
            bytes_total: 110_100_480,
        }),
        error: None,
    };
    s
}

fn starting_failed() -> State {
    let mut s = busy();
    s.phase = Phase::Starting {
        steps: vec![
            StartupStep {
                name: "check the Docker engine".into(),
                took: Some(Duration::from_millis(41)),
            },
            StartupStep {
                name: "create network replica-lab-lab".into(),
                took: Some(Duration::from_millis(180)),
            },
            StartupStep {
                name: "start pg1 (primary)".into(),
                took: Some(Duration::from_millis(2_310)),
            },
            StartupStep {
                name: "start HAProxy".into(),
                took: None,
            },
        ],
        notes: Vec::new(),
        pull: None,
        error: Some(
            "port 127.0.0.1:5435 is already in use, so HAProxy cannot listen for writes. \
             Stop whatever uses it (`ss -ltnp 'sport = :5435'`) or choose other ports with \
             --write-port and --read-port, then start again."
                .into(),
        ),
    };
    s
}

fn with_overlay(mut s: State, o: Overlay) -> State {
    s.overlay = o;
    s
}

fn terminal(state: &State, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("a test terminal");
    term.draw(|f| draw(f, state)).expect("drawing never fails");
    term
}

/// The buffer as text, one line per row, trailing blanks trimmed.
fn text(buf: &Buffer) -> String {
    let w = usize::from(buf.area.width);
    let mut out = String::new();
    if w == 0 {
        return out;
    }
    for row in buf.content.chunks(w) {
        let mut line = String::new();
        let mut skip = 0;
        for cell in row {
            // A wide character covers the cells after it; they hold no text of their own.
            if skip == 0 {
                line.push_str(cell.symbol());
            }
            let w = Span::raw(cell.symbol()).width().max(1);
            skip = skip.max(w).saturating_sub(1);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn screen(state: &State, w: u16, h: u16) -> String {
    text(terminal(state, w, h).backend().buffer())
}

macro_rules! snap {
    ($name:ident, $state:expr, $w:expr, $h:expr) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(screen(&$state, $w, $h));
        }
    };
}

snap!(busy_80x24, busy(), 80, 24);
snap!(busy_160x48, busy(), 160, 48);
snap!(error_80x24, with_error(), 80, 24);
snap!(error_160x48, with_error(), 160, 48);
snap!(expanded_80x24, expanded(), 80, 24);
snap!(expanded_160x48, expanded(), 160, 48);
snap!(big_result_80x24, big_result(), 80, 24);
snap!(big_result_120x32, big_result(), 120, 32);
snap!(big_result_160x48, big_result(), 160, 48);
snap!(in_flight_80x24, in_flight(), 80, 24);
snap!(in_flight_160x48, in_flight(), 160, 48);
snap!(waiting_80x24, waiting(), 80, 24);
snap!(starting_80x24, starting(), 80, 24);
snap!(starting_160x48, starting(), 160, 48);
snap!(starting_failed_80x24, starting_failed(), 80, 24);
snap!(starting_failed_160x48, starting_failed(), 160, 48);
snap!(help_80x24, with_overlay(busy(), Overlay::Help), 80, 24);
snap!(help_160x48, with_overlay(busy(), Overlay::Help), 160, 48);
snap!(
    confirm_80x24,
    with_overlay(
        big_result(),
        Overlay::Confirm(Confirm {
            op: NodeOp::Kill,
            node: "pg1".into()
        })
    ),
    80,
    24
);
snap!(
    confirm_160x48,
    with_overlay(
        big_result(),
        Overlay::Confirm(Confirm {
            op: NodeOp::Promote,
            node: "pg3".into()
        })
    ),
    160,
    48
);
snap!(
    history_80x24,
    with_overlay(
        busy(),
        Overlay::HistorySearch {
            query: "select".into(),
            selected: 1
        }
    ),
    80,
    24
);

fn all_fixtures() -> Vec<State> {
    let mut all = vec![
        busy(),
        with_error(),
        expanded(),
        big_result(),
        in_flight(),
        waiting(),
        starting(),
        starting_failed(),
    ];
    let overlays = [
        Overlay::Help,
        Overlay::Confirm(Confirm {
            op: NodeOp::Stop,
            node: "pg1".into(),
        }),
        Overlay::HistorySearch {
            query: "zzz".into(),
            selected: 9,
        },
        Overlay::HistorySearch {
            query: String::new(),
            selected: 99,
        },
    ];
    for o in overlays {
        all.push(with_overlay(busy(), o.clone()));
        all.push(with_overlay(starting_failed(), o));
    }
    all
}

#[test]
fn tiny_and_odd_sizes_do_not_panic() {
    let fixtures = all_fixtures();
    let mut sizes = vec![
        (0, 0),
        (0, 10),
        (10, 0),
        (1, 1),
        (20, 5),
        (2, 2),
        (3, 40),
        (200, 3),
    ];
    for w in [4, 9, 17, 31, 45, 62, 79] {
        for h in [3, 6, 11, 17, 23] {
            sizes.push((w, h));
        }
    }
    sizes.extend([
        (79, 23),
        (139, 40),
        (140, 40),
        (141, 20),
        (300, 100),
        (80, 60),
    ]);
    for s in &fixtures {
        for &(w, h) in &sizes {
            terminal(s, w, h);
        }
    }
}

#[test]
fn empty_and_odd_data_do_not_panic() {
    let mut s = busy();
    let snap = Arc::make_mut(s.dash.snapshot.as_mut().expect("fixture has a snapshot"));
    snap.nodes.clear();
    snap.haproxy.clear();
    snap.events.clear();
    s.dash.selected = 40;
    s.dash.served_by = Some(BTreeMap::new());
    s.console.output.results = vec![ResultSet {
        columns: vec![String::new()],
        rows: Vec::new(),
        total_rows: 0,
        tag: None,
    }];
    s.console.output.scroll_row = usize::MAX;
    s.console.output.scroll_col = usize::MAX;
    s.console.editor = Editor::from_text(&"x".repeat(3_000));
    s.lesson.scroll = u16::MAX;
    for (w, h) in [(80, 24), (160, 48), (20, 5)] {
        terminal(&s, w, h);
        s.console.expanded = !s.console.expanded;
        terminal(&s, w, h);
    }
}

#[test]
fn the_cursor_is_in_the_editor_only_when_it_has_the_focus() {
    let s = busy();
    let mut term = terminal(&s, 80, 24);
    // The query's last line is ` WHERE name LIKE 'hot_standby%'; -- 2 rows` (42 characters);
    // the editor's text starts one cell inside its border.
    let pos = term.get_cursor_position().expect("a cursor position");
    let screen = text(term.backend().buffer());
    let row: Vec<&str> = screen.lines().collect();
    let line = row[usize::from(pos.y)];
    assert!(line.contains("WHERE name LIKE"), "cursor row: {line:?}");
    let editor_left = line.find("WHERE").expect("the row shows the query") - 1;
    let chars_before: usize = line[..editor_left].chars().count();
    assert_eq!(usize::from(pos.x), chars_before + 42, "{screen}");

    let mut other = busy();
    other.focus = Focus::Nodes;
    let mut term = terminal(&other, 80, 24);
    term.draw(|f| draw(f, &other)).expect("draws");
    assert!(!term.backend().cursor_visible() || term.get_cursor_position().ok() != Some(pos));
}

#[test]
fn the_focused_pane_has_the_highlighted_border() {
    let s = busy();
    let term = terminal(&s, 160, 48);
    let buf = term.backend().buffer();
    let screen = text(buf);
    // Thick corners belong to the focused editor only.
    assert_eq!(screen.matches('┏').count(), 1, "{screen}");
    let y = screen
        .lines()
        .position(|l| l.contains("┏"))
        .expect("a focused pane");
    let x = screen
        .lines()
        .nth(y)
        .and_then(|l| l.find('┏'))
        .expect("corner");
    let x = screen
        .lines()
        .nth(y)
        .map(|l| l[..x].chars().count())
        .unwrap_or(0);
    let cell = &buf[(u16::try_from(x).unwrap_or(0), u16::try_from(y).unwrap_or(0))];
    assert_eq!(cell.fg, Color::Cyan);
    assert!(cell.modifier.contains(Modifier::BOLD));
}

#[test]
fn mono_uses_no_colour_at_all() {
    for mut s in all_fixtures() {
        s.theme = ThemeName::Mono;
        for (w, h) in [(80, 24), (160, 48)] {
            let term = terminal(&s, w, h);
            let buf = term.backend().buffer();
            for y in 0..h {
                for x in 0..w {
                    let c = &buf[(x, y)];
                    assert_eq!(
                        (c.fg, c.bg),
                        (Color::Reset, Color::Reset),
                        "cell ({x},{y}) {:?} at {w}×{h}",
                        c.symbol()
                    );
                }
            }
        }
    }
}

#[test]
fn every_theme_draws_the_same_text() {
    let base = screen(&busy(), 160, 48);
    for theme in [ThemeName::Light, ThemeName::Mono] {
        let mut s = busy();
        s.theme = theme;
        assert_eq!(screen(&s, 160, 48), base, "{theme:?}");
    }
}

#[test]
fn history_search_shows_the_cursor_in_its_query() {
    let s = with_overlay(
        busy(),
        Overlay::HistorySearch {
            query: "pg_".into(),
            selected: 0,
        },
    );
    let mut term = terminal(&s, 80, 24);
    let pos = term.get_cursor_position().expect("a cursor");
    let screen = text(term.backend().buffer());
    let line = screen.lines().nth(usize::from(pos.y)).unwrap_or_default();
    assert!(line.contains("search: pg_"), "{line:?}");
    assert_ne!(pos, Position::new(0, 0));
}

#[test]
fn the_selected_node_is_highlighted_when_the_nodes_pane_has_the_focus() {
    let row_bg = |s: &State| {
        let term = terminal(s, 160, 48);
        let buf = term.backend().buffer();
        let screen = text(buf);
        let y = screen
            .lines()
            .position(|l| l.contains("pg3  replica"))
            .expect("the nodes table lists pg3");
        let line = screen.lines().nth(y).unwrap_or_default();
        let x = line[..line.find("pg3  replica").unwrap_or(0)]
            .chars()
            .count();
        buf[(u16::try_from(x).unwrap_or(0), u16::try_from(y).unwrap_or(0))].bg
    };
    let focused = big_result();
    assert_eq!(focused.dash.selected, 2);
    assert_ne!(row_bg(&focused), Color::Reset, "pg3 is highlighted");
    let mut unfocused = big_result();
    unfocused.focus = Focus::Editor;
    assert_eq!(
        row_bg(&unfocused),
        Color::Reset,
        "no highlight without the focus"
    );
}
