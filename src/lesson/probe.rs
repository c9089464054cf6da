//! Gathering what checks judge: `sql` checks run their query on the live cluster, each on a
//! connection of its own (the console's session is the learner's, never borrowed).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::watch;
use tokio_postgres::SimpleQueryMessage;

use super::evaluate::{Attempt, Verdict, judge_local, rows};
use super::model::{Check, CheckTarget, SqlCheck, Step};
use crate::cluster::admin::{Admin, AdminError};
use crate::cluster::status::Role;
use crate::cluster::topology::Topology;
use crate::settings::Credentials;
use crate::sql::tls::{ClusterTls, dialable};
use crate::telemetry::model::Snapshot;

/// How long one check query may take before it counts as failed.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a check that waits for replication (`within`) is tried again.
pub const RETRY_EVERY: Duration = Duration::from_millis(200);

pub type Rows = Vec<Vec<Option<String>>>;

/// Runs one query on one server and returns its rows as text.
#[async_trait]
pub trait Query: Send + Sync {
    async fn rows(&self, addr: SocketAddr, sql: &str) -> Result<Rows, String>;
}

/// Queries as the learner's superuser, a new connection per query: checks through the read
/// endpoint must land wherever HAProxy sends a new client.
pub struct PgQuery {
    pub credentials: Credentials,
    /// Where the endpoints listen beyond loopback: their addresses, reached over this TLS.
    pub endpoint_tls: Option<(ClusterTls, Vec<SocketAddr>)>,
}

impl PgQuery {
    /// For the cluster `topo` describes, with the TLS its endpoints need, if any.
    pub fn new(topo: &Topology, tls: Option<ClusterTls>) -> PgQuery {
        PgQuery {
            credentials: topo.credentials.clone(),
            endpoint_tls: tls.map(|t| (t, vec![topo.endpoints.write, topo.endpoints.read])),
        }
    }

    async fn connect(&self, addr: SocketAddr) -> Result<Admin, AdminError> {
        match &self.endpoint_tls {
            Some((tls, endpoints)) if endpoints.iter().any(|e| dialable(*e) == dialable(addr)) => {
                Admin::tcp_tls(dialable(addr), &self.credentials, tls.connector()).await
            }
            _ => Admin::tcp(addr, &self.credentials, &self.credentials.database).await,
        }
    }
}

#[async_trait]
impl Query for PgQuery {
    async fn rows(&self, addr: SocketAddr, sql: &str) -> Result<Rows, String> {
        let work = async {
            let admin = self.connect(addr).await.map_err(|e| e.to_string())?;
            let messages =
                admin
                    .client()
                    .simple_query(sql)
                    .await
                    .map_err(|e| match e.as_db_error() {
                        Some(db) => format!("{} ({})", db.message(), db.code().code()),
                        None => e.to_string(),
                    })?;
            Ok(messages
                .into_iter()
                .filter_map(|m| match m {
                    SimpleQueryMessage::Row(row) => Some(
                        (0..row.len())
                            .map(|i| row.get(i).map(str::to_string))
                            .collect(),
                    ),
                    _ => None,
                })
                .collect())
        };
        tokio::time::timeout(QUERY_TIMEOUT, work)
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {} s", QUERY_TIMEOUT.as_secs())))
    }
}

/// The servers a check target means now, as (label, address); every one must satisfy the
/// check. Roles come from the snapshot, so `primary` follows a failover.
pub fn resolve(target: &CheckTarget, snap: &Snapshot) -> Result<Vec<(String, SocketAddr)>, String> {
    let parse = |label: &str, text: &str| {
        text.parse::<SocketAddr>()
            .map(|a| (label.to_string(), a))
            .map_err(|_| format!("{label} has no usable address ({text:?})"))
    };
    match target {
        CheckTarget::Write => Ok(vec![parse("write", &snap.endpoints.write)?]),
        CheckTarget::Read => Ok(vec![parse("read", &snap.endpoints.read)?]),
        CheckTarget::Primary => match snap.primary() {
            Some(p) => Ok(vec![parse(&p.name, &p.connect)?]),
            None => Err("no node answers as primary".into()),
        },
        CheckTarget::Replicas => {
            let replicas: Vec<_> = snap
                .nodes
                .iter()
                .filter(|n| n.role == Role::Replica && n.reachable)
                .map(|n| parse(&n.name, &n.connect))
                .collect::<Result<_, _>>()?;
            if replicas.is_empty() {
                Err("no replica answers".into())
            } else {
                Ok(replicas)
            }
        }
        CheckTarget::Node(name) => match snap.node(name) {
            Some(n) => Ok(vec![parse(name, &n.connect)?]),
            None => Err(format!("{name} is not in the cluster")),
        },
    }
}

/// One try of a `sql` check on every server its target means.
pub async fn judge_sql(q: &dyn Query, check: &SqlCheck, snap: &Snapshot) -> Verdict {
    let servers = match resolve(&check.target, snap) {
        Ok(s) => s,
        Err(why) => return Verdict::fail(why),
    };
    let several = servers.len() > 1;
    let mut pass = true;
    let mut details = Vec::new();
    for (label, addr) in servers {
        let v = match q.rows(addr, &check.query).await {
            Ok(found) => rows(&check.expect, &found),
            Err(e) => Verdict::fail(e),
        };
        pass &= v.pass;
        // Name the server only where it tells something: with several, or when one failed.
        if several || !v.pass {
            details.push(format!("{label}: {}", v.detail));
        } else {
            details.push(v.detail);
        }
    }
    Verdict {
        pass,
        detail: details.join("; "),
    }
}

/// Every check of `step` once, in order.
pub async fn judge_step(
    q: &dyn Query,
    step: &Step,
    attempt: &Attempt,
    snap: &Snapshot,
) -> Vec<Verdict> {
    let mut out = Vec::with_capacity(step.checks.len());
    for check in &step.checks {
        let v = match check {
            Check::Sql(sql) => judge_sql(q, sql, snap).await,
            other => judge_local(other, attempt, step.quiz.as_ref(), Some(snap))
                .unwrap_or_else(|| Verdict::fail("not judged")),
        };
        out.push(v);
    }
    out
}

/// The longest a step's checks wait for replication (the largest `within`), at least `floor`.
pub fn patience(step: &Step, floor: Duration) -> Duration {
    step.checks
        .iter()
        .filter_map(|c| match c {
            Check::Sql(s) => s.within,
            _ => None,
        })
        .fold(floor, Duration::max)
}

/// Judges the step until every check passes or `deadline` passes, on the newest snapshot each
/// time; returns the last verdicts. `attempt` is read anew each round: runs may still arrive.
pub async fn judge_step_until(
    q: &dyn Query,
    step: &Step,
    attempt: &dyn Fn() -> Attempt,
    snapshots: &watch::Receiver<Arc<Snapshot>>,
    deadline: Instant,
) -> Vec<Verdict> {
    loop {
        let snap = snapshots.borrow().clone();
        let verdicts = judge_step(q, step, &attempt(), &snap).await;
        if verdicts.iter().all(|v| v.pass) || Instant::now() >= deadline {
            return verdicts;
        }
        tokio::time::sleep(RETRY_EVERY).await;
    }
}
