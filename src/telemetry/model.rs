//! What telemetry reports: one snapshot of the whole cluster, plain data that renders as JSON.

use serde::Serialize;

use crate::cluster::fencing::FenceKind;
use crate::cluster::haproxy::ServerStat;
use crate::cluster::state::RuntimeKind;
use crate::cluster::status::{EndpointsView, NodeState, Role};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Snapshot {
    pub name: String,
    pub runtime: RuntimeKind,
    pub endpoints: EndpointsView,
    /// Milliseconds since the Unix epoch.
    pub taken_at_ms: u64,
    /// Counts snapshots of one telemetry service; consumers can tell a new one from an old.
    pub seq: u64,
    pub nodes: Vec<NodeTelemetry>,
    pub haproxy: ProxyView,
    /// The newest events, oldest first.
    pub events: Vec<Event>,
}

impl Snapshot {
    pub fn node(&self, name: &str) -> Option<&NodeTelemetry> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Every node and HAProxy have been asked at least once.
    pub fn complete(&self) -> bool {
        self.nodes.iter().all(|n| n.poll_ms.is_some()) && self.haproxy.state != ProxyState::Unknown
    }

    pub fn primary(&self) -> Option<&NodeTelemetry> {
        self.nodes.iter().find(|n| n.role == Role::Primary)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeTelemetry {
    pub name: String,
    pub role: Role,
    pub state: NodeState,
    /// What `inet_server_addr()` returns on the node.
    pub address: String,
    pub port: u16,
    /// Where clients on this machine reach the node.
    pub connect: String,
    pub reachable: bool,
    pub timeline: Option<u32>,
    /// The primary's current WAL position (primaries only).
    pub current_lsn: Option<String>,
    pub receive_lsn: Option<String>,
    pub replay_lsn: Option<String>,
    /// How far behind the primary this replica is (replicas only).
    pub lag: Option<Lag>,
    /// This node's replication slot on the primary.
    pub slot: Option<SlotInfo>,
    /// `async`, `sync`, `potential` or `quorum`, as the primary sees this standby.
    pub sync_state: Option<String>,
    /// What the numbers alone would hide.
    pub flags: Vec<LagFlag>,
    /// Why the cluster record keeps this node out, if it does.
    pub fence: Option<FenceKind>,
    /// How long the last poll of this node took.
    pub poll_ms: Option<f64>,
    /// Why the node could not be asked, when it could not.
    pub error: Option<String>,
}

/// Bytes behind the primary at each stage of the WAL pipeline, and the lag times the primary
/// measured. Bytes are integers, never estimated; times are `null` when the primary has none
/// (an idle primary clears them), never shown as zero.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Lag {
    pub sent_bytes: i64,
    pub write_bytes: i64,
    pub flush_bytes: i64,
    pub replay_bytes: i64,
    pub write_ms: Option<f64>,
    pub flush_ms: Option<f64>,
    pub replay_ms: Option<f64>,
    /// Age of the standby's last reply; grows while its receiver is frozen.
    pub reply_age_ms: Option<f64>,
    pub replay_paused: bool,
    /// Whether the primary lists a streaming walsender for this standby.
    pub streaming: bool,
}

/// HAProxy as its runtime API shows it: every server's state, or why it cannot be asked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProxyView {
    pub state: ProxyState,
    /// Empty while HAProxy is down: no table of stale states.
    pub servers: Vec<ServerStat>,
    /// What is wrong and how to repair it, while HAProxy is down.
    pub error: Option<String>,
}

impl ProxyView {
    pub fn up(servers: Vec<ServerStat>) -> ProxyView {
        ProxyView {
            state: ProxyState::Up,
            servers,
            error: None,
        }
    }

    pub fn down(error: String) -> ProxyView {
        ProxyView {
            state: ProxyState::Down,
            servers: Vec::new(),
            error: Some(error),
        }
    }

    pub fn is_down(&self) -> bool {
        self.state == ProxyState::Down
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyState {
    /// Not asked yet: only before the first answer.
    #[default]
    Unknown,
    Up,
    Down,
}

/// How a fence reads among a node's flags.
pub fn fence_flag(kind: FenceKind) -> &'static str {
    match kind {
        FenceKind::Diverged => "diverged",
        FenceKind::FormerPrimary => "fenced: former primary",
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SlotInfo {
    pub name: String,
    pub active: bool,
    /// WAL the primary keeps for this slot.
    pub retained_bytes: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LagFlag {
    /// `pg_wal_replay_pause()`: WAL arrives but is not applied.
    ReplayPaused,
    /// The walsender still says `streaming`, but the standby has not replied for seconds: its
    /// receiver is frozen or cut off, and the lag times are stale.
    ReceiverSilent,
    /// No walsender for this standby: it receives nothing.
    NotStreaming,
    /// Nothing is behind, but the primary has had no transaction for a while: the age of the
    /// last replayed transaction grows, and it is not lag.
    IdlePrimary,
    /// Another node accepts writes too: two primaries. Fencing keeps the write endpoint on
    /// the record's primary; the other is held out until it is rewound.
    SplitBrain,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    pub at_ms: u64,
    pub kind: EventKind,
    pub node: String,
    pub detail: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    NodeUp,
    NodeDown,
    RoleChanged,
    ProxyTransition,
    /// HAProxy stopped answering: neither endpoint is served.
    ProxyDown,
    /// HAProxy answers again.
    ProxyUp,
    StreamingStarted,
    StreamingStopped,
    /// Two or more nodes accept writes at once.
    SplitBrain,
}
