//! The progress store on disk: round trips, damaged entries and files (loaded as far as they
//! can be, kept beside the file at the first save, never changed by reading), newer files,
//! leftovers of an interrupted save, and SIGKILL at any moment of a save never leaving a
//! broken file.

mod support;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use replica_lab::lesson::progress::{
    LearnerProgress, ProgressStore, StepOutcome, StepRecord, VERSION,
};

/// Set only in the child process of [`kill_9_during_saves_never_leaves_a_broken_file`].
const CHILD_ENV: &str = "PROGRESS_CHILD_PATH";
const CHILD_TEST: &str = "child_saves_until_killed";

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("list folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[test]
fn progress_round_trips_and_only_the_owner_may_read_it() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("data").join("progress");
    let store = ProgressStore::for_learner(&dir, "ann");
    assert_eq!(store.path(), dir.join("ann.json"));

    let fresh = store.load().expect("missing file loads");
    assert_eq!(fresh.note, None);
    assert_eq!(fresh.progress, LearnerProgress::new("ann"));

    let mut p = fresh.progress;
    p.current_lesson = Some("02-write-read".into());
    p.lessons
        .entry("02-write-read".into())
        .or_default()
        .current_step = Some("read".into());
    *p.step_mut("02-write-read", "create-table") = StepRecord {
        outcome: Some(StepOutcome::SolvedWithHelp),
        hints_used: 3,
        quiz_answer: Some(1),
        seconds: 95,
        finished_at: Some(1_700_000_000),
    };
    p.step_mut("01-topology", "the-primary").outcome = Some(StepOutcome::Passed);
    store.save(&p).expect("save");
    store.save(&p).expect("save over the first file");

    let loaded = store.load().expect("load");
    assert_eq!(loaded.note, None);
    assert_eq!(loaded.progress, p);
    assert_eq!(loaded.progress.version, VERSION);
    assert_eq!(names(&dir), ["ann.json"], "nothing left beside the file");
    assert_eq!(mode(store.path()), 0o600);
    assert_eq!(mode(&dir), 0o700);
    let text = fs::read_to_string(store.path()).expect("read");
    assert!(text.contains("\"solved-with-help\""), "{text}");
}

fn mtime_secs(path: &Path) -> u64 {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("mtime")
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// The seconds in `<file>.damaged-<seconds>[-n]`.
fn aside_seconds(aside: &Path, file: &str) -> u64 {
    let name = aside
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    name.strip_prefix(&format!("{file}.damaged-"))
        .and_then(|rest| rest.split('-').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("unexpected name {name}"))
}

#[test]
fn a_file_that_is_not_json_is_kept_whole_at_the_first_save_and_never_by_reading() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let store = ProgressStore::for_learner(tmp.path(), "bo");
    let mut asides = Vec::new();
    for damaged in [
        &b"{\"version\": 1, \"lessons\": {\"l\": "[..],
        &b"\x00\xff not json"[..],
    ] {
        fs::write(store.path(), damaged).expect("write damaged file");
        let written = mtime_secs(store.path());
        let loaded = store.load().expect("damaged file loads as fresh progress");
        assert_eq!(loaded.progress, LearnerProgress::new("bo"));
        let mut kept = loaded.damaged.clone();
        let aside = kept.as_ref().expect("what to keep").aside.clone();
        assert_eq!(
            aside_seconds(&aside, "bo.json"),
            written,
            "named after the file's time"
        );
        assert_eq!(
            loaded.note.as_deref(),
            Some(
                format!(
                    "could not read the progress in {} ({}); this progress starts afresh. \
                     What could not be read is kept in {} when progress is next saved",
                    store.path().display(),
                    serde_json::from_slice::<serde_json::Value>(damaged).expect_err("damaged JSON"),
                    aside.display()
                )
                .as_str()
            )
        );
        // Reading, however often, changes nothing.
        let again = store.load().expect("load again");
        assert_eq!(again.progress, loaded.progress);
        assert_eq!(
            again.damaged.map(|d| d.bytes),
            kept.as_ref().map(|d| d.bytes.clone())
        );
        assert_eq!(
            fs::read(store.path()).expect("read"),
            damaged,
            "left as it was"
        );
        assert!(!aside.exists(), "nothing is written by reading");

        let mut p = loaded.progress;
        p.step_mut("l", "s").hints_used = 1;
        let written = store.save_keeping(&p, &mut kept).expect("save");
        assert_eq!(written.as_ref(), Some(&aside), "kept where the note said");
        assert_eq!(kept, None, "kept once");
        assert_eq!(fs::read(&aside).expect("read aside"), damaged, "bytes kept");
        assert_eq!(mode(&aside), 0o600);
        assert_eq!(store.load().expect("load saved").progress, p);
        assert_eq!(store.save_keeping(&p, &mut kept).expect("save again"), None);
        asides.push(aside);
    }
    // Both damaged files are kept, even when kept in the same second.
    assert_eq!(names(tmp.path()).len(), 3, "{:?}", names(tmp.path()));
    assert_ne!(asides[0], asides[1]);
}

#[test]
fn one_bad_entry_costs_only_that_entry_and_is_kept_as_written() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let store = ProgressStore::for_learner(tmp.path(), "fi");
    let text = r#"{
  "version": 1,
  "learner": "fi",
  "current_lesson": "01-topology",
  "lessons": {
    "01-topology": {
      "steps": {
        "a": { "outcome": "passed" },
        "b": { "outcome": "passed" },
        "c": { "outcome": "perfect", "hints_used": 2 },
        "d": { "outcome": "solved-with-help" }
      }
    }
  }
}"#;
    fs::write(store.path(), text).expect("write");
    let loaded = store.load().expect("load");
    let p = &loaded.progress;
    let outcome = |s: &str| p.step("01-topology", s).and_then(|r| r.outcome);
    assert_eq!(
        ["a", "b", "c", "d"].map(outcome),
        [
            Some(StepOutcome::Passed),
            Some(StepOutcome::Passed),
            None,
            Some(StepOutcome::SolvedWithHelp)
        ]
    );
    assert_eq!(p.current_lesson.as_deref(), Some("01-topology"));
    let note = loaded.note.clone().expect("a note");
    let aside = loaded.damaged.as_ref().expect("damaged").aside.clone();
    assert!(
        note.starts_with(&format!(
            "1 entry in {} could not be read and is left out: step \"c\" of lesson \
             \"01-topology\" (line 10: unknown variant `perfect`",
            store.path().display()
        )),
        "{note}"
    );
    assert!(
        note.ends_with(&format!(
            "the rest of the progress loaded. What could not be read is kept in {} when \
             progress is next saved",
            aside.display()
        )),
        "{note}"
    );
    assert_eq!(names(tmp.path()), ["fi.json"], "reading writes nothing");
    assert_eq!(fs::read_to_string(store.path()).expect("read"), text);

    let mut damaged = loaded.damaged;
    store
        .save_keeping(&loaded.progress, &mut damaged)
        .expect("save");
    let kept = fs::read_to_string(&aside).expect("read what was kept");
    assert_eq!(
        kept,
        "{\n  \"lessons\": {\n    \"01-topology\": {\n      \"steps\": {\n        \
         \"c\": { \"outcome\": \"perfect\", \"hints_used\": 2 }\n      }\n    }\n  }\n}\n"
    );
    let again = store.load().expect("load after the save");
    assert_eq!((again.note, again.progress), (None, loaded.progress));
}

#[test]
fn a_name_taken_since_the_note_is_not_written_over() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let store = ProgressStore::for_learner(tmp.path(), "gu");
    fs::write(store.path(), b"not json").expect("write");
    let loaded = store.load().expect("load");
    let mut damaged = loaded.damaged;
    let named = damaged.as_ref().expect("damaged").aside.clone();
    fs::write(&named, b"someone else's").expect("take the name");
    let kept = store
        .save_keeping(&loaded.progress, &mut damaged)
        .expect("save")
        .expect("kept");
    assert_ne!(kept, named);
    assert_eq!(fs::read(&named).expect("read"), b"someone else's");
    assert_eq!(fs::read(&kept).expect("read"), b"not json");
}

#[test]
fn a_file_from_a_newer_version_is_refused_and_left_alone() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let store = ProgressStore::for_learner(tmp.path(), "cy");
    let newer = br#"{"version": 2, "learner": "cy", "lessons": ["a new shape"]}"#;
    fs::write(store.path(), newer).expect("write");

    let err = store.load().expect_err("a newer format is refused");
    assert_eq!(
        err.to_string(),
        format!(
            "progress in {} is in format 2, newer than this replica-lab reads (1): \
             update replica-lab to continue with it",
            store.path().display()
        )
    );
    assert_eq!(fs::read(store.path()).expect("read"), newer);
    assert_eq!(names(tmp.path()), ["cy.json"]);
}

#[test]
fn leftovers_of_an_interrupted_save_are_removed_by_the_next_save_not_by_reading() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let store = ProgressStore::for_learner(tmp.path(), "di");
    let mut p = LearnerProgress::new("di");
    p.step_mut("l", "s").hints_used = 1;
    store.save(&p).expect("save");

    let mut gone = Command::new(std::env::current_exe().expect("test binary"))
        .arg("--list")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn a short-lived process");
    gone.wait().expect("reap it");
    let me = std::process::id();
    let write = |name: String| {
        let path = tmp.path().join(name);
        fs::write(&path, b"{\"half").expect("write leftover");
        path
    };
    let dead = write(format!(".di.json.tmp-{}-3", gone.id()));
    let old = write(format!(".di.json.tmp-{me}-1000"));
    fs::File::options()
        .write(true)
        .open(&old)
        .expect("open")
        .set_modified(SystemTime::now() - Duration::from_secs(120))
        .expect("age the file");
    let in_progress = write(format!(".di.json.tmp-{me}-1001"));
    let someone_else = write(format!(".dj.json.tmp-{}-3", gone.id()));

    let loaded = store.load().expect("load");
    assert_eq!((loaded.note, &loaded.progress), (None, &p));
    for leftover in [&dead, &old, &in_progress, &someone_else] {
        assert!(leftover.exists(), "reading leaves {}", leftover.display());
    }
    store.save(&p).expect("save");
    assert!(!dead.exists(), "left by a process that is gone");
    assert!(!old.exists(), "older than a minute");
    assert!(
        in_progress.exists(),
        "a live process's recent save is left alone"
    );
    assert!(
        someone_else.exists(),
        "another learner's file is left alone"
    );
}

#[test]
fn save_errors_name_the_file_and_the_cause() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let blocker = tmp.path().join("not-a-folder");
    fs::write(&blocker, b"").expect("write");
    let store = ProgressStore::new(blocker.join("eve.json"));
    let err = store
        .save(&LearnerProgress::new("eve"))
        .expect_err("parent is a file");
    let text = err.to_string();
    let prefix = format!("cannot save progress to {}: ", store.path().display());
    assert!(
        text.starts_with(&prefix) && text.contains("os error"),
        "{text}"
    );

    // Permissions do not stop root.
    let test = "save_errors_name_the_file_and_the_cause (its read-only folder part)";
    if !support::require(support::Need::Unprivileged, test) {
        return;
    }
    let locked = tmp.path().join("locked");
    fs::create_dir(&locked).expect("mkdir");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o500)).expect("chmod");
    let store = ProgressStore::new(locked.join("eve.json"));
    let err = store
        .save(&LearnerProgress::new("eve"))
        .expect_err("folder is read-only");
    assert_eq!(
        err.to_string(),
        format!(
            "cannot save progress to {}: Permission denied (os error 13): check that \
             folder's permissions",
            store.path().display()
        )
    );
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o700)).expect("chmod back");
}

// --- SIGKILL during saves ---------------------------------------------------------------

const META: &str = "meta";

fn lessons_at(counter: u64) -> u64 {
    100 + counter % 150
}

/// The sum the child stores beside each state and the parent recomputes from the state.
fn checksum(p: &LearnerProgress) -> u64 {
    p.lessons
        .iter()
        .filter(|(id, _)| id.as_str() != META)
        .flat_map(|(_, l)| l.steps.values())
        .map(|s| s.seconds + u64::from(s.hints_used) * 7)
        .sum()
}

/// The state the child saves for `counter`: every step carries it, so a file mixing two
/// saves shows.
fn state(counter: u64) -> LearnerProgress {
    let mut p = LearnerProgress::new("kill-test");
    for lesson in 0..lessons_at(counter) {
        for step in 0..4 {
            let r = p.step_mut(&format!("lesson-{lesson:03}"), &format!("step-{step}"));
            r.seconds = counter;
            r.hints_used = step;
            r.outcome = (step % 2 == 0).then_some(StepOutcome::Passed);
            r.finished_at = Some(1_700_000_000 + counter);
        }
    }
    p.current_lesson = Some(format!("lesson-{:03}", counter % lessons_at(counter)));
    let sum = checksum(&p);
    let meta = p.step_mut(META, "counter");
    meta.seconds = counter;
    meta.finished_at = Some(sum);
    p
}

/// The counter of a loaded state, after checking that the state is the one the child saved.
fn check(p: &LearnerProgress) -> u64 {
    let meta = p.step(META, "counter").expect("counter record");
    let counter = meta.seconds;
    assert_eq!(
        meta.finished_at,
        Some(checksum(p)),
        "checksum of state {counter}"
    );
    assert_eq!(p, &state(counter), "state {counter}");
    counter
}

/// Runs only as the child of the test below: saves growing states as fast as it can.
#[test]
#[ignore = "run by kill_9_during_saves_never_leaves_a_broken_file"]
fn child_saves_until_killed() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let store = ProgressStore::new(PathBuf::from(path));
    let loaded = store.load().expect("child load");
    let mut counter = match loaded.progress.step(META, "counter") {
        Some(meta) => meta.seconds,
        None => 0,
    };
    // In case the parent is gone without killing this process.
    let until = Instant::now() + Duration::from_secs(60);
    while Instant::now() < until {
        counter += 1;
        store.save(&state(counter)).expect("child save");
    }
}

/// Kills the child when the test ends, passed or not.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn kill_9_during_saves_never_leaves_a_broken_file() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = tmp.path().join("kill-test.json");
    let store = ProgressStore::new(&path);
    let exe = std::env::current_exe().expect("test binary");
    // A new file (a rename brings a new inode) or new contents (an in-place write).
    let version = |p: &Path| {
        fs::metadata(p)
            .map(|m| (m.ino(), m.mtime(), m.mtime_nsec()))
            .ok()
    };

    // At least 40 rounds, and more until a few kills have landed inside a save's window.
    let (mut last, mut advanced, mut mid_save, mut rounds) = (0, 0, 0, 0);
    while rounds < 40 || (mid_save < 3 && rounds < 400) {
        let round = rounds;
        rounds += 1;
        let before = version(&path);
        let mut child = Killed(
            Command::new(&exe)
                .env(CHILD_ENV, &path)
                .args(["--exact", CHILD_TEST, "--include-ignored", "--nocapture"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn child"),
        );
        // Wait for the child's first save.
        let deadline = Instant::now() + Duration::from_secs(30);
        while version(&path) == before {
            assert!(
                Instant::now() < deadline,
                "round {round}: the child never saved"
            );
            if let Some(status) = child.0.try_wait().expect("try_wait") {
                panic!("round {round}: the child ended early: {status}");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let delay = (round * 7 + round * round * 3) % 21;
        std::thread::sleep(Duration::from_millis(delay));
        child.0.kill().expect("SIGKILL the child");
        let status = child.0.wait().expect("reap the child");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9),
            "round {round}: {status}"
        );
        if names(tmp.path()).len() > 1 {
            mid_save += 1;
        }

        let loaded = store.load().expect("load after SIGKILL");
        assert_eq!(loaded.note, None, "round {round}");
        let counter = check(&loaded.progress);
        assert!(
            counter >= last,
            "round {round}: counter went back from {last} to {counter}"
        );
        if counter > last {
            advanced += 1;
        }
        last = counter;
        // Reading leaves a killed save's temporary file; the next save (the next child's)
        // removes it, so there is never more than the last one.
        let left = names(tmp.path());
        assert!(
            left.len() <= 2
                && left.contains(&"kill-test.json".to_string())
                && left
                    .iter()
                    .all(|n| n == "kill-test.json" || n.starts_with(".kill-test.json.tmp-")),
            "round {round}: {left:?}"
        );
    }
    store
        .save(&state(last + 1))
        .expect("a save after the last kill");
    assert_eq!(names(tmp.path()), ["kill-test.json"], "leftovers removed");
    eprintln!("{rounds} rounds: counter reached {last}, {mid_save} kills during a save");
    assert_eq!(advanced, rounds, "every round saved something new");
    assert!(mid_save >= 3, "only {mid_save} kills landed during a save");
}
