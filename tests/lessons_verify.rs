//! `lessons verify` on a real local cluster: every shipped lesson is sound, and lessons whose
//! checks assert nothing (or cannot pass) are caught with a message that says which and why.

mod support;

use support::{Rt, TestCluster};

#[test]
fn every_shipped_lesson_is_sound_on_a_real_cluster() {
    let c = TestCluster::new("t-verify", 25, Rt::Local);
    // The lessons are written for the default cluster: a primary and three replicas.
    let out = c.cmd(&["lessons", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let lessons = replica_lab::lesson::builtin_lessons().expect("the shipped lessons");
    let n = lessons.len();
    assert!(
        stdout.contains(&format!("{n} of {n} lessons sound")),
        "{stdout}"
    );
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
    // Verify removes its cluster.
    assert!(
        c.fails(&["status"]).contains("no cluster named"),
        "the cluster was left behind"
    );
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
    let c = TestCluster::new("t-verify-bad", 26, Rt::Local);
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
    // The second check of that step was honest: false before, true after.
    assert!(!stdout.contains("check 2 (sql on replicas)"), "{stdout}");
    assert!(stdout.contains("FAIL never-true"), "{stdout}");
    assert!(
        stdout.contains(
            r#"check 1 (sql on write) still fails after the solution: write: got "2", wanted "5""#
        ),
        "{stdout}"
    );
    assert!(stdout.contains("0 of 1 lessons sound"), "{stdout}");
    assert!(stderr.contains("problems in 90-hollow"), "{stderr}");
    assert!(c.fails(&["status"]).contains("no cluster named"));
}
