//! `replica-lab lessons check`, as an instructor runs it.

mod support;

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_replica-lab");

fn check(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("lessons")
        .arg("check")
        .args(args)
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .output()
        .expect("run replica-lab");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_shipped_lessons_pass() {
    let (ok, stdout, stderr) = check(&[]);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("ok: "), "{stdout}");
    let (ok, same, _) = check(&["lessons"]);
    assert!(ok);
    assert_eq!(same, stdout, "the embedded lessons are the folder's");
}

#[test]
fn a_bad_file_is_named_with_line_column_and_field() {
    let (ok, _, stderr) = check(&["tests/bad_lessons/unknown-target.toml"]);
    assert!(!ok);
    let mut lines = stderr.lines();
    assert_eq!(
        lines.next(),
        Some(
            "tests/bad_lessons/unknown-target.toml:22:10: steps[0].checks[1].target: \
             unknown target \"prg2\": use write, read, primary, replicas or pg1…pg10"
        )
    );
    assert_eq!(lines.next(), Some("error: 1 problem in the lessons above"));
    let (ok, _, stderr) = check(&["tests/bad_lessons/no-such-file.toml"]);
    assert!(!ok);
    assert!(
        stderr.contains("tests/bad_lessons/no-such-file.toml: cannot read it: No such file"),
        "{stderr}"
    );
}

/// `lessons list` and `lessons reset` on a progress folder of the test's own.
fn lessons(progress: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("lessons")
        .args(args)
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .env("REPLICA_LAB_PROGRESS_DIR", progress)
        .env("REPLICA_LAB_LEARNER", "ada")
        .output()
        .expect("run replica-lab");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn listed(progress: &std::path::Path) -> serde_json::Value {
    let (ok, stdout, stderr) = lessons(progress, &["list", "--json"]);
    assert!(ok, "{stderr}");
    serde_json::from_str(&stdout).expect("list --json is JSON")
}

fn done(list: &serde_json::Value, id: &str) -> u64 {
    list["lessons"]
        .as_array()
        .and_then(|l| l.iter().find(|x| x["id"] == id))
        .and_then(|x| x["done"].as_u64())
        .unwrap_or(u64::MAX)
}

#[test]
fn list_shows_progress_and_reset_forgets_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let list = listed(dir.path());
    assert_eq!(list["learner"], "ada");
    let shipped = replica_lab::lesson::builtin_lessons().expect("shipped lessons");
    assert_eq!(
        list["lessons"].as_array().map(Vec::len),
        Some(shipped.len())
    );
    assert_eq!(done(&list, "01-topology"), 0);

    // Two steps of lesson 1 done (one with help), one of lesson 2.
    let first = &shipped[0];
    let second = &shipped[1];
    let progress = serde_json::json!({
        "version": 1,
        "learner": "ada",
        "current_lesson": first.id,
        "lessons": {
            first.id.clone(): { "steps": {
                first.steps[0].id.clone(): { "outcome": "passed" },
                first.steps[1].id.clone(): { "outcome": "solved-with-help" },
            }},
            second.id.clone(): { "steps": {
                second.steps[0].id.clone(): { "outcome": "passed" },
            }},
        }
    });
    std::fs::write(dir.path().join("ada.json"), progress.to_string()).expect("seed progress");
    let list = listed(dir.path());
    assert_eq!(done(&list, &first.id), 2);
    assert_eq!(done(&list, &second.id), 1);
    let (ok, text, _) = lessons(dir.path(), &["list"]);
    assert!(ok);
    assert!(text.contains("(1 with help)"), "{text}");

    let (ok, stdout, stderr) = lessons(dir.path(), &["reset", &first.id]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains(&format!("progress in {} forgotten", first.id)));
    let list = listed(dir.path());
    assert_eq!(done(&list, &first.id), 0);
    assert_eq!(
        done(&list, &second.id),
        1,
        "another lesson's progress stays"
    );

    let (ok, _, stderr) = lessons(dir.path(), &["reset", "99-nothing"]);
    assert!(!ok);
    assert!(
        stderr.contains("no lesson \"99-nothing\": the lessons are 01-topology"),
        "{stderr}"
    );

    let (ok, _, _) = lessons(dir.path(), &["reset"]);
    assert!(ok);
    assert_eq!(done(&listed(dir.path()), &second.id), 0);
}

#[test]
fn an_instructors_folder_replaces_the_shipped_lessons() {
    let progress = tempfile::tempdir().expect("temp dir");
    let folder = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        "lessons/02-write-read.toml",
        folder.path().join("02-write-read.toml"),
    )
    .expect("copy a lesson");
    // Its prerequisite is not in the folder: an error naming the file and field.
    let dir = folder.path().to_string_lossy().into_owned();
    let (ok, _, stderr) = lessons(progress.path(), &["list", "--lessons", &dir]);
    assert!(!ok);
    assert!(stderr.contains("02-write-read.toml:"), "{stderr}");
    assert!(stderr.contains("requires[0]"), "{stderr}");
    std::fs::copy(
        "lessons/01-topology.toml",
        folder.path().join("01-topology.toml"),
    )
    .expect("copy a lesson");
    let (ok, stdout, stderr) = lessons(progress.path(), &["list", "--json", "--lessons", &dir]);
    assert!(ok, "{stderr}");
    let list: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let ids: Vec<&str> = list["lessons"]
        .as_array()
        .map(|l| l.iter().filter_map(|x| x["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, ["01-topology", "02-write-read"]);
}

#[test]
fn sql_that_does_not_parse_and_text_that_is_not_utf8_are_placed_in_the_file() {
    let (ok, _, stderr) = check(&["tests/bad_lessons/sql-syntax-error.toml"]);
    assert!(!ok);
    let mut lines = stderr.lines();
    assert_eq!(
        lines.next(),
        Some(
            "tests/bad_lessons/sql-syntax-error.toml:7:19: setup[1].sql: PostgreSQL cannot \
             parse this SQL: syntax error at or near \"TABEL\""
        )
    );
    assert_eq!(
        stderr.lines().last(),
        Some("error: 7 problems in the lessons above")
    );
    assert!(
        stderr.contains(
            "sql-syntax-error.toml:30:20: steps[0].checks[0].query: PostgreSQL cannot parse \
             this SQL: syntax error at or near \",\""
        ),
        "{stderr}"
    );

    let (ok, _, stderr) = check(&["tests/bad_lessons/not-utf8.toml"]);
    assert!(!ok);
    assert_eq!(
        stderr.lines().next(),
        Some(
            "tests/bad_lessons/not-utf8.toml:8:15: byte 0xE8 is not UTF-8: lesson files are \
             UTF-8 text; save the file as UTF-8"
        )
    );
}

/// Runs `replica-lab ARGS` with stdout a pipe whose reading end is already closed, as when
/// `| head` has gone: every write fails at once, whatever the timing.
fn with_stdout_closed(args: &[&str]) -> std::process::Output {
    let (reader, writer) = nix::unistd::pipe().expect("a pipe");
    drop(reader);
    let progress = tempfile::tempdir().expect("temp dir");
    Command::new(BIN)
        .args(args)
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .env("REPLICA_LAB_PROGRESS_DIR", progress.path())
        .env("REPLICA_LAB_LEARNER", "ada")
        .stdout(std::process::Stdio::from(writer))
        .output()
        .expect("run replica-lab")
}

#[test]
fn a_closed_stdout_ends_a_command_quietly_with_success() {
    for args in [
        &["lessons", "list", "--json"][..],
        &["lessons", "list"],
        &["lessons", "check"],
        &["lessons", "reset", "01-topology"],
        &["--help"],
    ] {
        let out = with_stdout_closed(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }
    // A failure is still one, and still said: stdout has nothing to do with it.
    let out = with_stdout_closed(&["lessons", "check", "tests/bad_lessons/unknown-target.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).ends_with("error: 1 problem in the lessons above\n")
    );
}

#[test]
fn lessons_new_writes_a_lesson_that_checks_and_verifies_and_never_overwrites() {
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = dir.path().to_str().expect("path");
    let new = |id: &str| {
        Command::new(BIN)
            .args(["lessons", "new", id, "--dir", folder])
            .env("XDG_CONFIG_HOME", "/nonexistent")
            .output()
            .expect("run replica-lab")
    };
    let out = new("15-my-topic");
    assert!(out.status.success(), "{out:?}");
    let file = dir.path().join("15-my-topic.toml");
    let path = file.to_str().expect("path");
    assert!(String::from_utf8_lossy(&out.stdout).contains(path));
    let (ok, stdout, stderr) = check(&[path]);
    assert!(
        ok && stdout.starts_with("ok: 1 lessons, 1 steps"),
        "{stderr}"
    );

    // What is there stays as it was; a bad id is named with the rule.
    std::fs::write(&file, "mine").expect("write");
    let out = new("15-my-topic");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists"));
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "mine");
    let out = new("My Topic");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid lesson id"));

    // The step it writes is sound on a real cluster: fails before, passes after.
    std::fs::remove_file(&file).expect("remove");
    assert!(new("15-my-topic").status.success());
    let Some(rt) = support::Rt::local("lessons_new_writes_a_lesson_that_checks_and_verifies")
    else {
        return;
    };
    // Slot 109: ports 22 180 to 22 199.
    let c = support::TestCluster::new("t-scaffold", 109, rt);
    let out = c
        .command(&["lessons", "verify", path])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 of 1 lessons sound"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
