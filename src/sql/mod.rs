//! The SQL console's engine: a session actor that owns one `tokio_postgres::Client` and its
//! `CancelToken`, runs what the learner typed, and answers with typed events tagged with the
//! request id (so the UI drops answers to requests it no longer waits for).

mod errors;
pub use errors::chain as error_chain;
pub mod history;
pub mod meta;
pub mod session;
pub mod statements;
pub mod tags;
pub mod tls;
pub mod tx;
pub mod url;

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cluster::topology::Topology;
use crate::runtime::ClusterRuntime;

/// Where the console sends statements.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// HAProxy's write endpoint (the primary).
    Write,
    /// HAProxy's read endpoint (round-robin over replicas).
    Read,
    /// One node directly, by name (`pg2`).
    Node(String),
    /// A libpq-style URL or `key=value` conninfo string, as the learner gave it to `\connect`
    /// (client-side routing: several hosts, `target_session_attrs`, `load_balance_hosts`).
    /// Never named by a lesson; what it leaves out is the cluster's (see [`url`]).
    Url(String),
}

impl Target {
    /// How the target is shown: a URL with its password masked.
    pub fn label(&self) -> String {
        match self {
            Target::Write => "write".into(),
            Target::Read => "read".into(),
            Target::Node(n) => n.clone(),
            Target::Url(u) => url::mask_password(u),
        }
    }
}

/// Where a client reaches `target` from this machine; `None` for a node the cluster lacks, and
/// for a URL target (`\connect`), which names its hosts itself.
pub fn target_addr(
    rt: &dyn ClusterRuntime,
    topo: &Topology,
    target: &Target,
) -> Option<SocketAddr> {
    match target {
        Target::Write => Some(topo.endpoints.write),
        Target::Read => Some(topo.endpoints.read),
        Target::Node(n) => topo.node(n).map(|spec| rt.client_addr(spec)),
        Target::Url(_) => None,
    }
}

/// How the session reaches a target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    /// One server (or HAProxy) at a socket address, with the cluster's credentials.
    Socket(SocketAddr),
    /// A URL or conninfo string, as given; connecting picks the host it names.
    Url(String),
}

impl std::fmt::Display for Address {
    /// The socket address, or the string with its password masked.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Socket(a) => a.fmt(f),
            Address::Url(u) => f.write_str(&url::mask_password(u)),
        }
    }
}

/// A target and how it is reached now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub target: Target,
    pub address: Address,
}

impl Endpoint {
    /// `target` at a socket address (HAProxy's endpoints, one node).
    pub fn socket(target: Target, addr: SocketAddr) -> Endpoint {
        Endpoint {
            target,
            address: Address::Socket(addr),
        }
    }

    /// The target of a URL or conninfo string.
    pub fn url(url: impl Into<String>) -> Endpoint {
        let url = url.into();
        Endpoint {
            target: Target::Url(url.clone()),
            address: Address::Url(url),
        }
    }

    /// How `target` is reached on the cluster `topo` describes: a URL as it is, the others at
    /// [`target_addr`]; `None` for a node the cluster lacks.
    pub fn for_target(
        target: &Target,
        rt: &dyn ClusterRuntime,
        topo: &Topology,
    ) -> Option<Endpoint> {
        match target {
            Target::Url(url) => Some(Endpoint::url(url.clone())),
            _ => target_addr(rt, topo, target).map(|addr| Endpoint::socket(target.clone(), addr)),
        }
    }

    /// The address, when the target's label does not already say it.
    pub fn address_note(&self) -> Option<String> {
        let address = self.address.to_string();
        (address != self.target.label()).then_some(address)
    }

    /// `write at 127.0.0.1:5000`; a URL target is its (masked) URL alone.
    pub fn describe(&self) -> String {
        match self.address_note() {
            Some(a) => format!("{} at {a}", self.target.label()),
            None => self.target.label(),
        }
    }
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
