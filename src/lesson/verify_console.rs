//! The console as `lessons verify` drives it: the learner's SQL session in either of its
//! modes, and a record of every run and how it ended.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::evaluate::Run;
use crate::lifecycle::Cluster;
use crate::sql::meta::{self, Meta};
use crate::sql::session::{SessionConfig, SqlSession};
use crate::sql::{Address, Endpoint, SqlEvent, Target};

/// The console's two modes, as a lesson step names them.
pub use super::model::ConsoleMode as Mode;

/// The console as a learner uses it, driven by verify: one session in the mode set last, and
/// a record of every run and how it ended.
pub struct Console {
    session: SqlSession,
    state: Arc<Mutex<Ledger>>,
    mode: Mutex<Mode>,
}

/// Where the record of runs stood: how many had ended, and the last id started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    ended: usize,
    started: u64,
}

/// A learner's run in flight: what it will be recorded as, and who waits for its end.
struct Pending {
    run: Run,
    done: Option<tokio::sync::oneshot::Sender<()>>,
}

#[derive(Default)]
struct Ledger {
    next_id: u64,
    pending: HashMap<u64, Pending>,
    /// Runs of verify's own, not the learner's: only their end is awaited.
    quiet: HashMap<u64, tokio::sync::oneshot::Sender<()>>,
    /// Every run that ended, with the id it was started under.
    runs: Vec<(u64, Run)>,
}

fn ledger(state: &Mutex<Ledger>) -> std::sync::MutexGuard<'_, Ledger> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Console {
    pub fn spawn(
        credentials: crate::settings::Credentials,
        tls: Option<crate::sql::tls::ClusterTls>,
    ) -> Console {
        let (tx, mut rx) = mpsc::channel(64);
        let session = SqlSession::spawn_with_tls(credentials, SessionConfig::default(), tls, tx);
        let state = Arc::new(Mutex::new(Ledger::default()));
        let sink = state.clone();
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                if let SqlEvent::Finished { id, error, .. } = ev {
                    let mut l = ledger(&sink);
                    if let Some(done) = l.quiet.remove(&id) {
                        let _ = done.send(());
                    }
                    if let Some(Pending { mut run, done }) = l.pending.remove(&id) {
                        run.sqlstate = error.map(|e| e.sqlstate.unwrap_or_default());
                        l.runs.push((id, run));
                        if let Some(done) = done {
                            let _ = done.send(());
                        }
                    }
                }
            }
        });
        Console {
            session,
            state,
            mode: Mutex::new(Mode::Sticky),
        }
    }

    /// The mode runs use from now on, as F7 sets it.
    pub fn set_mode(&self, mode: Mode) {
        *self
            .mode
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = mode;
    }

    pub fn mode(&self) -> Mode {
        *self
            .mode
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sends `text` to `target`, as the console's F5 would: backslash commands that query
    /// (`\dt`, `\d NAME`) become their SQL, and `\connect URL` opens a new session on the
    /// URL and shows where it landed (recorded with the URL as its target, like the console
    /// does). The receiver fires when the run has finished.
    pub async fn run(
        &self,
        cluster: &Cluster,
        target: &Target,
        text: &str,
    ) -> Result<tokio::sync::oneshot::Receiver<()>, String> {
        let (sql, connect) = match meta::parse(text).into_sql() {
            Ok(sql) => (sql, None),
            Err(Meta::Connect(url)) => {
                crate::sql::url::parse(&url).map_err(|e| format!("\\connect: {e}"))?;
                (meta::connect_probe_sql().to_string(), Some(url))
            }
            _ => {
                return Err(format!(
                    "{}: only SQL, \\dt, \\d NAME and \\connect run anything",
                    text.trim()
                ));
            }
        };
        let endpoint = match connect {
            Some(url) => Endpoint::url(url),
            None => {
                let record = cluster.current_record().map_err(|e| e.to_string())?;
                Endpoint::for_target(target, cluster.rt.as_ref(), &record.topology())
                    .ok_or_else(|| format!("no node {} in the cluster", target.label()))?
            }
        };
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let reconnect = matches!(endpoint.address, Address::Url(_));
        let fresh = !reconnect && self.mode() == Mode::Fresh;
        let id = {
            let mut l = ledger(&self.state);
            l.next_id += 1;
            let id = l.next_id;
            let run = Run {
                text: text.to_string(),
                target: endpoint.target.clone(),
                sqlstate: None,
                fresh,
            };
            l.pending.insert(
                id,
                Pending {
                    run,
                    done: Some(done_tx),
                },
            );
            id
        };
        if reconnect {
            self.session.reconnect(id, endpoint, sql).await;
        } else {
            self.session.run(id, endpoint, sql, fresh).await;
        }
        Ok(done_rx)
    }

    /// Closes the sticky connection by opening another on `target`, as `\connect` does: what
    /// the old one held (an open transaction) ends with it. The probe is not recorded as a run.
    pub async fn reset(&self, cluster: &Cluster, target: &Target) -> Result<(), String> {
        let record = cluster.current_record().map_err(|e| e.to_string())?;
        let endpoint = Endpoint::for_target(target, cluster.rt.as_ref(), &record.topology())
            .ok_or_else(|| format!("no node {} in the cluster", target.label()))?;
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let id = {
            let mut l = ledger(&self.state);
            l.next_id += 1;
            let id = l.next_id;
            l.quiet.insert(id, done_tx);
            id
        };
        self.session
            .reconnect(id, endpoint, "SELECT 1".into())
            .await;
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), done_rx).await;
        Ok(())
    }

    pub fn cancel(&self) {
        self.session.cancel();
    }

    /// A position in the record of runs: [`Console::runs_since`] returns what ended after it,
    /// a statement left running from before included, as the app counts it.
    pub fn mark(&self) -> Mark {
        let l = ledger(&self.state);
        Mark {
            ended: l.runs.len(),
            started: l.next_id,
        }
    }

    pub fn runs_since(&self, mark: Mark) -> Vec<Run> {
        ledger(&self.state)
            .runs
            .get(mark.ended..)
            .map(|r| r.iter().map(|(_, run)| run.clone()).collect())
            .unwrap_or_default()
    }

    /// The runs started after `mark` that have ended: verify's own work only, not a
    /// statement of the learner's that verify's cancel ended.
    pub fn runs_started_since(&self, mark: Mark) -> Vec<Run> {
        ledger(&self.state)
            .runs
            .iter()
            .filter(|(id, _)| *id > mark.started)
            .map(|(_, run)| run.clone())
            .collect()
    }
}
