//! Tasks that write the learner's files, so the UI never waits for the disk: progress (newest
//! value wins) and the console's history (each run appended).

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::msg::Msg;
use crate::lesson::progress::{LearnerProgress, ProgressStore};
use crate::sql::history::{DEFAULT_CAP, History};

/// How long the way out waits for the last saves.
const FLUSH_ON_EXIT: Duration = Duration::from_secs(10);
/// Runs waiting for the history file; far more than anyone types while a disk hangs.
const HISTORY_QUEUE: usize = 256;

/// Saves progress on a task of its own, newest first: a save never overtakes a later one.
pub struct ProgressSaver {
    latest: watch::Sender<Option<Box<LearnerProgress>>>,
    /// Ends once every value handed over is saved, with the last save's error.
    task: JoinHandle<Option<String>>,
}

impl ProgressSaver {
    pub fn spawn(store: ProgressStore, tx: mpsc::Sender<Msg>) -> ProgressSaver {
        let (latest, mut rx) = watch::channel::<Option<Box<LearnerProgress>>>(None);
        let task = tokio::spawn(async move {
            let mut last_error = None;
            // A value not saved yet is still seen after the sender is gone.
            while rx.changed().await.is_ok() {
                let Some(p) = rx.borrow_and_update().clone() else {
                    continue;
                };
                let store = store.clone();
                let saved = tokio::task::spawn_blocking(move || store.save(&p)).await;
                last_error = match saved {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e.to_string()),
                    Err(e) => Some(format!("cannot save progress: {e}")),
                };
                if let Some(e) = &last_error {
                    let _ = tx.send(Msg::ProgressNotSaved(e.clone())).await;
                }
            }
            last_error
        });
        ProgressSaver { latest, task }
    }

    pub fn save(&self, progress: Box<LearnerProgress>) {
        let _ = self.latest.send(Some(progress));
    }

    /// Waits (briefly) until what was handed over is on disk; says why when it is not.
    pub async fn finish(self) -> Result<(), String> {
        drop(self.latest);
        match tokio::time::timeout(FLUSH_ON_EXIT, self.task).await {
            Ok(Ok(None)) => Ok(()),
            Ok(Ok(Some(e))) => Err(e),
            Ok(Err(e)) => Err(format!("cannot save progress: {e}")),
            Err(_) => Err(format!(
                "progress was not saved within {} s",
                FLUSH_ON_EXIT.as_secs()
            )),
        }
    }
}

/// Appends the console's runs to the history file on a task of its own. The entries
/// themselves live in the console's state only.
pub struct HistorySaver {
    entries: mpsc::Sender<String>,
    task: JoinHandle<()>,
}

impl HistorySaver {
    pub fn spawn(path: PathBuf) -> HistorySaver {
        let (entries, mut rx) = mpsc::channel::<String>(HISTORY_QUEUE);
        let task = tokio::spawn(async move {
            // The file only grows between starts: trim it to the cap once, first.
            let file = path.clone();
            match tokio::task::spawn_blocking(move || History::compact(&file, DEFAULT_CAP)).await {
                Ok(Err(e)) => tracing::warn!("cannot trim the console history: {e}"),
                Err(e) => tracing::warn!("cannot trim the console history: {e}"),
                Ok(Ok(_)) => {}
            }
            while let Some(first) = rx.recv().await {
                // Runs that queued up meanwhile go in the same write.
                let mut batch = vec![first];
                while let Ok(more) = rx.try_recv() {
                    batch.push(more);
                }
                let file = path.clone();
                let written =
                    tokio::task::spawn_blocking(move || History::append(&file, &batch)).await;
                match written {
                    Ok(Err(e)) => tracing::warn!("cannot save the console history: {e}"),
                    Err(e) => tracing::warn!("cannot save the console history: {e}"),
                    Ok(Ok(())) => {}
                }
            }
        });
        HistorySaver { entries, task }
    }

    pub fn save(&self, entry: String) {
        if let Err(e) = self.entries.try_send(entry) {
            tracing::warn!("a run is left out of the console history: {e}");
        }
    }

    /// Waits (briefly) until the runs handed over are written.
    pub async fn finish(self) {
        drop(self.entries);
        if tokio::time::timeout(FLUSH_ON_EXIT, self.task)
            .await
            .is_err()
        {
            tracing::warn!("the console history was not written within the time allowed");
        }
    }
}
