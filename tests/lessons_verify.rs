//! `lessons verify` on a real local cluster: every shipped lesson is sound, and lessons whose
//! checks assert nothing (or cannot pass) are caught with a message that says which and why.

mod support;

use support::{Rt, TestCluster};

#[test]
fn every_shipped_lesson_is_sound_on_a_real_cluster() {
    // The lessons are written for the default cluster: a primary and three replicas. Each
    // check must fail before its step and pass after, and hold however the learner gets
    // there: the solution run twice, first on a wrong target, and the lesson in fresh mode.
    // Two clusters take every other lesson each, side by side: most of a lesson's time is
    // waiting for servers, and one after another the whole takes about eight minutes.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .expect("the lessons folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let lessons = replica_lab::lesson::builtin_lessons().expect("the shipped lessons");
    assert_eq!(
        files.len(),
        lessons.len(),
        "every shipped lesson has its file"
    );
    let halves: [(u8, Vec<&std::path::PathBuf>); 2] = [
        (104, files.iter().step_by(2).collect()),
        (116, files.iter().skip(1).step_by(2).collect()),
    ];
    let stdout: String = std::thread::scope(|s| {
        let runs: Vec<_> = halves
            .iter()
            .map(|(slot, files)| {
                s.spawn(move || {
                    let c = TestCluster::new(&format!("t-verify-{slot}"), *slot, Rt::Local);
                    let mut said = String::new();
                    for file in files {
                        let path = file.to_str().expect("a UTF-8 path");
                        let out = c.cmd(&["lessons", "verify", path]);
                        let stdout = String::from_utf8_lossy(&out.stdout);
                        let stderr = String::from_utf8_lossy(&out.stderr);
                        assert!(out.status.success(), "{stdout}\n{stderr}");
                        assert!(stdout.contains("1 of 1 lessons sound"), "{stdout}");
                        said.push_str(&stdout);
                    }
                    // Verify removes its cluster.
                    assert!(
                        c.fails(&["status"]).contains("no cluster named"),
                        "the cluster was left behind"
                    );
                    said
                })
            })
            .collect();
        runs.into_iter()
            .map(|r| r.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    for lesson in &lessons {
        for step in &lesson.steps {
            assert!(
                stdout.contains(&format!("ok   {}", step.id)),
                "{} / {} not reported sound:\n{stdout}",
                lesson.id,
                step.id
            );
        }
    }
}

const HOLLOW: &str = r#"
format = 1
id = "90-hollow"
title = "Checks that check nothing"
summary = "A lesson whose first check is true before anything is done."
setup = [{ sql = "CREATE TABLE IF NOT EXISTS hollow (id int)" }]

[[steps]]
id = "always-true"
title = "Always true"
text = "Insert a row."
hints = ["INSERT INTO hollow VALUES (1);"]

[steps.solution]
sql = "INSERT INTO hollow VALUES (1);"

[[steps.checks]]
kind = "sql"
target = "write"
query = "SELECT 1"
expect = "1"

[[steps.checks]]
kind = "sql"
target = "replicas"
query = "SELECT count(*) FROM hollow"
expect = "1"
within = "5s"

[[steps]]
id = "never-true"
title = "Never true"
text = "Insert another row."
hints = ["INSERT INTO hollow VALUES (2);"]

[steps.solution]
sql = "INSERT INTO hollow VALUES (2);"

[[steps.checks]]
kind = "sql"
target = "write"
query = "SELECT count(*) FROM hollow"
expect = "5"
within = "1s"
"#;

#[test]
fn checks_that_pass_before_or_fail_after_the_solution_are_reported() {
    let c = TestCluster::new("t-verify-bad", 105, Rt::Local);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("90-hollow.toml");
    std::fs::write(&file, HOLLOW).expect("write the lesson");
    let path = file.to_string_lossy().into_owned();
    let out = c.cmd(&["lessons", "verify", &path, "--replicas", "1"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("FAIL always-true"),
        "the hollow step is not flagged:\n{stdout}"
    );
    assert!(
        stdout.contains(r#"check 1 (sql on write) passes before the solution: got "1""#),
        "{stdout}"
    );
    // The second check of that step was honest: false before, true after (an exact count,
    // it fails once the solution runs twice, which is reported as such).
    assert!(
        !stdout.contains("check 2 (sql on replicas) passes before"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("check 2 (sql on replicas) still fails"),
        "{stdout}"
    );
    assert!(stdout.contains("FAIL never-true"), "{stdout}");
    assert!(
        stdout.contains(
            r#"check 1 (sql on write) still fails after the solution: write: got "3", wanted "5""#
        ),
        "{stdout}"
    );
    assert!(stdout.contains("0 of 1 lessons sound"), "{stdout}");
    assert!(stderr.contains("problems in 90-hollow"), "{stderr}");
    assert!(c.fails(&["status"]).contains("no cluster named"));
}

/// Runs `lessons verify` on one fixture of tests/verify_traps; returns stdout.
fn verify_fixture(c: &TestCluster, file: &str) -> String {
    let path = format!("{}/tests/verify_traps/{file}", env!("CARGO_MANIFEST_DIR"));
    let out = c.cmd(&["lessons", "verify", &path]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        c.fails(&["status"]).contains("no cluster named"),
        "the cluster was left behind"
    );
    assert!(
        !out.status.success() || !stdout.contains("FAIL"),
        "{stderr}"
    );
    stdout
}

/// A step's verdict line and its problems, in the pass whose heading starts with `heading`.
fn step_block(stdout: &str, heading: &str, step: &str) -> String {
    let after = stdout.find(heading).map_or("", |i| &stdout[i..]);
    let mut lines = after.lines().skip(1);
    let mut block = Vec::new();
    for line in lines.by_ref() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.get(1) == Some(&step) {
            block.push(line);
            break;
        }
    }
    block.extend(lines.take_while(|l| l.starts_with("         ")));
    block.join("\n")
}

#[test]
fn checks_that_trap_a_learner_are_reported_naming_the_step() {
    let c = TestCluster::new("t-verify-traps", 106, Rt::Local);
    let stdout = verify_fixture(&c, "91-traps.toml");
    let sticky = "91-traps  (fresh cluster";
    let fresh = "91-traps in fresh console mode";

    // An exact total that a learner's second run makes impossible.
    let block = step_block(&stdout, sticky, "exact-count");
    assert!(block.contains("FAIL exact-count"), "{stdout}");
    assert!(
        block.contains(
            r#"after the solution's SQL ran a second time, check 1 (sql on replicas) fails: pg2: got "200", wanted "100""#
        ),
        "{block}\n---\n{stdout}"
    );

    // A ran check with no target passes when the statement ran on a replica.
    let block = step_block(&stdout, sticky, "untargeted-ran");
    assert!(block.contains("FAIL untargeted-ran"), "{stdout}");
    assert!(
        block.contains(
            "with the solution's SQL run on read instead of write, check 1 (ran “pg_stat_replication”) passes: it succeeded"
        ),
        "{block}\n---\n{stdout}"
    );
    // The same check with its target is sound.
    assert!(stdout.contains("ok   targeted-ran"), "{stdout}");

    // A step that needs the one session holds in sticky mode, not in fresh mode.
    let block = step_block(&stdout, sticky, "needs-one-session");
    assert!(
        block.contains("ok   needs-one-session") || !block.contains("fails"),
        "{block}"
    );
    let block = step_block(&stdout, fresh, "needs-one-session");
    assert!(
        block.contains(
            "in fresh console mode, check 1 (sql on primary) still fails after the solution"
        ),
        "{block}\n---\n{stdout}"
    );
    assert!(stdout.contains("0 of 1 lessons sound"), "{stdout}");
}

#[test]
fn replay_paused_right_after_a_big_setup_finds_the_setup_replayed() {
    let c = TestCluster::new("t-verify-race", 107, Rt::Local);
    let stdout = verify_fixture(&c, "92-race.toml");
    // Without settling, pg3 was paused before it had replayed the lesson's setup, and the
    // count failed with "relation race_demo does not exist" (42P01).
    assert!(!stdout.contains("42P01"), "{stdout}");
    assert!(stdout.contains("ok   paused-at-once"), "{stdout}");
    assert!(stdout.contains("1 of 1 lessons sound"), "{stdout}");
}
