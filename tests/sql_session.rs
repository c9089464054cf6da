//! The SQL console's session actor against a real PostgreSQL server, started for these tests
//! alone: one throwaway server shared by the tests of this file, stopped and removed when the
//! last test using it is done (also when one fails), and leftovers of a killed run swept first.

mod support;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Once, PoisonError, Weak};
use std::time::{Duration, Instant};

use replica_lab::runtime::binaries::find_pg_bindir;
use replica_lab::settings::Credentials;
use replica_lab::sql::meta;
use replica_lab::sql::session::{APPLICATION_NAME, SessionConfig, SqlSession};
use replica_lab::sql::{Endpoint, Notice, ResultSet, SqlError, SqlEvent, Target, TxState};
use tokio::sync::mpsc;

/// Where the test servers live; each gets `pg-<pid>-<n>` so a sweep can tell a dead run's
/// leftovers from a live one's server.
const ROOT: &str = "/var/tmp/replica-lab-sql-session";
const FIRST_PORT: u16 = 25432;
/// How long one run may take before the test gives up on it.
const RUN_LIMIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// A throwaway PostgreSQL.

struct Postgres {
    bindir: PathBuf,
    dir: PathBuf,
    port: u16,
}

static SERVER: Mutex<Weak<Postgres>> = Mutex::new(Weak::new());
static SWEEP: Once = Once::new();
/// Starts one server at a time, so two never pick the same free port.
static STARTING: Mutex<()> = Mutex::new(());
static GENERATION: AtomicU32 = AtomicU32::new(0);

/// The server the tests of this file share, started on first use.
fn server() -> Arc<Postgres> {
    let mut slot = SERVER.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(pg) = slot.upgrade() {
        return pg;
    }
    let pg = Arc::new(Postgres::start());
    *slot = Arc::downgrade(&pg);
    pg
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A server program, run as `postgres` when we are root (the server refuses root).
fn program(bindir: &Path, name: &str) -> Command {
    let path = bindir.join(name);
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(path);
        c
    } else {
        Command::new(path)
    }
}

fn output(mut command: Command, what: &str) -> Output {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stop_and_remove(bindir: &Path, dir: &Path) {
    if dir.join("postmaster.pid").exists() {
        let _ = program(bindir, "pg_ctl")
            .arg("stop")
            .arg("-D")
            .arg(dir)
            .args(["-m", "immediate", "-w", "-t", "30"])
            .output();
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Stops and removes the servers of test runs that are no longer alive.
fn sweep(bindir: &Path) {
    let Ok(entries) = std::fs::read_dir(ROOT) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix("pg-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        let alive = pid.is_some_and(|pid| pid != std::process::id() && test_run_alive(pid));
        if !alive {
            stop_and_remove(bindir, &entry.path());
        }
    }
}

/// Whether `pid` is a test run of this file still going: not gone, not a zombie (a killed
/// run lingers as one until reaped), not another program that got its number since.
fn test_run_alive(pid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
    };
    // `/proc/<n>` also answers for a thread numbered n of any process.
    let process = field("Tgid:") == Some(pid.to_string().as_str());
    let zombie = field("State:").is_some_and(|s| s.starts_with('Z'));
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    process && !zombie && String::from_utf8_lossy(&cmdline).contains("sql_session")
}

fn free_port() -> u16 {
    (FIRST_PORT..FIRST_PORT + 200)
        .find(|p| TcpListener::bind((Ipv4Addr::LOCALHOST, *p)).is_ok())
        .expect("a free port for the test server")
}

impl Postgres {
    fn start() -> Postgres {
        let _one_at_a_time = STARTING.lock().unwrap_or_else(PoisonError::into_inner);
        let explicit = std::env::var_os("REPLICA_LAB_PG_BINDIR").map(PathBuf::from);
        let bindir = find_pg_bindir(explicit.as_deref())
            .unwrap_or_else(|e| panic!("PostgreSQL server programs: {e}"));
        SWEEP.call_once(|| sweep(&bindir));
        std::fs::create_dir_all(ROOT).expect("test root");
        if is_root() {
            // The server account creates its data folder in here.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(ROOT, std::fs::Permissions::from_mode(0o1777))
                .expect("test root permissions");
        }
        let dir = Path::new(ROOT).join(format!(
            "pg-{}-{}",
            std::process::id(),
            GENERATION.fetch_add(1, Ordering::SeqCst)
        ));
        let pg = Postgres {
            bindir,
            dir,
            port: free_port(),
        };
        // From here on, a failure drops `pg`, which removes whatever got started.
        stop_and_remove(&pg.bindir, &pg.dir);
        let mut initdb = program(&pg.bindir, "initdb");
        initdb
            .arg("-D")
            .arg(&pg.dir)
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8"])
            .args(["--locale=C", "--no-sync"]);
        output(initdb, "initdb");
        let mut start = program(&pg.bindir, "pg_ctl");
        start
            .args(["-w", "-t", "60", "-D"])
            .arg(&pg.dir)
            .arg("-l")
            .arg(pg.dir.join("server.log"))
            .arg("-o")
            .arg(format!(
                "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off",
                pg.port,
                pg.dir.display()
            ))
            .arg("start");
        let started = start.output().expect("cannot run pg_ctl");
        assert!(
            started.status.success(),
            "pg_ctl start failed: {}\n{}",
            String::from_utf8_lossy(&started.stderr),
            std::fs::read_to_string(pg.dir.join("server.log")).unwrap_or_default()
        );
        let psql = if pg.bindir.join("psql").is_file() {
            pg.bindir.join("psql")
        } else {
            PathBuf::from("psql")
        };
        let mut setup = Command::new(psql);
        setup
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
            .args([
                "-p",
                &pg.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
            ])
            .args([
                "-c",
                "CREATE ROLE myuser SUPERUSER LOGIN PASSWORD 'mypassword'",
                "-c",
                "CREATE DATABASE mydatabase OWNER myuser",
            ]);
        output(setup, "psql (creating the role and database)");
        pg
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        stop_and_remove(&self.bindir, &self.dir);
    }
}

// ---------------------------------------------------------------------------------------------
// A session and what its runs report.

fn credentials() -> Credentials {
    Credentials {
        user: "myuser".into(),
        password: "mypassword".into(),
        database: "mydatabase".into(),
        replication_user: "replicator".into(),
        replication_password: "replicator".into(),
        check_user: "haproxy_check".into(),
    }
}

/// Everything one run reported.
#[derive(Debug)]
struct Run {
    started: Option<Target>,
    notices: Vec<Notice>,
    results: Vec<ResultSet>,
    /// Rows shown while a statement was still streaming, per preview.
    previews: Vec<usize>,
    served_by: Option<String>,
    elapsed: Duration,
    tx: TxState,
    error: Option<SqlError>,
}

impl Run {
    fn error(&self) -> &SqlError {
        self.error
            .as_ref()
            .unwrap_or_else(|| panic!("the run should have failed: {self:#?}"))
    }

    fn ok(self) -> Run {
        assert!(self.error.is_none(), "the run failed: {:#?}", self.error);
        self
    }

    fn tags(&self) -> Vec<&str> {
        self.results
            .iter()
            .map(|r| r.tag.as_deref().unwrap_or("?"))
            .collect()
    }

    /// The only value of the last result.
    fn value(&self) -> String {
        let last = self.results.last().expect("a result");
        assert_eq!(last.rows.len(), 1, "{last:?}");
        last.rows[0][0].clone().expect("not NULL")
    }
}

struct Console {
    pg: Arc<Postgres>,
    session: SqlSession,
    events: mpsc::Receiver<SqlEvent>,
    next_id: u64,
}

impl Console {
    fn new() -> Console {
        Console::with(SessionConfig::default())
    }

    fn with(config: SessionConfig) -> Console {
        let pg = server();
        let (tx, events) = mpsc::channel(16);
        let session = SqlSession::spawn(credentials(), config, tx);
        Console {
            pg,
            session,
            events,
            next_id: 1,
        }
    }

    fn write(&self) -> Endpoint {
        Endpoint::socket(Target::Write, self.pg.addr())
    }

    /// Queues a run and returns its id.
    async fn start(&mut self, endpoint: Endpoint, text: &str, fresh: bool) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.session.run(id, endpoint, text.into(), fresh).await;
        id
    }

    async fn next_event(&mut self) -> SqlEvent {
        tokio::time::timeout(RUN_LIMIT, self.events.recv())
            .await
            .expect("an event in time")
            .expect("the session is alive")
    }

    /// The events of run `id` up to its end.
    async fn collect(&mut self, id: u64) -> Run {
        let mut run = Run {
            started: None,
            notices: Vec::new(),
            results: Vec::new(),
            previews: Vec::new(),
            served_by: None,
            elapsed: Duration::ZERO,
            tx: TxState::Idle,
            error: None,
        };
        loop {
            match self.next_event().await {
                SqlEvent::Started { id: i, target } if i == id => {
                    assert!(run.started.is_none(), "started twice");
                    assert!(run.results.is_empty(), "started after a result");
                    run.started = Some(target);
                }
                SqlEvent::Notice { id: i, notice } if i == id => run.notices.push(notice),
                SqlEvent::Preview { id: i, result } if i == id => {
                    assert!(run.started.is_some(), "a preview before the start");
                    run.previews.push(result.rows.len());
                }
                SqlEvent::Result { id: i, result } if i == id => {
                    assert!(run.started.is_some(), "a result before the start");
                    run.results.push(result);
                }
                SqlEvent::Finished {
                    id: i,
                    served_by,
                    elapsed,
                    tx,
                    error,
                } if i == id => {
                    run.served_by = served_by;
                    run.elapsed = elapsed;
                    run.tx = tx;
                    run.error = error;
                    return run;
                }
                other => panic!("an event of another run while waiting for {id}: {other:?}"),
            }
        }
    }

    async fn run_on(&mut self, endpoint: Endpoint, text: &str, fresh: bool) -> Run {
        let id = self.start(endpoint, text, fresh).await;
        self.collect(id).await
    }

    async fn sticky(&mut self, text: &str) -> Run {
        self.run_on(self.write(), text, false).await
    }

    async fn fresh(&mut self, text: &str) -> Run {
        self.run_on(self.write(), text, true).await
    }
}

fn row(values: &[Option<&str>]) -> Vec<Option<String>> {
    values.iter().map(|v| v.map(str::to_owned)).collect()
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_multi_statement_run_yields_one_result_per_statement() {
    let mut c = Console::new();
    let run = c
        .sticky(
            "CREATE TABLE multi (id int PRIMARY KEY, name text);\n\
             INSERT INTO multi VALUES (1, 'one'), (2, NULL);\n\
             SELECT id, name AS \"the name\" FROM multi ORDER BY id",
        )
        .await
        .ok();
    assert_eq!(run.started, Some(Target::Write));
    assert_eq!(run.tags(), ["CREATE TABLE", "INSERT 0 2", "SELECT 2"]);
    assert!(run.results[0].columns.is_empty());
    assert_eq!(run.results[0].total_rows, 0);
    assert!(run.results[1].rows.is_empty());
    let select = &run.results[2];
    assert_eq!(select.columns, ["id", "the name"]);
    assert_eq!(
        select.rows,
        [row(&[Some("1"), Some("one")]), row(&[Some("2"), None])]
    );
    assert_eq!(select.total_rows, 2);
    assert!(!select.truncated());
    assert_eq!(run.served_by.as_deref(), Some("127.0.0.1"));
    assert_eq!(run.tx, TxState::Idle);

    // Blanks and comments are no statement: nothing to show, and no error.
    let run = c.sticky("  -- nothing here\n /* at all */ ").await.ok();
    assert!(run.results.is_empty(), "{:?}", run.results);

    // The session is what the server sees.
    let run = c.sticky("SHOW application_name").await.ok();
    assert_eq!(run.value(), APPLICATION_NAME);
    assert_eq!(run.tags(), ["SHOW"]);
}

#[tokio::test]
async fn a_million_rows_keep_only_the_row_cap() {
    let mut c = Console::new();
    let begun = Instant::now();
    let run = c
        .sticky("SELECT generate_series(1, 1000000) AS n")
        .await
        .ok();
    let result = &run.results[0];
    assert_eq!(result.rows.len(), 10_000);
    assert_eq!(result.total_rows, 1_000_000);
    assert!(result.truncated());
    assert_eq!(result.tag.as_deref(), Some("SELECT 1000000"));
    assert_eq!(result.rows[0], row(&[Some("1")]));
    assert_eq!(result.rows[9_999], row(&[Some("10000")]));
    // The first screenful and then the full cap were shown while the rest still streamed.
    assert_eq!(run.previews, [200, 10_000]);
    eprintln!("1,000,000 rows streamed in {:?}", begun.elapsed());

    // The cap holds per statement.
    let mut c = Console::with(SessionConfig {
        row_cap: 3,
        ..SessionConfig::default()
    });
    let run = c
        .sticky("SELECT generate_series(1, 5); SELECT 'a' UNION ALL SELECT 'b'")
        .await
        .ok();
    assert_eq!(run.results[0].rows.len(), 3);
    assert_eq!(run.results[0].total_rows, 5);
    assert_eq!(run.results[1].rows.len(), 2);
    assert_eq!(run.tags(), ["SELECT 5", "SELECT 2"]);
}

#[tokio::test]
async fn server_errors_carry_what_psql_would_show() {
    let mut c = Console::new();
    let run = c.sticky("SELECT * FROM no_such_table").await;
    let e = run.error();
    assert_eq!(e.sqlstate.as_deref(), Some("42P01"));
    assert_eq!(e.severity.as_deref(), Some("ERROR"));
    assert_eq!(e.message, "relation \"no_such_table\" does not exist");
    assert_eq!(e.position, Some(15));
    assert!(run.results.is_empty());
    assert_eq!(run.served_by.as_deref(), Some("127.0.0.1"));

    let run = c.sticky("SELECT 1;\nSELECT 1/0").await;
    assert_eq!(run.tags(), ["SELECT 1"]);
    let e = run.error();
    assert_eq!(e.sqlstate.as_deref(), Some("22012"));
    assert_eq!(e.message, "division by zero");

    let run = c.sticky("SELECT no_such_function(1)").await;
    let e = run.error();
    assert_eq!(e.sqlstate.as_deref(), Some("42883"));
    assert!(
        e.hint
            .as_deref()
            .is_some_and(|h| h.contains("explicit type casts")),
        "{e:?}"
    );

    // The statements of one text form one transaction: the failure undoes the CREATE too.
    let run = c
        .sticky(
            "CREATE TABLE uniq (id int PRIMARY KEY);\n\
             INSERT INTO uniq VALUES (1);\n\
             INSERT INTO uniq VALUES (1)",
        )
        .await;
    assert_eq!(run.tags(), ["CREATE TABLE", "INSERT 0 1"]);
    let e = run.error();
    assert_eq!(e.sqlstate.as_deref(), Some("23505"));
    assert_eq!(
        e.message,
        "duplicate key value violates unique constraint \"uniq_pkey\""
    );
    assert_eq!(e.detail.as_deref(), Some("Key (id)=(1) already exists."));
    assert_eq!(run.tx, TxState::Idle);
    let run = c.sticky("SELECT to_regclass('uniq') IS NULL").await.ok();
    assert_eq!(run.value(), "t");

    // A syntax error stops the whole text before anything runs.
    let run = c.sticky("SELECT 1; SELEC 2").await;
    assert!(run.results.is_empty());
    assert_eq!(run.error().sqlstate.as_deref(), Some("42601"));
    assert_eq!(run.error().position, Some(11));
}

#[tokio::test]
async fn notices_arrive_tagged_with_their_run() {
    let mut c = Console::new();
    let run = c
        .sticky(
            "DO $$ BEGIN RAISE NOTICE 'hello %', 42; RAISE WARNING 'careful'; END $$;\n\
             SELECT 1",
        )
        .await
        .ok();
    assert_eq!(
        run.notices,
        [
            Notice {
                severity: "NOTICE".into(),
                message: "hello 42".into()
            },
            Notice {
                severity: "WARNING".into(),
                message: "careful".into()
            }
        ]
    );
    assert_eq!(run.tags(), ["DO", "SELECT 1"]);

    // Notifications to a channel the session listens on come the same way, as psql shows them.
    let run = c.sticky("LISTEN lab; NOTIFY lab, 'hi'").await.ok();
    assert_eq!(run.tags(), ["LISTEN", "NOTIFY"]);
    assert_eq!(run.notices.len(), 1, "{:?}", run.notices);
    assert_eq!(run.notices[0].severity, "NOTIFY");
    assert!(
        run.notices[0]
            .message
            .starts_with("Asynchronous notification \"lab\" with payload \"hi\""),
        "{:?}",
        run.notices
    );
}

#[tokio::test]
async fn cancel_stops_a_long_statement() {
    let mut c = Console::new();
    let before = c.sticky("SELECT pg_backend_pid()").await.ok().value();
    let endpoint = c.write();
    let id = c.start(endpoint, "SELECT pg_sleep(30)", false).await;
    match c.next_event().await {
        SqlEvent::Started { id: i, .. } => assert_eq!(i, id),
        other => panic!("expected the start, got {other:?}"),
    }
    // At once: the statement may not even have reached the server yet.
    let begun = Instant::now();
    c.session.cancel();
    let run = c.collect(id).await;
    let e = run.error();
    assert_eq!(e.sqlstate.as_deref(), Some("57014"));
    assert_eq!(e.message, "canceling statement due to user request");
    assert!(begun.elapsed() < Duration::from_secs(5), "{run:?}");

    // The session goes on, on the same backend; a cancel with nothing running does nothing.
    c.session.cancel();
    let after = c.sticky("SELECT pg_backend_pid()").await.ok().value();
    assert_eq!(before, after);
}

#[tokio::test]
async fn statement_timeout_ends_a_slow_statement() {
    let mut c = Console::with(SessionConfig {
        statement_timeout: Some(Duration::from_millis(200)),
        ..SessionConfig::default()
    });
    assert_eq!(
        c.sticky("SHOW statement_timeout").await.ok().value(),
        "200ms"
    );
    let run = c.sticky("SELECT pg_sleep(5)").await;
    let e = run.error();
    assert_eq!(e.sqlstate.as_deref(), Some("57014"));
    assert_eq!(e.message, "canceling statement due to statement timeout");
    assert!(run.elapsed < Duration::from_secs(3), "{run:?}");

    // Fresh connections get it too.
    assert_eq!(
        c.fresh("SHOW statement_timeout").await.ok().value(),
        "200ms"
    );
}

#[tokio::test]
async fn transaction_state_follows_begin_errors_and_rollback() {
    let mut c = Console::new();
    let run = c.sticky("BEGIN").await.ok();
    assert_eq!(
        (run.tags(), run.tx),
        (vec!["BEGIN"], TxState::InTransaction)
    );
    let run = c.sticky("CREATE TABLE tx_kept (a int)").await.ok();
    assert_eq!(run.tx, TxState::InTransaction);
    let run = c.sticky("SELECT 1/0").await;
    assert_eq!(run.error().sqlstate.as_deref(), Some("22012"));
    assert_eq!(run.tx, TxState::Failed);
    let run = c.sticky("SELECT 1").await;
    assert_eq!(run.error().sqlstate.as_deref(), Some("25P02"));
    assert_eq!(run.tx, TxState::Failed);
    // who served the session is still known in an aborted transaction.
    assert_eq!(run.served_by.as_deref(), Some("127.0.0.1"));
    let run = c.sticky("ROLLBACK").await.ok();
    assert_eq!((run.tags(), run.tx), (vec!["ROLLBACK"], TxState::Idle));
    let run = c.sticky("SELECT to_regclass('tx_kept') IS NULL").await.ok();
    assert_eq!(run.value(), "t");

    // Within one text; COMMIT of a failed transaction says ROLLBACK.
    let run = c.sticky("BEGIN; SELECT 1/0").await;
    assert_eq!(run.tx, TxState::Failed);
    let run = c.sticky("COMMIT").await.ok();
    assert_eq!((run.tags(), run.tx), (vec!["ROLLBACK"], TxState::Idle));
    let run = c.sticky("START TRANSACTION; SAVEPOINT s; SELECT 1/0").await;
    assert_eq!(run.tx, TxState::Failed);
    let run = c.sticky("ROLLBACK TO SAVEPOINT s").await.ok();
    assert_eq!(run.tx, TxState::InTransaction);
    let run = c.sticky("COMMIT").await.ok();
    assert_eq!((run.tags(), run.tx), (vec!["COMMIT"], TxState::Idle));

    // A fresh connection closes after its run, and its transaction with it: the run says so
    // rather than dropping the work quietly.
    let run = c.fresh("BEGIN; CREATE TABLE fresh_gone (x int)").await.ok();
    assert_eq!(run.tx, TxState::Idle);
    assert!(
        run.notices
            .iter()
            .any(|n| n.message == replica_lab::sql::session::FRESH_TX_ENDS),
        "{:?}",
        run.notices
    );
    let run = c
        .sticky("SELECT to_regclass('fresh_gone') IS NULL")
        .await
        .ok();
    assert_eq!(run.value(), "t", "the fresh run's table was rolled back");
    // A fresh run that closes its own transaction has nothing to say.
    let run = c.fresh("BEGIN; SELECT 1; COMMIT").await.ok();
    assert!(run.notices.is_empty(), "{:?}", run.notices);
}

#[tokio::test]
async fn sticky_runs_share_a_backend_fresh_runs_do_not() {
    let mut c = Console::new();
    let first = c.sticky("SELECT pg_backend_pid()").await.ok().value();
    let second = c.sticky("SELECT pg_backend_pid()").await.ok().value();
    assert_eq!(first, second);
    let fresh1 = c.fresh("SELECT pg_backend_pid()").await.ok();
    assert_eq!(fresh1.started, Some(Target::Write));
    assert_eq!(fresh1.served_by.as_deref(), Some("127.0.0.1"));
    let fresh1 = fresh1.value();
    let fresh2 = c.fresh("SELECT pg_backend_pid()").await.ok().value();
    assert_ne!(fresh1, fresh2);
    assert_ne!(fresh1, first);
    assert_ne!(fresh2, first);
    // The sticky connection outlived the fresh ones.
    let third = c.sticky("SELECT pg_backend_pid()").await.ok().value();
    assert_eq!(first, third);
}

#[tokio::test]
async fn another_endpoint_or_a_dead_connection_gets_a_new_session() {
    let mut c = Console::new();
    let first = c.sticky("SELECT pg_backend_pid()").await.ok().value();
    c.sticky("BEGIN").await.ok();

    // Same address, other target: a new connection, and the open transaction is gone.
    let node = Endpoint::socket(Target::Node("pg1".into()), c.pg.addr());
    let run = c
        .run_on(node.clone(), "SELECT pg_backend_pid()", false)
        .await
        .ok();
    assert_eq!(run.started, Some(Target::Node("pg1".into())));
    assert_eq!(run.tx, TxState::Idle);
    assert_eq!(run.notices.len(), 1, "{:?}", run.notices);
    assert!(
        run.notices[0].message.contains("rolled back"),
        "{:?}",
        run.notices
    );
    let second = run.value();
    assert_ne!(first, second);

    // The server ends the sticky backend: the next run connects again.
    c.run_on(node.clone(), "BEGIN", false).await.ok();
    let run = c
        .fresh(&format!("SELECT pg_terminate_backend({second})"))
        .await
        .ok();
    assert_eq!(run.value(), "t");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let run = c.run_on(node, "SELECT pg_backend_pid()", false).await.ok();
    assert_ne!(run.value(), second);
    assert_eq!(run.tx, TxState::Idle);
    assert!(
        run.notices.iter().any(|n| n.message.contains("was lost")),
        "{:?}",
        run.notices
    );
}

#[tokio::test]
async fn a_closed_port_gives_a_clear_error_and_the_session_goes_on() {
    let mut c = Console::new();
    let closed = {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a port");
        listener.local_addr().expect("its address")
    };
    let nowhere = Endpoint::socket(Target::Node("pg9".into()), closed);
    for fresh in [false, true] {
        let run = c.run_on(nowhere.clone(), "SELECT 1", fresh).await;
        assert!(run.started.is_none(), "{run:?}");
        let e = run.error();
        assert_eq!(e.sqlstate, None);
        let named = format!("could not connect to pg9 at {closed}: ");
        assert!(e.message.starts_with(&named), "{e:?}");
        assert!(e.message.to_lowercase().contains("refused"), "{e:?}");
        eprintln!("{}", e.message);
        assert_eq!(run.served_by, None);
        assert_eq!(run.tx, TxState::Idle);
    }
    let run = c.sticky("SELECT 42").await.ok();
    assert_eq!(run.value(), "42");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let mut c = Console::with(SessionConfig {
        connect_timeout: Duration::from_millis(300),
        ..SessionConfig::default()
    });
    // The kernel completes the TCP handshake for a listener nobody accepts from; then silence.
    let silent = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a port");
    let addr = silent.local_addr().expect("its address");
    let begun = Instant::now();
    let run = c
        .run_on(Endpoint::socket(Target::Read, addr), "SELECT 1", false)
        .await;
    assert_eq!(
        run.error().message,
        format!("could not connect to read at {addr}: no answer within 300ms")
    );
    assert!(
        begun.elapsed() < Duration::from_secs(3),
        "{:?}",
        begun.elapsed()
    );
    assert_eq!(c.sticky("SELECT 42").await.ok().value(), "42");
}

#[tokio::test]
async fn backslash_commands_run_as_catalog_queries() {
    let mut c = Console::new();
    c.sticky(
        "CREATE TABLE \"odd \"\"name\" (\
           id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\
           note varchar(20) NOT NULL DEFAULT 'x',\
           n numeric(5,2))",
    )
    .await
    .ok();
    let run = c.sticky(&meta::describe_sql("\"odd \"\"name\"")).await.ok();
    let result = &run.results[0];
    assert_eq!(result.columns, ["Column", "Type", "Nullable", "Default"]);
    assert_eq!(
        result.rows,
        [
            row(&[
                Some("id"),
                Some("integer"),
                Some("not null"),
                Some("generated always as identity")
            ]),
            row(&[
                Some("note"),
                Some("character varying(20)"),
                Some("not null"),
                Some("'x'::character varying")
            ]),
            row(&[Some("n"), Some("numeric(5,2)"), Some(""), Some("")]),
        ]
    );
    let run = c
        .sticky(&meta::describe_sql("public.\"odd \"\"name\""))
        .await
        .ok();
    assert_eq!(run.results[0].total_rows, 3);

    let run = c.sticky(&meta::describe_sql("no_such_relation")).await;
    assert_eq!(run.error().sqlstate.as_deref(), Some("42P01"));
    // Quotes in the name cannot escape the literal.
    let run = c.sticky(&meta::describe_sql("x'); DROP TABLE t; --")).await;
    assert!(run.error.is_some());

    let run = c.sticky(meta::list_tables_sql()).await.ok();
    let result = &run.results[0];
    assert_eq!(result.columns, ["Schema", "Name", "Type", "Owner"]);
    assert!(
        result.rows.contains(&row(&[
            Some("public"),
            Some("odd \"name"),
            Some("table"),
            Some("myuser")
        ])),
        "{:?}",
        result.rows
    );
}

/// HAProxy in front of two servers, round-robin like the read endpoint; killed on drop.
struct Proxy {
    child: Child,
    addr: SocketAddr,
    _config: tempfile::TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proxy {
    /// `None` (after saying the test is skipped) where HAProxy is not installed.
    fn round_robin(test: &str, backends: [SocketAddr; 2]) -> Option<Proxy> {
        let haproxy =
            support::require_with(support::Need::Haproxy, test, support::need::haproxy())?;
        let addr = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("a free port for the proxy");
        let config = tempfile::tempdir().expect("a folder for the proxy's configuration");
        let file = config.path().join("haproxy.cfg");
        std::fs::write(
            &file,
            format!(
                "defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 60s\n    \
                 timeout server 60s\nlisten read\n    bind {addr}\n    balance roundrobin\n    \
                 server a {}\n    server b {}\n",
                backends[0], backends[1]
            ),
        )
        .expect("the proxy's configuration");
        let child = Command::new(haproxy)
            .arg("-db")
            .arg("-f")
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("HAProxy starts");
        let proxy = Proxy {
            child,
            addr,
            _config: config,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "HAProxy does not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(proxy)
    }
}

#[tokio::test]
async fn cancel_reaches_the_statement_through_a_round_robin_proxy() {
    // The cancel request travels on a connection of its own, which the proxy hands to the next
    // server in turn, not to the one running the statement: the session asks again.
    let mut c = Console::new();
    let other = Postgres::start();
    let Some(proxy) = Proxy::round_robin(
        "cancel_reaches_the_statement_through_a_round_robin_proxy",
        [c.pg.addr(), other.addr()],
    ) else {
        return;
    };
    let read = Endpoint::socket(Target::Read, proxy.addr);
    for (round, fresh) in [false, true, false, true].into_iter().enumerate() {
        let id = c.start(read.clone(), "SELECT pg_sleep(30)", fresh).await;
        match c.next_event().await {
            SqlEvent::Started { id: i, target } => assert_eq!((i, target), (id, Target::Read)),
            other => panic!("expected the start, got {other:?}"),
        }
        let begun = Instant::now();
        c.session.cancel();
        let run = c.collect(id).await;
        assert_eq!(
            run.error().sqlstate.as_deref(),
            Some("57014"),
            "round {round}"
        );
        assert!(
            begun.elapsed() < Duration::from_secs(5),
            "round {round}: {:?}",
            begun.elapsed()
        );
    }
}
