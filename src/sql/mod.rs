//! The SQL console's engine: a session actor that owns one `tokio_postgres::Client` and its
//! `CancelToken`, runs what the learner typed, and answers with typed events tagged with the
//! request id (so the UI drops answers to requests it no longer waits for).

mod errors;
pub mod history;
pub mod meta;
pub mod session;
pub mod statements;
pub mod tags;
pub mod tx;

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where the console sends statements.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// HAProxy's write endpoint (the primary).
    Write,
    /// HAProxy's read endpoint (round-robin over replicas).
    Read,
    /// One node directly, by name (`pg2`).
    Node(String),
}

impl Target {
    pub fn label(&self) -> String {
        match self {
            Target::Write => "write".into(),
            Target::Read => "read".into(),
            Target::Node(n) => n.clone(),
        }
    }
}

/// A target and the address it resolves to now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub target: Target,
    pub addr: SocketAddr,
}

/// Transaction state of the sticky session after a run, as psql's prompt shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TxState {
    Idle,
    InTransaction,
    /// An error happened inside a transaction block: everything fails until ROLLBACK.
    Failed,
}

/// One statement's result, bounded in memory: at most the session's row cap is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultSet {
    pub columns: Vec<String>,
    /// Values as the server's text output; `None` is SQL NULL.
    pub rows: Vec<Vec<Option<String>>>,
    /// Rows the server sent, including those not kept.
    pub total_rows: u64,
    /// The command tag (`SELECT 3`, `INSERT 0 1`, `CREATE TABLE`).
    pub tag: Option<String>,
}

impl ResultSet {
    pub fn truncated(&self) -> bool {
        self.total_rows > self.rows.len() as u64
    }
}

/// A server error, with everything psql would show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlError {
    pub sqlstate: Option<String>,
    pub severity: Option<String>,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// 1-based character position in the statement text.
    pub position: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub severity: String,
    pub message: String,
}

/// What the session actor reports; every event carries the id of the run it belongs to.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlEvent {
    /// Connected (or reused the sticky connection) and sent the text.
    Started { id: u64, target: Target },
    /// A NOTICE/WARNING from the server during the run.
    Notice { id: u64, notice: Notice },
    /// The rows of the statement in progress so far, so a long result shows before it ends;
    /// the statement's `Result` follows and replaces it.
    Preview { id: u64, result: ResultSet },
    /// One statement's result; a multi-statement run yields several.
    Result { id: u64, result: ResultSet },
    /// The run ended (successfully or with an error), with who answered it.
    Finished {
        id: u64,
        /// `inet_server_addr()` of the session that ran it.
        served_by: Option<String>,
        elapsed: Duration,
        tx: TxState,
        error: Option<SqlError>,
    },
}
