//! The event timeline: what changed between two snapshots, as plain data.

use super::model::{Event, EventKind, NodeTelemetry, ProxyState, Snapshot};
use crate::cluster::status::NodeState;

/// Events that turn `prev` into `next`, stamped `at_ms`.
pub fn between(prev: &Snapshot, next: &Snapshot, at_ms: u64) -> Vec<Event> {
    let mut out = Vec::new();
    let mut push = |kind, node: &str, detail: String| {
        out.push(Event {
            at_ms,
            kind,
            node: node.to_string(),
            detail,
        });
    };
    let writable = |s: &Snapshot| -> Vec<String> {
        s.nodes
            .iter()
            .filter(|n| n.role == crate::cluster::status::Role::Primary)
            .map(|n| n.name.clone())
            .collect()
    };
    let (was, is) = (writable(prev), writable(next));
    if is.len() > 1 && was.len() < 2 {
        push(
            EventKind::SplitBrain,
            &is.join(","),
            format!("{} all accept writes", is.join(", ")),
        );
    }
    for n in &next.nodes {
        let Some(p) = prev.node(&n.name) else {
            push(EventKind::NodeUp, &n.name, "joined the cluster".into());
            continue;
        };
        let (was_up, is_up) = (p.state == NodeState::Running, n.state == NodeState::Running);
        if was_up != is_up {
            let kind = if is_up {
                EventKind::NodeUp
            } else {
                EventKind::NodeDown
            };
            push(
                kind,
                &n.name,
                format!("{} → {}", p.state.as_str(), n.state.as_str()),
            );
        }
        if p.role != n.role
            && p.role != crate::cluster::status::Role::Unknown
            && n.role != crate::cluster::status::Role::Unknown
        {
            push(
                EventKind::RoleChanged,
                &n.name,
                format!("{} → {}", p.role.as_str(), n.role.as_str()),
            );
        }
        match (streaming(p), streaming(n)) {
            (Some(false) | None, Some(true)) => push(
                EventKind::StreamingStarted,
                &n.name,
                "streams from the primary".into(),
            ),
            (Some(true), Some(false) | None) => push(
                EventKind::StreamingStopped,
                &n.name,
                "stopped streaming".into(),
            ),
            _ => {}
        }
    }
    for p in &prev.nodes {
        if next.node(&p.name).is_none() {
            push(EventKind::NodeDown, &p.name, "left the cluster".into());
        }
    }
    match (prev.haproxy.state, next.haproxy.state) {
        // Down is news also when it is the first thing learnt; up at start is not.
        (ProxyState::Up | ProxyState::Unknown, ProxyState::Down) => push(
            EventKind::ProxyDown,
            PROXY,
            next.haproxy
                .error
                .clone()
                .unwrap_or_else(|| "HAProxy does not answer".into()),
        ),
        (ProxyState::Down, ProxyState::Up) => push(
            EventKind::ProxyUp,
            PROXY,
            "its runtime API answers again".into(),
        ),
        _ => {}
    }
    for s in &next.haproxy.servers {
        let before = prev
            .haproxy
            .servers
            .iter()
            .find(|o| o.backend == s.backend && o.server == s.server);
        if let Some(b) = before {
            if settled(&b.status) != settled(&s.status) {
                push(
                    EventKind::ProxyTransition,
                    &s.server,
                    format!(
                        "{}: {} → {}",
                        s.backend,
                        settled(&b.status),
                        settled(&s.status)
                    ),
                );
            }
        }
    }
    out
}

/// What proxy events name in place of a node.
const PROXY: &str = "haproxy";

fn streaming(n: &NodeTelemetry) -> Option<bool> {
    n.lag.as_ref().map(|l| l.streaming)
}

/// `UP 1/2` (going down) is still UP; `DOWN 1/2` (going up) still DOWN.
fn settled(status: &str) -> &str {
    status.split(' ').next().unwrap_or(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::haproxy::ServerStat;
    use crate::cluster::state::RuntimeKind;
    use crate::cluster::status::{EndpointsView, Role};
    use crate::telemetry::model::{Lag, ProxyView};

    fn node(name: &str, role: Role, state: NodeState, streaming: Option<bool>) -> NodeTelemetry {
        NodeTelemetry {
            name: name.into(),
            role,
            state,
            address: String::new(),
            port: 5432,
            connect: String::new(),
            reachable: state == NodeState::Running,
            timeline: None,
            current_lsn: None,
            receive_lsn: None,
            replay_lsn: None,
            lag: streaming.map(|s| Lag {
                sent_bytes: 0,
                write_bytes: 0,
                flush_bytes: 0,
                replay_bytes: 0,
                write_ms: None,
                flush_ms: None,
                replay_ms: None,
                reply_age_ms: None,
                replay_paused: false,
                streaming: s,
            }),
            slot: None,
            sync_state: None,
            flags: vec![],
            fence: None,
            poll_ms: None,
            error: None,
        }
    }

    fn stat(backend: &str, server: &str, status: &str) -> ServerStat {
        ServerStat {
            backend: backend.into(),
            server: server.into(),
            status: status.into(),
            check_status: String::new(),
            check_duration_ms: None,
            current_sessions: 0,
            total_sessions: 0,
            last_change_s: None,
        }
    }

    fn snap(nodes: Vec<NodeTelemetry>, haproxy: Vec<ServerStat>) -> Snapshot {
        Snapshot {
            name: "t".into(),
            runtime: RuntimeKind::Local,
            endpoints: EndpointsView {
                write: String::new(),
                read: String::new(),
                stats: String::new(),
            },
            taken_at_ms: 0,
            seq: 0,
            nodes,
            haproxy: ProxyView::up(haproxy),
            events: vec![],
        }
    }

    #[test]
    fn a_failover_reads_as_a_story() {
        let before = snap(
            vec![
                node("pg1", Role::Primary, NodeState::Running, None),
                node("pg2", Role::Replica, NodeState::Running, Some(true)),
            ],
            vec![stat("write", "pg1", "UP"), stat("write", "pg2", "DOWN")],
        );
        let crashed = snap(
            vec![
                node("pg1", Role::Unknown, NodeState::Stopped, None),
                node("pg2", Role::Replica, NodeState::Running, Some(false)),
            ],
            vec![stat("write", "pg1", "UP 1/2"), stat("write", "pg2", "DOWN")],
        );
        let promoted = snap(
            vec![
                node("pg1", Role::Unknown, NodeState::Stopped, None),
                node("pg2", Role::Primary, NodeState::Running, None),
            ],
            vec![stat("write", "pg1", "DOWN"), stat("write", "pg2", "UP")],
        );
        let kinds = |evs: Vec<Event>| {
            evs.into_iter()
                .map(|e| (e.kind, e.node, e.detail))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            kinds(between(&before, &crashed, 1)),
            [
                (
                    EventKind::NodeDown,
                    "pg1".into(),
                    "running → stopped".into()
                ),
                (
                    EventKind::StreamingStopped,
                    "pg2".into(),
                    "stopped streaming".into()
                ),
            ]
        );
        let e = kinds(between(&crashed, &promoted, 2));
        assert!(
            e.contains(&(
                EventKind::RoleChanged,
                "pg2".into(),
                "replica → primary".into()
            )),
            "{e:?}"
        );
        assert!(
            e.contains(&(
                EventKind::ProxyTransition,
                "pg1".into(),
                "write: UP → DOWN".into()
            )),
            "{e:?}"
        );
        assert!(
            e.contains(&(
                EventKind::ProxyTransition,
                "pg2".into(),
                "write: DOWN → UP".into()
            )),
            "{e:?}"
        );
        assert!(between(&promoted, &promoted, 3).is_empty());
    }

    #[test]
    fn haproxy_going_down_and_coming_back_are_events() {
        let nodes = || vec![node("pg1", Role::Primary, NodeState::Running, None)];
        let up = snap(nodes(), vec![stat("write", "pg1", "UP")]);
        let mut down = snap(nodes(), vec![]);
        down.haproxy = ProxyView::down("HAProxy is not running: run up".into());
        let mut unknown = snap(nodes(), vec![]);
        unknown.haproxy = ProxyView::default();
        let kinds = |evs: Vec<Event>| {
            evs.into_iter()
                .map(|e| (e.kind, e.node, e.detail))
                .collect::<Vec<_>>()
        };
        // Its servers vanish with it: one event says why, not one per server.
        assert_eq!(
            kinds(between(&up, &down, 1)),
            [(
                EventKind::ProxyDown,
                "haproxy".into(),
                "HAProxy is not running: run up".into()
            )]
        );
        assert_eq!(
            kinds(between(&down, &up, 2)),
            [(
                EventKind::ProxyUp,
                "haproxy".into(),
                "its runtime API answers again".into()
            )]
        );
        assert!(between(&down, &down, 3).is_empty(), "no change, no event");
        assert_eq!(
            kinds(between(&unknown, &down, 4)).first().map(|e| e.0),
            Some(EventKind::ProxyDown),
            "down is news when it is the first answer"
        );
        assert!(
            between(&unknown, &up, 5).is_empty(),
            "up at start is not news"
        );
    }
}
