//! The console's history, kept across runs of the app and searchable (Ctrl-R).
//!
//! The file holds one JSON string per line, oldest first, so an entry spanning several lines
//! round-trips, and a damaged line costs only itself. That lets a run be added by appending
//! its line ([`History::append`]); the file is rewritten only to drop what is past the cap
//! ([`History::compact`]).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Entries containing `needle`, ignoring case, newest first, each text once: Ctrl-R's list.
pub fn search<'a>(entries: &'a [String], needle: &str) -> Vec<&'a str> {
    let needle = needle.to_lowercase();
    let mut found: Vec<&str> = Vec::new();
    for entry in entries.iter().rev() {
        if entry.to_lowercase().contains(&needle) && !found.contains(&entry.as_str()) {
            found.push(entry);
        }
    }
    found
}

/// How many entries are kept; the oldest go first.
pub const DEFAULT_CAP: usize = 1_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct History {
    path: PathBuf,
    entries: Vec<String>,
    cap: usize,
    damaged: usize,
}

impl History {
    /// Where the history lives: the platform's state folder for the app (its data folder
    /// where the platform has none), `history.txt`.
    pub fn default_path() -> PathBuf {
        let dir = directories::ProjectDirs::from("", "", "replica-lab")
            .map(|d| d.state_dir().unwrap_or_else(|| d.data_dir()).to_path_buf())
            // No home folder to find: still keep the history for this machine.
            .unwrap_or_else(|| std::env::temp_dir().join("replica-lab"));
        dir.join("history.txt")
    }

    /// An empty history that will be saved to `path`.
    pub fn new(path: impl Into<PathBuf>) -> History {
        History {
            path: path.into(),
            entries: Vec::new(),
            cap: DEFAULT_CAP,
            damaged: 0,
        }
    }

    /// Loads what it can from `path`: a missing or unreadable file is an empty history, a
    /// damaged line is skipped (and counted, see [`History::damaged`]).
    pub fn load(path: &Path) -> History {
        let mut history = History::new(path);
        let Ok(bytes) = fs::read(&history.path) else {
            return history;
        };
        for line in bytes.split(|b| *b == b'\n') {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<String>(line) {
                Ok(entry) => history.push(entry),
                Err(_) => history.damaged += 1,
            }
        }
        history
    }

    /// Keeps at most `cap` entries (at least one), dropping the oldest.
    pub fn with_cap(mut self, cap: usize) -> History {
        self.cap = cap.max(1);
        self.trim();
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Oldest first.
    pub fn entries(&self) -> &[String] {
        &self.entries
    }

    /// Lines of the loaded file that could not be read back.
    pub fn damaged(&self) -> usize {
        self.damaged
    }

    /// Adds an entry, unless it is blank or the same as the last one.
    pub fn push(&mut self, entry: impl Into<String>) {
        let entry = entry.into();
        if entry.trim().is_empty() || self.entries.last() == Some(&entry) {
            return;
        }
        self.entries.push(entry);
        self.trim();
    }

    fn trim(&mut self) {
        if self.entries.len() > self.cap {
            let extra = self.entries.len() - self.cap;
            self.entries.drain(..extra);
        }
    }

    /// Writes the history: into a temporary file next to it, then renamed over it, so a crash
    /// leaves the old file or the new one, never half of one. Only the owner may read it:
    /// statements can hold passwords.
    pub fn save(&self) -> io::Result<()> {
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&dir)?;
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "history.txt".into());
        let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let written = self
            .write_to(&temp)
            .and_then(|()| fs::rename(&temp, &self.path));
        if written.is_err() {
            let _ = fs::remove_file(&temp);
        }
        written
    }

    /// Adds `entries` at the end of the file at `path`, in one write, without rewriting
    /// what is there: cheap enough for every run. A line cut short by a crash costs only
    /// itself, since the next append starts on a line of its own.
    pub fn append(path: &Path, entries: &[String]) -> io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)?;
        }
        let mut options = private_file();
        options.read(true).append(true).create(true);
        let mut file = options.open(path)?;
        let mut bytes = Vec::new();
        if !ends_a_line(&file)? {
            bytes.push(b'\n');
        }
        for entry in entries {
            serde_json::to_writer(&mut bytes, entry)?;
            bytes.push(b'\n');
        }
        file.write_all(&bytes)
    }

    /// Rewrites the file at `path` when it holds more than `cap` entries, or lines that
    /// cannot be read back; returns whether it did.
    pub fn compact(path: &Path, cap: usize) -> io::Result<bool> {
        let Ok(bytes) = fs::read(path) else {
            return Ok(false);
        };
        let lines = bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            .count();
        let history = History::load(path).with_cap(cap);
        if lines <= cap && history.damaged == 0 && lines == history.entries.len() {
            return Ok(false);
        }
        history.save().map(|()| true)
    }

    fn write_to(&self, temp: &Path) -> io::Result<()> {
        let mut options = private_file();
        options.write(true).create(true).truncate(true);
        let mut file = io::BufWriter::new(options.open(temp)?);
        for entry in &self.entries {
            serde_json::to_writer(&mut file, entry)?;
            file.write_all(b"\n")?;
        }
        let file = file.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()
    }
}

/// Options for a file only its owner may read: statements can hold passwords.
fn private_file() -> fs::OpenOptions {
    #[allow(unused_mut)]
    let mut options = fs::OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Whether `file` is empty or ends with a newline.
fn ends_a_line(file: &fs::File) -> io::Result<bool> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        let mut last = [0u8; 1];
        file.read_exact_at(&mut last, len - 1)?;
        Ok(last[0] == b'\n')
    }
    #[cfg(not(unix))]
    {
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_also_across_lines_and_quotes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("nested").join("history.txt");
        let mut h = History::new(&path);
        h.push("SELECT 1");
        h.push("SELECT 'a\nb',\n  \"quoted\\\"\" -- ünïcode\r\n\t;");
        h.push("\\d \"odd \"\"name\"");
        h.save().expect("save");
        let loaded = History::load(&path);
        assert_eq!(loaded.entries(), h.entries());
        assert_eq!(loaded.damaged(), 0);
        assert_eq!(loaded.path(), path);
        // Nothing is left behind but the file itself.
        let names: Vec<_> = fs::read_dir(path.parent().expect("parent"))
            .expect("list")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["history.txt"]);
    }

    #[cfg(unix)]
    #[test]
    fn only_the_owner_may_read_the_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("history.txt");
        let mut h = History::new(&path);
        h.push("ALTER ROLE me PASSWORD 'secret'");
        h.save().expect("save");
        let mode = fs::metadata(&path).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn consecutive_duplicates_and_blanks_are_dropped() {
        let mut h = History::new("unused");
        for e in ["a", "a", "b", "  ", "", "a", "a"] {
            h.push(e);
        }
        assert_eq!(h.entries(), ["a", "b", "a"]);
    }

    #[test]
    fn the_cap_drops_the_oldest() {
        let mut h = History::new("unused");
        for i in 0..1_005 {
            h.push(format!("SELECT {i}"));
        }
        assert_eq!(h.entries().len(), DEFAULT_CAP);
        assert_eq!(h.entries()[0], "SELECT 5");
        let h = h.with_cap(2);
        assert_eq!(h.entries(), ["SELECT 1003", "SELECT 1004"]);
    }

    #[test]
    fn search_is_case_insensitive_newest_first_and_unique() {
        let mut h = History::new("unused");
        for e in [
            "SELECT * FROM pg_stat_replication",
            "select 1",
            "INSERT INTO t VALUES (1)",
            "SELECT * FROM pg_stat_replication",
            "\\dt",
        ] {
            h.push(e);
        }
        let e = h.entries();
        assert_eq!(
            search(e, "select"),
            ["SELECT * FROM pg_stat_replication", "select 1"]
        );
        assert_eq!(
            search(e, "STAT_REPL"),
            ["SELECT * FROM pg_stat_replication"]
        );
        assert_eq!(search(e, "nothing like it"), Vec::<&str>::new());
        assert_eq!(search(e, "").len(), 4);
        assert_eq!(search(e, "")[0], "\\dt");
    }

    #[test]
    fn a_damaged_file_loads_what_it_can() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("history.txt");
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"\"SELECT 1\"\n");
        bytes.extend_from_slice(b"not json at all\n");
        bytes.extend_from_slice(b"\"unterminated\n");
        bytes.extend_from_slice(b"42\n");
        bytes.extend_from_slice(b"\"\xff\xfe invalid utf-8\"\n");
        bytes.extend_from_slice(b"\n   \n");
        bytes.extend_from_slice(b"\"SELECT\\n2\"\n");
        bytes.extend_from_slice(b"\"cut off at the en");
        fs::write(&path, bytes).expect("write");
        let h = History::load(&path);
        assert_eq!(h.entries(), ["SELECT 1", "SELECT\n2"]);
        assert_eq!(h.damaged(), 5);
        // Saving writes back only what was read.
        h.save().expect("save");
        let again = History::load(&path);
        assert_eq!(again.entries(), h.entries());
        assert_eq!(again.damaged(), 0);
    }

    #[test]
    fn appended_entries_load_back_after_the_saved_ones() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("nested").join("history.txt");
        History::append(&path, &["SELECT 1".into()]).expect("append to nothing");
        let mut h = History::load(&path);
        h.push("SELECT 'a\nb'");
        h.save().expect("save");
        History::append(&path, &["SELECT 2".into(), "\\x".into()]).expect("append");
        assert_eq!(
            History::load(&path).entries(),
            ["SELECT 1", "SELECT 'a\nb'", "SELECT 2", "\\x"]
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("metadata").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_line_cut_short_costs_only_itself() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("history.txt");
        fs::write(&path, b"\"SELECT 1\"\n\"cut off at the en").expect("write");
        History::append(&path, &["SELECT 2".into()]).expect("append");
        let h = History::load(&path);
        assert_eq!(h.entries(), ["SELECT 1", "SELECT 2"]);
        assert_eq!(h.damaged(), 1);
    }

    #[test]
    fn compacting_keeps_the_newest_cap_entries_and_drops_damage() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("history.txt");
        let entries: Vec<String> = (0..5).map(|i| format!("SELECT {i}")).collect();
        History::append(&path, &entries).expect("append");
        assert!(
            !History::compact(&path, 5).expect("compact"),
            "nothing to drop"
        );
        assert!(History::compact(&path, 2).expect("compact"));
        assert_eq!(History::load(&path).entries(), ["SELECT 3", "SELECT 4"]);
        fs::write(&path, b"\"a\"\nnot json\n").expect("write");
        assert!(History::compact(&path, 5).expect("compact"));
        let h = History::load(&path);
        assert_eq!((h.entries().len(), h.damaged()), (1, 0));
        // No file: nothing to do.
        assert!(!History::compact(&dir.path().join("none"), 5).expect("compact"));
    }

    #[test]
    fn a_missing_file_or_folder_is_an_empty_history() {
        let dir = tempfile::tempdir().expect("temp dir");
        let h = History::load(&dir.path().join("no").join("such.txt"));
        assert!(h.entries().is_empty());
        // A folder where the file should be: nothing to read, no panic.
        let h = History::load(dir.path());
        assert!(h.entries().is_empty());
    }

    #[test]
    fn the_default_path_is_the_apps_history_file() {
        let path = History::default_path();
        assert!(path.ends_with("history.txt"), "{}", path.display());
        assert!(
            path.to_string_lossy().contains("replica-lab"),
            "{}",
            path.display()
        );
    }
}
