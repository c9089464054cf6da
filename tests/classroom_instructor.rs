//! The instructor's side of the classroom: the live screen as text (fixed fixtures, 80×24 and
//! 160×48), and the commands against a real hub: a PostgreSQL of a test cluster, migrated,
//! with learners who joined through the gate and report as their own roles.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio_postgres::{AsyncMessage, Client, NoTls, Notification};

use replica_lab::classroom::instructor::{self, ClassSession};
use replica_lab::classroom::roster::{self, LessonInfo, Roster, RosterRow, Session};
use replica_lab::tui::instructor::RosterReads;
use replica_lab::tui::instructor::ui::{Input, Link, Notice, View, draw};
use support::pty::Pty;
use support::{Rt, TestCluster};

// --- the screen ------------------------------------------------------------------------------

fn screen(view: &View, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("a test terminal");
    term.draw(|f| draw(f, view)).expect("drawing never fails");
    support::screen::text(term.backend().buffer())
}

const T0: u64 = 1_741_944_605;

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn fixture_lessons() -> Vec<LessonInfo> {
    [
        ("01-topology", 4),
        ("02-write-read", 3),
        ("03-read-only", 3),
        ("04-load-balancing", 4),
        ("05-wal-pipeline", 5),
        ("06-lag-pitfalls", 4),
        ("07-replication-slots", 4),
        ("08-hot-standby-conflicts", 3),
        ("09-stale-reads", 3),
        ("10-synchronous-replication", 4),
        ("11-manual-failover", 5),
        ("12-split-brain-rewind", 4),
        ("13-scaling-out", 3),
        ("14-client-routing", 3),
    ]
    .into_iter()
    .map(|(id, steps)| LessonInfo {
        id: id.into(),
        title: id[3..].replace('-', " "),
        steps,
    })
    .collect()
}

struct Learner {
    name: &'static str,
    lesson: Option<&'static str>,
    step: &'static str,
    on_step: u64,
    seen: u64,
    counts: [u32; 4],
    done: &'static [(&'static str, u32)],
    drills: bool,
}

fn fixture_row(i: usize, l: &Learner) -> RosterRow {
    RosterRow {
        learner_id: i as i64 + 1,
        name: l.name.into(),
        lesson: l.lesson.map(String::from),
        step: l.lesson.map(|_| l.step.to_string()),
        step_since: l.lesson.map(|_| at(T0 - l.on_step)),
        last_seen: Some(at(T0 - l.seen)),
        steps_passed: l.counts[0],
        steps_helped: l.counts[1],
        hints: l.counts[2],
        checks: l.counts[3],
        lessons_done: l
            .done
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect::<BTreeMap<_, _>>(),
        allow_drills: l.drills,
    }
}

fn fixture_view() -> View {
    let learners = [
        Learner {
            name: "Ada Lovelace",
            lesson: Some("03-read-only"),
            step: "try-a-write",
            on_step: 95,
            seen: 4,
            counts: [8, 0, 1, 12],
            done: &[
                ("01-topology", 4),
                ("02-write-read", 3),
                ("03-read-only", 1),
            ],
            drills: true,
        },
        Learner {
            name: "Brian Kernighan",
            lesson: Some("02-write-read"),
            step: "read-it-back",
            on_step: 1_260,
            seen: 30,
            counts: [5, 1, 4, 20],
            done: &[("01-topology", 4), ("02-write-read", 1)],
            drills: false,
        },
        Learner {
            name: "Grace Hopper",
            lesson: Some("05-wal-pipeline"),
            step: "follow-the-lsn",
            on_step: 40,
            seen: 2,
            counts: [14, 0, 0, 15],
            done: &[
                ("01-topology", 4),
                ("02-write-read", 3),
                ("03-read-only", 3),
                ("04-load-balancing", 4),
            ],
            drills: true,
        },
        Learner {
            name: "Ken Thompson",
            lesson: Some("01-topology"),
            step: "who-is-primary",
            on_step: 2_400,
            seen: 600,
            counts: [0, 0, 3, 9],
            done: &[],
            drills: true,
        },
        Learner {
            name: "Linus",
            lesson: Some("02-write-read"),
            step: "replicas-follow",
            on_step: 5_000,
            seen: 12,
            counts: [7, 2, 5, 14],
            done: &[("01-topology", 4), ("02-write-read", 3)],
            drills: false,
        },
        Learner {
            name: "Margaret Hamilton-Smythe the Third",
            lesson: Some("04-load-balancing"),
            step: "new-connections-move",
            on_step: 300,
            seen: 1,
            counts: [10, 1, 2, 11],
            done: &[
                ("01-topology", 4),
                ("02-write-read", 3),
                ("03-read-only", 3),
            ],
            drills: false,
        },
        Learner {
            name: "Radia",
            lesson: None,
            step: "",
            on_step: 0,
            seen: 45,
            counts: [0; 4],
            done: &[],
            drills: false,
        },
    ];
    let mut view = View::new(
        7,
        "Replication, Tuesday",
        "postgresql://instructor:***@10.0.0.5:5439/classroom?sslmode=require",
        fixture_lessons(),
    );
    view.roster = Some(Roster {
        session: Session {
            id: 7,
            title: "Replication, Tuesday".into(),
            pace: Some(5),
            stuck_after: Duration::from_secs(900),
        },
        rows: learners
            .iter()
            .enumerate()
            .map(|(i, l)| fixture_row(i, l))
            .collect(),
        read_at: at(T0),
    });
    view.now = at(T0);
    view.link = Link::Live;
    view
}

fn with_notice() -> View {
    let mut v = fixture_view();
    v.notice = Some(Notice {
        error: false,
        text: "exported to /home/teach/class-7-20250314-093005.csv and .md".into(),
    });
    v
}

fn typing_broadcast() -> View {
    let mut v = fixture_view();
    v.input = Input::Broadcast("Take a 10 minute break, then lesson 4".into());
    v
}

fn pace_refused() -> View {
    let mut v = fixture_view();
    v.input = Input::Pace("0".into());
    v.notice = Some(Notice {
        error: true,
        text: "not a lesson: give 1 to 14 or all".into(),
    });
    v
}

fn picking_drill() -> View {
    let mut v = fixture_view();
    v.input = Input::Drill {
        choice: 0,
        confirm: true,
    };
    v
}

fn hub_lost() -> View {
    let mut v = fixture_view();
    v.link = Link::Lost("the connection ended".into());
    v
}

fn empty_class() -> View {
    let mut v = fixture_view();
    if let Some(r) = v.roster.as_mut() {
        r.rows.clear();
        r.session.pace = None;
    }
    v
}

fn connecting() -> View {
    let mut v = View::new(
        7,
        "Replication, Tuesday",
        "postgresql://hub/classroom",
        fixture_lessons(),
    );
    v.now = at(T0);
    v
}

macro_rules! snap {
    ($name:ident, $view:expr, $w:expr, $h:expr) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(screen(&$view, $w, $h));
        }
    };
}

snap!(class_80x24, fixture_view(), 80, 24);
snap!(class_160x48, fixture_view(), 160, 48);
snap!(class_notice_80x24, with_notice(), 80, 24);
snap!(class_broadcast_80x24, typing_broadcast(), 80, 24);
snap!(class_broadcast_160x48, typing_broadcast(), 160, 48);
snap!(class_pace_refused_80x24, pace_refused(), 80, 24);
snap!(class_pace_refused_160x48, pace_refused(), 160, 48);
snap!(class_drill_80x24, picking_drill(), 80, 24);
snap!(class_drill_160x48, picking_drill(), 160, 48);
snap!(class_lost_80x24, hub_lost(), 80, 24);
snap!(class_empty_80x24, empty_class(), 80, 24);
snap!(class_connecting_80x24, connecting(), 80, 24);

/// Whatever text learners' apps got into the hub, the screen shows it as text: no control
/// characters (ratatui drops those of C0 itself) and no marks that reorder what follows.
#[test]
fn learners_text_cannot_drive_the_terminal() {
    let mut v = fixture_view();
    let row = v
        .roster
        .as_mut()
        .and_then(|r| r.rows.first_mut())
        .expect("a row");
    row.name = "ev\u{202e}il\x1b]0;owned\x07".into();
    row.lesson = Some("\u{2066}03-read-only\u{9b}2J".into());
    row.step = Some("try\u{200f}-a-write\u{2069}".into());
    for (w, h) in [(80, 24), (160, 48)] {
        let text = screen(&v, w, h);
        let bad: Vec<char> = text
            .chars()
            .filter(|c| {
                (c.is_control() && *c != '\n')
                    || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
            })
            .collect();
        assert!(bad.is_empty(), "{w}x{h}: {bad:?} in\n{text}");
        assert!(text.contains("evil]0;owned"), "{w}x{h}:\n{text}");
        assert!(text.contains("try-a-write"), "{w}x{h}:\n{text}");
    }
}

#[test]
fn tiny_terminals_do_not_panic() {
    for (w, h) in [(0, 0), (1, 1), (10, 3), (30, 8)] {
        screen(&picking_drill(), w, h);
        screen(&typing_broadcast(), w, h);
    }
}

// --- the commands, without a hub -------------------------------------------------------------

/// The binary with a classroom folder of its own and no user config file.
fn bin(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(support::BIN)
        .args(args)
        .env("REPLICA_LAB_CLASSROOM_DIR", dir.join("classroom"))
        .env("XDG_CONFIG_HOME", dir.join("no-config"))
        .env_remove("REPLICA_LAB_LESSONS")
        .output()
        .expect("run replica-lab")
}

fn fails(dir: &Path, args: &[&str]) -> String {
    let out = bin(dir, args);
    assert!(
        !out.status.success(),
        "replica-lab {args:?} should have failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn without_a_hub_the_commands_say_how_to_start_one() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    for args in [
        &["classroom", "roster"][..],
        &["classroom", "broadcast", "hello"],
        &["classroom", "pace", "2"],
        &["classroom", "drill", "kill-primary"],
        &["classroom", "export", "--csv", "x.csv"],
    ] {
        let e = fails(dir.path(), args);
        assert!(
            e.contains("start a class with `replica-lab classroom host`") && e.contains("--db"),
            "{args:?}: {e}"
        );
    }
}

#[test]
fn bad_pace_drill_and_export_are_refused_before_reaching_a_hub() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let e = fails(dir.path(), &["classroom", "pace", "99"]);
    assert!(
        e.contains("\"99\" is not a lesson number") && e.contains("`all`"),
        "{e}"
    );
    let e = fails(dir.path(), &["classroom", "pace", "soon"]);
    assert!(e.contains("give 1 to"), "{e}");
    let e = fails(dir.path(), &["classroom", "drill", "reboot"]);
    assert!(
        e.contains("no drill \"reboot\"") && e.contains("kill-primary, stop-replica, pause-replay"),
        "{e}"
    );
    let e = fails(dir.path(), &["classroom", "export"]);
    assert!(e.contains("--csv FILE, --md FILE"), "{e}");
}

#[test]
fn an_unreachable_hub_is_named_with_its_password_masked() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let e = fails(
        dir.path(),
        &[
            "classroom",
            "--db",
            "postgresql://teach:s3cret@127.0.0.1:1/hub?sslmode=disable",
            "roster",
        ],
    );
    assert!(
        e.contains("cannot reach the hub at postgresql://teach:***@127.0.0.1:1/hub"),
        "{e}"
    );
    assert!(!e.contains("s3cret"), "{e}");
}

// --- against a hub ---------------------------------------------------------------------------

fn hub_url(c: &TestCluster, db: &str) -> String {
    format!(
        "postgresql://myuser:mypassword@127.0.0.1:{}/{db}?sslmode=disable",
        c.write_port()
    )
}

/// A connection whose notifications come out of the returned channel.
async fn listener(url: &str) -> (Client, tokio::sync::mpsc::UnboundedReceiver<Notification>) {
    let (client, mut conn) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| conn.poll_message(cx));
        use futures::StreamExt as _;
        while let Some(Ok(m)) = messages.next().await {
            if let AsyncMessage::Notification(n) = m {
                let _ = tx.send(n);
            }
        }
    });
    (client, rx)
}

async fn plain(url: &str) -> Client {
    listener(url).await.0
}

async fn next_note(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Notification>,
    what: &str,
) -> Notification {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap_or_else(|_| panic!("no notification for {what} within 10 s"))
        .expect("the connection is up")
}

struct Joined {
    id: i64,
    url: String,
}

/// Joins through the gate login, as `classroom join` does.
async fn join(hub: &str, code: &str, name: &str) -> Joined {
    let gate = plain(&replica_lab::classroom::host::gate_url(hub).expect("gate URL")).await;
    let row = gate
        .query_one(
            "SELECT learner_id, role_name, password FROM classroom.join($1, $2)",
            &[&code, &name],
        )
        .await
        .expect("join");
    let role: String = row.get(1);
    let password: String = row.get(2);
    Joined {
        id: row.get(0),
        url: replica_lab::classroom::connect::with_login(hub, &role, &password).expect("URL"),
    }
}

/// Events as the learner's own role, numbered from `seq`.
async fn report(learner: &Client, seq: i64, events: &[(&str, &str, &str)]) {
    for (i, (kind, lesson, step)) in events.iter().enumerate() {
        learner
            .execute(
                "INSERT INTO classroom.events (learner_id, seq, kind, lesson, step, happened_at) \
                 VALUES (classroom.me(), $1, $2, $3, nullif($4, ''), now())",
                &[&(seq + i as i64), kind, lesson, step],
            )
            .await
            .unwrap_or_else(|e| panic!("{kind} as the learner: {e}"));
    }
}

fn steps_of(lesson: &str) -> Vec<String> {
    replica_lab::lesson::builtin_lessons()
        .expect("built-in lessons")
        .into_iter()
        .find(|l| l.id == lesson)
        .map(|l| l.steps.into_iter().map(|s| s.id).collect())
        .expect("the lesson exists")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instructor_sees_and_steers_the_class() {
    let c = TestCluster::new("t-class-instr", 48, Rt::Local);
    c.up(1);
    let url = hub_url(&c, "mydatabase");
    let owner = plain(&url).await;
    replica_lab::classroom::migrate::migrate(&owner)
        .await
        .expect("migrate");
    let (session, code) =
        replica_lab::classroom::host::create_session(&owner, "Tuesday", Duration::from_secs(3600))
            .await
            .expect("a session");
    let class = ClassSession {
        url: url.clone(),
        session_id: session,
        title: "Tuesday".into(),
    };
    let shipped = replica_lab::lesson::builtin_lessons().expect("lessons");
    let lessons = roster::lessons_of(&shipped);
    replica_lab::classroom::catalogue::upload(
        &owner,
        session,
        &replica_lab::classroom::catalogue::HubCatalogue::of(&shipped),
    )
    .await
    .expect("the class's lessons");

    let ann = join(&url, &code, "ann").await;
    let bob = join(&url, &code, "bob").await;
    let cy = join(&url, &code, "cy").await;
    let (ann_db, bob_db, cy_db) = (
        plain(&ann.url).await,
        plain(&bob.url).await,
        plain(&cy.url).await,
    );

    // A learner's insert wakes the roster: classroom_events carries the session id.
    let (watch, mut events) = listener(&url).await;
    watch
        .batch_execute("LISTEN classroom_events")
        .await
        .expect("LISTEN");
    let topo = steps_of("01-topology");
    let wr = steps_of("02-write-read");
    let ann_events: Vec<(&str, &str, &str)> = std::iter::once(("lesson_opened", "01-topology", ""))
        .chain(topo.iter().flat_map(|s| {
            [
                ("step_opened", "01-topology", s.as_str()),
                ("checked", "01-topology", s),
                ("passed", "01-topology", s),
            ]
        }))
        .chain([("step_opened", "02-write-read", wr[0].as_str())])
        .collect();
    report(&ann_db, 1, &ann_events).await;
    let note = next_note(&mut events, "ann's events").await;
    assert_eq!(note.channel(), "classroom_events");
    assert_eq!(note.payload(), session.to_string());

    report(
        &bob_db,
        1,
        &[
            ("step_opened", "02-write-read", &wr[0]),
            ("hint", "02-write-read", &wr[0]),
            ("hint", "02-write-read", &wr[0]),
            ("checked", "02-write-read", &wr[0]),
            ("solved_with_help", "02-write-read", &wr[0]),
            ("step_opened", "02-write-read", &wr[1]),
        ],
    )
    .await;

    // The roster: each learner's lesson, step and counts.
    let r = instructor::read_roster(&owner, &class)
        .await
        .expect("roster");
    let by_name: BTreeMap<&str, &RosterRow> = r.rows.iter().map(|r| (r.name.as_str(), r)).collect();
    assert_eq!(by_name.len(), 3);
    let a = by_name["ann"];
    assert_eq!(a.learner_id, ann.id);
    assert_eq!(
        (a.lesson.as_deref(), a.step.as_deref()),
        (Some("02-write-read"), Some(wr[0].as_str()))
    );
    assert_eq!(
        (a.steps_passed, a.checks, a.hints, a.steps_helped),
        (topo.len() as u32, topo.len() as u32, 0, 0)
    );
    assert_eq!(
        a.lessons_done.get("01-topology").copied(),
        Some(topo.len() as u32)
    );
    let b = by_name["bob"];
    assert_eq!(b.learner_id, bob.id);
    assert_eq!(b.step.as_deref(), Some(wr[1].as_str()));
    assert_eq!((b.hints, b.checks, b.steps_helped), (2, 1, 1));
    let cyr = by_name["cy"];
    assert_eq!((cyr.lesson.as_deref(), cyr.steps_passed), (None, 0));
    let done = roster::completion(&r.rows, &lessons);
    assert_eq!(
        (done[0].id.as_str(), done[0].completed, done[0].in_it),
        ("01-topology", 1, 0)
    );
    assert_eq!((done[1].completed, done[1].in_it), (0, 2));

    // Stuck: a small threshold, set as the owner; cy, who has opened nothing, is never stuck.
    owner
        .execute(
            "UPDATE classroom.sessions SET stuck_after = interval '1 second' WHERE id = $1",
            &[&session],
        )
        .await
        .expect("stuck_after");
    report(&cy_db, 1, &[("step_opened", "01-topology", &topo[0])]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = instructor::read_roster(&owner, &class)
        .await
        .expect("roster");
    assert_eq!(r.session.stuck_after, Duration::from_secs(1));
    let stuck: Vec<&str> = r
        .rows
        .iter()
        .filter(|row| roster::stuck(row, r.read_at, r.session.stuck_after, &lessons))
        .map(|row| row.name.as_str())
        .collect();
    assert_eq!(stuck, vec!["ann", "bob", "cy"]);
    report(&cy_db, 2, &[("step_opened", "01-topology", &topo[1])]).await;
    let r = instructor::read_roster(&owner, &class)
        .await
        .expect("roster");
    let stuck: Vec<&str> = r
        .rows
        .iter()
        .filter(|row| roster::stuck(row, r.read_at, r.session.stuck_after, &lessons))
        .map(|row| row.name.as_str())
        .collect();
    assert_eq!(stuck, vec!["ann", "bob"], "cy just moved on");

    // Broadcast, pace and drill: a row each, and a notification on the session's channel,
    // received by a learner's own role.
    let (learner_watch, mut told) = listener(&ann.url).await;
    learner_watch
        .batch_execute(&format!("LISTEN classroom_session_{session}"))
        .await
        .expect("LISTEN as the learner");
    let id = instructor::send_broadcast(&owner, session, "  break until 11:00 ")
        .await
        .expect("broadcast");
    let n = next_note(&mut told, "the broadcast").await;
    assert_eq!(n.payload(), format!("broadcast:{id}"));
    let msg: String = learner_watch
        .query_one(
            "SELECT message FROM classroom.broadcasts WHERE id = $1",
            &[&id],
        )
        .await
        .expect("the learner reads it")
        .get(0);
    assert_eq!(msg, "break until 11:00");

    instructor::set_pace(&owner, session, Some(2))
        .await
        .expect("pace");
    let n = next_note(&mut told, "the pace").await;
    assert!(n.payload().starts_with("pace:"), "{}", n.payload());
    let pace: Option<i32> = learner_watch
        .query_one("SELECT pace FROM classroom.sessions", &[])
        .await
        .expect("the learner reads the pace")
        .get(0);
    assert_eq!(pace, Some(2));
    instructor::set_pace(&owner, session, None)
        .await
        .expect("pace all");
    next_note(&mut told, "the pace back to all").await;

    let id = instructor::start_drill(&owner, session, "kill-primary", "your primary dies now")
        .await
        .expect("drill");
    let n = next_note(&mut told, "the drill").await;
    assert_eq!(n.payload(), format!("drill:{id}"));
    let e = instructor::start_drill(&owner, session, "reboot", "")
        .await
        .expect_err("an unknown drill");
    assert!(e.message.contains("no drill \"reboot\""), "{}", e.message);
    let e = instructor::send_broadcast(&owner, session, "   ")
        .await
        .expect_err("an empty broadcast");
    assert!(e.message.contains("the message is empty"), "{}", e.message);

    // The live view's refresh: a learner's insert, a notification, one read that sees it.
    let mut refresh = RosterReads::default();
    report(&cy_db, 3, &[("passed", "01-topology", &topo[1])]).await;
    loop {
        let n = next_note(&mut events, "cy's pass").await;
        if n.payload() == session.to_string() && refresh.wanted() {
            break;
        }
    }
    let r = instructor::read_roster(&owner, &class)
        .await
        .expect("roster");
    assert!(!refresh.finished());
    let cy_now = r.rows.iter().find(|r| r.name == "cy").expect("cy");
    assert_eq!(cy_now.steps_passed, 1);

    // Export: a CSV row per learner and step reached, a summary with its sections.
    let dir = tempfile::tempdir().expect("a folder");
    let (csv_path, md_path) = (dir.path().join("class.csv"), dir.path().join("class.md"));
    let written =
        instructor::write_export(&owner, &class, &lessons, Some(&csv_path), Some(&md_path))
            .await
            .expect("export");
    assert_eq!(written, vec![csv_path.clone(), md_path.clone()]);
    let csv = std::fs::read_to_string(&csv_path).expect("the CSV");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "learner,lesson,step,outcome,hints,checks,seconds");
    // ann: every step of lesson 1 and the first of lesson 2; bob: two; cy: two.
    assert_eq!(lines.len() - 1, topo.len() + 1 + 2 + 2, "{csv}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("ann,01-topology,{},passed,0,1,", topo[0]))),
        "{csv}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("ann,02-write-read,{},open,0,0,", wr[0]))),
        "{csv}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(&format!(
            "bob,02-write-read,{},solved_with_help,2,1,",
            wr[0]
        ))),
        "{csv}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("cy,01-topology,{},passed,0,0,", topo[1]))),
        "{csv}"
    );
    let md = std::fs::read_to_string(&md_path).expect("the summary");
    for section in [
        "# Class summary: Tuesday",
        "## Learners",
        "## Completion per lesson",
        "## Stuck",
        "## Steps most solved with help",
        "## Drills run",
    ] {
        assert!(md.contains(section), "{section} missing:\n{md}");
    }
    assert!(
        md.contains(&format!("- 02-write-read / {}: 1 learner", wr[0])),
        "{md}"
    );
    assert!(md.contains("kill-primary: your primary dies now"), "{md}");
    assert!(md.contains("| 01-topology "), "{md}");
    assert!(md.contains("- bob on 02-write-read"), "{md}");

    // A learner's role sees none of this: the instructor's reads are the owner's.
    let seen: i64 = bob_db
        .query_one("SELECT count(*) FROM classroom.learner_state", &[])
        .await
        .expect("as bob")
        .get(0);
    assert_eq!(seen, 1);
    let _ = c.cmd(&["down"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commands_use_the_hub_host_remembered() {
    let c = TestCluster::new("t-class-cli", 49, Rt::Local);
    c.up(1);
    let url = hub_url(&c, "mydatabase");
    let dir = tempfile::tempdir().expect("a folder");
    let run = |args: &[&str]| bin(dir.path(), args);
    let ok = |args: &[&str]| {
        let out = run(args);
        assert!(
            out.status.success(),
            "replica-lab {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    // A database without the classroom schema is not a hub, and says so.
    let e = fails(
        dir.path(),
        &["classroom", "--db", &hub_url(&c, "postgres"), "roster"],
    );
    assert!(
        e.contains("is not a class hub") && e.contains("classroom host --db"),
        "{e}"
    );

    let hosted = ok(&["classroom", "host", "--db", &url, "--title", "Wednesday"]);
    assert!(hosted.contains("Wednesday"), "{hosted}");
    let owner = plain(&url).await;
    let session: i64 = owner
        .query_one("SELECT max(id) FROM classroom.sessions", &[])
        .await
        .expect("session")
        .get(0);

    let out = ok(&["classroom", "roster"]);
    assert!(out.contains("nobody joined yet"), "{out}");
    owner
        .execute(
            "INSERT INTO classroom.sessions (title, join_code_hash, code_expires_at) \
             VALUES ('other', 'x', now())",
            &[],
        )
        .await
        .expect("another session");
    let code = "TESTCODE";
    owner
        .execute(
            "UPDATE classroom.sessions SET join_code_hash = \
             encode(sha256(convert_to($2, 'UTF8')), 'hex') WHERE id = $1",
            &[&session, &code],
        )
        .await
        .expect("a known code");
    let dee = join(&url, code, "dee").await;
    let dee_db = plain(&dee.url).await;
    report(
        &dee_db,
        1,
        &[
            ("step_opened", "01-topology", "the-primary"),
            ("hint", "01-topology", "the-primary"),
        ],
    )
    .await;

    // hub.toml's session, not the newest one on the hub.
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["classroom", "roster", "--json"])).expect("JSON");
    assert_eq!(json["session"]["id"], session);
    assert_eq!(json["learners"][0]["name"], "dee");
    assert_eq!(json["learners"][0]["hints"], 1);
    assert_eq!(json["learners"][0]["step"], "the-primary");
    assert!(json["completion"].as_array().is_some_and(|c| !c.is_empty()));
    let table = ok(&["classroom", "roster"]);
    assert!(
        table.starts_with("NAME") && table.contains("dee"),
        "{table}"
    );

    let out = ok(&["classroom", "broadcast", "hello class"]);
    assert!(out.contains("sent"), "{out}");
    let out = ok(&["classroom", "pace", "3"]);
    assert!(out.contains("lessons 1 to 3 unlocked"), "{out}");
    let out = ok(&[
        "classroom",
        "drill",
        "pause-replay",
        "--note",
        "watch the lag",
    ]);
    assert!(out.contains("0 of 1 learners allow drills"), "{out}");
    let counts: (i64, i64, Option<i32>) = {
        let r = owner
            .query_one(
                "SELECT (SELECT count(*) FROM classroom.broadcasts WHERE session_id = $1),
                        (SELECT count(*) FROM classroom.drills WHERE session_id = $1
                            AND action = 'pause-replay' AND note = 'watch the lag'),
                        (SELECT pace FROM classroom.sessions WHERE id = $1)",
                &[&session],
            )
            .await
            .expect("counts");
        (r.get(0), r.get(1), r.get(2))
    };
    assert_eq!(counts, (1, 1, Some(3)));

    let csv = dir.path().join("out.csv");
    let md = dir.path().join("out.md");
    let out = ok(&[
        "classroom",
        "export",
        "--csv",
        &csv.to_string_lossy(),
        "--md",
        &md.to_string_lossy(),
    ]);
    assert!(out.contains("out.csv") && out.contains("out.md"), "{out}");
    let text = std::fs::read_to_string(&csv).expect("CSV");
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        vec![
            "learner,lesson,step,outcome,hints,checks,seconds",
            "dee,01-topology,the-primary,open,1,0,0"
        ]
    );
    let e = fails(
        dir.path(),
        &["classroom", "export", "--csv", "/nonexistent-folder/x.csv"],
    );
    assert!(e.contains("cannot write /nonexistent-folder/x.csv"), "{e}");

    // The live view: a newcomer's first event shows without a key pressed; a broadcast and
    // an export from the keyboard; the terminal is given back as it was.
    let mut view = start_view(dir.path());
    view.wait_for(LIMIT, "the roster", |s| {
        s.contains("● live") && s.contains("dee")
    });
    let eve = join(&url, code, "eve").await;
    let eve_db = plain(&eve.url).await;
    report(
        &eve_db,
        1,
        &[("step_opened", "02-write-read", "insert-rows")],
    )
    .await;
    view.wait_for(LIMIT, "eve, pushed", |s| {
        s.contains("eve") && s.contains("02-write-read")
    });
    view.send(b"b");
    view.send(b"hello from the view");
    view.send(b"\r");
    view.wait_for(LIMIT, "the broadcast sent", |s| {
        s.contains("sent: hello from the view")
    });
    let sent: i64 = owner
        .query_one(
            "SELECT count(*) FROM classroom.broadcasts WHERE message = 'hello from the view'",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(sent, 1);
    view.send(b"p");
    view.send(b"0\r");
    view.wait_for(LIMIT, "the pace refused", |s| {
        s.contains("not a lesson: give 1 to")
    });
    view.send(b"\x1b");
    // The hub goes away and comes back: the view says so, reconnects and listens again.
    c.ok(&["node", "stop", "pg1"]);
    view.wait_for(LIMIT, "the hub lost", |s| s.contains("hub lost"));
    c.ok(&["node", "start", "pg1"]);
    view.wait_for(LIMIT, "live again", |s| s.contains("● live"));
    let dee_again = plain(&dee.url).await;
    report(
        &dee_again,
        3,
        &[("step_opened", "01-topology", "how-replicas-keep-up")],
    )
    .await;
    view.wait_for(LIMIT, "an event after the restart", |s| {
        s.contains("how-replicas-keep-up")
    });

    view.send(b"e");
    let screen = view.wait_for(LIMIT, "the export", |s| s.contains("exported to"));
    let files: Vec<String> = std::fs::read_dir(dir.path())
        .expect("the folder")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(&format!("class-{session}-")))
        .collect();
    assert_eq!(files.len(), 2, "{files:?}\n{screen}");
    view.send(b"q");
    let screen = view.wait_for(LIMIT, "the exit status and stty", |s| {
        s.contains("EXIT=") && s.contains("icanon")
    });
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(
        !screen.contains("-icanon") && !screen.contains("-echo "),
        "{screen}"
    );
    let _ = c.cmd(&["down"]);
}

/// How long the view may take to show what a step waits for.
const LIMIT: Duration = Duration::from_secs(30);

/// `replica-lab classroom` in a pseudo-terminal, run in `dir`.
fn start_view(dir: &Path) -> Pty {
    let mut cmd = portable_pty::CommandBuilder::new("sh");
    cmd.args([
        "-c",
        "\"$0\" classroom; echo \"EXIT=$?\"; stty -a; sleep 5",
        support::BIN,
    ]);
    cmd.cwd(dir);
    cmd.env("REPLICA_LAB_CLASSROOM_DIR", dir.join("classroom"));
    cmd.env("XDG_CONFIG_HOME", dir.join("no-config"));
    Pty::spawn(cmd, 30, 120)
}
