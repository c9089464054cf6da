//! The hub does not take a learner's app at its word. Against a real hub, as learners' own
//! logins: forged events (steps that do not exist, times at infinity, a 20 MB detail, a flood)
//! are refused by the database itself, each with its SQLSTATE; the learner's reporter drops
//! what is refused and waits out the rate limit without losing the rest; and whatever text
//! reached the hub, the roster and the CSV export print it as text.

mod support;

use std::process::Command;
use std::time::Duration;

use replica_lab::classroom::catalogue::{self, CatalogueLesson, HubCatalogue};
use replica_lab::classroom::connect::{self, Hub};
use replica_lab::classroom::guard;
use replica_lab::classroom::host;
use replica_lab::classroom::membership::{self, queue_dir};
use replica_lab::classroom::migrate::migrate;
use replica_lab::classroom::queue::{ClassEvent, EventKind, Queue};
use replica_lab::classroom::reporter::{Reporter, ReporterConfig};
use serde_json::json;
use support::{BIN, Rt, TestCluster};
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

fn owner_url(c: &TestCluster) -> String {
    format!(
        "postgresql://myuser:mypassword@127.0.0.1:{}/mydatabase?sslmode=disable",
        c.write_port()
    )
}

async fn hub(url: &str) -> Hub {
    connect::connect(url, "classroom guard test")
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}", connect::mask(url)))
}

/// The server's SQLSTATE and message for a statement that must fail.
fn refused<T: std::fmt::Debug>(result: Result<T, tokio_postgres::Error>) -> (String, String) {
    let e = result.expect_err("the hub should have refused this");
    let db = e
        .as_db_error()
        .unwrap_or_else(|| panic!("not a server error: {e}"));
    (db.code().code().to_string(), db.message().to_string())
}

/// A learner who joined through the gate, logged in as their own role.
struct Learner {
    id: i64,
    hub: Hub,
}

async fn join(
    gate: &Client,
    url: &str,
    code: &str,
    name: &str,
) -> Result<Learner, tokio_postgres::Error> {
    let row = gate
        .query_one(
            "SELECT learner_id, role_name, password FROM classroom.join($1, $2)",
            &[&code, &name],
        )
        .await?;
    let (role, password): (String, String) = (row.get(1), row.get(2));
    let login = connect::with_login(url, &role, &password).expect("a learner's URL");
    Ok(Learner {
        id: row.get(0),
        hub: hub(&login).await,
    })
}

/// One event as the learner's role, its time an SQL expression.
async fn insert(
    l: &Learner,
    seq: i64,
    kind: &str,
    lesson: Option<&str>,
    step: Option<&str>,
    at: &str,
    detail: &serde_json::Value,
) -> Result<u64, tokio_postgres::Error> {
    l.hub
        .client
        .execute(
            &format!(
                "INSERT INTO classroom.events (learner_id, seq, kind, lesson, step, detail, \
                 happened_at) VALUES ($1, $2, $3, $4, $5, $6, {at})"
            ),
            &[&l.id, &seq, &kind, &lesson, &step, detail],
        )
        .await
}

/// `n` events of `kind` in one statement, numbered from `from`, each on `step` of `lesson`
/// (`step` may hold `{n}` for the event's number).
async fn many(
    l: &Learner,
    from: i64,
    n: i64,
    kind: &str,
    lesson: &str,
    step: &str,
) -> Result<u64, tokio_postgres::Error> {
    l.hub
        .client
        .execute(
            "INSERT INTO classroom.events (learner_id, seq, kind, lesson, step, happened_at)
             SELECT $1, $2::bigint + i, $4, $5, replace($6, '{n}', i::text), now()
             FROM generate_series(0::bigint, $3::bigint - 1) AS i",
            &[&l.id, &from, &n, &kind, &lesson, &step],
        )
        .await
}

async fn state(owner: &Client, learner: i64) -> (i32, String, bool) {
    let row = owner
        .query_one(
            "SELECT steps_passed, lessons_done::text, last_seen <= now() + interval '5 minutes'
             FROM classroom.learner_state WHERE learner_id = $1",
            &[&learner],
        )
        .await
        .expect("the learner's state");
    (
        row.get(0),
        row.get(1),
        row.get::<_, Option<bool>>(2).unwrap_or(true),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_refuses_forged_events_and_prints_learners_text_as_text() {
    let c = TestCluster::new("classroom-guard", 29, Rt::Local);
    c.up(1);
    let url = owner_url(&c);
    let owner = hub(&url).await;
    migrate(&owner.client).await.expect("migrate");
    let (session, code) = host::create_session(&owner.client, "guarded", Duration::from_secs(3600))
        .await
        .expect("a session");
    let lessons = replica_lab::lesson::builtin_lessons().expect("the shipped lessons");
    catalogue::upload(&owner.client, session, &HubCatalogue::of(&lessons))
        .await
        .expect("the catalogue");
    let lesson = lessons[0].id.as_str();
    let step = lessons[0].steps[0].id.as_str();
    let gate = hub(&host::gate_url(&url).expect("the gate's URL")).await;

    // A name that would drive the instructor's terminal is refused when joining.
    let (state_code, message) = refused(
        join(&gate.client, &url, &code, "ev\x1b]0;owned\x07il")
            .await
            .map(|l| l.id),
    );
    assert_eq!(state_code, SqlState::INVALID_PARAMETER_VALUE.code());
    assert!(message.contains("control characters"), "{message}");
    let ada = join(&gate.client, &url, &code, "ada").await.expect("ada");
    let none = json!({});
    insert(
        &ada,
        1,
        "step_opened",
        Some(lesson),
        Some(step),
        "now()",
        &none,
    )
    .await
    .expect("a real event is taken");

    // Fifty passes for steps that do not exist: the statement is refused whole.
    let (code_50, message) =
        refused(many(&ada, 100, 50, "passed", lesson, "no-such-step-{n}").await);
    assert_eq!(code_50, guard::UNKNOWN_STEP, "{message}");
    assert!(
        message.contains("'no-such-step-0' is not a step of lesson"),
        "{message}"
    );
    let (code_l, message) = refused(many(&ada, 100, 1, "passed", "99-made-up", step).await);
    assert_eq!(code_l, guard::UNKNOWN_LESSON, "{message}");
    assert!(
        message.contains("not in this class's catalogue"),
        "{message}"
    );
    let (code_n, _) =
        refused(insert(&ada, 100, "passed", Some(lesson), None, "now()", &none).await);
    assert_eq!(code_n, guard::UNKNOWN_STEP, "a pass names its step");
    let (code_n, _) = refused(insert(&ada, 100, "hint", None, None, "now()", &none).await);
    assert_eq!(code_n, guard::UNKNOWN_LESSON, "a hint names its lesson");
    // Escapes in a lesson are not in any catalogue, and the message shows them as `?`.
    let (code_e, message) = refused(
        insert(
            &ada,
            100,
            "step_opened",
            Some("\x1b]0;owned\x07"),
            Some(step),
            "now()",
            &none,
        )
        .await,
    );
    assert_eq!(code_e, guard::UNKNOWN_LESSON);
    assert!(message.contains("'?]0;owned?'"), "{message}");
    assert_eq!(
        state(&owner.client, ada.id).await,
        (0, "{}".to_string(), true),
        "nothing forged counted"
    );

    // Times: infinity would freeze the row; far future and long before joining are refused.
    for at in [
        "'infinity'",
        "'-infinity'",
        "now() + interval '1 hour'",
        "now() - interval '2 days'",
    ] {
        let (code_t, message) =
            refused(insert(&ada, 100, "checked", Some(lesson), Some(step), at, &none).await);
        assert_eq!(code_t, guard::OUT_OF_TIME, "{at}: {message}");
    }
    insert(
        &ada,
        2,
        "checked",
        Some(lesson),
        Some(step),
        "now() + interval '1 minute'",
        &none,
    )
    .await
    .expect("a clock a minute fast is within the slack");
    assert!(
        state(&owner.client, ada.id).await.2,
        "the row is not frozen"
    );

    // Details: 20 MB is refused; 4096 bytes of JSON text is the most taken.
    let huge = json!({ "x": "x".repeat(20 * 1024 * 1024) });
    let (code_d, message) = refused(
        insert(
            &ada,
            100,
            "checked",
            Some(lesson),
            Some(step),
            "now()",
            &huge,
        )
        .await,
    );
    assert_eq!(code_d, guard::DETAIL_TOO_LARGE, "{message}");
    // `{"x": "…"}`: nine bytes around the string.
    let most = json!({ "x": "y".repeat(guard::DETAIL_MAX_BYTES - 9) });
    let over = json!({ "x": "y".repeat(guard::DETAIL_MAX_BYTES - 8) });
    insert(&ada, 3, "checked", Some(lesson), Some(step), "now()", &most)
        .await
        .expect("4096 bytes are taken");
    let (code_d, _) = refused(
        insert(
            &ada,
            100,
            "checked",
            Some(lesson),
            Some(step),
            "now()",
            &over,
        )
        .await,
    );
    assert_eq!(code_d, guard::DETAIL_TOO_LARGE, "4097 bytes are not");

    // A flood: one statement past the limit is refused whole, one at the limit is taken
    // (a fresh learner: nothing of theirs counted yet; a statement's rows share one now()).
    let rex = join(&gate.client, &url, &code, "rex").await.expect("rex");
    let limit = i64::try_from(guard::RATE_EVENTS).expect("small");
    let (code_r, message) = refused(many(&rex, 1, limit + 1, "checked", lesson, step).await);
    assert_eq!(code_r, guard::TOO_FAST, "{message}");
    assert_eq!(
        many(&rex, 1, limit, "checked", lesson, step)
            .await
            .expect("as many as the limit"),
        u64::try_from(limit).expect("positive")
    );

    // The hub numbers rows and stamps their arrival: a learner choosing either is refused.
    for column in ["id", "received_at"] {
        let value = if column == "id" { "999999" } else { "now()" };
        let (code_c, _) = refused(
            ada.hub
                .client
                .execute(
                    &format!(
                        "INSERT INTO classroom.events ({column}, learner_id, seq, kind, \
                         lesson, step, happened_at) VALUES ({value}, $1, 100, 'hint', $2, $3, \
                         now())"
                    ),
                    &[&ada.id, &lesson, &step],
                )
                .await,
        );
        assert_eq!(code_c, SqlState::INSUFFICIENT_PRIVILEGE.code(), "{column}");
    }

    reporter_drops_refusals_and_waits_out_the_limit(&url, &code, &owner.client, lesson, step).await;
    printed_text_stays_text(&c, &owner.client, session, &ada).await;
}

/// The learner's side: refused events are dropped with a note and do not hold up the rest;
/// more than the rate limit allows arrives all the same, a little later.
async fn reporter_drops_refusals_and_waits_out_the_limit(
    url: &str,
    code: &str,
    owner: &Client,
    lesson: &str,
    step: &str,
) {
    let home = tempfile::tempdir().expect("a folder");
    let dir = home.path().join("classroom");
    let m = membership::join(url, code, "lea", false, &dir)
        .await
        .expect("lea joins");
    let good = || {
        ClassEvent::new(
            EventKind::Checked,
            Some(lesson.to_string()),
            Some(step.to_string()),
        )
    };
    let mut queue = Queue::open(&queue_dir(&dir)).expect("the queue");
    let mut kept = Vec::new();
    kept.push(queue.push(good()).expect("push"));
    queue
        .push(ClassEvent::new(
            EventKind::Passed,
            Some("99-not-taught".into()),
            Some(step.into()),
        ))
        .expect("push");
    kept.push(queue.push(good()).expect("push"));
    queue
        .push(ClassEvent::new(
            EventKind::Passed,
            Some(lesson.into()),
            Some("no-such-step".into()),
        ))
        .expect("push");
    // Past the app's own trimming (`with_detail`), as a changed app could send it.
    let mut big = good();
    big.detail = json!({ "x": "x".repeat(10_000) });
    queue.push(big).expect("push");
    // Enough to pass the rate limit, queued before the reporter starts.
    for _ in 0..guard::RATE_EVENTS + 50 {
        kept.push(queue.push(good()).expect("push"));
    }
    let (tx, _rx) = tokio::sync::mpsc::channel(8);
    let config = ReporterConfig {
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_secs(1),
        throttle_wait: Duration::from_millis(500),
        listen: false,
        ..ReporterConfig::default()
    };
    let reporter = Reporter::spawn(m.clone(), queue, config, tx);
    let flushed = reporter.flush(Duration::from_secs(90)).await;
    let s = reporter.state.borrow().clone();
    assert!(flushed, "the queue drained: {s:?}");
    assert_eq!((s.refused, s.delivered), (3, kept.len() as u64), "{s:?}");
    let last = s.last_refused.clone().unwrap_or_default();
    assert!(
        last.contains("refused event 5") && last.contains("at most 4096"),
        "{last}"
    );
    let on_hub: Vec<u64> = owner
        .query(
            "SELECT seq FROM classroom.events WHERE learner_id = $1 ORDER BY seq",
            &[&m.learner_id],
        )
        .await
        .expect("lea's events")
        .iter()
        .map(|r| u64::try_from(r.get::<_, i64>(0)).expect("positive"))
        .collect();
    assert_eq!(on_hub, kept, "every event but the refused ones, once");
    reporter.stop().await;
}

/// Text that reached the hub before it checked (here: a catalogue that holds it) is printed
/// by `classroom roster` without its control characters, and exported as text a spreadsheet
/// does not run.
async fn printed_text_stays_text(c: &TestCluster, owner: &Client, session: i64, ada: &Learner) {
    let evil_lesson = "\x1b]0;owned\x07lesson\u{202e}";
    let evil_step = "=HYPERLINK(\"http://example.invalid\",\"open\")";
    let odd = HubCatalogue {
        lessons: vec![CatalogueLesson {
            id: evil_lesson.into(),
            steps: vec![evil_step.into()],
        }],
    };
    catalogue::upload(owner, session, &odd)
        .await
        .expect("the odd catalogue");
    let none = json!({});
    insert(
        ada,
        10,
        "step_opened",
        Some(evil_lesson),
        Some(evil_step),
        "now()",
        &none,
    )
    .await
    .expect("taken: it is in the catalogue");

    let dir = tempfile::tempdir().expect("a folder");
    let url = owner_url(c);
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .arg("classroom")
            .arg("--db")
            .arg(&url)
            .args(args)
            .env("REPLICA_LAB_CLASSROOM_DIR", dir.path().join("classroom"))
            .env("XDG_CONFIG_HOME", dir.path().join("no-config"))
            .output()
            .expect("run replica-lab");
        assert!(
            out.status.success(),
            "classroom {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let table = run(&["roster"]);
    let ada_line = table
        .lines()
        .find(|l| l.starts_with("ada "))
        .unwrap_or_else(|| panic!("no ada in {table:?}"));
    assert!(
        !table.contains(|ch: char| ch.is_control() && ch != '\n') && !table.contains('\u{202e}'),
        "{table:?}"
    );
    assert!(ada_line.contains("]0;ownedlesson"), "{ada_line:?}");

    let csv_path = dir.path().join("class.csv");
    run(&["export", "--csv", &csv_path.to_string_lossy()]);
    let csv = std::fs::read_to_string(&csv_path).expect("the CSV");
    assert!(
        csv.contains(",\"'=HYPERLINK(\"\"http://example.invalid\"\",\"\"open\"\")\",open,"),
        "{csv}"
    );
    for line in csv.lines() {
        assert!(
            !line.starts_with(['=', '+', '-', '@'])
                && !line.contains(",=")
                && !line.contains(",\"="),
            "a cell a spreadsheet would run: {line}"
        );
    }
}
