//! The effect runner: hands each effect to the actor that owns it. Actors answer with `Msg`s
//! on the app's one bounded channel.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::msg::{Effect, Msg, Startup};
use super::state::State;
use crate::cluster::ops::{Cluster, Progress};
use crate::cluster::state::{ClusterLock, ClusterRecord};
use crate::commands::{Running, bring_up};
use crate::lesson::act::target_addr;
use crate::runtime::ClusterRuntime;
use crate::runtime::docker::engine::PullProgress;
use crate::settings::{Settings, data_root};
use crate::sql::Endpoint;
use crate::sql::history::History;
use crate::sql::session::{SessionConfig, SqlSession};
use crate::telemetry::served_by::served_by;
use crate::telemetry::{Telemetry, TelemetryConfig};

/// What exists once the cluster is up.
struct Services {
    rt: Arc<dyn ClusterRuntime>,
    record: ClusterRecord,
    dir: PathBuf,
    sql: SqlSession,
    telemetry: Telemetry,
}

pub struct Runner {
    tx: mpsc::Sender<Msg>,
    settings: Settings,
    services: Option<Services>,
    history: History,
}

impl Runner {
    pub fn new(tx: mpsc::Sender<Msg>, settings: Settings, history: History) -> Runner {
        Runner {
            tx,
            settings,
            services: None,
            history,
        }
    }

    /// Starts or attaches to the cluster in the background; progress arrives as messages,
    /// the result on `ready`.
    pub fn start(&self, ready: mpsc::Sender<Result<Running, String>>) {
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
            let result = bring_up(&settings, &report, Some(pull)).await;
            let _ = ready.send(result.map_err(|e| e.to_string())).await;
        });
    }

    /// The cluster is up: start telemetry and the SQL session, and forward their output.
    pub fn attach(&mut self, running: Running) {
        let rt: Arc<dyn ClusterRuntime> = Arc::from(running.rt);
        let topo = running.record.topology();
        let telemetry = Telemetry::spawn(rt.clone(), topo.clone(), TelemetryConfig::default());
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
            rt,
            record: running.record,
            dir: running.dir,
            sql,
            telemetry,
        });
    }

    pub fn apply(&mut self, effect: Effect, state: &State) {
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
        let topo = s.record.topology();
        match effect {
            Effect::RunSql {
                id,
                target,
                text,
                fresh,
            } => {
                let Some(addr) = target_addr(s.rt.as_ref(), &topo, &target) else {
                    return;
                };
                let sql = s.sql.clone();
                tokio::spawn(async move {
                    sql.run(id, Endpoint { target, addr }, text, fresh).await;
                });
            }
            Effect::CancelSql => s.sql.cancel(),
            Effect::NodeAction { op, node } => {
                let (rt, record, dir, tx) = (
                    s.rt.clone(),
                    s.record.clone(),
                    s.dir.clone(),
                    self.tx.clone(),
                );
                let root = data_root(&self.settings);
                tokio::spawn(async move {
                    let notes = Arc::new(Mutex::new(Vec::new()));
                    let sink = notes.clone();
                    let report = move |p: Progress| {
                        if let (Progress::Note(n), Ok(mut v)) = (p, sink.lock()) {
                            v.push(n);
                        }
                    };
                    let name = record.settings.name.clone();
                    let lock =
                        tokio::task::spawn_blocking(move || ClusterLock::acquire(&root, &name))
                            .await;
                    let result = match lock {
                        Ok(Ok(_lock)) => {
                            let cluster = Cluster {
                                rt: rt.as_ref(),
                                dir,
                                record,
                                report: &report,
                            };
                            cluster.node_op(op, &node).await.map_err(|e| e.to_string())
                        }
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(e) => Err(e.to_string()),
                    };
                    let text = notes.lock().map(|v| v.join("; ")).unwrap_or_default();
                    let result =
                        result.map(|()| if text.is_empty() { "done".into() } else { text });
                    let _ = tx.send(Msg::ActionDone { op, node, result }).await;
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
            Effect::SaveHistory => {}
        }
    }
}
