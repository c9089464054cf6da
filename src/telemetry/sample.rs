//! Polling one node: one long-lived connection, one prepared statement, one round trip per
//! poll; reconnects with backoff; bounded by a timeout so a frozen server costs only itself.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio_postgres::{Client, NoTls, Statement};

use crate::cluster::status::ProcState;
use crate::settings::Credentials;

/// Everything telemetry needs from a node, in one query. Works on a primary and a standby:
/// the functions that fail during recovery are guarded by `pg_is_in_recovery()`.
pub const NODE_QUERY: &str = "
SELECT json_build_object(
  'standby', pg_is_in_recovery(),
  'address', host(inet_server_addr()),
  'timeline', CASE WHEN pg_is_in_recovery()
      THEN coalesce((SELECT received_tli FROM pg_stat_wal_receiver),
                    (SELECT timeline_id FROM pg_control_checkpoint()))
      ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END,
  'current_lsn', CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END,
  'receive_lsn', pg_last_wal_receive_lsn()::text,
  'replay_lsn', pg_last_wal_replay_lsn()::text,
  'pause_state', CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() END,
  'xact_replay_age_ms', extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000,
  'replication', coalesce((SELECT json_agg(json_build_object(
      'application_name', application_name,
      'state', state,
      'sent_lsn', sent_lsn::text,
      'write_lsn', write_lsn::text,
      'flush_lsn', flush_lsn::text,
      'replay_lsn', replay_lsn::text,
      'write_ms', extract(epoch FROM write_lag) * 1000,
      'flush_ms', extract(epoch FROM flush_lag) * 1000,
      'replay_ms', extract(epoch FROM replay_lag) * 1000,
      'reply_age_ms', extract(epoch FROM now() - reply_time) * 1000,
      'sync_state', sync_state)) FROM pg_stat_replication), '[]'::json),
  'slots', coalesce((SELECT json_agg(json_build_object(
      'name', slot_name, 'active', active, 'restart_lsn', restart_lsn::text))
      FROM pg_replication_slots WHERE slot_type = 'physical'), '[]'::json)
)";

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct SqlSample {
    pub standby: bool,
    pub address: Option<String>,
    pub timeline: Option<u32>,
    pub current_lsn: Option<String>,
    pub receive_lsn: Option<String>,
    pub replay_lsn: Option<String>,
    pub pause_state: Option<String>,
    pub xact_replay_age_ms: Option<f64>,
    #[serde(default)]
    pub replication: Vec<ReplicationRow>,
    #[serde(default)]
    pub slots: Vec<SlotRow>,
}

/// One row of `pg_stat_replication` on a primary.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct ReplicationRow {
    pub application_name: String,
    pub state: Option<String>,
    pub sent_lsn: Option<String>,
    pub write_lsn: Option<String>,
    pub flush_lsn: Option<String>,
    pub replay_lsn: Option<String>,
    pub write_ms: Option<f64>,
    pub flush_ms: Option<f64>,
    pub replay_ms: Option<f64>,
    pub reply_age_ms: Option<f64>,
    pub sync_state: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct SlotRow {
    pub name: String,
    pub active: bool,
    pub restart_lsn: Option<String>,
}

/// The latest poll of one node.
#[derive(Clone, Debug)]
pub struct NodeSample {
    pub taken: Instant,
    pub proc_state: Option<ProcState>,
    pub sql: Result<SqlSample, String>,
    pub took: Duration,
    /// The runtime's idea of the node's address, asked only when the server did not answer.
    pub ip: Option<String>,
}

/// `X/Y` (hex) as a byte position.
pub fn parse_lsn(lsn: &str) -> Option<u64> {
    let (hi, lo) = lsn.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

/// Bytes from `behind` to `ahead`, never negative (positions read at slightly different
/// moments can cross).
pub fn lsn_gap(ahead: Option<&str>, behind: Option<&str>) -> Option<i64> {
    let (a, b) = (parse_lsn(ahead?)?, parse_lsn(behind?)?);
    Some(i64::try_from(a.saturating_sub(b)).unwrap_or(i64::MAX))
}

/// One node's connection, kept between polls.
pub struct NodePoller {
    addr: SocketAddr,
    creds: Credentials,
    session: Option<(Client, Statement)>,
    failures: u32,
    retry_at: Option<Instant>,
}

impl NodePoller {
    pub fn new(addr: SocketAddr, creds: Credentials) -> Self {
        NodePoller {
            addr,
            creds,
            session: None,
            failures: 0,
            retry_at: None,
        }
    }

    /// One poll, bounded by `limit`. After a failed connection the next attempt waits
    /// (100 ms doubling to 2 s), so a dead node is not hammered with logins.
    pub async fn poll(&mut self, limit: Duration) -> Result<SqlSample, String> {
        if self.session.is_none() {
            if let Some(at) = self.retry_at {
                if Instant::now() < at {
                    return Err("reconnecting".into());
                }
            }
        }
        match tokio::time::timeout(limit, self.poll_inner()).await {
            Ok(Ok(s)) => {
                self.failures = 0;
                self.retry_at = None;
                Ok(s)
            }
            Ok(Err(e)) => {
                self.fail();
                Err(e)
            }
            Err(_) => {
                self.fail();
                Err(format!("no answer within {} ms", limit.as_millis()))
            }
        }
    }

    fn fail(&mut self) {
        self.session = None;
        self.failures = self.failures.saturating_add(1);
        let backoff =
            Duration::from_millis(100u64 << self.failures.min(5)).min(Duration::from_secs(2));
        self.retry_at = Some(Instant::now() + backoff);
    }

    async fn poll_inner(&mut self) -> Result<SqlSample, String> {
        if self.session.is_none() {
            self.session = Some(self.connect().await?);
        }
        let Some((client, stmt)) = &self.session else {
            return Err("no session".into());
        };
        let row = client
            .query_one(stmt, &[])
            .await
            .map_err(|e| e.to_string())?;
        let value: serde_json::Value = row.try_get(0).map_err(|e| e.to_string())?;
        serde_json::from_value(value).map_err(|e| format!("unexpected telemetry row: {e}"))
    }

    async fn connect(&self) -> Result<(Client, Statement), String> {
        let (client, conn) = tokio_postgres::Config::new()
            .host(self.addr.ip().to_string())
            .port(self.addr.port())
            .user(&self.creds.user)
            .password(&self.creds.password)
            .dbname("postgres")
            .application_name("replica-lab-telemetry")
            .connect_timeout(Duration::from_secs(2))
            .connect(NoTls)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let stmt = client
            .prepare(NODE_QUERY)
            .await
            .map_err(|e| e.to_string())?;
        Ok((client, stmt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsns_parse_as_positions() {
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("0/3000060"), Some(0x300_0060));
        assert_eq!(parse_lsn("1/0"), Some(1 << 32));
        assert_eq!(parse_lsn("16/B374D848"), Some((0x16 << 32) | 0xB374_D848));
        assert_eq!(parse_lsn("nonsense"), None);
        assert_eq!(parse_lsn("0/xyz"), None);
    }

    #[test]
    fn gaps_are_bytes_and_never_negative() {
        assert_eq!(lsn_gap(Some("0/3000100"), Some("0/3000000")), Some(256));
        assert_eq!(lsn_gap(Some("1/0"), Some("0/FFFFFFFF")), Some(1));
        assert_eq!(lsn_gap(Some("0/10"), Some("0/20")), Some(0));
        assert_eq!(lsn_gap(None, Some("0/20")), None);
    }

    #[test]
    fn a_primary_row_deserialises() {
        let v = serde_json::json!({
            "standby": false, "address": "127.0.0.11", "timeline": 2,
            "current_lsn": "0/5000000", "receive_lsn": null, "replay_lsn": null,
            "pause_state": null, "xact_replay_age_ms": null,
            "replication": [{"application_name": "pg2", "state": "streaming",
                "sent_lsn": "0/5000000", "write_lsn": "0/5000000", "flush_lsn": "0/5000000",
                "replay_lsn": "0/4FFFF00", "write_ms": 0.4, "flush_ms": 0.9, "replay_ms": null,
                "reply_age_ms": 312.5, "sync_state": "async"}],
            "slots": [{"name": "pg2", "active": true, "restart_lsn": "0/4000000"}]
        });
        let s: SqlSample = serde_json::from_value(v).expect("deserialise");
        assert!(!s.standby);
        assert_eq!(s.timeline, Some(2));
        assert_eq!(s.replication[0].replay_ms, None);
        assert_eq!(s.slots[0].restart_lsn.as_deref(), Some("0/4000000"));
    }
}
