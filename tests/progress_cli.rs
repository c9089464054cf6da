//! The learner's progress file as `lessons list` and `lessons reset` meet it: a damaged entry
//! costs only itself and is reported on stderr and in `--json`, reading changes no file, and
//! a save that cannot happen is said, with nothing claimed done.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_replica-lab");

/// The account the binary runs as when the tests run as root, for whom permissions do not
/// count: `nobody`'s id, which needs no entry in /etc/passwd to be taken.
const NOBODY: u32 = 65534;

struct Ran {
    ok: bool,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn lessons(progress: &Path, args: &[&str], uid: Option<u32>) -> Ran {
    let mut cmd = Command::new(BIN);
    cmd.arg("lessons")
        .args(args)
        .env("HOME", "/nonexistent")
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .env("REPLICA_LAB_PROGRESS_DIR", progress)
        .env("REPLICA_LAB_LEARNER", "ada");
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid);
    }
    let out = cmd.output().expect("run replica-lab");
    Ran {
        ok: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("list folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn lesson<'a>(list: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    list["lessons"]
        .as_array()
        .and_then(|l| l.iter().find(|x| x["id"] == id))
        .unwrap_or_else(|| panic!("no lesson {id} in {list}"))
}

/// Lesson 1 all done but one step whose outcome this version does not know; one step of
/// lesson 2 done.
fn one_bad_entry() -> (String, String, String) {
    let shipped = replica_lab::lesson::builtin_lessons().expect("shipped lessons");
    let (first, second) = (&shipped[0], &shipped[1]);
    let mut steps = String::new();
    for (i, s) in first.steps.iter().enumerate() {
        let outcome = if i == 1 { "mastered" } else { "passed" };
        steps += &format!("        \"{}\": {{ \"outcome\": \"{outcome}\" }},\n", s.id);
    }
    let steps = steps.trim_end_matches(",\n");
    let text = format!(
        "{{\n  \"version\": 1,\n  \"learner\": \"ada\",\n  \"current_lesson\": \"{f}\",\n  \
         \"lessons\": {{\n    \"{f}\": {{\n      \"steps\": {{\n{steps}\n      }}\n    }},\n    \
         \"{s}\": {{ \"steps\": {{ \"{s0}\": {{ \"outcome\": \"passed\" }} }} }}\n  }}\n}}\n",
        f = first.id,
        s = second.id,
        s0 = second.steps[0].id,
    );
    (text, first.id.clone(), first.steps[1].id.clone())
}

#[test]
fn one_bad_entry_costs_only_itself_is_reported_and_reading_changes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("ada.json");
    let (text, first, bad_step) = one_bad_entry();
    fs::write(&file, &text).expect("seed progress");
    let steps = replica_lab::lesson::builtin_lessons().expect("shipped lessons")[0]
        .steps
        .len() as u64;

    let ran = lessons(dir.path(), &["list", "--json"], None);
    assert!(ran.ok, "{}", ran.stderr);
    let list: serde_json::Value = serde_json::from_str(&ran.stdout).expect("list --json is JSON");
    let l1 = lesson(&list, &first);
    assert_eq!(l1["done"], steps - 1, "only the bad step is lost: {l1}");
    assert_eq!(l1["steps"], steps);
    assert_eq!(l1["current"], true);
    assert_eq!(list["learner"], "ada");
    let warnings = list["warnings"].as_array().expect("a warnings array");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let warning = warnings[0].as_str().expect("text");
    for part in [
        &format!("step \"{bad_step}\" of lesson \"{first}\""),
        "unknown variant `mastered`",
        &format!("{}.damaged-", file.display()),
        "when progress is next saved",
    ] {
        assert!(warning.contains(part), "{part:?} in {warning}");
    }
    assert_eq!(ran.stderr, format!("warning: {warning}\n"));

    let ran = lessons(dir.path(), &["list"], None);
    assert!(ran.ok, "{}", ran.stderr);
    assert!(
        ran.stdout
            .contains(&format!("{first:<28} {:>2}/{steps:<2}", steps - 1)),
        "{}",
        ran.stdout
    );
    assert_eq!(ran.stderr, format!("warning: {warning}\n"));
    assert_eq!(names(dir.path()), ["ada.json"], "nothing renamed or added");
    assert_eq!(fs::read_to_string(&file).expect("read"), text, "untouched");

    // A save keeps the bad entry beside the file, as written, and says where.
    let shipped = replica_lab::lesson::builtin_lessons().expect("shipped lessons");
    let second = shipped[1].id.as_str();
    let ran = lessons(dir.path(), &["reset", second], None);
    assert!(ran.ok, "{}", ran.stderr);
    assert_eq!(ran.stdout, format!("progress in {second} forgotten\n"));
    let files = names(dir.path());
    assert_eq!(files.len(), 2, "{files:?}");
    let aside = dir.path().join(&files[1]);
    assert!(
        ran.stderr
            .contains(&format!("now kept in {}", aside.display())),
        "{}",
        ran.stderr
    );
    let kept = fs::read_to_string(&aside).expect("read what was kept");
    assert!(
        kept.contains(&format!("\"{bad_step}\": {{ \"outcome\": \"mastered\" }}")),
        "{kept}"
    );
    let list: serde_json::Value =
        serde_json::from_str(&lessons(dir.path(), &["list", "--json"], None).stdout).expect("JSON");
    assert_eq!(list["warnings"], serde_json::json!([]), "reported once");
    assert_eq!(lesson(&list, &first)["done"], steps - 1);
    assert_eq!(lesson(&list, second)["done"], 0);
}

/// A progress folder the binary may read but not write, and the account to run it as;
/// writable again when dropped, also when the test fails.
struct ReadOnly {
    dir: PathBuf,
    uid: Option<u32>,
    _tmp: tempfile::TempDir,
}

impl ReadOnly {
    fn new() -> ReadOnly {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("progress");
        fs::create_dir(&dir).expect("mkdir");
        // Root may write anywhere: then the binary runs as an account that may not.
        let uid = nix::unistd::geteuid().is_root().then_some(NOBODY);
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        ReadOnly {
            dir,
            uid,
            _tmp: tmp,
        }
    }

    fn lock(&self) {
        fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o555)).expect("chmod");
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        let _ = fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o755));
    }
}

#[test]
fn a_reset_that_cannot_be_saved_says_so_claims_nothing_and_fails() {
    let folder = ReadOnly::new();
    let file = folder.dir.join("ada.json");
    let (text, first, _) = one_bad_entry();
    let sound = text.replace("mastered", "passed");
    for (seed, damaged) in [(&sound, false), (&text, true)] {
        fs::write(&file, seed).expect("seed progress");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).expect("chmod");
        folder.lock();
        for args in [&["reset", first.as_str()][..], &["reset"]] {
            let ran = lessons(&folder.dir, args, folder.uid);
            assert!(!ran.ok, "{args:?}: {}", ran.stdout);
            assert_eq!(ran.code, Some(1), "{args:?}");
            assert!(
                !ran.stdout.contains("forgotten"),
                "{args:?}: {}",
                ran.stdout
            );
            let error = ran
                .stderr
                .lines()
                .find(|l| l.starts_with("error: "))
                .unwrap_or_else(|| panic!("{args:?}: no error in {}", ran.stderr));
            let cause = if damaged {
                format!(
                    "cannot keep the unreadable part of {} in {}.damaged-",
                    file.display(),
                    file.display()
                )
            } else {
                format!("cannot save progress to {}: ", file.display())
            };
            assert!(
                error.starts_with(&format!("error: nothing was forgotten: {cause}")),
                "{args:?}: {error}"
            );
            assert!(
                error.contains("Permission denied (os error 13): check that folder's permissions"),
                "{args:?}: {error}"
            );
            assert_eq!(fs::read_to_string(&file).expect("read"), *seed, "{args:?}");
            assert_eq!(names(&folder.dir), ["ada.json"], "{args:?}");
        }
        // Reading works as before.
        let ran = lessons(&folder.dir, &["list", "--json"], folder.uid);
        assert!(ran.ok, "{}", ran.stderr);
        fs::set_permissions(&folder.dir, fs::Permissions::from_mode(0o755)).expect("chmod");
    }
}
