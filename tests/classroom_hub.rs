//! The hub side of the classroom against real PostgreSQL: the schema and its migrations, join
//! codes, row-level security asserted through the server's own errors, the notifications the
//! roster and the learners' apps listen for, TLS per sslmode, and `classroom host`/`down`
//! starting and removing a hub of their own.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use replica_lab::classroom::catalogue::{self, CatalogueLesson, HubCatalogue};
use replica_lab::classroom::connect::{self, Hub, HubError};
use replica_lab::classroom::host::{self, HubFile};
use replica_lab::classroom::migrate::{self, migrate};
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
    connect::connect(url, "classroom hub test")
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}", connect::mask(url)))
}

/// The server's SQLSTATE and message for a statement that must fail.
fn refused(result: Result<impl std::fmt::Debug, tokio_postgres::Error>) -> (SqlState, String) {
    let e = result.expect_err("the hub should have refused this");
    let db = e
        .as_db_error()
        .unwrap_or_else(|| panic!("not a server error: {e}"));
    (db.code().clone(), db.message().to_string())
}

struct Joined {
    id: i64,
    role: String,
    password: String,
    session: i64,
}

async fn join(gate: &Client, code: &str, name: &str) -> Result<Joined, tokio_postgres::Error> {
    let row = gate
        .query_one("SELECT * FROM classroom.join($1, $2)", &[&code, &name])
        .await?;
    Ok(Joined {
        id: row.get("learner_id"),
        role: row.get("role_name"),
        password: row.get("password"),
        session: row.get("session_id"),
    })
}

async fn next_notification(h: &mut Hub) -> (String, String) {
    let n = tokio::time::timeout(Duration::from_secs(5), h.notifications.recv())
        .await
        .expect("a notification within 5 s")
        .expect("the connection is alive");
    (n.channel().to_string(), n.payload().to_string())
}

async fn event(c: &Client, learner: i64, seq: i64, kind: &str, lesson: &str, step: &str) {
    c.execute(
        "INSERT INTO classroom.events (learner_id, seq, kind, lesson, step, happened_at)
         VALUES ($1, $2, $3, $4, $5, now())",
        &[&learner, &seq, &kind, &lesson, &step],
    )
    .await
    .unwrap_or_else(|e| panic!("event {kind} for {learner}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_keeps_each_learner_to_their_own_rows() {
    let c = TestCluster::new("classroom-hub-db", 44, Rt::Local);
    c.up(1);
    let url = owner_url(&c);
    let mut owner = hub(&url).await;

    // Migrations: applied once, recorded, and applying them again changes nothing.
    assert_eq!(migrate(&owner.client).await.unwrap(), migrate::latest());
    assert_eq!(migrate(&owner.client).await.unwrap(), migrate::latest());
    let versions: Vec<i32> = owner
        .client
        .query(
            "SELECT version FROM classroom.migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let expected: Vec<i32> = (1..=i32::try_from(migrate::latest()).unwrap()).collect();
    assert_eq!(versions, expected);
    // A hub a newer replica-lab migrated is left alone, with a message that says so.
    owner
        .client
        .execute(
            "INSERT INTO classroom.migrations (version) VALUES (999)",
            &[],
        )
        .await
        .unwrap();
    let e = migrate(&owner.client).await.unwrap_err();
    assert!(matches!(e, HubError::NewerSchema { found: 999, .. }), "{e}");
    assert!(e.to_string().contains("newer than this replica-lab"), "{e}");
    owner
        .client
        .execute("DELETE FROM classroom.migrations WHERE version = 999", &[])
        .await
        .unwrap();
    host::check_can_create_roles(&owner.client).await.unwrap();

    // Sessions and codes: the hub keeps the code's hash only.
    let (session, code) = host::create_session(&owner.client, "class", Duration::from_secs(3600))
        .await
        .unwrap();
    // The class's lessons, which the hub takes events about (tests/classroom_guard.rs has
    // the refusals).
    let intro = HubCatalogue {
        lessons: vec![CatalogueLesson {
            id: "01-intro".into(),
            steps: ["1", "2", "3"].map(String::from).to_vec(),
        }],
    };
    catalogue::upload(&owner.client, session, &intro)
        .await
        .unwrap();
    let (stale, stale_code) =
        host::create_session(&owner.client, "old class", Duration::from_secs(3600))
            .await
            .unwrap();
    owner
        .client
        .execute(
            "UPDATE classroom.sessions SET code_expires_at = now() - interval '1 minute'
             WHERE id = $1",
            &[&stale],
        )
        .await
        .unwrap();
    let stored: String = owner
        .client
        .query_one(
            "SELECT join_code_hash FROM classroom.sessions WHERE id = $1",
            &[&session],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored.len(), 64);
    assert!(!stored.contains(&code));

    // The gate: joins, and nothing else.
    let gate_url = host::gate_url(&url).unwrap();
    assert!(gate_url.starts_with("postgresql://classroom_gate:classroom_gate@127.0.0.1:"));
    let gate = hub(&gate_url).await;
    let (state, message) = refused(join(&gate.client, "ZZZZZZZZ", "ann").await.map(|j| j.id));
    assert_eq!(state, SqlState::INVALID_AUTHORIZATION_SPECIFICATION);
    assert_eq!(message, "the join code is wrong");
    let (state, message) = refused(join(&gate.client, &stale_code, "ann").await.map(|j| j.id));
    assert_eq!(state, SqlState::INVALID_AUTHORIZATION_SPECIFICATION);
    assert_eq!(message, "the join code has expired");
    let e = join(&gate.client, &stale_code, "ann").await.err().unwrap();
    let hint = e.as_db_error().and_then(|d| d.hint()).unwrap_or_default();
    assert!(hint.contains("new code"), "{hint}");

    // Codes are typed by people: case and blanks around them do not matter.
    let ann = join(&gate.client, &format!(" {} ", code.to_lowercase()), "ann")
        .await
        .unwrap();
    let bob = join(&gate.client, &code, "bob").await.unwrap();
    assert_eq!((ann.session, bob.session), (session, session));
    assert!(
        ann.role.starts_with(&format!("rl_learner_{}_", ann.id)),
        "{}",
        ann.role
    );
    assert!(ann.password.len() >= 32 && ann.password != bob.password);
    let (state, message) = refused(join(&gate.client, &code, "ann").await.map(|j| j.id));
    assert_eq!(state, SqlState::UNIQUE_VIOLATION);
    assert!(message.contains("taken"), "{message}");
    let (state, _) = refused(join(&gate.client, &code, "  ").await.map(|j| j.id));
    assert_eq!(state, SqlState::INVALID_PARAMETER_VALUE);
    for table in [
        "sessions",
        "learners",
        "events",
        "learner_state",
        "broadcasts",
        "drills",
        "migrations",
    ] {
        let (state, message) = refused(
            gate.client
                .query(&format!("SELECT 1 FROM classroom.{table}"), &[])
                .await,
        );
        assert_eq!(
            state,
            SqlState::INSUFFICIENT_PRIVILEGE,
            "gate reads {table}"
        );
        assert!(message.contains("permission denied"), "{message}");
    }
    let (state, _) = refused(gate.client.query("SELECT classroom.me()", &[]).await);
    assert_eq!(state, SqlState::INSUFFICIENT_PRIVILEGE);

    // Each learner logs in as themselves.
    let login = |j: &Joined| connect::with_login(&url, &j.role, &j.password).unwrap();
    let a = hub(&login(&ann)).await;
    let b = hub(&login(&bob)).await;
    let me: i64 = a
        .client
        .query_one("SELECT classroom.me()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(me, ann.id);

    // Events: one's own only, and never changed afterwards.
    event(&a.client, ann.id, 1, "lesson_opened", "01-intro", "1").await;
    event(&b.client, bob.id, 1, "lesson_opened", "01-intro", "1").await;
    let (state, message) = refused(
        a.client
            .execute(
                "INSERT INTO classroom.events (learner_id, seq, kind, happened_at)
                 VALUES ($1, 2, 'hint', now())",
                &[&bob.id],
            )
            .await,
    );
    assert_eq!(state, SqlState::INSUFFICIENT_PRIVILEGE);
    assert!(message.contains("row-level security"), "{message}");
    let seen: Vec<i64> = a
        .client
        .query("SELECT learner_id FROM classroom.events", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(seen, [ann.id]);
    let bobs = a
        .client
        .query(
            "SELECT * FROM classroom.events WHERE learner_id = $1",
            &[&bob.id],
        )
        .await
        .unwrap();
    assert!(bobs.is_empty());
    for sql in [
        "UPDATE classroom.events SET kind = 'passed'",
        "UPDATE classroom.events SET kind = 'passed' WHERE learner_id = classroom.me()",
        "DELETE FROM classroom.events",
        "DELETE FROM classroom.events WHERE learner_id = classroom.me()",
        "TRUNCATE classroom.events",
    ] {
        let (state, message) = refused(a.client.execute(sql, &[]).await);
        assert_eq!(state, SqlState::INSUFFICIENT_PRIVILEGE, "{sql}");
        assert!(message.contains("permission denied"), "{sql}: {message}");
    }
    // Delivering the same event twice (a lost acknowledgement) inserts it once.
    let again = a
        .client
        .execute(
            "INSERT INTO classroom.events (learner_id, seq, kind, lesson, step, happened_at)
             VALUES ($1, 1, 'lesson_opened', '01-intro', '1', now())
             ON CONFLICT (learner_id, seq) DO NOTHING",
            &[&ann.id],
        )
        .await
        .unwrap();
    assert_eq!(again, 0);

    // Sessions: their own, without the code's hash.
    let (state, _) = refused(
        a.client
            .query("SELECT join_code_hash FROM classroom.sessions", &[])
            .await,
    );
    assert_eq!(state, SqlState::INSUFFICIENT_PRIVILEGE);
    let (state, _) = refused(
        a.client
            .query("SELECT * FROM classroom.sessions", &[])
            .await,
    );
    assert_eq!(state, SqlState::INSUFFICIENT_PRIVILEGE);
    let sessions: Vec<i64> = a
        .client
        .query("SELECT id FROM classroom.sessions", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(sessions, [session], "the expired session is someone else's");

    // Learners: their own row; of it, allow_drills only.
    let names: Vec<String> = a
        .client
        .query("SELECT name FROM classroom.learners", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, ["ann"]);
    let changed = a
        .client
        .execute(
            "UPDATE classroom.learners SET allow_drills = true WHERE id = $1",
            &[&bob.id],
        )
        .await
        .unwrap();
    assert_eq!(changed, 0, "bob's row is not ann's to change");
    let changed = a
        .client
        .execute(
            "UPDATE classroom.learners SET allow_drills = true WHERE id = $1",
            &[&ann.id],
        )
        .await
        .unwrap();
    assert_eq!(changed, 1);
    let drills: Vec<(String, bool)> = owner
        .client
        .query(
            "SELECT name, allow_drills FROM classroom.learners ORDER BY name",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        drills,
        [("ann".to_string(), true), ("bob".to_string(), false)]
    );
    for sql in [
        "UPDATE classroom.learners SET name = 'eve'",
        "UPDATE classroom.learners SET session_id = 1",
        "DELETE FROM classroom.learners",
        "INSERT INTO classroom.broadcasts (session_id, message) VALUES (1, 'hi')",
        "INSERT INTO classroom.drills (session_id, action) VALUES (1, 'kill-primary')",
        "UPDATE classroom.sessions SET pace = 1",
        "UPDATE classroom.learner_state SET checks = 99",
        "SELECT * FROM classroom.migrations",
    ] {
        let (state, _) = refused(a.client.execute(sql, &[]).await);
        assert_eq!(state, SqlState::INSUFFICIENT_PRIVILEGE, "{sql}");
    }
    let (state, _) = refused(join(&a.client, &code, "eve").await.map(|j| j.id));
    assert_eq!(
        state,
        SqlState::INSUFFICIENT_PRIVILEGE,
        "learners do not join others"
    );

    // learner_state follows the events, through the trigger, for learners who may not write it.
    for (seq, kind, step) in [
        (2, "step_opened", "2"),
        (3, "checked", "2"),
        (4, "hint", "2"),
        (5, "passed", "2"),
        (6, "passed", "2"),
        (7, "step_opened", "3"),
        (8, "solved_with_help", "3"),
    ] {
        event(&a.client, ann.id, seq, kind, "01-intro", step).await;
    }
    let row = owner
        .client
        .query_one(
            "SELECT lesson, step, step_since IS NOT NULL, last_seen IS NOT NULL, checks, hints,
                    steps_passed, steps_helped, lessons_done::text
             FROM classroom.learner_state WHERE learner_id = $1",
            &[&ann.id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "01-intro");
    assert_eq!(row.get::<_, String>(1), "3");
    assert!(row.get::<_, bool>(2) && row.get::<_, bool>(3));
    assert_eq!(
        (
            row.get::<_, i32>(4),
            row.get::<_, i32>(5),
            row.get::<_, i32>(6),
            row.get::<_, i32>(7)
        ),
        (1, 1, 1, 1),
        "a step passed twice counts once"
    );
    assert_eq!(row.get::<_, String>(8), r#"{"01-intro": 2}"#);
    let states = a
        .client
        .query("SELECT learner_id FROM classroom.learner_state", &[])
        .await
        .unwrap();
    assert_eq!(states.len(), 1, "a learner sees their own state only");

    // Notifications, as the roster and the learners' apps expect them.
    owner
        .client
        .batch_execute(&format!(
            "LISTEN classroom_events; LISTEN classroom_session_{session}"
        ))
        .await
        .unwrap();
    a.client
        .execute(
            "INSERT INTO classroom.events (learner_id, seq, kind, lesson, step, happened_at)
             VALUES ($1, 9, 'checked', '01-intro', '3', now()),
                    ($1, 10, 'checked', '01-intro', '3', now())",
            &[&ann.id],
        )
        .await
        .unwrap();
    assert_eq!(
        next_notification(&mut owner).await,
        ("classroom_events".into(), session.to_string()),
        "one notification per statement, naming the session"
    );
    let talker = hub(&url).await;
    let broadcast: i64 = talker
        .client
        .query_one(
            "INSERT INTO classroom.broadcasts (session_id, message) VALUES ($1, 'hello')
             RETURNING id",
            &[&session],
        )
        .await
        .unwrap()
        .get(0);
    let channel = format!("classroom_session_{session}");
    assert_eq!(
        next_notification(&mut owner).await,
        (channel.clone(), format!("broadcast:{broadcast}"))
    );
    let drill: i64 = talker
        .client
        .query_one(
            "INSERT INTO classroom.drills (session_id, action) VALUES ($1, 'kill-primary')
             RETURNING id",
            &[&session],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        next_notification(&mut owner).await,
        (channel.clone(), format!("drill:{drill}"))
    );
    let set_pace = |pace: i32| {
        let client = &talker.client;
        async move {
            client
                .execute(
                    "UPDATE classroom.sessions SET pace = $1 WHERE id = $2",
                    &[&pace, &session],
                )
                .await
                .unwrap();
        }
    };
    set_pace(3).await;
    assert_eq!(
        next_notification(&mut owner).await,
        (channel.clone(), format!("pace:{session}"))
    );
    // The same pace again says nothing: the next notification is the marker after it.
    set_pace(3).await;
    talker
        .client
        .batch_execute(&format!("NOTIFY {channel}, 'marker'"))
        .await
        .unwrap();
    assert_eq!(
        next_notification(&mut owner).await,
        (channel.clone(), "marker".into())
    );
    // Learners may listen on their session's channel, and what they read back is theirs.
    let mut a = a;
    a.client
        .batch_execute(&format!("LISTEN {channel}"))
        .await
        .unwrap();
    set_pace(4).await;
    assert_eq!(
        next_notification(&mut a).await,
        (channel.clone(), format!("pace:{session}"))
    );
    let pace: Option<i32> = a
        .client
        .query_one("SELECT pace FROM classroom.sessions", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(pace, Some(4));
    let sent = a
        .client
        .query("SELECT message FROM classroom.broadcasts", &[])
        .await
        .unwrap();
    assert_eq!(sent.len(), 1);

    // A hub login that cannot create roles is told what to do.
    owner
        .client
        .batch_execute("CREATE ROLE plain_teacher LOGIN PASSWORD 'plain'")
        .await
        .unwrap();
    let plain = hub(&connect::with_login(&url, "plain_teacher", "plain").unwrap()).await;
    let e = host::check_can_create_roles(&plain.client)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("CREATEROLE") && e.contains("plain_teacher"),
        "{e}"
    );

    // `classroom host --db`: migrates, opens a session, remembers it, prints the join command.
    let classroom_dir = c.data_dir.join("classroom");
    let out = Command::new(BIN)
        .args(["classroom", "host", "--db", &url, "--title", "Friday class"])
        .args(["--code-valid", "1h30m"])
        .env("REPLICA_LAB_CLASSROOM_DIR", &classroom_dir)
        .env("XDG_CONFIG_HOME", c.data_dir.join("no-config"))
        .output()
        .unwrap();
    let stdout = ok(&out);
    assert!(!stdout.contains("mypassword"), "{stdout}");
    let printed = join_code(&stdout);
    let gate_in_output = format!("--hub {gate_url}");
    assert!(
        stdout.contains(&format!(
            "replica-lab classroom join {printed} --name YOUR-NAME {gate_in_output}"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("replica-lab --join {printed}")),
        "{stdout}"
    );
    let saved = HubFile::load(&classroom_dir).unwrap().unwrap();
    assert_eq!(saved.url, url);
    assert_eq!(saved.title, "Friday class");
    assert_private(&HubFile::path(&classroom_dir));
    let carl = join(&gate.client, &printed, "carl").await.unwrap();
    assert_eq!(carl.session, saved.session_id);
    let bad = Command::new(BIN)
        .args(["classroom", "host", "--db", &url, "--code-valid", "soon"])
        .env("REPLICA_LAB_CLASSROOM_DIR", &classroom_dir)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("90m"));

    // A second hub database on the same server: its learners' roles do not collide with
    // the first one's, though their ids do.
    owner
        .client
        .batch_execute("CREATE DATABASE second_hub")
        .await
        .unwrap();
    let url2 = url.replace("/mydatabase?", "/second_hub?");
    let owner2 = hub(&url2).await;
    migrate(&owner2.client).await.unwrap();
    let (_, code2) = host::create_session(&owner2.client, "other", Duration::from_secs(600))
        .await
        .unwrap();
    let gate2 = hub(&host::gate_url(&url2).unwrap()).await;
    let first_there = join(&gate2.client, &code2, "ann").await.unwrap();
    assert_eq!(first_there.id, 1, "ids start again in each database");
    assert_ne!(first_there.role, ann.role);
    assert!(first_there.role.starts_with("rl_learner_1_"));

    tls(&c).await;
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn join_code(stdout: &str) -> String {
    stdout
        .split("join code ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .map(|c| c.trim_end_matches(',').to_string())
        .unwrap_or_else(|| panic!("no join code in {stdout}"))
}

fn assert_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", path.display());
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate it signed for localhost and 127.0.0.1; and another CA.
fn certificates(dir: &Path) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    for ca in ["ca", "other-ca"] {
        let mut args = vec!["req", "-x509", "-nodes", "-days", "1"];
        args.extend(ec);
        let (key, pem, subj) = (
            format!("{ca}.key"),
            format!("{ca}.pem"),
            format!("/CN=replica-lab test {ca}"),
        );
        args.extend(["-keyout", &key, "-out", &pem, "-subj", &subj]);
        openssl(dir, &args);
    }
    let mut args = vec!["req", "-nodes"];
    args.extend(ec);
    args.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    openssl(dir, &args);
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-out",
            "server.crt",
            "-extfile",
            "san.ext",
        ],
    );
}

/// TLS per sslmode, on the test cluster's primary with `ssl = on` and a certificate made here.
async fn tls(c: &TestCluster) {
    let certs = tempfile::tempdir().unwrap();
    certificates(certs.path());
    let data = c.cluster_dir().join("pg1").join("data");
    for file in ["server.crt", "server.key"] {
        let to = data.join(file);
        std::fs::copy(certs.path().join(file), &to).unwrap();
        own_by_server(&to);
    }
    let primary = c.node_connect("pg1");
    let node_url = |host: &str, mode: &str| {
        format!(
            "postgresql://myuser:mypassword@{host}:{}/mydatabase?sslmode={mode}",
            primary.port()
        )
    };
    let admin = hub(&node_url(&primary.ip().to_string(), "disable")).await;
    // One at a time: ALTER SYSTEM refuses to run in the transaction a batch makes.
    for sql in [
        "ALTER SYSTEM SET ssl_cert_file = 'server.crt'",
        "ALTER SYSTEM SET ssl_key_file = 'server.key'",
        "ALTER SYSTEM SET ssl = on",
        "SELECT pg_reload_conf()",
    ] {
        admin.client.batch_execute(sql).await.unwrap();
    }

    let via_proxy = |mode: &str, extra: &str| {
        format!(
            "postgresql://myuser:mypassword@127.0.0.1:{}/mydatabase?sslmode={mode}{extra}",
            c.write_port()
        )
    };
    let root = |p: &str| {
        format!(
            "&sslrootcert={}",
            connect::percent_encode(&certs.path().join(p).display().to_string())
        )
    };
    // Reloading takes a moment to reach new backends.
    support::eventually(Duration::from_secs(10), "ssl on", || async {
        let h = connect::connect(&via_proxy("require", ""), "t")
            .await
            .ok()?;
        ssl_in_use(&h.client).await.then_some(())
    })
    .await;
    for (mode, extra, encrypted) in [
        ("require", String::new(), true),
        ("prefer", String::new(), true),
        ("disable", String::new(), false),
        ("verify-full", root("ca.pem"), true),
        ("verify-ca", root("ca.pem"), true),
    ] {
        let h = hub(&via_proxy(mode, &extra)).await;
        assert_eq!(ssl_in_use(&h.client).await, encrypted, "sslmode={mode}");
    }
    let e = connect::connect(&via_proxy("verify-full", &root("other-ca.pem")), "t")
        .await
        .err()
        .expect("a certificate from another CA is refused");
    assert!(matches!(e, HubError::Tls { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("not signed by the CA in sslrootcert"),
        "{text}"
    );
    assert!(!text.contains("mypassword"), "{text}");
    // The node's own address is not on the certificate: verify-full says so, verify-ca does
    // not ask.
    let direct = |mode: &str| {
        format!(
            "{}{}",
            node_url(&primary.ip().to_string(), mode),
            root("ca.pem")
        )
    };
    let e = connect::connect(&direct("verify-full"), "t")
        .await
        .err()
        .expect("a name not on the certificate is refused");
    assert!(e.to_string().contains("another host name"), "{e}");
    let h = hub(&direct("verify-ca")).await;
    assert!(ssl_in_use(&h.client).await);

    // A hub without TLS, asked for it, says what to change.
    for sql in ["ALTER SYSTEM SET ssl = off", "SELECT pg_reload_conf()"] {
        admin.client.batch_execute(sql).await.unwrap();
    }
    let e = support::eventually(Duration::from_secs(10), "ssl off", || async {
        connect::connect(&via_proxy("require", ""), "t").await.err()
    })
    .await
    .to_string();
    assert!(e.contains("turn ssl on at the hub"), "{e}");
}

async fn ssl_in_use(c: &Client) -> bool {
    c.query_one(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

/// As root, the servers run as `postgres`, which must own its key.
fn own_by_server(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if root {
        let out = Command::new("chown")
            .arg("postgres:postgres")
            .arg(path)
            .output()
            .unwrap();
        assert!(out.status.success());
    }
}

/// `classroom host` without --db, in a folder and on ports of its own; removed at the end.
struct StartedHub {
    data_dir: PathBuf,
    port: u16,
}

impl StartedHub {
    fn new(name: &str, port: u16) -> StartedHub {
        let h = StartedHub {
            data_dir: PathBuf::from("/var/tmp/replica-lab-tests").join(name),
            port,
        };
        let _ = h.run(&["classroom", "down", "--purge"]);
        h
    }

    fn classroom_dir(&self) -> PathBuf {
        self.data_dir.join("classroom")
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .env("REPLICA_LAB_DATA_DIR", &self.data_dir)
            .env("REPLICA_LAB_CLASSROOM_DIR", self.classroom_dir())
            .env("REPLICA_LAB_NODE_BASE", "127.0.45.10")
            .env("REPLICA_LAB_RUNTIME", "local")
            .env("XDG_CONFIG_HOME", self.data_dir.join("no-config"))
            .output()
            .unwrap()
    }

    fn host(&self) -> Output {
        let port = self.port.to_string();
        self.run(&[
            "classroom",
            "host",
            "--port",
            &port,
            "--title",
            "started",
            "--code-valid",
            "20m",
        ])
    }
}

impl Drop for StartedHub {
    fn drop(&mut self) {
        let _ = self.run(&["classroom", "down", "--purge"]);
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classroom_host_starts_a_hub_and_down_removes_it() {
    // Slot 45: ports from 20 900.
    let started = StartedHub::new("classroom-hub-started", 20_900);
    let stdout = ok(&started.host());
    let gate_url = "postgresql://classroom_gate:classroom_gate@127.0.0.1:20900/mydatabase";
    assert!(stdout.contains(&format!("--hub {gate_url}")), "{stdout}");
    assert!(!stdout.contains("mypassword"), "{stdout}");
    let code = join_code(&stdout);
    let saved = HubFile::load(&started.classroom_dir()).unwrap().unwrap();
    assert_private(&HubFile::path(&started.classroom_dir()));
    let gate = hub(gate_url).await;
    let ann = join(&gate.client, &code, "ann").await.unwrap();
    assert_eq!(ann.session, saved.session_id);
    drop(gate);

    // Hosting again reuses the hub (its ports are its own, not in the way) with a new code.
    let again = ok(&started.host());
    let second = join_code(&again);
    assert_ne!(second, code);
    let next = HubFile::load(&started.classroom_dir()).unwrap().unwrap();
    assert!(next.session_id > saved.session_id);

    // Another hub on ports that are taken is refused before anything starts.
    let taken = std::net::TcpListener::bind("127.0.0.1:20911").unwrap();
    let other = StartedHub::new("classroom-hub-taken", 20_910);
    let out = other.host();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("20911") && stderr.contains("--port"),
        "{stderr}"
    );
    drop(taken);

    // Down keeps the data and the hub file; down --purge removes both.
    let stdout = ok(&started.run(&["classroom", "down"]));
    assert!(stdout.contains("data stays"), "{stdout}");
    assert!(HubFile::path(&started.classroom_dir()).exists());
    assert!(
        connect::connect(gate_url, "t").await.is_err(),
        "the hub is stopped"
    );
    let stdout = ok(&started.run(&["classroom", "down", "--purge"]));
    assert!(stdout.contains("removed"), "{stdout}");
    assert!(!HubFile::path(&started.classroom_dir()).exists());
    assert!(
        !started
            .data_dir
            .join("clusters")
            .join(host::HUB_CLUSTER)
            .exists()
    );
    let stdout = ok(&started.run(&["classroom", "down"]));
    assert!(stdout.contains("nothing to stop"), "{stdout}");
}
