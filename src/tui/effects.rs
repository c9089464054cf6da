//! The effect runner: hands each effect to the actor that owns it. Actors answer with `Msg`s
//! on the app's one bounded channel.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::course::in_start_shape;
use super::msg::{Effect, Fresh, Msg, Startup};
use super::state::State;
use crate::classroom::membership::{Membership, queue_dir};
use crate::classroom::queue::{ClassEvent, Queue};
use crate::classroom::reporter::{Reporter, ReporterConfig, ReporterState};
use crate::cluster::state::ClusterRecord;
use crate::cluster::topology::Topology;
use crate::lesson::act;
use crate::lesson::act::target_addr;
use crate::lesson::model::Action;
use crate::lesson::probe::{PgQuery, RETRY_EVERY, judge_sql};
use crate::lesson::progress::{LearnerProgress, ProgressStore};
use crate::lifecycle::Progress;
use crate::lifecycle::{Cluster, bring_up, remove};
use crate::runtime::docker::engine::PullProgress;
use crate::settings::Settings;
use crate::sql::history::History;
use crate::sql::session::{SessionConfig, SqlSession};
use crate::sql::{Endpoint, SqlError, SqlEvent, Target, TxState};
use crate::telemetry::served_by::served_by;
use crate::telemetry::{Telemetry, TelemetryConfig};

/// What exists once the cluster is up.
struct Services {
    cluster: Cluster,
    sql: SqlSession,
    telemetry: Arc<Telemetry>,
}

/// A cluster that came up (or did not), for the event loop to attach.
pub struct Attach {
    pub result: Result<Cluster, String>,
    /// The tutorial's round and the actions to run once attached, when the cluster was made
    /// anew for a lesson; `None` at start-up.
    pub then: Option<(u64, Vec<Action>)>,
}

pub struct Runner {
    tx: mpsc::Sender<Msg>,
    ready: mpsc::Sender<Attach>,
    settings: Settings,
    services: Option<Services>,
    history: History,
    progress: Option<ProgressSaver>,
    /// The newest `sql` judging; older loops stop.
    judging: Arc<AtomicU64>,
    class: Option<ClassLink>,
}

/// How long the way out waits for queued class events to reach a hub that is connected.
const CLASS_FLUSH_ON_EXIT: Duration = Duration::from_secs(2);

/// The class's reporter, fed by a task of its own: the UI never waits for the disk.
struct ClassLink {
    events: mpsc::UnboundedSender<ClassEvent>,
    task: tokio::task::JoinHandle<()>,
}

impl ClassLink {
    fn spawn(membership: Membership, dir: PathBuf, tx: mpsc::Sender<Msg>) -> ClassLink {
        let (events, mut rx) = mpsc::unbounded_channel::<ClassEvent>();
        let task = tokio::spawn(async move {
            let qdir = queue_dir(&dir);
            let opened = tokio::task::spawn_blocking(move || Queue::open(&qdir)).await;
            let queue = match opened {
                Ok(Ok(q)) => q,
                Ok(Err(e)) => return not_reporting(&tx, e.to_string()).await,
                Err(e) => return not_reporting(&tx, e.to_string()).await,
            };
            for w in &queue.warnings {
                let _ = tx
                    .send(Msg::ClassNotice(format!("class events: {w}")))
                    .await;
            }
            let (msg_tx, mut msg_rx) = mpsc::channel(16);
            let reporter = Reporter::spawn(membership, queue, ReporterConfig::default(), msg_tx);
            let forward = tx.clone();
            let messages = tokio::spawn(async move {
                while let Some(m) = msg_rx.recv().await {
                    if forward.send(Msg::Class(m)).await.is_err() {
                        return;
                    }
                }
            });
            let (forward, mut status) = (tx.clone(), reporter.state.clone());
            let statuses = tokio::spawn(async move {
                loop {
                    let s = status.borrow_and_update().clone();
                    if forward.send(Msg::ClassStatus(s)).await.is_err()
                        || status.changed().await.is_err()
                    {
                        return;
                    }
                }
            });
            while let Some(event) = rx.recv().await {
                if let Err(e) = reporter.push(event).await {
                    let note = format!("a class event could not be queued: {e}");
                    let _ = tx.send(Msg::ClassNotice(note)).await;
                }
            }
            // The app is closing: what is queued goes now if the hub is there, else next time.
            if reporter.state.borrow().connected {
                reporter.flush(CLASS_FLUSH_ON_EXIT).await;
            }
            messages.abort();
            statuses.abort();
        });
        ClassLink { events, task }
    }
}

async fn not_reporting(tx: &mpsc::Sender<Msg>, why: String) {
    let status = ReporterState {
        last_error: Some(why.clone()),
        ..ReporterState::default()
    };
    let _ = tx.send(Msg::ClassStatus(status)).await;
    let note = format!("progress is not reported to the class: {why}");
    let _ = tx.send(Msg::ClassNotice(note)).await;
}

/// Saves progress on a task of its own, newest first: a save never overtakes a later one.
struct ProgressSaver {
    store: ProgressStore,
    latest: watch::Sender<Option<Box<LearnerProgress>>>,
}

impl ProgressSaver {
    fn spawn(store: ProgressStore, tx: mpsc::Sender<Msg>) -> ProgressSaver {
        let (latest, mut rx) = watch::channel::<Option<Box<LearnerProgress>>>(None);
        let task_store = store.clone();
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let Some(p) = rx.borrow_and_update().clone() else {
                    continue;
                };
                let store = task_store.clone();
                let saved = tokio::task::spawn_blocking(move || store.save(&p)).await;
                let error = match saved {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e.to_string()),
                    Err(e) => Some(format!("cannot save progress: {e}")),
                };
                if let Some(e) = error {
                    let _ = tx.send(Msg::ProgressNotSaved(e)).await;
                }
            }
        });
        ProgressSaver { store, latest }
    }
}

impl Runner {
    pub fn new(
        tx: mpsc::Sender<Msg>,
        ready: mpsc::Sender<Attach>,
        settings: Settings,
        history: History,
        progress: Option<ProgressStore>,
    ) -> Runner {
        let progress = progress.map(|store| ProgressSaver::spawn(store, tx.clone()));
        Runner {
            tx,
            ready,
            settings,
            services: None,
            history,
            progress,
            judging: Arc::new(AtomicU64::new(0)),
            class: None,
        }
    }

    /// Reports to the class `membership` names, with the queue in `dir`.
    pub fn start_class(&mut self, membership: Membership, dir: PathBuf) {
        self.class = Some(ClassLink::spawn(membership, dir, self.tx.clone()));
    }

    /// The way out: every class event handed over is on disk, and delivered if the hub is
    /// connected (briefly).
    pub async fn finish_class(&mut self) {
        if let Some(link) = self.class.take() {
            drop(link.events);
            let limit = CLASS_FLUSH_ON_EXIT + Duration::from_secs(1);
            let _ = tokio::time::timeout(limit, link.task).await;
        }
    }

    /// Saves progress now, waiting for the disk: for the way out, when no task will run again.
    pub fn save_progress_now(&self, progress: &LearnerProgress) -> Result<(), String> {
        match &self.progress {
            Some(saver) => saver.store.save(progress).map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }

    /// Starts or attaches to the cluster in the background; progress arrives as messages,
    /// the result on the ready channel.
    pub fn start(&self) {
        let ready = self.ready.clone();
        let tx = self.tx.clone();
        let settings = self.settings.clone();
        tokio::spawn(async move {
            let progress_tx = tx.clone();
            let report = move |p: Progress| {
                let msg = match p {
                    Progress::Phase { name, took } => Startup::Phase { name, took },
                    Progress::Note(n) => Startup::Note(n),
                };
                // Progress is advisory: when the queue is full a step is simply not shown.
                let _ = progress_tx.try_send(Msg::Startup(msg));
            };
            let pull_tx = tx.clone();
            let pull = Arc::new(move |p: &PullProgress| {
                let _ = pull_tx.try_send(Msg::Startup(Startup::Pull(p.clone())));
            });
            let result = bring_up(&settings, Arc::new(report), Some(pull)).await;
            let _ = ready
                .send(Attach {
                    result: result.map_err(|e| e.to_string()),
                    then: None,
                })
                .await;
        });
    }

    /// The cluster is up: start telemetry and the SQL session, and forward their output.
    pub fn attach(&mut self, cluster: Cluster) {
        let topo = cluster.topology();
        let telemetry = Arc::new(Telemetry::spawn(
            cluster.rt.clone(),
            topo.clone(),
            TelemetryConfig::default(),
        ));
        let mut snapshots = telemetry.snapshots.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            // Latest value wins: a slow UI skips snapshots instead of queueing them.
            while snapshots.changed().await.is_ok() {
                let snap = snapshots.borrow_and_update().clone();
                if tx.send(Msg::Snapshot(snap)).await.is_err() {
                    return;
                }
            }
        });
        follow_the_record(
            Arc::downgrade(&telemetry),
            cluster.dir.clone(),
            topo.clone(),
        );
        let (sql_tx, mut sql_rx) = mpsc::channel(64);
        let sql = SqlSession::spawn(topo.credentials.clone(), SessionConfig::default(), sql_tx);
        let tx = self.tx.clone();
        tokio::spawn(async move {
            while let Some(ev) = sql_rx.recv().await {
                if tx.send(Msg::Sql(ev)).await.is_err() {
                    return;
                }
            }
        });
        if std::env::var_os("REPLICA_LAB_PANIC_HOOK").is_some() {
            // Test hook: a background task that panics, to prove the terminal survives it.
            tokio::spawn(async {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                panic!("injected panic in a background task (REPLICA_LAB_PANIC_HOOK)");
            });
        }
        self.services = Some(Services {
            cluster,
            sql,
            telemetry,
        });
    }

    pub fn apply(&mut self, effect: Effect, state: &State) {
        if let Effect::Report(event) = effect {
            if let Some(link) = &self.class {
                let _ = link.events.send(event);
            }
            return;
        }
        if let Effect::SaveProgress(p) = effect {
            if let Some(saver) = &self.progress {
                let _ = saver.latest.send(Some(p));
            }
            return;
        }
        if let Effect::SaveHistory = effect {
            if let Some(last) = state.console.history.last() {
                self.history.push(last);
                if let Err(e) = self.history.save() {
                    tracing::warn!("cannot save the console history: {e}");
                }
            }
            return;
        }
        let Some(s) = &self.services else {
            return;
        };
        let topo = s.cluster.topology();
        match effect {
            Effect::RunSql {
                id,
                target,
                text,
                fresh,
                reconnect,
            } => {
                let sql = s.sql.clone();
                let (rt, dir, tx) = (s.cluster.rt.clone(), s.cluster.dir.clone(), self.tx.clone());
                tokio::spawn(async move {
                    let endpoint = match target {
                        Target::Url(url) => Endpoint::url(url),
                        target => {
                            // Scaling changes the nodes: a node missing from the record held
                            // here may be in the one on disk.
                            let mut addr = target_addr(rt.as_ref(), &topo, &target);
                            if addr.is_none() {
                                let now = tokio::task::spawn_blocking(move || {
                                    ClusterRecord::load(&dir).ok().flatten()
                                })
                                .await
                                .ok()
                                .flatten();
                                addr = now
                                    .and_then(|r| target_addr(rt.as_ref(), &r.topology(), &target));
                            }
                            let Some(addr) = addr else {
                                // The run ends here, or the console would wait for it forever.
                                let _ = tx.send(Msg::Sql(no_such_target(id, &target))).await;
                                return;
                            };
                            Endpoint::socket(target, addr)
                        }
                    };
                    if reconnect && !fresh {
                        sql.reconnect(id, endpoint, text).await;
                    } else {
                        sql.run(id, endpoint, text, fresh).await;
                    }
                });
            }
            Effect::CancelSql => s.sql.cancel(),
            Effect::NodeAction { op, node } => {
                let (cluster, tx) = (s.cluster.clone(), self.tx.clone());
                tokio::spawn(async move {
                    let action = Action::Node {
                        op,
                        node: node.clone(),
                    };
                    let result = act::run(&cluster, &action)
                        .await
                        .map(|text| if text.is_empty() { "done".into() } else { text })
                        .map_err(|e| e.to_string());
                    let _ = tx.send(Msg::ActionDone { op, node, result }).await;
                });
            }
            Effect::Prepare {
                round,
                fresh,
                lesson,
                actions,
            } => self.prepare(s, round, fresh, lesson, actions),
            Effect::JudgeSql {
                round,
                checks,
                patience,
            } => {
                let token = self.judging.fetch_add(1, Ordering::SeqCst) + 1;
                let latest = self.judging.clone();
                let (tx, snapshots) = (self.tx.clone(), s.telemetry.snapshots.clone());
                let query = PgQuery {
                    credentials: topo.credentials.clone(),
                };
                tokio::spawn(async move {
                    let deadline = Instant::now() + patience;
                    loop {
                        let snap = snapshots.borrow().clone();
                        let mut verdicts = Vec::with_capacity(checks.len());
                        for (i, check) in &checks {
                            verdicts.push((*i, judge_sql(&query, check, &snap).await));
                        }
                        let last = verdicts.iter().all(|(_, v)| v.pass)
                            || Instant::now() >= deadline
                            || latest.load(Ordering::SeqCst) != token;
                        let msg = Msg::SqlVerdicts {
                            round,
                            verdicts,
                            last,
                        };
                        if tx.send(msg).await.is_err() || last {
                            return;
                        }
                        tokio::time::sleep(RETRY_EVERY).await;
                    }
                });
            }
            Effect::ServedBy { connections } => {
                let tx = self.tx.clone();
                let snapshots = s.telemetry.snapshots.clone();
                let (read, creds) = (topo.endpoints.read, topo.credentials.clone());
                tokio::spawn(async move {
                    let tally = served_by(read, &creds, connections).await;
                    let snap = snapshots.borrow().clone();
                    let result = if tally.by_address.is_empty() {
                        Err(tally
                            .failures
                            .first()
                            .cloned()
                            .unwrap_or_else(|| "no answer".into()))
                    } else {
                        Ok(tally.by_node(&snap))
                    };
                    let _ = tx.send(Msg::ServedBy(result)).await;
                });
            }
            Effect::SaveHistory | Effect::SaveProgress(_) | Effect::Report(_) => {}
        }
    }

    /// The tutorial's actions, after making the cluster anew when asked (or when it is not
    /// as lessons start); the answer is `Msg::Prepared`.
    fn prepare(
        &self,
        s: &Services,
        round: u64,
        fresh: Fresh,
        lesson: String,
        actions: Vec<Action>,
    ) {
        let (cluster, tx, ready) = (s.cluster.clone(), self.tx.clone(), self.ready.clone());
        let snapshots = s.telemetry.snapshots.clone();
        let telemetry = s.telemetry.clone();
        // A lesson's start scales the cluster to the lesson's size first; that is the shape
        // it expects, and the size a cluster made anew for it gets.
        let replicas = actions
            .iter()
            .find_map(|a| match a {
                Action::Scale { replicas } => Some(*replicas),
                _ => None,
            })
            .unwrap_or(s.cluster.record.settings.replicas);
        let settings = Settings {
            replicas,
            ..self.settings.clone()
        };
        let nodes = usize::from(replicas) + 1;
        tokio::spawn(async move {
            let recreate = match fresh {
                Fresh::Never => false,
                Fresh::Always => true,
                Fresh::IfChanged => !settled_in_start_shape(snapshots, nodes).await,
            };
            if recreate {
                tracing::info!("making cluster {} anew for {lesson}", settings.name);
                let result = match remove(&settings, false).await {
                    Ok(_) => bring_up(&settings, Arc::new(|_| {}), None).await,
                    Err(e) => Err(e),
                };
                let _ = ready
                    .send(Attach {
                        result: result.map_err(|e| e.to_string()),
                        then: Some((round, actions)),
                    })
                    .await;
                return;
            }
            let mut notes = Vec::new();
            let mut result = Ok(());
            for action in &actions {
                match act::run(&cluster, action).await {
                    Ok(text) if !text.is_empty() => notes.push(text),
                    Ok(_) => {}
                    Err(e) => {
                        result = Err(format!("{} failed: {e}", action.label()));
                        break;
                    }
                }
                if matches!(action, Action::Scale { .. }) {
                    if let Ok(record) = cluster.current_record() {
                        telemetry.set_topology(record.topology());
                    }
                }
            }
            let result = result.map(|()| notes.join("; "));
            let _ = tx.send(Msg::Prepared { round, result }).await;
        });
    }
}

/// The end of a run whose target the cluster does not have (any more).
pub(super) fn no_such_target(id: u64, target: &Target) -> SqlEvent {
    SqlEvent::Finished {
        id,
        served_by: None,
        elapsed: Duration::ZERO,
        tx: TxState::Idle,
        error: Some(SqlError {
            sqlstate: None,
            severity: Some("ERROR".into()),
            message: format!("the cluster has no node {} now", target.label()),
            detail: None,
            hint: Some("pick another target with F6".into()),
            position: None,
        }),
    }
}

/// How often the app looks for nodes added or removed from outside (`replica-lab scale` in
/// another terminal).
const RECORD_EVERY: Duration = Duration::from_secs(2);

/// Keeps telemetry on the nodes the cluster's record lists, whoever scaled it; ends with the
/// telemetry it serves.
fn follow_the_record(telemetry: std::sync::Weak<Telemetry>, dir: PathBuf, mut known: Topology) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(RECORD_EVERY).await;
            let Some(telemetry) = telemetry.upgrade() else {
                return;
            };
            let dir = dir.clone();
            let now = tokio::task::spawn_blocking(move || ClusterRecord::load(&dir)).await;
            if let Ok(Ok(Some(record))) = now {
                let topo = record.topology();
                if topo.nodes != known.nodes {
                    telemetry.set_topology(topo.clone());
                    known = topo;
                }
            }
        }
    });
}

/// Waits (briefly) for a snapshot with every node polled and tells whether the cluster is as
/// lessons start.
async fn settled_in_start_shape(
    mut snapshots: watch::Receiver<Arc<crate::telemetry::model::Snapshot>>,
    nodes: usize,
) -> bool {
    let wait = async {
        loop {
            {
                let snap = snapshots.borrow_and_update();
                if snap.complete() && !snap.nodes.is_empty() {
                    return in_start_shape(&snap, nodes);
                }
            }
            if snapshots.changed().await.is_err() {
                return false;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .unwrap_or(false)
}
