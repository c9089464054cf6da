//! Tasks that write the learner's files, so the UI never waits for the disk: progress (newest
//! value wins) and the console's history (each run appended).

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::msg::Msg;
use crate::lesson::progress::{Damaged, LearnerProgress, ProgressStore};
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
    /// `damaged`: what did not load of the file, kept beside it before the first save.
    pub fn spawn(
        store: ProgressStore,
        damaged: Option<Damaged>,
        tx: mpsc::Sender<Msg>,
    ) -> ProgressSaver {
        let (latest, mut rx) = watch::channel::<Option<Box<LearnerProgress>>>(None);
        let task = tokio::spawn(async move {
            let mut last_error = None;
            let mut damaged = damaged;
            // A value not saved yet is still seen after the sender is gone.
            while rx.changed().await.is_ok() {
                let Some(p) = rx.borrow_and_update().clone() else {
                    continue;
                };
                let store = store.clone();
                let path = store.path().to_path_buf();
                // A copy goes to the save, so a save that panics loses nothing kept here.
                let mut pending = damaged.clone();
                let saved = tokio::task::spawn_blocking(move || {
                    let saved = store.save_keeping(&p, &mut pending);
                    (saved, pending)
                })
                .await;
                let failed_before = last_error.is_some();
                last_error = match saved {
                    Ok((Ok(kept), pending)) => {
                        damaged = pending;
                        if failed_before || kept.is_some() {
                            let _ = tx.send(Msg::ProgressSaved { path, kept }).await;
                        }
                        None
                    }
                    Ok((Err(e), pending)) => {
                        damaged = pending;
                        Some(e.to_string())
                    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(hints: u32) -> Box<LearnerProgress> {
        let mut p = LearnerProgress::new("ann");
        p.step_mut("l", "s").hints_used = hints;
        Box::new(p)
    }

    #[tokio::test]
    async fn a_failed_save_is_tried_again_at_the_next_change_and_its_success_said() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let blocker = tmp.path().join("progress");
        std::fs::write(&blocker, b"").expect("a file where the folder should be");
        let store = ProgressStore::new(blocker.join("ann.json"));
        let (tx, mut rx) = mpsc::channel(8);
        let saver = ProgressSaver::spawn(store.clone(), None, tx);

        saver.save(progress(1));
        match rx.recv().await {
            Some(Msg::ProgressNotSaved(e)) => {
                assert!(e.contains("a file stands where a folder should be"), "{e}");
            }
            _ => panic!("expected ProgressNotSaved"),
        }
        std::fs::remove_file(&blocker).expect("make room");
        saver.save(progress(2));
        match rx.recv().await {
            Some(Msg::ProgressSaved { path, kept: None }) => assert_eq!(path, store.path()),
            _ => panic!("expected ProgressSaved"),
        }
        assert_eq!(store.load().expect("load").progress, *progress(2));

        // A save that simply works is not news.
        saver.save(progress(3));
        assert_eq!(saver.finish().await, Ok(()));
        assert!(rx.try_recv().is_err());
        assert_eq!(store.load().expect("load").progress, *progress(3));
    }

    #[tokio::test]
    async fn what_did_not_load_is_kept_at_the_first_save_only() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let store = ProgressStore::new(tmp.path().join("ann.json"));
        std::fs::write(store.path(), b"{\"learner\": 7}").expect("write");
        let loaded = store.load().expect("load");
        let aside = loaded.damaged.as_ref().expect("damaged").aside.clone();
        let (tx, mut rx) = mpsc::channel(8);
        let saver = ProgressSaver::spawn(store.clone(), loaded.damaged, tx);
        saver.save(progress(1));
        match rx.recv().await {
            Some(Msg::ProgressSaved { kept, .. }) => assert_eq!(kept, Some(aside.clone())),
            _ => panic!("expected ProgressSaved"),
        }
        saver.save(progress(2));
        assert_eq!(saver.finish().await, Ok(()));
        assert!(rx.try_recv().is_err(), "kept once");
        let kept = std::fs::read_to_string(&aside).expect("read");
        assert_eq!(kept, "{\n  \"learner\": 7\n}\n");
    }
}
