//! `update` driven by messages, as the app drives it.
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::cluster::state::RuntimeKind;
use crate::cluster::status::{EndpointsView, NodeState, Role};
use crate::sql::history::search;
use crate::sql::meta;
use crate::sql::{ResultSet, TxState};
use crate::telemetry::model::{NodeTelemetry, ProxyView, Snapshot};
use crate::tui::state::{LessonPane, ThemeName};

/// A running node that answered, as telemetry shows it (the tutorial's tests use it too).
pub(crate) fn node(name: &str, role: Role, address: &str) -> NodeTelemetry {
    NodeTelemetry {
        name: name.into(),
        role,
        state: NodeState::Running,
        address: address.into(),
        port: 5432,
        connect: String::new(),
        reachable: true,
        timeline: Some(1),
        current_lsn: None,
        receive_lsn: None,
        replay_lsn: None,
        lag: None,
        slot: None,
        sync_state: None,
        flags: vec![],
        fence: None,
        poll_ms: Some(1.0),
        error: None,
    }
}

fn running() -> State {
    let mut s = State::new(
        "t".into(),
        LessonPane {
            title: String::new(),
            text: String::new(),
            scroll: 0,
        },
        ThemeName::Mono,
    );
    s.phase = Phase::Running;
    let snap = Snapshot {
        name: "t".into(),
        runtime: RuntimeKind::Local,
        endpoints: EndpointsView {
            write: String::new(),
            read: String::new(),
            stats: String::new(),
        },
        taken_at_ms: 0,
        seq: 1,
        nodes: vec![
            node("pg1", Role::Primary, "127.0.0.11"),
            node("pg2", Role::Replica, "127.0.0.12"),
        ],
        haproxy: ProxyView::up(vec![]),
        events: vec![],
    };
    let keys = Keymap::default();
    update(&mut s, &keys, Msg::Snapshot(Arc::new(snap)));
    s
}

fn press(s: &mut State, code: KeyCode) -> Vec<Effect> {
    update(
        s,
        &Keymap::default(),
        Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)),
    )
}

fn ctrl(s: &mut State, c: char) -> Vec<Effect> {
    update(
        s,
        &Keymap::default(),
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)),
    )
}

fn type_text(s: &mut State, text: &str) {
    for c in text.chars() {
        press(s, KeyCode::Char(c));
    }
}

fn finished(id: u64, served_by: &str) -> Msg {
    Msg::Sql(SqlEvent::Finished {
        id,
        served_by: Some(served_by.into()),
        elapsed: Duration::from_millis(3),
        tx: TxState::Idle,
        error: None,
    })
}

#[test]
fn f5_runs_the_editor_and_the_answer_carries_a_badge() {
    let mut s = running();
    type_text(&mut s, "SELECT 1;");
    let effects = press(&mut s, KeyCode::F(5));
    assert_eq!(
        effects,
        [
            Effect::RunSql {
                id: 1,
                target: Target::Write,
                text: "SELECT 1;".into(),
                fresh: false,
                reconnect: false
            },
            Effect::SaveHistory("SELECT 1;".into())
        ]
    );
    assert_eq!(s.console.running, Some(1));
    assert_eq!(s.console.history, ["SELECT 1;"]);
    // A second F5 while running does nothing.
    assert!(press(&mut s, KeyCode::F(5)).is_empty());
    let keys = Keymap::default();
    let result = ResultSet {
        columns: vec!["?column?".into()],
        rows: vec![vec![Some("1".into())]],
        total_rows: 1,
        tag: Some("SELECT 1".into()),
    };
    update(
        &mut s,
        &keys,
        Msg::Sql(SqlEvent::Result {
            id: 1,
            result: result.clone(),
        }),
    );
    // A stale answer to an older run is dropped.
    update(&mut s, &keys, finished(0, "127.0.0.12"));
    assert_eq!(s.console.running, Some(1));
    update(&mut s, &keys, finished(1, "127.0.0.11"));
    assert_eq!(s.console.running, None);
    assert_eq!(s.console.output.results, [result]);
    let badge = s.console.output.served_by.clone().expect("badge");
    assert_eq!(badge.node.as_deref(), Some("pg1"));
    assert_eq!(badge.role.as_deref(), Some("primary"));
}

#[test]
fn a_badge_whose_address_telemetry_did_not_know_yet_is_named_by_the_next_snapshot() {
    let mut s = running();
    type_text(&mut s, "SELECT 1;");
    press(&mut s, KeyCode::F(5));
    let keys = Keymap::default();
    update(&mut s, &keys, finished(1, "127.0.0.13"));
    let badge = s.console.output.served_by.clone().expect("badge");
    assert_eq!(badge.node, None, "no node has that address yet");
    let mut snap = (**s.dash.snapshot.as_ref().expect("snapshot")).clone();
    snap.seq += 1;
    snap.nodes.push(node("pg3", Role::Replica, "127.0.0.13"));
    update(&mut s, &keys, Msg::Snapshot(Arc::new(snap)));
    let badge = s.console.output.served_by.clone().expect("badge");
    assert_eq!(badge.node.as_deref(), Some("pg3"));
    assert_eq!(badge.role.as_deref(), Some("replica"));
}

#[test]
fn a_run_on_a_node_the_cluster_lost_ends_with_an_error_instead_of_waiting() {
    let mut s = running();
    s.console.target = Target::Node("pg9".into());
    type_text(&mut s, "SELECT 1;");
    press(&mut s, KeyCode::F(5));
    assert_eq!(s.console.running, Some(1));
    let ended = crate::tui::effects::no_such_target(1, &Target::Node("pg9".into()));
    update(&mut s, &Keymap::default(), Msg::Sql(ended));
    assert_eq!(s.console.running, None);
    let error = s.console.output.error.clone().expect("an error");
    assert_eq!(error.message, "the cluster has no node pg9 now");
    assert_eq!(error.hint.as_deref(), Some("pick another target with F6"));
}

#[test]
fn previews_of_a_long_result_are_replaced_by_it() {
    let mut s = running();
    type_text(&mut s, "SELECT generate_series(1, 1000000);");
    press(&mut s, KeyCode::F(5));
    let keys = Keymap::default();
    let rows = |n: usize, total: u64| ResultSet {
        columns: vec!["n".into()],
        rows: vec![vec![Some("1".into())]; n],
        total_rows: total,
        tag: None,
    };
    update(
        &mut s,
        &keys,
        Msg::Sql(SqlEvent::Preview {
            id: 1,
            result: rows(200, 200),
        }),
    );
    assert_eq!(s.console.output.results.len(), 1);
    assert!(s.console.output.preview);
    update(
        &mut s,
        &keys,
        Msg::Sql(SqlEvent::Preview {
            id: 1,
            result: rows(10_000, 10_000),
        }),
    );
    update(
        &mut s,
        &keys,
        Msg::Sql(SqlEvent::Result {
            id: 1,
            result: rows(10_000, 1_000_000),
        }),
    );
    assert_eq!(s.console.output.results.len(), 1);
    assert_eq!(s.console.output.results[0].total_rows, 1_000_000);
    assert!(!s.console.output.preview);
}

#[test]
fn backslash_commands_change_the_console_without_sql() {
    let mut s = running();
    type_text(&mut s, "\\x");
    assert_eq!(
        press(&mut s, KeyCode::F(5)),
        [Effect::SaveHistory("\\x".into())]
    );
    assert!(s.console.expanded);
    assert_eq!(s.console.running, None);
    ctrl(&mut s, 'l');
    type_text(&mut s, "\\dt");
    let effects = press(&mut s, KeyCode::F(5));
    assert!(
        matches!(&effects[0], Effect::RunSql { text, .. } if text.contains("pg_catalog")),
        "{effects:?}"
    );
}

#[test]
fn connect_sets_a_url_target_and_runs_where_it_landed() {
    let mut s = running();
    let url = "postgresql://myuser:secret@127.0.0.12:5432,127.0.0.11:5432/?target_session_attrs=read-write";
    let typed = format!("\\connect {url}");
    type_text(&mut s, &typed);
    let effects = press(&mut s, KeyCode::F(5));
    assert_eq!(
        effects,
        [
            Effect::RunSql {
                id: 1,
                target: Target::Url(url.into()),
                text: meta::connect_probe_sql().into(),
                fresh: false,
                reconnect: true
            },
            Effect::SaveHistory(typed.clone())
        ]
    );
    assert_eq!(s.console.target, Target::Url(url.into()));
    // The tutorial sees what was typed, so `ran` checks can match the URL's options.
    assert_eq!(
        s.console.running_text,
        (typed.clone(), Target::Url(url.into()))
    );
    assert_eq!(s.console.running, Some(1));
    let label = s.console.target.label();
    assert!(
        !label.contains("secret") && label.contains("myuser:***@"),
        "{label}"
    );

    // The answer gets the served-by badge like any run.
    update(&mut s, &Keymap::default(), finished(1, "127.0.0.11"));
    let badge = s.console.output.served_by.clone().expect("badge");
    assert_eq!(badge.node.as_deref(), Some("pg1"));

    // Other statements go to the URL, on the same session; \conninfo masks the password.
    ctrl(&mut s, 'l');
    type_text(&mut s, "SELECT 1");
    let effects = press(&mut s, KeyCode::F(5));
    assert!(
        matches!(&effects[0], Effect::RunSql { target: Target::Url(u), reconnect: false, .. } if u == url),
        "{effects:?}"
    );
    update(&mut s, &Keymap::default(), finished(2, "127.0.0.11"));
    ctrl(&mut s, 'l');
    type_text(&mut s, "\\conninfo");
    press(&mut s, KeyCode::F(5));
    let info = s.console.output.info.clone().expect("conninfo");
    assert!(info.contains("myuser:***@127.0.0.12:5432"), "{info}");
    assert!(!info.contains("secret"), "{info}");

    // The short form and a conninfo string work alike; fresh runs stay fresh.
    press(&mut s, KeyCode::F(7));
    ctrl(&mut s, 'l');
    type_text(
        &mut s,
        "\\c host=127.0.0.12,127.0.0.13 port=5432 target_session_attrs=read-only",
    );
    let effects = press(&mut s, KeyCode::F(5));
    assert!(
        matches!(&effects[0], Effect::RunSql { target: Target::Url(u), fresh: true, .. } if u.starts_with("host=")),
        "{effects:?}"
    );
}

#[test]
fn a_malformed_url_is_refused_before_anything_runs() {
    let mut s = running();
    for (typed, says) in [
        (
            "\\c postgresql://a/?target_session_attrs=primary",
            "read-write",
        ),
        ("\\c postgresql://a:port/", "a port is a number"),
        ("\\connect mydb", "postgresql://"),
        ("\\c postgresql:///db", "no host"),
    ] {
        ctrl(&mut s, 'l');
        type_text(&mut s, typed);
        assert_eq!(
            press(&mut s, KeyCode::F(5)),
            [Effect::SaveHistory(typed.into())],
            "{typed}"
        );
        assert_eq!(s.console.running, None);
        assert_eq!(s.console.target, Target::Write, "{typed}");
        let info = s.console.output.info.clone().expect("an error");
        assert!(info.contains(says), "{typed}: {info}");
    }
    // `\c` alone says how it is used.
    ctrl(&mut s, 'l');
    type_text(&mut s, "\\c");
    assert_eq!(
        press(&mut s, KeyCode::F(5)),
        [Effect::SaveHistory("\\c".into())]
    );
    let info = s.console.output.info.clone().expect("usage");
    assert!(info.starts_with("\\c needs an argument: "), "{info}");
    assert!(info.contains("target_session_attrs=read-write"), "{info}");
}

#[test]
fn f6_leaves_a_url_target_for_write() {
    let mut s = running();
    s.console.target = Target::Url("postgresql://127.0.0.11:5432/".into());
    press(&mut s, KeyCode::F(6));
    assert_eq!(s.console.target, Target::Write);
    press(&mut s, KeyCode::F(6));
    assert_eq!(s.console.target, Target::Read);
}

#[test]
fn f6_cycles_write_read_and_every_node() {
    let mut s = running();
    let mut seen = Vec::new();
    for _ in 0..5 {
        press(&mut s, KeyCode::F(6));
        seen.push(s.console.target.label());
    }
    assert_eq!(seen, ["read", "pg1", "pg2", "write", "read"]);
    press(&mut s, KeyCode::F(7));
    assert!(s.console.fresh);
}

#[test]
fn destructive_node_actions_are_confirmed() {
    let mut s = running();
    s.focus = Focus::Nodes;
    press(&mut s, KeyCode::Down);
    assert!(press(&mut s, KeyCode::Char('k')).is_empty());
    assert_eq!(
        s.overlay,
        Overlay::Confirm(Confirm {
            op: NodeOp::Kill,
            node: "pg2".into(),
            force: false,
        })
    );
    assert!(press(&mut s, KeyCode::Char('n')).is_empty());
    assert_eq!(s.overlay, Overlay::None);
    press(&mut s, KeyCode::Char('k'));
    let effects = press(&mut s, KeyCode::Char('y'));
    assert_eq!(
        effects,
        [Effect::NodeAction {
            op: NodeOp::Kill,
            node: "pg2".into(),
            force: false,
        }]
    );
    // Resume is harmless: no question asked.
    update(
        &mut s,
        &Keymap::default(),
        Msg::ActionDone {
            op: NodeOp::Kill,
            node: "pg2".into(),
            result: Ok("done".into()),
        },
    );
    assert_eq!(press(&mut s, KeyCode::Char('r')).len(), 1);
}

#[test]
fn a_forced_start_asks_first_and_carries_the_force() {
    let mut s = running();
    s.focus = Focus::Nodes;
    assert!(press(&mut s, KeyCode::Char('F')).is_empty());
    assert_eq!(
        s.overlay,
        Overlay::Confirm(Confirm {
            op: NodeOp::Start,
            node: "pg1".into(),
            force: true,
        })
    );
    assert_eq!(
        press(&mut s, KeyCode::Char('y')),
        [Effect::NodeAction {
            op: NodeOp::Start,
            node: "pg1".into(),
            force: true,
        }]
    );
}

#[test]
fn a_click_focuses_a_pane_unless_an_overlay_is_open() {
    let mut s = running();
    update(&mut s, &Keymap::default(), Msg::Click(Focus::Nodes));
    assert_eq!(s.focus, Focus::Nodes);
    press(&mut s, KeyCode::F(1));
    update(&mut s, &Keymap::default(), Msg::Click(Focus::Lesson));
    assert_eq!(s.focus, Focus::Nodes);
}

#[test]
fn focus_help_and_quit_work_from_anywhere() {
    let mut s = running();
    press(&mut s, KeyCode::Tab);
    assert_eq!(s.focus, Focus::Results);
    press(&mut s, KeyCode::BackTab);
    assert_eq!(s.focus, Focus::Editor);
    press(&mut s, KeyCode::F(1));
    assert_eq!(s.overlay, Overlay::Help);
    press(&mut s, KeyCode::Esc);
    assert_eq!(s.overlay, Overlay::None);
    press(&mut s, KeyCode::F(1));
    ctrl(&mut s, 'q');
    assert!(s.quit);
}

#[test]
fn start_up_collects_steps_and_shows_a_failure_in_place() {
    let mut s = State::new(
        "t".into(),
        LessonPane {
            title: String::new(),
            text: String::new(),
            scroll: 0,
        },
        ThemeName::Dark,
    );
    let keys = Keymap::default();
    update(
        &mut s,
        &keys,
        Msg::Startup(Startup::Phase {
            name: "initdb pg1".into(),
            took: Duration::from_millis(800),
        }),
    );
    update(
        &mut s,
        &keys,
        Msg::Startup(Startup::Failed("port 5435 is in use".into())),
    );
    assert!(
        press(&mut s, KeyCode::F(5)).is_empty(),
        "no SQL before the cluster is up"
    );
    let Phase::Starting { steps, error, .. } = &s.phase else {
        panic!("still starting");
    };
    assert_eq!(steps.len(), 1);
    assert_eq!(error.as_deref(), Some("port 5435 is in use"));
    ctrl(&mut s, 'q');
    assert!(s.quit);
}

#[test]
fn history_is_browsed_and_searched() {
    let mut s = running();
    s.console.history = vec!["SELECT 1".into(), "SELECT 2".into(), "INSERT x".into()];
    press(&mut s, KeyCode::Up);
    assert_eq!(s.console.editor.text(), "INSERT x");
    press(&mut s, KeyCode::Up);
    assert_eq!(s.console.editor.text(), "SELECT 2");
    press(&mut s, KeyCode::Down);
    press(&mut s, KeyCode::Down);
    assert_eq!(s.console.editor.text(), "");
    ctrl(&mut s, 'r');
    type_text(&mut s, "select");
    press(&mut s, KeyCode::Down);
    press(&mut s, KeyCode::Enter);
    assert_eq!(s.console.editor.text(), "SELECT 1");
    assert_eq!(search(&s.console.history, "sel"), ["SELECT 2", "SELECT 1"]);
}
