//! Turning the latest per-node samples and HAProxy's stats into one snapshot: pure functions.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::model::{Lag, LagFlag, NodeTelemetry, SlotInfo};
use super::sample::{NodeSample, SqlSample, lsn_gap};
use crate::cluster::fencing::FenceKind;
use crate::cluster::status::ProcState;
use crate::cluster::status::{NodeState, Role};
use crate::cluster::topology::NodeSpec;

/// A standby that has not replied for this long while its walsender says `streaming` is
/// frozen or cut off (it replies every second: `wal_receiver_status_interval`).
pub const SILENT_AFTER_MS: f64 = 3_000.0;
/// No transaction replayed for this long, with nothing behind: the primary is idle.
pub const IDLE_AFTER_MS: f64 = 5_000.0;

/// What the node said, if it said it recently enough to count.
fn fresh(sample: Option<&NodeSample>, now: Instant, stale_after: Duration) -> Option<&SqlSample> {
    let s = sample?;
    if now.saturating_duration_since(s.taken) > stale_after {
        return None;
    }
    s.sql.as_ref().ok()
}

pub struct NodeInput<'a> {
    pub spec: &'a NodeSpec,
    pub connect: String,
    /// The runtime's idea of the node's address, for when the server cannot be asked.
    pub known_address: Option<String>,
    pub sample: Option<&'a NodeSample>,
    /// What the cluster record fences the node for, if anything.
    pub fence: Option<FenceKind>,
}

/// Every node's telemetry, lag measured against the one primary that answers.
pub fn nodes(inputs: &[NodeInput<'_>], now: Instant, stale_after: Duration) -> Vec<NodeTelemetry> {
    let answers: HashMap<&str, &SqlSample> = inputs
        .iter()
        .filter_map(|i| Some((i.spec.name.as_str(), fresh(i.sample, now, stale_after)?)))
        .collect();
    // With two primaries (split brain) lag is measured against the one on the newest timeline.
    let primary = answers
        .iter()
        .filter(|(_, s)| !s.standby)
        .max_by_key(|(name, s)| (s.timeline, std::cmp::Reverse(*name)))
        .map(|(_, s)| *s);
    let mut out: Vec<NodeTelemetry> = inputs
        .iter()
        .map(|i| {
            node(
                i,
                answers.get(i.spec.name.as_str()).copied(),
                primary,
                now,
                stale_after,
            )
        })
        .collect();
    if out.iter().filter(|n| n.role == Role::Primary).count() > 1 {
        for n in out.iter_mut().filter(|n| n.role == Role::Primary) {
            n.flags.push(LagFlag::SplitBrain);
        }
    }
    out
}

fn node(
    input: &NodeInput<'_>,
    answer: Option<&SqlSample>,
    primary: Option<&SqlSample>,
    now: Instant,
    stale_after: Duration,
) -> NodeTelemetry {
    let spec = input.spec;
    let proc_state = input.sample.and_then(|s| s.proc_state);
    let state = match (proc_state, answer) {
        (Some(ProcState::Paused), _) => NodeState::Paused,
        (None | Some(ProcState::Stopped), _) => NodeState::Stopped,
        (Some(ProcState::Running), Some(_)) => NodeState::Running,
        (Some(ProcState::Running), None) => NodeState::Unreachable,
    };
    let role = match answer {
        Some(a) if a.standby => Role::Replica,
        Some(_) => Role::Primary,
        None => Role::Unknown,
    };
    let error = match input.sample {
        None => Some("not polled yet".to_string()),
        Some(s) if now.saturating_duration_since(s.taken) > stale_after => Some(format!(
            "no answer for {} ms",
            now.saturating_duration_since(s.taken).as_millis()
        )),
        Some(s) => s.sql.as_ref().err().cloned(),
    };
    let mut t = NodeTelemetry {
        name: spec.name.clone(),
        role,
        state,
        address: answer
            .and_then(|a| a.address.clone())
            .or_else(|| input.known_address.clone())
            .unwrap_or_default(),
        port: spec.port,
        connect: input.connect.clone(),
        reachable: answer.is_some(),
        timeline: answer.and_then(|a| a.timeline),
        current_lsn: answer.and_then(|a| a.current_lsn.clone()),
        receive_lsn: answer.and_then(|a| a.receive_lsn.clone()),
        replay_lsn: answer.and_then(|a| a.replay_lsn.clone()),
        lag: None,
        slot: None,
        sync_state: None,
        flags: Vec::new(),
        fence: input.fence,
        poll_ms: input.sample.map(|s| s.took.as_secs_f64() * 1000.0),
        error: if answer.is_some() { None } else { error },
    };
    // A node that is not the primary is measured against it, also while it is down.
    if role != Role::Primary {
        if let Some(p) = primary {
            fill_lag(&mut t, answer, p);
        }
    }
    t
}

fn fill_lag(t: &mut NodeTelemetry, own: Option<&SqlSample>, primary: &SqlSample) {
    let current = primary.current_lsn.as_deref();
    let row = primary
        .replication
        .iter()
        .find(|r| r.application_name == t.name);
    t.slot = primary
        .slots
        .iter()
        .find(|s| s.name == t.name)
        .map(|s| SlotInfo {
            name: s.name.clone(),
            active: s.active,
            retained_bytes: lsn_gap(current, s.restart_lsn.as_deref()),
        });
    let replay_paused = own
        .and_then(|o| o.pause_state.as_deref())
        .is_some_and(|s| s != "not paused");
    let lag = match row {
        Some(r) => {
            t.sync_state = r.sync_state.clone();
            Lag {
                sent_bytes: lsn_gap(current, r.sent_lsn.as_deref()).unwrap_or(0),
                write_bytes: lsn_gap(current, r.write_lsn.as_deref()).unwrap_or(0),
                flush_bytes: lsn_gap(current, r.flush_lsn.as_deref()).unwrap_or(0),
                replay_bytes: lsn_gap(current, r.replay_lsn.as_deref()).unwrap_or(0),
                write_ms: r.write_ms,
                flush_ms: r.flush_ms,
                replay_ms: r.replay_ms,
                reply_age_ms: r.reply_age_ms,
                replay_paused,
                streaming: r.state.as_deref() == Some("streaming"),
            }
        }
        // Not connected to the primary: how far behind is what it has itself.
        None => {
            let Some(own) = own else {
                return;
            };
            let received = lsn_gap(current, own.receive_lsn.as_deref()).unwrap_or(0);
            Lag {
                sent_bytes: received,
                write_bytes: received,
                flush_bytes: received,
                replay_bytes: lsn_gap(current, own.replay_lsn.as_deref()).unwrap_or(0),
                write_ms: None,
                flush_ms: None,
                replay_ms: None,
                reply_age_ms: None,
                replay_paused,
                streaming: false,
            }
        }
    };
    t.flags = flags(&lag, own.and_then(|o| o.xact_replay_age_ms));
    t.lag = Some(lag);
}

/// What the figures alone would hide.
pub fn flags(lag: &Lag, xact_replay_age_ms: Option<f64>) -> Vec<LagFlag> {
    let mut f = Vec::new();
    if lag.replay_paused {
        f.push(LagFlag::ReplayPaused);
    }
    if !lag.streaming {
        f.push(LagFlag::NotStreaming);
    } else if lag.reply_age_ms.is_some_and(|a| a > SILENT_AFTER_MS) {
        f.push(LagFlag::ReceiverSilent);
    }
    if lag.replay_bytes == 0
        && lag.streaming
        && xact_replay_age_ms.is_some_and(|a| a > IDLE_AFTER_MS)
    {
        f.push(LagFlag::IdlePrimary);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::sample::ReplicationRow;
    use std::net::{IpAddr, Ipv4Addr};

    fn spec(name: &str) -> NodeSpec {
        NodeSpec {
            name: name.into(),
            index: 1,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 5432,
        }
    }

    fn sample(sql: Result<SqlSample, String>, state: ProcState, taken: Instant) -> NodeSample {
        NodeSample {
            taken,
            proc_state: Some(state),
            sql,
            took: Duration::from_millis(1),
            ip: None,
        }
    }

    fn primary() -> SqlSample {
        SqlSample {
            standby: false,
            current_lsn: Some("0/5000000".into()),
            timeline: Some(1),
            replication: vec![ReplicationRow {
                application_name: "pg2".into(),
                state: Some("streaming".into()),
                sent_lsn: Some("0/5000000".into()),
                write_lsn: Some("0/4FFFF00".into()),
                flush_lsn: Some("0/4FFFF00".into()),
                replay_lsn: Some("0/4FF0000".into()),
                write_ms: Some(0.5),
                flush_ms: Some(0.7),
                replay_ms: None,
                reply_age_ms: Some(300.0),
                sync_state: Some("async".into()),
            }],
            ..SqlSample::default()
        }
    }

    fn standby(paused: bool) -> SqlSample {
        SqlSample {
            standby: true,
            receive_lsn: Some("0/4FFFF00".into()),
            replay_lsn: Some("0/4FF0000".into()),
            pause_state: Some(if paused { "paused" } else { "not paused" }.into()),
            xact_replay_age_ms: Some(100.0),
            ..SqlSample::default()
        }
    }

    #[test]
    fn a_streaming_replica_is_measured_in_bytes_per_stage() {
        let now = Instant::now();
        let (s1, s2) = (spec("pg1"), spec("pg2"));
        let a = sample(Ok(primary()), ProcState::Running, now);
        let b = sample(Ok(standby(false)), ProcState::Running, now);
        let inputs = [
            NodeInput {
                spec: &s1,
                connect: "c1".into(),
                known_address: None,
                sample: Some(&a),
                fence: None,
            },
            NodeInput {
                spec: &s2,
                connect: "c2".into(),
                known_address: None,
                sample: Some(&b),
                fence: None,
            },
        ];
        let out = nodes(&inputs, now, Duration::from_secs(2));
        assert_eq!(out[0].role, Role::Primary);
        assert!(out[0].lag.is_none());
        let lag = out[1].lag.as_ref().expect("lag");
        assert_eq!(
            (
                lag.sent_bytes,
                lag.write_bytes,
                lag.flush_bytes,
                lag.replay_bytes
            ),
            (0, 256, 256, 65536)
        );
        assert_eq!(
            lag.replay_ms, None,
            "an absent lag time stays absent, not zero"
        );
        assert!(lag.streaming && !lag.replay_paused);
        assert!(out[1].flags.is_empty(), "{:?}", out[1].flags);
        assert_eq!(out[1].sync_state.as_deref(), Some("async"));
    }

    #[test]
    fn pause_silence_and_idleness_are_flagged() {
        let base = Lag {
            sent_bytes: 0,
            write_bytes: 0,
            flush_bytes: 0,
            replay_bytes: 0,
            write_ms: None,
            flush_ms: None,
            replay_ms: None,
            reply_age_ms: Some(200.0),
            replay_paused: false,
            streaming: true,
        };
        assert!(flags(&base, Some(100.0)).is_empty());
        assert_eq!(flags(&base, Some(60_000.0)), [LagFlag::IdlePrimary]);
        let silent = Lag {
            reply_age_ms: Some(9_000.0),
            ..base.clone()
        };
        assert_eq!(flags(&silent, None), [LagFlag::ReceiverSilent]);
        let paused = Lag {
            replay_paused: true,
            replay_bytes: 10,
            ..base.clone()
        };
        assert_eq!(flags(&paused, Some(60_000.0)), [LagFlag::ReplayPaused]);
        let gone = Lag {
            streaming: false,
            ..base
        };
        assert_eq!(flags(&gone, None), [LagFlag::NotStreaming]);
    }

    #[test]
    fn a_stale_or_failed_sample_makes_the_node_unreachable() {
        let now = Instant::now();
        let (s1, s2) = (spec("pg1"), spec("pg2"));
        let a = sample(Ok(primary()), ProcState::Running, now);
        let old = now.checked_sub(Duration::from_secs(5)).unwrap_or(now);
        let b = sample(Ok(standby(true)), ProcState::Running, old);
        let inputs = [
            NodeInput {
                spec: &s1,
                connect: "c1".into(),
                known_address: None,
                sample: Some(&a),
                fence: None,
            },
            NodeInput {
                spec: &s2,
                connect: "c2".into(),
                known_address: Some("10.0.0.2".into()),
                sample: Some(&b),
                fence: Some(FenceKind::Diverged),
            },
        ];
        let out = nodes(&inputs, now, Duration::from_secs(2));
        assert_eq!(out[1].state, NodeState::Unreachable);
        assert_eq!(out[1].role, Role::Unknown);
        assert!(!out[1].reachable);
        assert_eq!(out[1].address, "10.0.0.2");
        assert_eq!(
            out[1].fence,
            Some(FenceKind::Diverged),
            "fenced by the record"
        );
        assert_eq!(out[0].fence, None);
        assert!(
            out[1]
                .error
                .as_deref()
                .is_some_and(|e| e.starts_with("no answer for"))
        );
        // The primary still reports its walsender, so lag stays measured.
        assert_eq!(out[1].lag.as_ref().map(|l| l.replay_bytes), Some(65536));

        let c = sample(Err("connection refused".into()), ProcState::Stopped, now);
        let inputs = [NodeInput {
            spec: &s2,
            connect: "c2".into(),
            known_address: None,
            sample: Some(&c),
            fence: None,
        }];
        let out = nodes(&inputs, now, Duration::from_secs(2));
        assert_eq!(out[0].state, NodeState::Stopped);
        assert_eq!(out[0].error.as_deref(), Some("connection refused"));
    }
}
