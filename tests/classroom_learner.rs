//! The learner's side of the classroom against a real hub (a test cluster's primary, behind
//! its HAProxy): events queued while the hub is down arrive once it is back, exactly once;
//! a lost acknowledgement is harmless; a torn queue line is dropped; 200 learners posting for
//! a minute lose nothing.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use futures::StreamExt as _;
use replica_lab::classroom::catalogue::{self, CatalogueLesson, HubCatalogue};
use replica_lab::classroom::connect::connect;
use replica_lab::classroom::host::create_session;
use replica_lab::classroom::membership::{self, Membership, queue_dir};
use replica_lab::classroom::migrate::migrate;
use replica_lab::classroom::queue::{ClassEvent, EventKind, Queue};
use replica_lab::classroom::reporter::{
    ClassMsg, Reporter, ReporterConfig, ReporterState, deliver,
};
use serde_json::json;
use support::{Rt, TestCluster, eventually};
use tokio::sync::mpsc;

fn hub_url(c: &TestCluster) -> String {
    format!(
        "postgresql://myuser:mypassword@127.0.0.1:{}/mydatabase?sslmode=disable",
        c.write_port()
    )
}

/// A hub on the cluster's primary with one session, whose lessons are those of [`event`];
/// returns its join code.
async fn hub(c: &TestCluster) -> (tokio_postgres::Client, i64, String) {
    let admin = connect(&hub_url(c), "classroom test").await.expect("hub");
    migrate(&admin.client).await.expect("migrate");
    let (session, code) = create_session(&admin.client, "test class", Duration::from_secs(3600))
        .await
        .expect("session");
    let basics = HubCatalogue {
        lessons: vec![CatalogueLesson {
            id: "01-basics".into(),
            steps: (0..5).map(|n| format!("step-{n}")).collect(),
        }],
    };
    catalogue::upload(&admin.client, session, &basics)
        .await
        .expect("the class's lessons");
    (admin.client, session, code)
}

fn event(n: u64) -> ClassEvent {
    ClassEvent::new(
        EventKind::Checked,
        Some("01-basics".into()),
        Some(format!("step-{}", n % 5)),
    )
    .with_detail(json!({ "passing": n % 3, "total": 3 }))
}

/// Fast retries: the test waits for a hub coming back, not for a learner's patience.
fn config(listen: bool) -> ReporterConfig {
    ReporterConfig {
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_secs(1),
        listen,
        ..ReporterConfig::default()
    }
}

fn start(m: &Membership, dir: &Path, listen: bool) -> (Reporter, mpsc::Receiver<ClassMsg>) {
    let queue = Queue::open(&queue_dir(dir)).expect("queue");
    let (tx, rx) = mpsc::channel(64);
    (Reporter::spawn(m.clone(), queue, config(listen), tx), rx)
}

/// Every event of `learner` on the hub, by seq.
async fn seqs_on_hub(admin: &tokio_postgres::Client, learner: i64) -> Vec<u64> {
    admin
        .query(
            "SELECT seq FROM classroom.events WHERE learner_id = $1 ORDER BY seq, id",
            &[&learner],
        )
        .await
        .expect("events")
        .iter()
        .map(|r| u64::try_from(r.get::<_, i64>(0)).expect("positive"))
        .collect()
}

async fn wait_state(
    r: &Reporter,
    limit: Duration,
    what: &str,
    cond: impl Fn(&ReporterState) -> bool,
) -> ReporterState {
    let mut rx = r.state.clone();
    let waited = tokio::time::timeout(limit, rx.wait_for(|s| cond(s))).await;
    match waited {
        Ok(Ok(s)) => s.clone(),
        _ => panic!("timed out waiting for {what}: {:?}", *r.state.borrow()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn events_survive_a_hub_outage_a_lost_ack_and_a_torn_line() {
    let c = TestCluster::new("classroom-learner", 46, Rt::Local);
    c.up(1);
    let (admin, session, code) = hub(&c).await;
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path().join("classroom");

    // Refusals name the cause and the fix.
    let wrong = membership::join(&hub_url(&c), "NOPE2345", "ann", true, &dir)
        .await
        .expect_err("wrong code")
        .to_string();
    assert!(wrong.contains("the join code is wrong"), "{wrong}");
    assert!(wrong.contains("check the code"), "{wrong}");
    let m = membership::join(&hub_url(&c), &code.to_lowercase(), "ann", true, &dir)
        .await
        .expect("join");
    assert_eq!(m.session_id, session);
    assert_eq!(membership::load(&dir).expect("load"), Some(m.clone()));
    let taken = membership::join(&hub_url(&c), &code, "ann", false, &home.path().join("b"))
        .await
        .expect_err("taken name")
        .to_string();
    assert!(taken.contains("taken"), "{taken}");
    assert!(taken.contains("--name"), "{taken}");
    let unreachable = membership::join(
        "postgresql://x:y@127.0.0.1:1/db?sslmode=disable",
        &code,
        "bob",
        false,
        &home.path().join("c"),
    )
    .await
    .expect_err("unreachable")
    .to_string();
    assert!(
        unreachable.contains("cannot reach the hub"),
        "{unreachable}"
    );
    let allowed: bool = admin
        .query_one(
            "SELECT allow_drills FROM classroom.learners WHERE id = $1",
            &[&m.learner_id],
        )
        .await
        .expect("learner")
        .get(0);
    assert!(allowed, "the learner's choice about drills is on the hub");

    // Delivered while the hub is up.
    let (reporter, mut messages) = start(&m, &dir, true);
    let mut pushed = Vec::new();
    for n in 0..5 {
        pushed.push(reporter.push(event(n)).await.expect("push"));
    }
    assert_eq!(pushed, [1, 2, 3, 4, 5]);
    assert!(
        reporter.flush(Duration::from_secs(20)).await,
        "delivered: {:?}",
        *reporter.state.borrow()
    );
    assert_eq!(seqs_on_hub(&admin, m.learner_id).await, pushed);

    // What the instructor sends arrives as messages.
    admin
        .execute(
            "INSERT INTO classroom.broadcasts (session_id, message) VALUES ($1, 'break until 11')",
            &[&session],
        )
        .await
        .expect("broadcast");
    admin
        .execute(
            "UPDATE classroom.sessions SET pace = 3 WHERE id = $1",
            &[&session],
        )
        .await
        .expect("pace");
    admin
        .execute(
            "INSERT INTO classroom.drills (session_id, action, note) \
             VALUES ($1, 'kill-primary', 'watch the failover')",
            &[&session],
        )
        .await
        .expect("drill");
    let mut got = Vec::new();
    while got.len() < 3 {
        let next = tokio::time::timeout(Duration::from_secs(10), messages.recv()).await;
        match next {
            Ok(Some(ClassMsg::Pace(None))) => {}
            Ok(Some(msg)) => got.push(msg),
            other => panic!("no message from the instructor: {other:?} after {got:?}"),
        }
    }
    assert_eq!(got[0], ClassMsg::Broadcast("break until 11".into()));
    assert_eq!(got[1], ClassMsg::Pace(Some(3)));
    assert!(
        matches!(&got[2], ClassMsg::Drill { action, note, .. } if action == "kill-primary" && note == "watch the failover"),
        "{got:?}"
    );

    // The hub goes away: events stay queued.
    c.ok(&["node", "stop", "pg1"]);
    for n in 5..25 {
        pushed.push(reporter.push(event(n)).await.expect("push while down"));
    }
    let s = wait_state(
        &reporter,
        Duration::from_secs(30),
        "the hub to be missed",
        |s| !s.connected && s.last_error.is_some(),
    )
    .await;
    assert_eq!(s.queued, 20, "{s:?}");
    assert!(!hub_answers(&c).await, "the hub is really down");

    // Back: everything arrives, once.
    c.ok(&["node", "start", "pg1"]);
    assert!(
        reporter.flush(Duration::from_secs(60)).await,
        "delivered after the hub came back: {:?}",
        *reporter.state.borrow()
    );
    let admin = connect(&hub_url(&c), "classroom test")
        .await
        .expect("hub again")
        .client;
    assert_eq!(seqs_on_hub(&admin, m.learner_id).await, pushed);
    // A reconnect does not replay what was handed on already.
    let replay = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match messages.recv().await {
                Some(ClassMsg::Pace(_)) => continue,
                other => return other,
            }
        }
    })
    .await;
    assert!(replay.is_err(), "old messages came again: {replay:?}");

    // A batch delivered whose acknowledgement was lost: sent again, inserted once.
    let mut queue = reporter.stop().await.expect("the queue back");
    for n in 25..35 {
        pushed.push(queue.push(event(n)).expect("push"));
    }
    let batch = queue.pending(100);
    let learner = connect(&m.hub_url, "classroom test")
        .await
        .expect("learner");
    assert_eq!(
        deliver(&learner.client, m.learner_id, &batch)
            .await
            .expect("deliver"),
        10
    );
    assert_eq!(
        deliver(&learner.client, m.learner_id, &batch)
            .await
            .expect("deliver again"),
        0,
        "the hub takes a seq once"
    );
    drop(queue); // killed before the ack

    // Killed mid-append: a torn last line.
    {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(queue_dir(&dir).join("events.jsonl"))
            .expect("queue file");
        f.write_all(b"{\"seq\":36,\"kind\":\"pass").expect("tear");
    }
    let queue = Queue::open(&queue_dir(&dir)).expect("reopened despite the torn line");
    assert_eq!(queue.warnings.len(), 1, "{:?}", queue.warnings);
    assert_eq!(queue.len(), 10, "the unacknowledged batch is still queued");
    drop(queue);
    let (reporter, _messages) = start(&m, &dir, false);
    assert!(reporter.flush(Duration::from_secs(20)).await, "redelivered");
    pushed.push(reporter.push(event(36)).await.expect("push after"));
    assert!(reporter.flush(Duration::from_secs(20)).await, "delivered");
    assert_eq!(
        *pushed.last().expect("pushed"),
        36,
        "the torn seq is used anew"
    );
    assert_eq!(seqs_on_hub(&admin, m.learner_id).await, pushed);
    reporter.stop().await;

    // The learner's login can do nothing to another learner's rows.
    let other = membership::join(&hub_url(&c), &code, "cat", false, &home.path().join("d"))
        .await
        .expect("join cat");
    let seen: i64 = learner
        .client
        .query_one(
            "SELECT count(*) FROM classroom.events WHERE learner_id = $1",
            &[&other.learner_id],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(seen, 0);
    let forged = deliver(&learner.client, other.learner_id, &batch).await;
    assert!(forged.is_err(), "posting as another learner is refused");

    // The commands: what happened, or why not and what to do.
    let cli_dir = home.path().join("cli");
    let classroom = |args: &[&str]| {
        std::process::Command::new(support::BIN)
            .arg("classroom")
            .args(args)
            .env("REPLICA_LAB_CLASSROOM_DIR", &cli_dir)
            .env("XDG_CONFIG_HOME", home.path().join("no-config"))
            .output()
            .expect("run replica-lab")
    };
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let url = hub_url(&c);
    let out = classroom(&["join", "WRONG234", "--name", "dan", "--hub", &url]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("the join code is wrong"),
        "{}",
        text(&out)
    );
    let out = classroom(&["join", &code, "--name", "ann", "--hub", &url]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("choose another --name"),
        "{}",
        text(&out)
    );
    let out = classroom(&[
        "join",
        &code,
        "--name",
        "dan",
        "--hub",
        &url,
        "--allow-drills",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("joined the class as dan"), "{said}");
    assert!(said.contains("run on your own cluster"), "{said}");
    assert!(!said.contains("mypassword"), "{said}");
    let dan = membership::load(&cli_dir).expect("load").expect("saved");
    assert!(dan.allow_drills);
    let out = classroom(&["join", &code, "--name", "dan2", "--hub", &url]);
    assert!(!out.status.success());
    assert!(text(&out).contains("classroom leave"), "{}", text(&out));
    let out = classroom(&["leave"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("left the class"), "{}", text(&out));
    assert_eq!(membership::load(&cli_dir).expect("load"), None);
}

async fn hub_answers(c: &TestCluster) -> bool {
    connect(&hub_url(c), "classroom test").await.is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_learners_posting_for_a_minute_lose_nothing() {
    const LEARNERS: usize = 200;
    // Each learner's pace below spreads this over 25 to 60 s: a minute of a class, counted in
    // events rather than timed, so a busy machine posts as many as an idle one.
    const EVENTS_EACH: u64 = 61;
    let c = TestCluster::new("classroom-learners", 47, Rt::Local);
    c.up(1);
    // Every learner holds a connection of their own; the default 100 is not enough. A standby
    // needs at least the primary's number, so it goes first.
    for node in ["pg2", "pg1"] {
        let client = support::connect(c.node_connect(node), "postgres")
            .await
            .expect("node");
        client
            .batch_execute("ALTER SYSTEM SET max_connections = 320")
            .await
            .expect("max_connections");
        drop(client);
        c.ok(&["node", "stop", node]);
        c.ok(&["node", "start", node]);
    }
    let hub_ready = eventually(Duration::from_secs(30), "the hub", || async {
        connect(&hub_url(&c), "classroom test").await.ok()
    })
    .await;
    drop(hub_ready);
    let (admin, _session, code) = hub(&c).await;
    let home = tempfile::tempdir().expect("tempdir");

    let url = hub_url(&c);
    let members: Vec<(Membership, std::path::PathBuf)> = futures::stream::iter(0..LEARNERS)
        .map(|i| {
            let (url, code) = (url.clone(), code.clone());
            let dir = home.path().join(format!("learner-{i}"));
            async move {
                let m = membership::join(&url, &code, &format!("learner {i}"), false, &dir)
                    .await
                    .unwrap_or_else(|e| panic!("learner {i} joins: {e}"));
                (m, dir)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    assert_eq!(members.len(), LEARNERS);

    let mut tasks = Vec::new();
    for (i, (m, dir)) in members.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let (reporter, mut messages) = start(&m, &dir, true);
            tokio::spawn(async move { while messages.recv().await.is_some() {} });
            let mut pushed = Vec::new();
            // Learners do not act in step: each starts and paces itself a little differently.
            let every = Duration::from_millis(400 + (i as u64 % 7) * 100);
            tokio::time::sleep(Duration::from_millis(i as u64 * 5)).await;
            for n in 0..EVENTS_EACH {
                pushed.push(reporter.push(event(n)).await.expect("push"));
                tokio::time::sleep(every).await;
            }
            let flushed = reporter.flush(Duration::from_secs(120)).await;
            let state = reporter.state.borrow().clone();
            (m.learner_id, pushed, flushed, state)
        }));
    }
    let mut expected = BTreeMap::new();
    for t in tasks {
        let (learner, pushed, flushed, state) = t.await.expect("learner task");
        assert!(
            flushed,
            "learner {learner} still has events queued: {state:?}"
        );
        expected.insert(learner, pushed);
    }
    let total: usize = expected.values().map(Vec::len).sum();
    assert_eq!(total as u64, LEARNERS as u64 * EVENTS_EACH, "events posted");

    let rows = admin
        .query(
            "SELECT learner_id, array_agg(seq ORDER BY seq, id) FROM classroom.events \
             GROUP BY learner_id",
            &[],
        )
        .await
        .expect("events");
    let mut on_hub = BTreeMap::new();
    for r in rows {
        let seqs: Vec<i64> = r.get(1);
        on_hub.insert(
            r.get::<_, i64>(0),
            seqs.into_iter()
                .map(|s| u64::try_from(s).expect("positive"))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(on_hub.len(), LEARNERS);
    for (learner, pushed) in &expected {
        assert_eq!(
            on_hub.get(learner),
            Some(pushed),
            "learner {learner}: every pushed seq exactly once"
        );
    }
}
