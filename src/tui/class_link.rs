//! The class's reporter, fed by a task of its own: the UI never waits for the disk or the
//! hub. Events go to the reporter's queue on disk, and on from there when the hub is there.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::msg::Msg;
use crate::classroom::membership::{Membership, queue_dir};
use crate::classroom::queue::{ClassEvent, Queue};
use crate::classroom::reporter::{Reporter, ReporterConfig, ReporterState};

/// How long the way out waits for queued class events to reach a hub that is connected.
const FLUSH_ON_EXIT: Duration = Duration::from_secs(2);
/// Events waiting for the reporter. A learner makes a few a minute; this many in the queue
/// means the disk is stuck, and then one more is noted as lost rather than waited for.
const EVENTS_QUEUE: usize = 256;

pub struct ClassLink {
    events: mpsc::Sender<ClassEvent>,
    task: JoinHandle<()>,
}

impl ClassLink {
    pub fn spawn(membership: Membership, dir: PathBuf, tx: mpsc::Sender<Msg>) -> ClassLink {
        let (events, rx) = mpsc::channel::<ClassEvent>(EVENTS_QUEUE);
        let task = tokio::spawn(report(membership, dir, rx, tx));
        ClassLink { events, task }
    }

    /// Hands `event` to the reporter's task; `tx` hears of it when it cannot take it.
    pub fn send(&self, event: ClassEvent, tx: &mpsc::Sender<Msg>) {
        if let Err(e) = self.events.try_send(event) {
            let note = format!("a class event could not be queued: {e}");
            tracing::warn!("{note}");
            let _ = tx.try_send(Msg::ClassNotice(note));
        }
    }

    /// The way out: every class event handed over is on disk, and delivered if the hub is
    /// connected (briefly).
    pub async fn finish(self) {
        drop(self.events);
        let limit = FLUSH_ON_EXIT + Duration::from_secs(1);
        let _ = tokio::time::timeout(limit, self.task).await;
    }
}

async fn report(
    membership: Membership,
    dir: PathBuf,
    mut rx: mpsc::Receiver<ClassEvent>,
    tx: mpsc::Sender<Msg>,
) {
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
            if forward.send(Msg::ClassStatus(s)).await.is_err() || status.changed().await.is_err() {
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
        reporter.flush(FLUSH_ON_EXIT).await;
    }
    messages.abort();
    statuses.abort();
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
