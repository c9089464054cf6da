//! Live telemetry: one poller task per node and one for HAProxy, each at the cadence, and an
//! assembler that turns their latest answers into a [`Snapshot`] on a `watch` channel ("latest
//! value wins"). A dead or frozen node delays only its own poller.

pub mod assemble;
pub mod events;
pub mod model;
pub mod proxy;
pub mod sample;
pub mod served_by;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use self::assemble::NodeInput;
use self::model::{Event, ProxyView, Snapshot};
use self::sample::{NodePoller, NodeSample};
use crate::cluster::fencing::FenceKind;
use crate::cluster::state::ClusterRecord;
use crate::cluster::status::EndpointsView;
use crate::cluster::status::ProcState;
use crate::cluster::topology::{NodeSpec, Topology};
use crate::runtime::ClusterRuntime;

#[derive(Clone, Copy, Debug)]
pub struct TelemetryConfig {
    /// Time between snapshots (4 per second by default).
    pub interval: Duration,
    /// How long one node may take to answer one poll.
    pub node_timeout: Duration,
    /// An answer older than this no longer counts: the node is unreachable.
    pub stale_after: Duration,
    /// How many events a snapshot carries.
    pub max_events: usize,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            interval: Duration::from_millis(250),
            node_timeout: Duration::from_millis(800),
            stale_after: Duration::from_millis(1500),
            max_events: 100,
        }
    }
}

impl TelemetryConfig {
    pub fn per_second(rate: f64) -> Self {
        let rate = rate.clamp(0.1, 50.0);
        TelemetryConfig {
            interval: Duration::from_secs_f64(1.0 / rate),
            ..TelemetryConfig::default()
        }
    }
}

/// A running telemetry service; dropping it stops every task.
pub struct Telemetry {
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    topology: watch::Sender<Topology>,
    assembler: JoinHandle<()>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.assembler.abort();
    }
}

impl Telemetry {
    pub fn spawn(
        rt: Arc<dyn ClusterRuntime>,
        topo: Topology,
        config: TelemetryConfig,
    ) -> Telemetry {
        let first = Arc::new(empty_snapshot(rt.as_ref(), &topo));
        let (snap_tx, snapshots) = watch::channel(first);
        let (topology, topo_rx) = watch::channel(topo);
        let assembler = tokio::spawn(assemble_loop(rt, topo_rx, config, snap_tx));
        Telemetry {
            snapshots,
            topology,
            assembler,
        }
    }

    /// The cluster changed shape (scale): poll the new set of nodes.
    pub fn set_topology(&self, topo: Topology) {
        let _ = self.topology.send(topo);
    }
}

/// Pollers die with the assembler that owns them.
struct Owned(Vec<JoinHandle<()>>);

impl Drop for Owned {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

async fn assemble_loop(
    rt: Arc<dyn ClusterRuntime>,
    mut topo_rx: watch::Receiver<Topology>,
    config: TelemetryConfig,
    out: watch::Sender<Arc<Snapshot>>,
) {
    let mut pollers: HashMap<String, (watch::Receiver<Option<NodeSample>>, Owned)> = HashMap::new();
    let (proxy_rx, _proxy_task) = {
        let (tx, rx) = watch::channel(None);
        (
            rx,
            Owned(vec![tokio::spawn(proxy_loop(rt.clone(), config, tx))]),
        )
    };
    let mut events: VecDeque<Event> = VecDeque::new();
    let mut prev: Option<Snapshot> = None;
    let mut seq = 0;
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let topo = topo_rx.borrow_and_update().clone();
        pollers.retain(|name, _| topo.node(name).is_some());
        for spec in &topo.nodes {
            if !pollers.contains_key(&spec.name) {
                let (tx, rx) = watch::channel(None);
                let task = tokio::spawn(node_loop(
                    rt.clone(),
                    topo.clone(),
                    spec.clone(),
                    config,
                    tx,
                ));
                pollers.insert(spec.name.clone(), (rx, Owned(vec![task])));
            }
        }
        let samples: HashMap<String, Option<NodeSample>> = pollers
            .iter()
            .map(|(name, (rx, _))| (name.clone(), rx.borrow().clone()))
            .collect();
        let proxy = proxy_rx.borrow().clone();
        seq += 1;
        let seen = Observed {
            samples: &samples,
            haproxy: proxy.unwrap_or_default(),
            fences: fences(rt.as_ref()),
        };
        let mut snap = build(rt.as_ref(), &topo, seen, Instant::now(), config, seq);
        // Before every node answered once, differences are start-up noise, not events.
        if let Some(p) = prev.as_ref().filter(|p| p.complete()) {
            events.extend(events::between(p, &snap, snap.taken_at_ms));
            while events.len() > config.max_events {
                events.pop_front();
            }
        }
        snap.events = events.iter().cloned().collect();
        prev = Some(snap.clone());
        if out.send(Arc::new(snap)).is_err() {
            return;
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn empty_snapshot(rt: &dyn ClusterRuntime, topo: &Topology) -> Snapshot {
    let seen = Observed {
        samples: &HashMap::new(),
        haproxy: ProxyView::default(),
        fences: fences(rt),
    };
    build(
        rt,
        topo,
        seen,
        Instant::now(),
        TelemetryConfig::default(),
        0,
    )
}

/// What the pollers and the cluster record said, to be put together into a snapshot.
struct Observed<'a> {
    samples: &'a HashMap<String, Option<NodeSample>>,
    haproxy: ProxyView,
    fences: HashMap<String, FenceKind>,
}

fn build(
    rt: &dyn ClusterRuntime,
    topo: &Topology,
    seen: Observed<'_>,
    now: Instant,
    config: TelemetryConfig,
    seq: u64,
) -> Snapshot {
    let inputs: Vec<NodeInput<'_>> = topo
        .nodes
        .iter()
        .map(|spec| {
            let sample = seen.samples.get(&spec.name).and_then(Option::as_ref);
            NodeInput {
                spec,
                connect: rt.client_addr(spec).to_string(),
                known_address: sample.and_then(|s| s.ip.clone()),
                sample,
                fence: seen.fences.get(&spec.name).copied(),
            }
        })
        .collect();
    Snapshot {
        name: topo.cluster.clone(),
        runtime: rt.kind(),
        endpoints: EndpointsView {
            write: topo.endpoints.write.to_string(),
            read: topo.endpoints.read.to_string(),
            stats: topo.endpoints.stats.to_string(),
        },
        taken_at_ms: now_ms(),
        seq,
        nodes: assemble::nodes(&inputs, now, config.stale_after),
        haproxy: seen.haproxy,
        events: Vec::new(),
    }
}

/// One poll of one node: what the runtime says of the process, then what the server says.
async fn poll_node(
    rt: &dyn ClusterRuntime,
    spec: &NodeSpec,
    poller: &mut NodePoller,
    timeout: Duration,
) -> NodeSample {
    let started = Instant::now();
    let proc_state = tokio::time::timeout(timeout, rt.node_state(spec))
        .await
        .ok()
        .and_then(Result::ok)
        .flatten();
    // A frozen server would only time out; its state already says why it does not answer.
    let sql = match proc_state {
        Some(ProcState::Running) => poller.poll(timeout).await,
        Some(ProcState::Paused) => Err("paused".into()),
        _ => Err("not running".into()),
    };
    let ip = if sql.is_err() {
        rt.node_ip(spec).await
    } else {
        None
    };
    NodeSample {
        taken: Instant::now(),
        proc_state,
        sql,
        took: started.elapsed(),
        ip,
    }
}

async fn node_loop(
    rt: Arc<dyn ClusterRuntime>,
    topo: Topology,
    spec: NodeSpec,
    config: TelemetryConfig,
    out: watch::Sender<Option<NodeSample>>,
) {
    let mut poller = NodePoller::new(rt.client_addr(&spec), topo.credentials.clone());
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let sample = poll_node(rt.as_ref(), &spec, &mut poller, config.node_timeout).await;
        if out.send(Some(sample)).is_err() {
            return;
        }
    }
}

async fn proxy_loop(
    rt: Arc<dyn ClusterRuntime>,
    config: TelemetryConfig,
    out: watch::Sender<Option<ProxyView>>,
) {
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let view = proxy::poll(rt.as_ref(), config.node_timeout).await;
        if out.send(Some(view)).is_err() {
            return;
        }
    }
}

/// The nodes the cluster record keeps out. A record that is missing or cannot be read
/// fences nothing: telemetry reports what it sees and leaves the record's faults to the
/// commands that change it.
fn fences(rt: &dyn ClusterRuntime) -> HashMap<String, FenceKind> {
    match ClusterRecord::load(rt.cluster_dir()) {
        Ok(Some(record)) => record
            .authority
            .fenced
            .into_iter()
            .map(|f| (f.node, f.kind))
            .collect(),
        _ => HashMap::new(),
    }
}

/// A single snapshot without a running service: every node and HAProxy asked once, at once.
pub async fn snapshot_once(rt: &dyn ClusterRuntime, topo: &Topology) -> Snapshot {
    let config = TelemetryConfig {
        node_timeout: Duration::from_secs(2),
        stale_after: Duration::from_secs(5),
        ..TelemetryConfig::default()
    };
    let polls = topo.nodes.iter().map(|spec| async move {
        let mut poller = NodePoller::new(rt.client_addr(spec), topo.credentials.clone());
        (
            spec.name.clone(),
            Some(poll_node(rt, spec, &mut poller, config.node_timeout).await),
        )
    });
    let proxy = proxy::poll(rt, config.node_timeout);
    let (samples, haproxy) = tokio::join!(futures::future::join_all(polls), proxy);
    let samples: HashMap<String, Option<NodeSample>> = samples.into_iter().collect();
    let seen = Observed {
        samples: &samples,
        haproxy,
        fences: fences(rt),
    };
    build(rt, topo, seen, Instant::now(), config, 1)
}
