//! The session actor: one task owns the console's sticky connection (and its `CancelToken`),
//! runs what the learner typed and reports typed events.
//!
//! tokio-postgres keeps two things of the protocol to itself, so the actor rebuilds them
//! from the statement text:
//! - the transaction status of `ReadyForQuery` (tracked over BEGIN/COMMIT/ROLLBACK keywords
//!   and errors, see [`tx_after`]);
//! - the command tag (`SimpleQueryMessage::CommandComplete` carries only the row count, so
//!   [`command_tag`] derives `INSERT 0 3`, `CREATE TABLE`… from the statement and that count).
//!
//! Both need to know where statements end, which [`split_statements`] finds with psql's rules.
//!
//! An endpoint is a socket address (HAProxy's endpoints, one node), reached with the cluster's
//! credentials, or a URL/conninfo string from `\connect`, reached as tokio-postgres reads it
//! (several hosts, `target_session_attrs`, `load_balance_hosts`, `connect_timeout`), with what
//! it leaves out filled in from the cluster's credentials ([`super::url::complete`]). Either
//! way the session sets the statement timeout, learns who serves it, cancels and forwards
//! notices the same.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::{
    AsyncMessage, CancelToken, Client, Connection, NoTls, SimpleQueryMessage, Socket,
};

use super::errors::{chain, connect_error, run_error, unsupported};
pub use super::statements::{Statement, split_statements};
pub use super::tags::command_tag;
pub use super::tx::{TxEffect, tx_after, tx_effect, tx_step, tx_step_error};
use super::{Address, Endpoint, Notice, ResultSet, SqlError, SqlEvent, TxState, url};
use crate::settings::Credentials;

/// What the server shows as the console's `application_name` (`pg_stat_activity`).
pub const APPLICATION_NAME: &str = "replica-lab-console";

/// How often [`SqlSession::cancel`] asks again while the run goes on, and how long it waits
/// in between. A cancel request travels on a new connection: through HAProxy's round-robin
/// read endpoint it may reach another replica than the one running the statement (which
/// ignores it), and a cancel that arrives before the statement started is ignored too.
const CANCEL_ATTEMPTS: u32 = 10;
const CANCEL_RETRY: Duration = Duration::from_millis(400);

/// Rows after which a statement's first rows are shown, before it completes.
const PREVIEW_ROWS: usize = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// Rows kept per statement; the rest are only counted.
    pub row_cap: usize,
    /// `SET statement_timeout` on every new connection; `None` keeps the server's setting.
    pub statement_timeout: Option<Duration>,
    /// How long connecting (including authentication and session setup) may take.
    pub connect_timeout: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            row_cap: 10_000,
            statement_timeout: Some(Duration::from_secs(5 * 60)),
            connect_timeout: Duration::from_secs(3),
        }
    }
}

/// A handle on the session actor; cheap to clone. The actor ends when every handle is gone
/// or when the receiver of its events is.
#[derive(Clone, Debug)]
pub struct SqlSession {
    commands: mpsc::Sender<Run>,
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
}

#[derive(Debug)]
struct Run {
    id: u64,
    endpoint: Endpoint,
    text: String,
    fresh: bool,
    /// Replace the sticky connection even when it is to the same endpoint (`\connect`).
    reconnect: bool,
}

/// What the handle, the actor and the connection tasks share.
#[derive(Debug, Default)]
struct Shared {
    /// The id of the run in progress (or the last one), to tag notices with.
    current: AtomicU64,
    /// The run in progress and how to cancel it.
    running: Mutex<Option<Running>>,
}

struct Running {
    id: u64,
    token: CancelToken,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn running(&self) -> MutexGuard<'_, Option<Running>> {
        // The lock is never held across a panic point that matters: take the data as is.
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn is_running(&self, id: u64) -> bool {
        self.running().as_ref().is_some_and(|r| r.id == id)
    }
}

impl SqlSession {
    /// Starts the actor on the current Tokio runtime.
    pub fn spawn(
        creds: Credentials,
        config: SessionConfig,
        events: mpsc::Sender<SqlEvent>,
    ) -> SqlSession {
        let (commands, inbox) = mpsc::channel(32);
        let shared = Arc::new(Shared::default());
        let actor = Actor {
            creds,
            config,
            events,
            shared: shared.clone(),
            sticky: None,
            tx: TxState::Idle,
        };
        tokio::spawn(actor.run(inbox));
        SqlSession {
            commands,
            shared,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// Queues a run of `text` (one or more statements) on `endpoint`. With `fresh` the run gets
    /// a connection of its own, closed afterwards; otherwise the sticky connection for that
    /// endpoint is used (and opened again when the endpoint changed or the connection died).
    pub async fn run(&self, id: u64, endpoint: Endpoint, text: String, fresh: bool) {
        let run = Run {
            id,
            endpoint,
            text,
            fresh,
            reconnect: false,
        };
        // An error means the actor has ended because nobody listens to its events any more.
        let _ = self.commands.send(run).await;
    }

    /// Like a sticky run, but on a new connection that replaces the sticky one even when that
    /// one is to the same endpoint, as psql's `\connect` does: connecting again to a URL with
    /// `load_balance_hosts=random` may land elsewhere, and after a failover a URL with
    /// `target_session_attrs=read-write` finds the new primary.
    pub async fn reconnect(&self, id: u64, endpoint: Endpoint, text: String) {
        let run = Run {
            id,
            endpoint,
            text,
            fresh: false,
            reconnect: true,
        };
        let _ = self.commands.send(run).await;
    }

    /// Cancels the statement running now, if any, without waiting for the actor; the run then
    /// finishes with the server's 57014 error. Callable from any thread.
    pub fn cancel(&self) {
        let Some((id, token)) = self
            .shared
            .running()
            .as_ref()
            .map(|r| (r.id, r.token.clone()))
        else {
            return;
        };
        let shared = self.shared.clone();
        self.runtime.spawn(async move {
            for _ in 0..CANCEL_ATTEMPTS {
                if !shared.is_running(id) {
                    return;
                }
                // A failed cancel request is not worth reporting: the run goes on, visibly.
                let _ = token.cancel_query(NoTls).await;
                tokio::time::sleep(CANCEL_RETRY).await;
            }
        });
    }
}

/// The receiver of the events is gone: the actor has nobody to work for.
struct Gone;

struct Conn {
    client: Client,
    endpoint: Endpoint,
    /// `host(inet_server_addr())` of this session.
    served_by: Option<String>,
    /// Why the connection ended, when it ended on its own (the server's FATAL message).
    ended: Arc<Mutex<Option<String>>>,
}

impl Conn {
    fn ended(&self) -> Option<String> {
        self.ended
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

struct Actor {
    creds: Credentials,
    config: SessionConfig,
    events: mpsc::Sender<SqlEvent>,
    shared: Arc<Shared>,
    sticky: Option<Conn>,
    /// Transaction state of the sticky connection.
    tx: TxState,
}

/// How a run's statements went.
struct Outcome {
    elapsed: Duration,
    tx: TxState,
    error: Option<SqlError>,
    /// The connection cannot be used any more.
    broken: bool,
}

impl Actor {
    async fn run(mut self, mut inbox: mpsc::Receiver<Run>) {
        while let Some(run) = inbox.recv().await {
            if self.execute(run).await.is_err() {
                break;
            }
        }
    }

    async fn send(&self, event: SqlEvent) -> Result<(), Gone> {
        self.events.send(event).await.map_err(|_| Gone)
    }

    async fn finish(
        &self,
        id: u64,
        served_by: Option<String>,
        elapsed: Duration,
        tx: TxState,
        error: Option<SqlError>,
    ) -> Result<(), Gone> {
        self.send(SqlEvent::Finished {
            id,
            served_by,
            elapsed,
            tx,
            error,
        })
        .await
    }

    async fn execute(&mut self, run: Run) -> Result<(), Gone> {
        let id = run.id;
        self.shared.current.store(id, Ordering::SeqCst);
        let statements = split_statements(&run.text);
        if let Some(error) = unsupported(&run.text, &statements) {
            let tx = if run.fresh { TxState::Idle } else { self.tx };
            return self.finish(id, None, Duration::ZERO, tx, Some(error)).await;
        }

        let (conn, tx_before) = if run.fresh {
            (self.connect(&run.endpoint).await, TxState::Idle)
        } else {
            match self.sticky.take() {
                Some(c)
                    if !run.reconnect && c.endpoint == run.endpoint && !c.client.is_closed() =>
                {
                    (Ok(c), self.tx)
                }
                old => {
                    self.retire(id, old, &run.endpoint).await?;
                    (self.connect(&run.endpoint).await, TxState::Idle)
                }
            }
        };
        let conn = match conn {
            Ok(conn) => conn,
            Err(error) => {
                return self
                    .finish(id, None, Duration::ZERO, TxState::Idle, Some(error))
                    .await;
            }
        };
        let outcome = self
            .statements(id, &conn, &run.text, &statements, tx_before)
            .await?;
        let served_by = conn.served_by.clone();
        let tx = if run.fresh {
            // The connection closes when `conn` drops at the end of this run, and with it any
            // transaction the text left open: a fresh run always ends Idle.
            TxState::Idle
        } else if outcome.broken {
            TxState::Idle
        } else {
            self.sticky = Some(conn);
            outcome.tx
        };
        if !run.fresh {
            self.tx = tx;
        }
        self.finish(id, served_by, outcome.elapsed, tx, outcome.error)
            .await
    }

    /// Closes the sticky connection that another one replaces, saying so when that ends an
    /// open transaction.
    async fn retire(&mut self, id: u64, old: Option<Conn>, next: &Endpoint) -> Result<(), Gone> {
        let tx = std::mem::replace(&mut self.tx, TxState::Idle);
        let Some(old) = old else {
            return Ok(());
        };
        if tx == TxState::Idle {
            return Ok(());
        }
        let (was, next_place) = (place(&old.endpoint), place(next));
        let message = if old.client.is_closed() {
            let reason = old.ended().map(|r| format!(" ({r})")).unwrap_or_default();
            format!("the connection to {was} was lost{reason}, and with it the open transaction")
        } else if old.endpoint == *next {
            format!("the open transaction on {was} was rolled back: the console connected again")
        } else {
            format!(
                "the open transaction on {was} was rolled back: the console switched to {next_place}"
            )
        };
        drop(old);
        self.send(SqlEvent::Notice {
            id,
            notice: Notice {
                severity: "WARNING".into(),
                message,
            },
        })
        .await
    }

    async fn connect(&self, endpoint: &Endpoint) -> Result<Conn, SqlError> {
        let (config, deadline) = self.client_config(endpoint).map_err(SqlError::client)?;
        match tokio::time::timeout(deadline, self.connect_inner(endpoint, &config)).await {
            Ok(result) => result,
            Err(_) => Err(SqlError::client(format!(
                "could not connect to {}: no answer within {}",
                endpoint.describe(),
                human_duration(deadline)
            ))),
        }
    }

    /// How to connect to `endpoint`, and how long connecting may take in all; the error says
    /// why a URL cannot be used.
    fn client_config(
        &self,
        endpoint: &Endpoint,
    ) -> Result<(tokio_postgres::Config, Duration), String> {
        match &endpoint.address {
            Address::Socket(addr) => {
                let mut config = tokio_postgres::Config::new();
                config
                    .host(addr.ip().to_string())
                    .port(addr.port())
                    .user(&self.creds.user)
                    .password(&self.creds.password)
                    .dbname(&self.creds.database)
                    .application_name(APPLICATION_NAME)
                    .connect_timeout(self.config.connect_timeout);
                Ok((config, self.config.connect_timeout))
            }
            Address::Url(text) => {
                let mut config = url::parse(text)
                    .map_err(|e| format!("cannot connect to {}: {e}", endpoint.describe()))?;
                url::complete(
                    &mut config,
                    &self.creds,
                    APPLICATION_NAME,
                    self.config.connect_timeout,
                );
                let deadline = url::deadline(&config, self.config.connect_timeout);
                Ok((config, deadline))
            }
        }
    }

    async fn connect_inner(
        &self,
        endpoint: &Endpoint,
        config: &tokio_postgres::Config,
    ) -> Result<Conn, SqlError> {
        let failed = |e: tokio_postgres::Error| connect_error(endpoint, &e);
        let (client, connection) = config.connect(NoTls).await.map_err(|e| {
            let mut error = connect_error(endpoint, &e);
            if matches!(endpoint.address, Address::Url(_)) && error.hint.is_none() {
                error.hint = url::failure_hint(config, &e);
            }
            error
        })?;
        let ended = Arc::new(Mutex::new(None));
        tokio::spawn(pump(
            connection,
            self.shared.clone(),
            self.events.clone(),
            ended.clone(),
        ));

        // A connection is served by one server for its whole life, so asking who serves it
        // once, here, answers for every run on it; asking after each run would fail inside an
        // aborted transaction (25P02) and cost a round trip per run.
        let mut setup = String::new();
        if let Some(timeout) = self.config.statement_timeout {
            setup.push_str(&format!("SET statement_timeout = {};", timeout.as_millis()));
        }
        setup.push_str("SELECT host(inet_server_addr())");
        let messages = client.simple_query(&setup).await.map_err(failed)?;
        let served_by = messages.iter().find_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.try_get(0).ok().flatten().map(str::to_owned),
            _ => None,
        });
        Ok(Conn {
            client,
            endpoint: endpoint.clone(),
            served_by,
            ended,
        })
    }

    /// Sends the text and streams its results out, one `Result` per statement.
    async fn statements(
        &self,
        id: u64,
        conn: &Conn,
        text: &str,
        statements: &[Statement<'_>],
        tx_before: TxState,
    ) -> Result<Outcome, Gone> {
        *self.shared.running() = Some(Running {
            id,
            token: conn.client.cancel_token(),
        });
        let outcome = self.stream(id, conn, text, statements, tx_before).await;
        *self.shared.running() = None;
        outcome
    }

    async fn stream(
        &self,
        id: u64,
        conn: &Conn,
        text: &str,
        statements: &[Statement<'_>],
        mut tx: TxState,
    ) -> Result<Outcome, Gone> {
        self.send(SqlEvent::Started {
            id,
            target: conn.endpoint.target.clone(),
        })
        .await?;
        let started = Instant::now();
        let mut completed = 0usize;
        let mut failure = None;
        // Whether the protocol may be out of step after a failure that is not the server's.
        let mut streaming = false;
        match conn.client.simple_query_raw(text).await {
            Err(e) => failure = Some(e),
            Ok(stream) => {
                streaming = true;
                let mut stream = std::pin::pin!(stream);
                let mut current: Option<ResultSet> = None;
                while let Some(message) = stream.next().await {
                    match message {
                        Ok(SimpleQueryMessage::RowDescription(columns)) => {
                            current = Some(ResultSet {
                                columns: columns.iter().map(|c| c.name().to_owned()).collect(),
                                rows: Vec::new(),
                                total_rows: 0,
                                tag: None,
                            });
                        }
                        Ok(SimpleQueryMessage::Row(row)) => {
                            let result = current.get_or_insert_with(empty_result);
                            result.total_rows += 1;
                            if result.rows.len() < self.config.row_cap {
                                result.rows.push(
                                    (0..row.len())
                                        .map(|i| row.try_get(i).ok().flatten().map(str::to_owned))
                                        .collect(),
                                );
                                // A screenful, then the full cap: the learner reads while the
                                // rest of a long result streams past.
                                let kept = result.rows.len();
                                if kept == PREVIEW_ROWS.min(self.config.row_cap)
                                    || kept == self.config.row_cap
                                {
                                    let result = result.clone();
                                    self.send(SqlEvent::Preview { id, result }).await?;
                                }
                            }
                        }
                        Ok(SimpleQueryMessage::CommandComplete(rows)) => {
                            let mut result = current.take().unwrap_or_else(empty_result);
                            // Text with no statement at all (blanks, comments) gets an empty
                            // response: nothing to show, as in psql.
                            if statements.is_empty() {
                                continue;
                            }
                            let statement = statements.get(completed);
                            result.tag = statement.and_then(|s| command_tag(s, rows, tx));
                            if let Some(s) = statement {
                                tx = tx_step(tx, s);
                            }
                            completed += 1;
                            self.send(SqlEvent::Result { id, result }).await?;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    }
                }
            }
        }
        let elapsed = started.elapsed();
        let Some(failure) = failure else {
            return Ok(Outcome {
                elapsed,
                tx,
                error: None,
                broken: false,
            });
        };
        let closed = conn.client.is_closed();
        let error = run_error(&conn.endpoint, conn.ended(), &failure, closed);
        // FATAL and PANIC end the session (`parsed_severity` is the untranslated one).
        let fatal = failure.as_db_error().is_some_and(|db| {
            use tokio_postgres::error::Severity;
            db.parsed_severity().map_or_else(
                || matches!(db.severity(), "FATAL" | "PANIC"),
                |s| matches!(s, Severity::Fatal | Severity::Panic),
            )
        });
        let broken = (failure.as_db_error().is_none() && streaming) || fatal || closed;
        let tx = if broken {
            TxState::Idle
        } else {
            tx_step_error(
                tx,
                statements.get(completed),
                error.sqlstate.as_deref(),
                completed == 0,
            )
        };
        Ok(Outcome {
            elapsed,
            tx,
            error: Some(error),
            broken,
        })
    }
}

/// Drives one connection and forwards what the server says on its own (NOTICE, WARNING,
/// NOTIFY) as notices of the run in progress.
async fn pump(
    mut connection: Connection<Socket, NoTlsStream>,
    shared: Arc<Shared>,
    events: mpsc::Sender<SqlEvent>,
    ended: Arc<Mutex<Option<String>>>,
) {
    let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
    let mut listening = true;
    while let Some(message) = messages.next().await {
        let notice = match message {
            Ok(AsyncMessage::Notice(db)) => Notice {
                severity: db.severity().to_owned(),
                message: db.message().to_owned(),
            },
            Ok(AsyncMessage::Notification(n)) => Notice {
                severity: "NOTIFY".into(),
                message: if n.payload().is_empty() {
                    format!(
                        "Asynchronous notification \"{}\" received from server process with PID {}.",
                        n.channel(),
                        n.process_id()
                    )
                } else {
                    format!(
                        "Asynchronous notification \"{}\" with payload \"{}\" received from server process with PID {}.",
                        n.channel(),
                        n.payload(),
                        n.process_id()
                    )
                },
            },
            Ok(_) => continue,
            // The client sees the failure on its next request; nothing more will come.
            Err(e) => {
                let reason = match e.as_db_error() {
                    Some(db) => db.message().to_owned(),
                    None => chain(&e),
                };
                *ended
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(reason);
                break;
            }
        };
        if listening {
            let id = shared.current.load(Ordering::SeqCst);
            // Keep driving the connection even when nobody listens: the actor may be waiting
            // for the end of a statement on it.
            listening = events.send(SqlEvent::Notice { id, notice }).await.is_ok();
        }
    }
}

/// `write (127.0.0.1:5000)`; a URL target is its (masked) URL alone.
fn place(endpoint: &Endpoint) -> String {
    match endpoint.address_note() {
        Some(a) => format!("{} ({a})", endpoint.target.label()),
        None => endpoint.target.label(),
    }
}

fn empty_result() -> ResultSet {
    ResultSet {
        columns: Vec::new(),
        rows: Vec::new(),
        total_rows: 0,
        tag: None,
    }
}

fn human_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_the_documented_one() {
        let c = SessionConfig::default();
        assert_eq!(c.row_cap, 10_000);
        assert_eq!(c.statement_timeout, Some(Duration::from_secs(300)));
        assert_eq!(c.connect_timeout, Duration::from_secs(3));
        assert_eq!(human_duration(Duration::from_secs(3)), "3s");
        assert_eq!(human_duration(Duration::from_millis(1500)), "1500ms");
    }
}
