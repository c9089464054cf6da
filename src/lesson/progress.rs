//! The learner's progress through the lessons, one JSON file per learner.
//!
//! Saving goes through a temporary file in the same folder that is synced and then renamed
//! over the old one, so a crash at any moment leaves the old file or the new one. Reading
//! never changes a file: a damaged entry costs only that entry, and what did not load is
//! written beside the file, once, just before the first save would drop it.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::Lesson;
use super::model::Step;
use super::salvage::{self, Salvaged};

/// The format this build writes, and the newest it reads.
pub const VERSION: u32 = 1;

/// A temporary file left by a save older than this is taken as abandoned.
const STALE_TEMP: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepOutcome {
    Passed,
    SolvedWithHelp,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StepRecord {
    /// `None` while the step is not done.
    pub outcome: Option<StepOutcome>,
    pub hints_used: u32,
    pub quiz_answer: Option<usize>,
    /// Time spent on the step so far.
    pub seconds: u64,
    /// Unix seconds.
    pub finished_at: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LessonRecord {
    /// The step the learner is on.
    pub current_step: Option<String>,
    pub steps: BTreeMap<String, StepRecord>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LearnerProgress {
    pub version: u32,
    pub learner: String,
    pub current_lesson: Option<String>,
    pub lessons: BTreeMap<String, LessonRecord>,
}

impl Default for LearnerProgress {
    fn default() -> Self {
        LearnerProgress::new("")
    }
}

/// How far a learner is in one lesson.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LessonSummary {
    /// Steps with an outcome.
    pub done: usize,
    /// Of those, the ones solved with help.
    pub with_help: usize,
    /// Steps in the lesson.
    pub total: usize,
}

impl LearnerProgress {
    pub fn new(learner: impl Into<String>) -> Self {
        LearnerProgress {
            version: VERSION,
            learner: learner.into(),
            current_lesson: None,
            lessons: BTreeMap::new(),
        }
    }

    pub fn step(&self, lesson: &str, step: &str) -> Option<&StepRecord> {
        self.lessons.get(lesson)?.steps.get(step)
    }

    /// The step's record, created empty if there is none yet.
    pub fn step_mut(&mut self, lesson: &str, step: &str) -> &mut StepRecord {
        let record = self.lessons.entry(lesson.to_owned()).or_default();
        record.steps.entry(step.to_owned()).or_default()
    }

    /// Forgets a lesson's progress; `current_lesson` stays as it is. False if there was none.
    pub fn reset_lesson(&mut self, id: &str) -> bool {
        self.lessons.remove(id).is_some()
    }

    /// Forgets every lesson's progress and the current lesson; the learner's name stays.
    pub fn reset_all(&mut self) {
        self.lessons.clear();
        self.current_lesson = None;
    }

    /// Counts only the lesson's present steps: records of steps it no longer has are ignored.
    pub fn summary(&self, lesson: &Lesson) -> LessonSummary {
        let (mut done, mut with_help) = (0, 0);
        for outcome in lesson.steps.iter().filter_map(|s| self.outcome(lesson, s)) {
            done += 1;
            with_help += usize::from(outcome == StepOutcome::SolvedWithHelp);
        }
        let total = lesson.steps.len();
        LessonSummary {
            done,
            with_help,
            total,
        }
    }

    pub fn is_complete(&self, lesson: &Lesson) -> bool {
        self.first_unfinished_step(lesson).is_none()
    }

    /// The index of the lesson's first step without an outcome.
    pub fn first_unfinished_step(&self, lesson: &Lesson) -> Option<usize> {
        lesson
            .steps
            .iter()
            .position(|s| self.outcome(lesson, s).is_none())
    }

    fn outcome(&self, lesson: &Lesson, step: &Step) -> Option<StepOutcome> {
        self.step(&lesson.id, &step.id)?.outcome
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    #[error("cannot read progress from {}: {source}{}", path.display(), advice(source))]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot save progress to {}: {source}{}", path.display(), advice(source))]
    Save { path: PathBuf, source: io::Error },
    #[error(
        "cannot keep the unreadable part of {} in {}: {source}{}; nothing was saved, so it \
         is still in {}",
        path.display(), aside.display(), advice(source), path.display()
    )]
    KeepAside {
        path: PathBuf,
        aside: PathBuf,
        source: io::Error,
    },
    #[error(
        "progress in {} is in format {found}, newer than this replica-lab reads ({VERSION}): \
         update replica-lab to continue with it",
        path.display()
    )]
    Newer { path: PathBuf, found: u64 },
}

fn advice(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::PermissionDenied => ": check that folder's permissions",
        io::ErrorKind::StorageFull => ": free some disk space",
        io::ErrorKind::ReadOnlyFilesystem => {
            ": that folder is on a read-only file system: set REPLICA_LAB_PROGRESS_DIR to a \
             folder on a writable one"
        }
        io::ErrorKind::NotADirectory | io::ErrorKind::AlreadyExists => {
            ": a file stands where a folder should be: move it away or set \
             REPLICA_LAB_PROGRESS_DIR to another folder"
        }
        _ => "",
    }
}

/// What [`ProgressStore::load`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    pub progress: LearnerProgress,
    /// Something the learner should be told: which entries did not load, and where they
    /// will be kept.
    pub note: Option<String>,
    /// What did not load, to be kept before the first save; see [`ProgressStore::save_keeping`].
    pub damaged: Option<Damaged>,
}

/// The part of a progress file that did not load, as it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damaged {
    /// Where the note said it will be kept.
    pub aside: PathBuf,
    /// The whole file when nothing of it could be read, else the lost entries in its shape.
    pub bytes: Vec<u8>,
}

/// Where one learner's progress lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgressStore {
    path: PathBuf,
    /// Given to fresh progress.
    learner: String,
}

static SAVES: AtomicU64 = AtomicU64::new(0);

impl ProgressStore {
    /// A store at `path`; fresh progress is named after the file.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let learner = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        ProgressStore { path, learner }
    }

    /// `dir/<learner>.json`. Every character of the name other than ASCII letters, digits,
    /// `-` and `_` is written as `%XX` (each UTF-8 byte), so no name can leave `dir` or hide
    /// the file, and different names get different files. An empty name is written `%`.
    pub fn for_learner(dir: &Path, learner: &str) -> Self {
        let mut name = String::new();
        for b in learner.bytes() {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                name.push(char::from(b));
            } else {
                name.push_str(&format!("%{b:02X}"));
            }
        }
        if name.is_empty() {
            name.push('%');
        }
        // File names are limited to 255 bytes; very long names share a file past this.
        name.truncate(200);
        ProgressStore {
            path: dir.join(format!("{name}.json")),
            learner: learner.to_owned(),
        }
    }

    /// The platform's data folder for the app, `progress`; `./.replica-lab/progress` when
    /// there is no home folder to find.
    pub fn default_dir() -> PathBuf {
        directories::ProjectDirs::from("", "", "replica-lab")
            .map(|d| d.data_dir().join("progress"))
            .unwrap_or_else(|| Path::new(".replica-lab").join("progress"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "progress.json".into())
    }

    /// A missing file is fresh progress. Of a damaged one, every entry that can be read is
    /// loaded (nothing when it is not a JSON object at all), and the note names the entries
    /// left out and the file they will be kept in. Nothing on disk changes.
    pub fn load(&self) -> Result<Loaded, ProgressError> {
        let path = self.path.clone();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Loaded {
                    progress: LearnerProgress::new(&self.learner),
                    note: None,
                    damaged: None,
                });
            }
            Err(source) => return Err(ProgressError::Read { path, source }),
        };
        let (progress, note, kept) = match salvage::read(&bytes, &self.learner) {
            Salvaged::Newer { found } => return Err(ProgressError::Newer { path, found }),
            Salvaged::Entries { progress, lost } if lost.is_empty() => {
                return Ok(Loaded {
                    progress,
                    note: None,
                    damaged: None,
                });
            }
            Salvaged::Entries { progress, lost } => {
                let what: Vec<String> = lost
                    .iter()
                    .map(|l| format!("{} ({})", l.name(), l.cause))
                    .collect();
                let note = format!(
                    "{} in {} could not be read and {} left out: {}; the rest of the \
                     progress loaded",
                    plural(lost.len(), "entry", "entries"),
                    path.display(),
                    if lost.len() == 1 { "is" } else { "are" },
                    what.join("; ")
                );
                (progress, note, salvage::kept_text(&lost).into_bytes())
            }
            Salvaged::Nothing { cause } => {
                let note = format!(
                    "could not read the progress in {} ({cause}); this progress starts afresh",
                    path.display()
                );
                (LearnerProgress::new(&self.learner), note, bytes)
            }
        };
        // Named after the damaged file's time, so every reading of it names the same file.
        let stamp = fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or_else(unix_now, |d| d.as_secs());
        let aside = self.free_aside_name(stamp);
        let note = format!(
            "{note}. What could not be read is kept in {} when progress is next saved",
            aside.display()
        );
        Ok(Loaded {
            progress,
            note: Some(note),
            damaged: Some(Damaged { aside, bytes: kept }),
        })
    }

    /// `<file>.damaged-<stamp>`, or with `-<n>` after it when that is taken.
    fn free_aside_name(&self, stamp: u64) -> PathBuf {
        free_name(
            &self
                .dir()
                .join(format!("{}.damaged-{stamp}", self.file_name())),
        )
    }

    /// Writes what did not load to the file the note named (to a free name beside it, should
    /// that have been taken since), synced, never over another file. Returns where it went.
    pub fn keep_aside(&self, damaged: &Damaged) -> Result<PathBuf, ProgressError> {
        let dir = self.dir();
        let mut aside = damaged.aside.clone();
        let written = loop {
            match write_synced(&aside, &damaged.bytes) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    aside = free_name(&damaged.aside);
                }
                other => break other,
            }
        };
        written
            .and_then(|()| fs::File::open(&dir)?.sync_all())
            .map(|()| aside.clone())
            .map_err(|source| ProgressError::KeepAside {
                path: self.path.clone(),
                aside,
                source,
            })
    }

    /// Saves `p`; first, once, keeps what did not load (`damaged`, taken when kept), since the
    /// save drops it from the file. Nothing is saved when it cannot be kept. Returns where it
    /// was kept when that happened now.
    pub fn save_keeping(
        &self,
        p: &LearnerProgress,
        damaged: &mut Option<Damaged>,
    ) -> Result<Option<PathBuf>, ProgressError> {
        let kept = match damaged.as_ref() {
            Some(d) => Some(self.keep_aside(d)?),
            None => None,
        };
        *damaged = None;
        self.save(p)?;
        Ok(kept)
    }

    fn remove_stale_temps(&self) {
        let prefix = format!(".{}.tmp-", self.file_name());
        let Ok(entries) = fs::read_dir(self.dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix(&prefix) else {
                continue;
            };
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_none_or(|age| age > STALE_TEMP);
            let pid = rest.split('-').next().and_then(|p| p.parse().ok());
            if old || !pid.is_some_and(process_alive) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// Writes `p` to a synced temporary file beside the target, renames it over the target
    /// and syncs the folder. Only the owner may read the file and its folder.
    pub fn save(&self, p: &LearnerProgress) -> Result<(), ProgressError> {
        let dir = self.dir();
        let temp = dir.join(format!(
            ".{}.tmp-{}-{}",
            self.file_name(),
            std::process::id(),
            SAVES.fetch_add(1, Ordering::Relaxed)
        ));
        let written = create_private_dir(&dir)
            .map(|()| self.remove_stale_temps())
            .and_then(|()| serde_json::to_vec_pretty(p).map_err(io::Error::other))
            .and_then(|bytes| write_synced(&temp, &bytes))
            .and_then(|()| fs::rename(&temp, &self.path))
            .and_then(|()| fs::File::open(&dir)?.sync_all());
        written.map_err(|source| {
            let _ = fs::remove_file(&temp);
            ProgressError::Save {
                path: self.path.clone(),
                source,
            }
        })
    }
}

/// `path`, or `path-<n>` with the first `n` no file has.
fn free_name(path: &Path) -> PathBuf {
    let mut free = path.to_path_buf();
    for n in 1.. {
        if fs::symlink_metadata(&free).is_err() {
            break;
        }
        free = PathBuf::from(format!("{}-{n}", path.display()));
    }
    free
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.sync_all()
}

/// True unless the process is known to be gone.
fn process_alive(pid: i32) -> bool {
    let gone = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None);
    pid > 0 && gone != Err(nix::errno::Errno::ESRCH)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lesson() -> Lesson {
        let mut text = "format = 1\nid = \"01-t\"\ntitle = \"T\"\nsummary = \"S\"\n".to_owned();
        for id in ["a", "b", "c"] {
            text += &format!(
                "[[steps]]\nid = \"{id}\"\ntitle = \"S\"\ntext = \"t\"\nhints = [\"h\"]\n\
                 quiz = {{ question = \"q\", choices = [\"a\", \"b\"], answer = 0, explain = \"e\" }}\n"
            );
        }
        super::super::parse("01-t.toml", &text).expect("test lesson parses")
    }

    #[test]
    fn records_are_created_read_and_reset() {
        let mut p = LearnerProgress::new("ann");
        assert_eq!(p.step("l", "s"), None);
        p.step_mut("l", "s").hints_used = 2;
        p.step_mut("l", "s").seconds += 5;
        assert_eq!(
            p.step("l", "s").map(|r| (r.hints_used, r.seconds)),
            Some((2, 5))
        );
        p.step_mut("m", "s");
        p.current_lesson = Some("l".into());
        assert!(p.reset_lesson("l"));
        assert!(!p.reset_lesson("l"));
        assert_eq!(
            (p.step("l", "s"), p.current_lesson.as_deref()),
            (None, Some("l"))
        );
        p.reset_all();
        assert_eq!(p, LearnerProgress::new("ann"));
    }

    #[test]
    fn summary_counts_outcomes_of_the_lesson_s_steps_only() {
        let lesson = lesson();
        let mut p = LearnerProgress::new("ann");
        assert_eq!(p.first_unfinished_step(&lesson), Some(0));
        p.step_mut("01-t", "a").outcome = Some(StepOutcome::Passed);
        p.step_mut("01-t", "b").hints_used = 3;
        p.step_mut("01-t", "c").outcome = Some(StepOutcome::SolvedWithHelp);
        p.step_mut("01-t", "gone").outcome = Some(StepOutcome::Passed);
        let s = p.summary(&lesson);
        assert_eq!((s.done, s.with_help, s.total), (2, 1, 3));
        assert_eq!(p.first_unfinished_step(&lesson), Some(1));
        assert!(!p.is_complete(&lesson));
        p.step_mut("01-t", "b").outcome = Some(StepOutcome::Passed);
        assert_eq!(p.first_unfinished_step(&lesson), None);
        assert!(p.is_complete(&lesson));
    }

    #[test]
    fn json_is_kebab_case_and_missing_fields_default() {
        let mut p = LearnerProgress::new("ann");
        p.step_mut("l", "s").outcome = Some(StepOutcome::SolvedWithHelp);
        let json = serde_json::to_string(&p).expect("serializes");
        assert!(json.contains("\"solved-with-help\"") && json.contains("\"version\":1"));
        let old = r#"{"learner":"bo","lessons":{"l":{"steps":{"s":{"outcome":"passed"}}}}}"#;
        let p: LearnerProgress = serde_json::from_str(old).expect("older file loads");
        assert_eq!((p.version, p.current_lesson.as_deref()), (VERSION, None));
        assert_eq!(
            p.step("l", "s").and_then(|r| r.outcome),
            Some(StepOutcome::Passed)
        );
    }

    #[test]
    fn learner_names_cannot_leave_the_folder() {
        let dir = Path::new("/data/progress");
        for (name, file) in [
            ("ann", "ann.json"),
            ("../../etc/passwd", "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd.json"),
            ("..", "%2E%2E.json"),
            (".hidden", "%2Ehidden.json"),
            ("a\nb/c", "a%0Ab%2Fc.json"),
            ("Zoë", "Zo%C3%AB.json"),
            ("", "%.json"),
        ] {
            let store = ProgressStore::for_learner(dir, name);
            assert_eq!(store.path(), dir.join(file), "{name:?}");
            assert_eq!(store.path().parent(), Some(dir));
        }
        assert_ne!(
            ProgressStore::for_learner(dir, "a/b").path(),
            ProgressStore::for_learner(dir, "a_b").path()
        );
    }
}
