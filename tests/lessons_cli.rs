//! `replica-lab lessons check`, as an instructor runs it.

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
        stderr.contains("cannot read tests/bad_lessons/no-such-file.toml"),
        "{stderr}"
    );
}
