//! The learner's progress events, queued on disk until the hub has them.
//!
//! `queue/events.jsonl` holds one event per line, each with its sequence number; `push`
//! returns only once the line is on disk. `queue/acked` records the highest number the hub
//! has taken. When everything is delivered the file is rewritten to a single `floor` line
//! (the next number to use), so numbers never repeat, even across restarts: the hub keeps one
//! row per (learner, number) and ignores a number it already has, which makes delivering an
//! event twice harmless but would silently drop a new event given an old number.
//!
//! A kill at any moment leaves at worst a torn last line: that event was never reported as
//! queued (its `push` had not returned), so it is dropped on open with a warning.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::settings::read_if_exists;

const EVENTS: &str = "events.jsonl";
const ACKED: &str = "acked";
const LOCK: &str = "lock";
/// Delivered lines kept in the file before it is rewritten without them while some are still
/// waiting (a hub that takes events slower than they come).
const COMPACT_AFTER: usize = 1000;

static TEMPS: AtomicU64 = AtomicU64::new(0);

/// What the learner did, as the hub's `events.kind` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    LessonOpened,
    StepOpened,
    Checked,
    Passed,
    Hint,
    SolvedWithHelp,
    Drill,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::LessonOpened => "lesson_opened",
            EventKind::StepOpened => "step_opened",
            EventKind::Checked => "checked",
            EventKind::Passed => "passed",
            EventKind::Hint => "hint",
            EventKind::SolvedWithHelp => "solved_with_help",
            EventKind::Drill => "drill",
        }
    }
}

/// One progress event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassEvent {
    pub kind: EventKind,
    pub lesson: Option<String>,
    pub step: Option<String>,
    /// Seconds on the step, hints used, verdicts: whatever the kind carries.
    pub detail: serde_json::Value,
    /// Milliseconds since the Unix epoch.
    pub happened_at: u64,
}

impl ClassEvent {
    pub fn new(kind: EventKind, lesson: Option<String>, step: Option<String>) -> ClassEvent {
        ClassEvent {
            kind,
            lesson,
            step,
            detail: serde_json::Value::Object(serde_json::Map::new()),
            happened_at: now_ms(),
        }
    }

    /// `detail`, cut to what the hub takes if it is larger (see [`super::guard::fit_detail`]).
    pub fn with_detail(mut self, detail: serde_json::Value) -> ClassEvent {
        self.detail = super::guard::fit_detail(detail);
        self
    }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// An event with its number, as one line of the file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Queued {
    pub seq: u64,
    #[serde(flatten)]
    pub event: ClassEvent,
}

/// The first line after a rewrite: every number below `floor` is used up.
#[derive(Serialize, Deserialize)]
struct Floor {
    floor: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("cannot use the event queue {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "another replica-lab app is reporting to this class already (the event queue {path} is \
         in use): close it, or give this one another folder with REPLICA_LAB_CLASSROOM_DIR"
    )]
    Busy { path: PathBuf },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> QueueError + '_ {
    move |source| QueueError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub struct Queue {
    dir: PathBuf,
    file: File,
    /// Bytes of whole lines in the file; a failed append is cut back to this.
    len: u64,
    /// Lines in the file (events, delivered or not).
    lines: usize,
    waiting: VecDeque<Queued>,
    acked: u64,
    next_seq: u64,
    /// What opening found wrong and repaired.
    pub warnings: Vec<String>,
    _lock: Flock<File>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("dir", &self.dir)
            .field("waiting", &self.waiting.len())
            .field("acked", &self.acked)
            .field("next_seq", &self.next_seq)
            .finish()
    }
}

/// What the file says, line by line, before anything is repaired.
#[derive(Debug, Default, PartialEq)]
struct Parsed {
    floor: u64,
    events: Vec<Queued>,
    /// Bytes of the lines that read well, up to the first that did not.
    good_len: u64,
    lines: usize,
    warnings: Vec<String>,
    /// A line in the middle could not be read: the file must be rewritten.
    rewrite: bool,
}

/// Reads the file's lines; a torn or unreadable line is dropped with a warning.
fn parse(bytes: &[u8]) -> Parsed {
    let mut p = Parsed::default();
    let mut at = 0usize;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let Some(end) = rest.iter().position(|b| *b == b'\n') else {
            p.warnings.push(format!(
                "the last queued event was cut short ({} bytes without an end, the app was \
                 stopped while writing it); it is dropped",
                rest.len()
            ));
            break;
        };
        let line = &rest[..end];
        at += end + 1;
        let is_last = at >= bytes.len();
        if let Ok(q) = serde_json::from_slice::<Queued>(line) {
            // Numbers only grow; an older one would be a line from a damaged rewrite.
            if q.seq >= p.floor && p.events.last().is_none_or(|l| l.seq < q.seq) {
                p.events.push(q);
                p.lines += 1;
                if !p.rewrite {
                    p.good_len = at as u64;
                }
                continue;
            }
        } else if let Ok(f) = serde_json::from_slice::<Floor>(line) {
            p.floor = p.floor.max(f.floor);
            p.lines += 1;
            if !p.rewrite {
                p.good_len = at as u64;
            }
            continue;
        }
        if line.iter().all(|b| *b == 0 || b.is_ascii_whitespace()) && is_last {
            // A crash after the file grew but before its data landed leaves zeros.
            p.warnings
                .push("the last queued event was never written; it is dropped".into());
            break;
        }
        p.warnings.push(format!(
            "a queued event could not be read and is dropped: {}",
            String::from_utf8_lossy(&line[..line.len().min(80)])
        ));
        if !is_last {
            p.rewrite = true;
        }
    }
    p
}

impl Queue {
    /// Opens (or makes) the queue in `dir`; only one app at a time may hold it.
    pub fn open(dir: &Path) -> Result<Queue, QueueError> {
        create_private_dir(dir).map_err(io_err(dir))?;
        let lock_path = dir.join(LOCK);
        let lock_file = private_options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        let lock = Flock::lock(lock_file, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| {
            if e == nix::errno::Errno::EWOULDBLOCK {
                QueueError::Busy {
                    path: dir.to_path_buf(),
                }
            } else {
                QueueError::Io {
                    path: lock_path.clone(),
                    source: e.into(),
                }
            }
        })?;
        let path = dir.join(EVENTS);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_err(&path)(e)),
        };
        let parsed = parse(&bytes);
        let mut warnings = parsed.warnings;
        let acked_path = dir.join(ACKED);
        let acked_file = match read_if_exists(&acked_path) {
            Ok(Some(text)) => match text.trim().parse::<u64>() {
                Ok(n) => n,
                Err(_) => {
                    // Delivering again is harmless; the floor keeps numbers from repeating.
                    warnings.push(format!(
                        "{} could not be read; undelivered events may be sent again",
                        acked_path.display()
                    ));
                    0
                }
            },
            Ok(None) => 0,
            Err(e) => return Err(io_err(&acked_path)(e)),
        };
        let acked = acked_file.max(parsed.floor.saturating_sub(1));
        let newest = parsed.events.last().map_or(0, |q| q.seq);
        let next_seq = acked.max(newest).max(parsed.floor.saturating_sub(1)) + 1;
        let waiting: VecDeque<Queued> = parsed
            .events
            .into_iter()
            .filter(|q| q.seq > acked)
            .collect();
        let file = private_options()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        let mut q = Queue {
            dir: dir.to_path_buf(),
            file,
            len: parsed.good_len,
            lines: parsed.lines,
            waiting,
            acked,
            next_seq,
            warnings,
            _lock: lock,
        };
        for w in &q.warnings {
            tracing::warn!("event queue {}: {w}", dir.display());
        }
        if parsed.rewrite {
            q.compact()?;
        } else if parsed.good_len < bytes.len() as u64 {
            q.file.set_len(parsed.good_len).map_err(io_err(&path))?;
            q.file.sync_all().map_err(io_err(&path))?;
        }
        Ok(q)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends `event` and returns its number once it is on disk.
    pub fn push(&mut self, event: ClassEvent) -> Result<u64, QueueError> {
        let queued = Queued {
            seq: self.next_seq,
            event,
        };
        let mut line = serde_json::to_vec(&queued).map_err(|e| QueueError::Io {
            path: self.events_path(),
            source: io::Error::other(e),
        })?;
        line.push(b'\n');
        let written = self
            .file
            .write_all(&line)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // A half-written line would end up in the middle of the file: cut it off.
            let _ = self.file.set_len(self.len);
            return Err(io_err(&self.events_path())(e));
        }
        self.len += line.len() as u64;
        self.lines += 1;
        self.next_seq += 1;
        self.waiting.push_back(queued.clone());
        Ok(queued.seq)
    }

    /// The oldest `limit` events not delivered yet.
    pub fn pending(&self, limit: usize) -> Vec<Queued> {
        self.waiting.iter().take(limit).cloned().collect()
    }

    /// Events not delivered yet.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// The highest number the hub has taken.
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// The number the next event gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The hub has every event up to `upto`: recorded on disk before this returns.
    pub fn ack(&mut self, upto: u64) -> Result<(), QueueError> {
        let upto = upto.min(self.next_seq - 1);
        if upto <= self.acked {
            return Ok(());
        }
        self.acked = upto;
        while self.waiting.front().is_some_and(|q| q.seq <= upto) {
            self.waiting.pop_front();
        }
        let delivered_lines = self.lines.saturating_sub(self.waiting.len());
        if self.waiting.is_empty() || delivered_lines > COMPACT_AFTER {
            // The rewrite carries the floor: it records the delivery by itself.
            self.compact()
        } else {
            let path = self.dir.join(ACKED);
            write_atomic(&path, format!("{upto}\n").as_bytes()).map_err(io_err(&path))
        }
    }

    /// Rewrites the file with what is still waiting, after a line saying where numbers go on.
    fn compact(&mut self) -> Result<(), QueueError> {
        let path = self.events_path();
        let mut bytes = serde_json::to_vec(&Floor {
            floor: self.acked + 1,
        })
        .map_err(|e| io_err(&path)(io::Error::other(e)))?;
        bytes.push(b'\n');
        for q in &self.waiting {
            let line = serde_json::to_vec(q).map_err(|e| io_err(&path)(io::Error::other(e)))?;
            bytes.extend_from_slice(&line);
            bytes.push(b'\n');
        }
        let (temp, file) = write_temp(&path, &bytes).map_err(io_err(&path))?;
        if let Err(e) = fs::rename(&temp, &path) {
            let _ = fs::remove_file(&temp);
            return Err(io_err(&path)(e));
        }
        // The name is the new file's now: appends must go to it, whatever happens next. The
        // floor in it records the delivery; an older `acked` number says less, never wrong.
        self.file = file;
        self.len = bytes.len() as u64;
        self.lines = 1 + self.waiting.len();
        sync_dir(&path).map_err(io_err(&path))
    }

    fn events_path(&self) -> PathBuf {
        self.dir.join(EVENTS)
    }
}

fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Writes `bytes` to a synced temporary file beside `path` (owner only), renames it over
/// `path` and syncs the folder: a crash leaves the old file or the new, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let (temp, _file) = write_temp(path, bytes)?;
    if let Err(e) = fs::rename(&temp, path) {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    sync_dir(path)
}

/// A new synced file beside `path` holding `bytes`, open for appending.
fn write_temp(path: &Path, bytes: &[u8]) -> io::Result<(PathBuf, File)> {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let temp = parent(path).join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        TEMPS.fetch_add(1, Ordering::Relaxed)
    ));
    let mut file = private_options()
        .append(true)
        .create_new(true)
        .open(&temp)?;
    if let Err(e) = file.write_all(bytes).and_then(|()| file.sync_all()) {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    Ok((temp, file))
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Makes a rename in `path`'s folder durable.
fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(parent(path))?.sync_all()
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
