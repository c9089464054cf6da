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

mod connection;
mod results;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_postgres::{CancelToken, NoTls};

use self::connection::Conn;
use super::errors::unsupported;
pub use super::statements::{Statement, split_statements};
pub use super::tags::command_tag;
use super::tls::ClusterTls;
pub use super::tx::{TxEffect, tx_after, tx_effect, tx_step, tx_step_error};
use super::{Endpoint, Notice, SqlError, SqlEvent, TxState};
use crate::settings::Credentials;

/// Said when a fresh run leaves a transaction open: its connection, and the transaction with
/// it, ends with the run, so nothing the text did after `BEGIN` is kept.
pub const FRESH_TX_ENDS: &str = "the transaction this run opened was rolled back when its \
    connection closed: in fresh mode every run gets a connection of its own; switch the \
    console to one sticky connection to keep a transaction open across runs";

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
        Self::spawn_with_tls(creds, config, None, events)
    }

    /// Like [`SqlSession::spawn`], for a cluster whose endpoints speak TLS: connections to
    /// `write` and `read` use `tls`; nodes and URLs are reached as before.
    pub fn spawn_with_tls(
        creds: Credentials,
        config: SessionConfig,
        tls: Option<ClusterTls>,
        events: mpsc::Sender<SqlEvent>,
    ) -> SqlSession {
        let (commands, inbox) = mpsc::channel(32);
        let shared = Arc::new(Shared::default());
        let actor = Actor {
            creds,
            config,
            tls,
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

struct Actor {
    creds: Credentials,
    config: SessionConfig,
    tls: Option<ClusterTls>,
    events: mpsc::Sender<SqlEvent>,
    shared: Arc<Shared>,
    sticky: Option<Conn>,
    /// Transaction state of the sticky connection.
    tx: TxState,
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
        if run.fresh && !outcome.broken && outcome.tx != TxState::Idle {
            self.send(SqlEvent::Notice {
                id,
                notice: Notice {
                    severity: "WARNING".into(),
                    message: FRESH_TX_ENDS.into(),
                },
            })
            .await?;
        }
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
}

/// `write (127.0.0.1:5000)`; a URL target is its (masked) URL alone.
fn place(endpoint: &Endpoint) -> String {
    match endpoint.address_note() {
        Some(a) => format!("{} ({a})", endpoint.target.label()),
        None => endpoint.target.label(),
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
    }
}
