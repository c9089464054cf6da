//! What a run sees, as plain records: each write and read through the endpoints, what each
//! node answers when asked directly, what `status --json` claims, and what the cluster record
//! decided. The checks are pure functions over these.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

/// How long asking one node directly may take; a frozen node answers nothing.
pub const ASK_TIMEOUT: Duration = Duration::from_millis(1500);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conn {
    /// A new connection for this write.
    Fresh,
    /// A connection kept from earlier writes.
    Kept,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Committed and acknowledged by the server `cluster_name` names.
    Acked { node: String },
    /// Refused as read-only: the write endpoint led to a standby (named when it said who it
    /// was on connecting).
    ReadOnly { node: Option<String> },
    /// No answer, a lost connection, a timeout: nothing acknowledged.
    Failed { what: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteObs {
    pub id: i64,
    /// The step that was running (or settling) when the answer came.
    pub window: usize,
    /// Milliseconds since the run began.
    pub at_ms: u64,
    pub conn: Conn,
    pub outcome: WriteOutcome,
}

impl WriteObs {
    pub fn acked_by(&self) -> Option<&str> {
        match &self.outcome {
            WriteOutcome::Acked { node } => Some(node),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    Answered { node: String, in_recovery: bool },
    Failed { what: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadObs {
    pub window: usize,
    pub at_ms: u64,
    pub outcome: ReadOutcome,
}

/// What a node said when asked directly, not through HAProxy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    Answered { name: String, in_recovery: bool },
    Silent { why: String },
}

impl Seen {
    pub fn writable(&self) -> bool {
        matches!(
            self,
            Seen::Answered {
                in_recovery: false,
                ..
            }
        )
    }
}

/// One node as `status --json` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusNode {
    pub name: String,
    pub role: String,
    pub state: String,
    pub connect: String,
    pub flags: Vec<String>,
    /// Whether the primary lists a streaming walsender for it (replicas only).
    pub streaming: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyRow {
    pub backend: String,
    pub server: String,
    pub status: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusView {
    pub nodes: Vec<StatusNode>,
    pub haproxy: Vec<ProxyRow>,
}

impl StatusView {
    /// Reads the parts of `status --json` the checks use; `None` when it is not that shape.
    pub fn parse(v: &Value) -> Option<StatusView> {
        let text = |v: &Value, key: &str| v[key].as_str().map(String::from);
        let nodes = v["nodes"]
            .as_array()?
            .iter()
            .map(|n| {
                Some(StatusNode {
                    name: text(n, "name")?,
                    role: text(n, "role")?,
                    state: text(n, "state")?,
                    connect: text(n, "connect").unwrap_or_default(),
                    flags: n["flags"]
                        .as_array()
                        .map(|f| {
                            f.iter()
                                .filter_map(|x| x.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default(),
                    streaming: n["lag"]["streaming"].as_bool(),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let haproxy = v["haproxy"]["servers"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .filter_map(|r| {
                        Some(ProxyRow {
                            backend: text(r, "backend")?,
                            server: text(r, "name")?,
                            status: text(r, "status")?,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(StatusView { nodes, haproxy })
    }

    pub fn node(&self, name: &str) -> Option<&StatusNode> {
        self.nodes.iter().find(|n| n.name == name)
    }

    pub fn proxy(&self, backend: &str, server: &str) -> Option<&str> {
        self.haproxy
            .iter()
            .find(|r| r.backend == backend && r.server == server)
            .map(|r| r.status.as_str())
    }
}

/// What the cluster record says the app decided.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decided {
    pub primary: Option<String>,
    pub fenced: BTreeSet<String>,
}

impl Decided {
    pub fn read(cluster_dir: &Path) -> Decided {
        use replica_lab::cluster::state::ClusterRecord;
        match ClusterRecord::load(cluster_dir) {
            Ok(Some(r)) => Decided {
                primary: r.authority.primary.clone(),
                fenced: r.authority.fenced.iter().map(|f| f.node.clone()).collect(),
            },
            _ => Decided::default(),
        }
    }
}

/// A client with a bound on connecting, for probes and the load.
pub async fn client(addr: SocketAddr, db: &str) -> Result<tokio_postgres::Client, String> {
    let config = {
        let mut c = tokio_postgres::Config::new();
        c.host(addr.ip().to_string())
            .port(addr.port())
            .user("myuser")
            .password("mypassword")
            .dbname(db)
            .connect_timeout(ASK_TIMEOUT);
        c
    };
    let connecting = config.connect(tokio_postgres::NoTls);
    let (client, conn) = tokio::time::timeout(ASK_TIMEOUT, connecting)
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| short(&e))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// Who answers on this connection: its `cluster_name` and whether it is a standby.
pub async fn identity(c: &tokio_postgres::Client) -> Result<(String, bool), String> {
    let ask = c.query_one(
        "SELECT current_setting('cluster_name'), pg_is_in_recovery()",
        &[],
    );
    let row = tokio::time::timeout(ASK_TIMEOUT, ask)
        .await
        .map_err(|_| "query timed out".to_string())?
        .map_err(|e| short(&e))?;
    Ok((row.get(0), row.get(1)))
}

/// Asks the node at `addr` directly who it is and whether it is a standby.
pub async fn ask_node(addr: SocketAddr) -> Seen {
    let c = match client(addr, "postgres").await {
        Ok(c) => c,
        Err(why) => return Seen::Silent { why },
    };
    match identity(&c).await {
        Ok((name, in_recovery)) => Seen::Answered { name, in_recovery },
        Err(why) => Seen::Silent { why },
    }
}

/// Every status node asked directly, at once.
pub async fn ask_all(status: &StatusView) -> Vec<(String, Seen)> {
    let asks = status.nodes.iter().map(|n| async move {
        let seen = match n.connect.parse::<SocketAddr>() {
            Ok(addr) => ask_node(addr).await,
            Err(_) => Seen::Silent {
                why: format!("status gives no address ({:?})", n.connect),
            },
        };
        (n.name.clone(), seen)
    });
    futures::future::join_all(asks).await
}

/// The ids on the node at `addr`, asked directly.
pub async fn ids_on(addr: SocketAddr) -> Result<BTreeSet<i64>, String> {
    let c = client(addr, "mydatabase").await?;
    let rows = tokio::time::timeout(
        Duration::from_secs(10),
        c.query("SELECT id FROM fault_rows", &[]),
    )
    .await
    .map_err(|_| "reading the rows timed out".to_string())?
    .map_err(|e| short(&e))?;
    Ok(rows.iter().map(|r| r.get::<_, i64>(0)).collect())
}

/// The highest id on the node at `addr`, asked directly; `None` when it does not answer.
pub async fn max_id_on(addr: SocketAddr) -> Option<i64> {
    let c = client(addr, "mydatabase").await.ok()?;
    let ask = c.query_one("SELECT coalesce(max(id), 0) FROM fault_rows", &[]);
    let row = tokio::time::timeout(ASK_TIMEOUT, ask).await.ok()?.ok()?;
    Some(row.get(0))
}

/// An error's SQLSTATE and first line, short enough to tally.
pub fn short(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e
            .to_string()
            .lines()
            .next()
            .unwrap_or("error")
            .chars()
            .take(80)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_json_reads_into_the_view() {
        let v = serde_json::json!({
            "nodes": [
                {"name": "pg1", "role": "primary", "state": "running", "connect": "127.0.0.1:1",
                 "flags": ["split_brain"], "lag": null},
                {"name": "pg2", "role": "replica", "state": "running", "connect": "127.0.0.1:2",
                 "flags": [], "lag": {"streaming": true}}
            ],
            "haproxy": {"state": "up", "servers": [{"backend": "write", "name": "pg1", "status": "UP"}]}
        });
        let s = StatusView::parse(&v).expect("parses");
        assert_eq!(s.nodes.len(), 2);
        assert_eq!(
            s.node("pg1").map(|n| n.flags.clone()),
            Some(vec!["split_brain".into()])
        );
        assert_eq!(s.node("pg2").and_then(|n| n.streaming), Some(true));
        assert_eq!(s.proxy("write", "pg1"), Some("UP"));
        assert_eq!(s.proxy("read", "pg1"), None);
        assert!(StatusView::parse(&serde_json::json!({"nodes": 3})).is_none());
    }
}
