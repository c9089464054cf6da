//! The effect runner: hands each effect to the actor that owns it. Actors answer with `Msg`s
//! on the app's one bounded channel.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::class_link::ClassLink;
use super::msg::{Effect, Fresh, Msg, Startup};
use super::savers::{HistorySaver, ProgressSaver};
use crate::cluster::state::ClusterRecord;
use crate::cluster::status::NodeState;
use crate::cluster::topology::Topology;
use crate::lesson::act;
use crate::lesson::course::in_start_shape;
use crate::lesson::model::Action;
use crate::lesson::probe::{PgQuery, RETRY_EVERY, judge_sql};
use crate::lesson::progress::{Damaged, ProgressStore};
use crate::lesson::settle::run_actions;
use crate::lifecycle::Progress;
use crate::lifecycle::supervise::{SuperviseConfig, Supervisor, supervise};
use crate::lifecycle::{Cluster, bring_up, remove};
use crate::runtime::docker::engine::PullProgress;
use crate::settings::Settings;
use crate::sql::session::{SessionConfig, SqlSession};
use crate::sql::tls::ClusterTls;
use crate::sql::{Endpoint, SqlError, SqlEvent, Target, TxState};
use crate::telemetry::served_by::served_by;
use crate::telemetry::{Telemetry, TelemetryConfig};

/// What exists once the cluster is up.
struct Services {
    cluster: Cluster,
    sql: SqlSession,
    /// The console's TLS for the endpoints, where they listen beyond loopback.
    tls: Option<ClusterTls>,
    telemetry: Arc<Telemetry>,
    /// Restarts a dead HAProxy and settles split brains while the app holds the cluster.
    _supervisor: Supervisor,
}

/// A cluster that came up (or did not), for the event loop to hand to [`Runner::attach`].
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
    history: Option<HistorySaver>,
    progress: Option<ProgressSaver>,
    /// The `sql` judging running now: a newer one replaces it (its answers are stale).
    judging: Option<JoinHandle<()>>,
    class: Option<ClassLink>,
}

impl Runner {
    pub fn new(
        tx: mpsc::Sender<Msg>,
        ready: mpsc::Sender<Attach>,
        settings: Settings,
        history: PathBuf,
        progress: Option<(ProgressStore, Option<Damaged>)>,
    ) -> Runner {
        let progress =
            progress.map(|(store, damaged)| ProgressSaver::spawn(store, damaged, tx.clone()));
        Runner {
            tx,
            ready,
            settings,
            services: None,
            history: Some(HistorySaver::spawn(history)),
            progress,
            judging: None,
            class: None,
        }
    }

    /// The way out: what was handed over to be saved or reported is saved, and delivered
    /// if the class's hub is connected (briefly). Returns what could not be saved.
    pub async fn finish(&mut self) -> Vec<String> {
        if let Some(j) = self.judging.take() {
            j.abort();
        }
        let progress = async {
            match self.progress.take() {
                Some(saver) => saver.finish().await.err(),
                None => None,
            }
        };
        let history = async {
            if let Some(saver) = self.history.take() {
                saver.finish().await;
            }
        };
        let class = async {
            if let Some(link) = self.class.take() {
                link.finish().await;
            }
        };
        let (unsaved, (), ()) = tokio::join!(progress, history, class);
        unsaved.into_iter().collect()
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

    /// A cluster came up (or did not): attaches it, and says so for `update`, which decides
    /// what follows.
    pub fn attach(&mut self, up: Attach) -> Msg {
        match (up.result, up.then) {
            (Ok(cluster), None) => {
                self.connect(cluster);
                Msg::Startup(Startup::Ready)
            }
            (Err(e), None) => Msg::Startup(Startup::Failed(e)),
            (Ok(cluster), Some((round, actions))) => {
                self.connect(cluster);
                Msg::Recreated {
                    round,
                    actions,
                    result: Ok(()),
                }
            }
            (Err(e), Some((round, actions))) => Msg::Recreated {
                round,
                actions,
                result: Err(e),
            },
        }
    }

    /// The cluster is up: start telemetry and the SQL session, and forward their output.
    fn connect(&mut self, cluster: Cluster) {
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
        let tls = match ClusterTls::for_cluster(&cluster.dir, &topo) {
            Ok(tls) => tls,
            Err(e) => {
                // The servers then refuse the superuser through the endpoints; the line says why.
                let line = format!("the console cannot use the cluster's TLS certificate: {e}");
                let tx = self.tx.clone();
                tokio::spawn(async move { tx.send(Msg::Supervised(line)).await });
                None
            }
        };
        let (sql_tx, mut sql_rx) = mpsc::channel(64);
        let sql = SqlSession::spawn_with_tls(
            topo.credentials.clone(),
            SessionConfig::default(),
            tls.clone(),
            sql_tx,
        );
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
        let (duty_tx, mut duties) = mpsc::channel(16);
        let supervisor = supervise(
            cluster.rt.clone(),
            cluster.root.clone(),
            cluster.name().to_string(),
            SuperviseConfig::default(),
            duty_tx,
        );
        let tx = self.tx.clone();
        tokio::spawn(async move {
            while let Some(done) = duties.recv().await {
                if tx.send(Msg::Supervised(done.describe())).await.is_err() {
                    return;
                }
            }
        });
        self.services = Some(Services {
            cluster,
            sql,
            tls,
            telemetry,
            _supervisor: supervisor,
        });
    }

    /// Hands `effect` to whoever carries it out; everything it needs is in it.
    pub fn apply(&mut self, effect: Effect) {
        match effect {
            Effect::Report(event) => {
                if let Some(link) = &self.class {
                    link.send(event, &self.tx);
                }
            }
            Effect::SaveProgress(p) => {
                if let Some(saver) = &self.progress {
                    saver.save(p);
                }
            }
            Effect::SaveHistory(entry) => {
                if let Some(saver) = &self.history {
                    saver.save(entry);
                }
            }
            Effect::JoinClass { membership, dir } => {
                self.class = Some(ClassLink::spawn(*membership, dir, self.tx.clone()));
            }
            other => self.apply_to_cluster(other),
        }
    }

    /// Effects that need the cluster; before it is attached there is nothing to do them on.
    fn apply_to_cluster(&mut self, effect: Effect) {
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
                    // Scaling changes the nodes: a node missing from the record held here
                    // may be in the one on disk.
                    let mut endpoint = Endpoint::for_target(&target, rt.as_ref(), &topo);
                    if endpoint.is_none() {
                        let now = tokio::task::spawn_blocking(move || {
                            ClusterRecord::load(&dir).ok().flatten()
                        })
                        .await
                        .ok()
                        .flatten();
                        endpoint = now.and_then(|r| {
                            Endpoint::for_target(&target, rt.as_ref(), &r.topology())
                        });
                    }
                    let Some(endpoint) = endpoint else {
                        // The run ends here, or the console would wait for it forever.
                        let _ = tx.send(Msg::Sql(no_such_target(id, &target))).await;
                        return;
                    };
                    if reconnect && !fresh {
                        sql.reconnect(id, endpoint, text).await;
                    } else {
                        sql.run(id, endpoint, text, fresh).await;
                    }
                });
            }
            Effect::CancelSql => s.sql.cancel(),
            Effect::NodeAction { op, node, force } => {
                let (cluster, tx) = (s.cluster.clone(), self.tx.clone());
                tokio::spawn(async move {
                    let action = Action::Node {
                        op,
                        node: node.clone(),
                        force,
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
                judging,
                checks,
                patience,
            } => {
                if let Some(older) = self.judging.take() {
                    older.abort();
                }
                let (tx, snapshots) = (self.tx.clone(), s.telemetry.snapshots.clone());
                let query = PgQuery::new(&topo, s.tls.clone());
                self.judging = Some(tokio::spawn(async move {
                    let deadline = Instant::now() + patience;
                    loop {
                        let snap = snapshots.borrow().clone();
                        let mut verdicts = Vec::with_capacity(checks.len());
                        for (i, check) in &checks {
                            verdicts.push((*i, judge_sql(&query, check, &snap).await));
                        }
                        let last =
                            verdicts.iter().all(|(_, v)| v.pass) || Instant::now() >= deadline;
                        let msg = Msg::SqlVerdicts {
                            judging,
                            verdicts,
                            last,
                        };
                        if tx.send(msg).await.is_err() || last {
                            return;
                        }
                        tokio::time::sleep(RETRY_EVERY).await;
                    }
                }));
            }
            Effect::ServedBy { connections } => {
                let tx = self.tx.clone();
                let snapshots = s.telemetry.snapshots.clone();
                let (read, creds) = (topo.endpoints.read, topo.credentials.clone());
                let tls = s.tls.clone();
                tokio::spawn(async move {
                    let tally = served_by(read, &creds, tls.as_ref(), connections).await;
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
            Effect::SaveHistory(_)
            | Effect::SaveProgress(_)
            | Effect::Report(_)
            | Effect::JoinClass { .. } => {}
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
            let reshaped = || {
                if let Ok(record) = cluster.current_record() {
                    telemetry.set_topology(record.topology());
                }
            };
            // Settled: the step is judged only once every replica has the setup.
            let result = match run_actions(&cluster, &actions, true, &reshaped).await {
                Ok(ran) => Ok(ran
                    .notes
                    .into_iter()
                    .chain(ran.unsettled)
                    .collect::<Vec<_>>()
                    .join("; ")),
                Err(f) => Err(format!("{} failed: {}", f.label, f.error)),
            };
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
/// lessons start. On a busy machine a poll that took too long shows a running node as
/// unreachable for a snapshot or two; such a snapshot decides nothing, or a cluster as lessons
/// start would be made anew, for nothing, whenever a lesson opens on a busy machine.
async fn settled_in_start_shape(
    mut snapshots: watch::Receiver<Arc<crate::telemetry::model::Snapshot>>,
    nodes: usize,
) -> bool {
    let wait = async {
        loop {
            {
                let snap = snapshots.borrow_and_update();
                if snap.complete() && !snap.nodes.is_empty() {
                    if in_start_shape(&snap, nodes) {
                        return true;
                    }
                    if !snap.nodes.iter().any(|n| n.state == NodeState::Unreachable) {
                        return false;
                    }
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

#[cfg(test)]
#[path = "effects_tests.rs"]
mod tests;
