//! Lesson files: the shipped lessons load, every kind of mistake is reported at its line,
//! column and field, and no input makes the parser panic.

use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::prelude::*;
use replica_lab::cluster::node_op::NodeOp;
use replica_lab::cluster::status::Role;
use replica_lab::lesson::model::{
    Action, Bound, Check, CheckTarget, CmpOp, Compare, Expect, MAX_WITHIN, ProxyBackend,
    ProxyStatus, RanOutcome, SqlCheck, TelemetryCheck, WalStage,
};
use replica_lab::lesson::{
    Lesson, LessonError, builtin, builtin_lessons, catalog, load_dir, parse,
};
use replica_lab::sql::Target;

const BAD: &str = "tests/bad_lessons";

/// The model's promises, whatever file it came from.
fn assert_invariants(lesson: &Lesson) {
    assert_eq!(lesson.format, 1);
    assert!(!lesson.id.is_empty());
    assert!(!lesson.steps.is_empty(), "{}: no steps", lesson.id);
    for step in &lesson.steps {
        let at = format!("{}/{}", lesson.id, step.id);
        assert!(!step.hints.is_empty(), "{at}: no hints");
        assert!(!step.checks.is_empty(), "{at}: no checks");
        let quiz_checks = step.checks.iter().filter(|c| **c == Check::Quiz).count();
        assert_eq!(
            quiz_checks,
            usize::from(step.quiz.is_some()),
            "{at}: quiz checks"
        );
        if let Some(q) = &step.quiz {
            assert!(q.choices.len() >= 2, "{at}: choices");
            assert!(q.answer < q.choices.len(), "{at}: answer");
        }
        if step.checks.iter().any(|c| *c != Check::Quiz) {
            let s = step
                .solution
                .as_ref()
                .expect("a step with checks has a solution");
            assert!(
                s.sql.is_some() || !s.actions.is_empty(),
                "{at}: empty solution"
            );
        }
        for check in &step.checks {
            if let Check::Sql(SqlCheck {
                within: Some(w), ..
            }) = check
            {
                assert!(!w.is_zero() && *w <= MAX_WITHIN, "{at}: within {w:?}");
            }
        }
    }
}

fn lessons_folder() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("lessons")
        .expect("the lessons folder")
        .map(|e| e.expect("a folder entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            format!(
                "lessons/{}",
                p.file_name().unwrap_or_default().to_string_lossy()
            )
        })
        .collect();
    names.sort();
    names
}

#[test]
fn every_shipped_lesson_parses_and_validates() {
    let lessons = builtin_lessons().unwrap_or_else(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        panic!("the shipped lessons have errors:\n{}", lines.join("\n"))
    });
    // One lesson per file of lessons/, named after it, in file-name order (teaching order).
    let ids: Vec<&str> = lessons.iter().map(|l| l.id.as_str()).collect();
    let stems: Vec<String> = lessons_folder()
        .iter()
        .map(|f| {
            f.trim_start_matches("lessons/")
                .trim_end_matches(".toml")
                .to_string()
        })
        .collect();
    assert!(!ids.is_empty(), "no lesson is shipped");
    assert_eq!(
        ids, stems,
        "the shipped lessons are not those of lessons/, in order"
    );
    for lesson in &lessons {
        assert_invariants(lesson);
    }
    // Each file also stands on its own.
    for (file, text) in builtin() {
        if let Err(errors) = parse(file, text) {
            panic!("{file}: {errors:?}");
        }
    }
}

#[test]
fn shipped_lesson_ids_are_unique() {
    let lessons = builtin_lessons().expect("the shipped lessons");
    let mut ids: Vec<&str> = lessons.iter().map(|l| l.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), lessons.len());
}

#[test]
fn every_lesson_file_on_disk_is_built_in_and_nothing_else() {
    let on_disk = lessons_folder();
    assert!(!on_disk.is_empty(), "lessons/ holds no *.toml file");
    let built_in: Vec<String> = builtin().iter().map(|(f, _)| f.to_string()).collect();
    let not_built_in: Vec<&String> = on_disk.iter().filter(|f| !built_in.contains(f)).collect();
    assert!(
        not_built_in.is_empty(),
        "{not_built_in:?} are in lessons/ but not built in: list them in lesson::builtin()"
    );
    let not_on_disk: Vec<&String> = built_in.iter().filter(|f| !on_disk.contains(f)).collect();
    assert!(
        not_on_disk.is_empty(),
        "{not_on_disk:?} are built in but not in lessons/: remove them from lesson::builtin()"
    );
    assert_eq!(
        built_in, on_disk,
        "list every file of lessons/ once in lesson::builtin(), in file-name order"
    );
    for (file, text) in builtin() {
        let on_disk = std::fs::read_to_string(file).expect("a shipped lesson");
        assert_eq!(text, on_disk, "{file} is embedded under another name");
    }
    assert_eq!(
        load_dir("lessons").expect("the lessons folder loads"),
        builtin_lessons().expect("the shipped lessons")
    );
}

#[test]
fn shipped_lessons_check_what_they_teach() {
    let lessons = builtin_lessons().expect("the shipped lessons");
    let checks = |id: &str| -> Vec<Check> {
        lessons
            .iter()
            .find(|l| l.id == id)
            .map(|l| l.steps.iter().flat_map(|s| s.checks.clone()).collect())
            .unwrap_or_default()
    };
    let topology = checks("01-topology");
    // A replica refuses pg_current_wal_lsn(): proof the learner ran it through `read`.
    assert!(topology.iter().any(|c| matches!(
        c,
        Check::Ran(r) if r.outcome == RanOutcome::Sqlstate("55000".into())
    )));
    assert!(topology.contains(&Check::Quiz));
    let write_read = checks("02-write-read");
    assert!(write_read.iter().any(|c| matches!(
        c,
        Check::Sql(SqlCheck {
            target: CheckTarget::Replicas,
            within: Some(_),
            ..
        })
    )));
    let read_only = checks("03-read-only");
    assert!(read_only.iter().any(|c| matches!(
        c,
        Check::Ran(r) if r.outcome == RanOutcome::Sqlstate("25006".into())
    )));
    let balancing = checks("04-load-balancing");
    assert!(balancing.iter().any(|c| matches!(
        c,
        Check::Ran(r) if r.matches.contains("inet_server_addr()") && r.outcome == RanOutcome::Success
    )));
    assert!(balancing.contains(&Check::Quiz));
    let requires: Vec<Vec<String>> = lessons.iter().map(|l| l.requires.clone()).collect();
    assert_eq!(
        requires[..4],
        [
            vec![],
            vec!["01-topology".to_string()],
            vec!["02-write-read".to_string()],
            vec!["03-read-only".to_string()]
        ]
    );
    // After the first, every lesson builds on an earlier one: one path through the course.
    for (i, lesson) in lessons.iter().enumerate().skip(1) {
        assert!(
            !lesson.requires.is_empty(),
            "{} requires nothing",
            lesson.id
        );
        for r in &lesson.requires {
            let at = lessons.iter().position(|l| &l.id == r);
            assert!(at.is_some_and(|at| at < i), "{} requires {r}", lesson.id);
        }
    }
}

/// Each fixture and every error it must give, as displayed. Each is read from disk as
/// `lessons check FILE` reads it, so a file that is not UTF-8 is a fixture too.
const FIXTURES: &[(&str, &[&str])] = &[
    (
        "bad-id.toml",
        &[
            "2:6: id: invalid id \"Bad_Id\": use lowercase letters, digits and single hyphens, like 02-write-read",
        ],
    ),
    (
        "duplicate-step-id.toml",
        &["21:6: steps[1].id: duplicate step id \"first\": steps[0] has it too"],
    ),
    (
        "empty-hints.toml",
        &["10:9: steps[0].hints: a step needs at least one hint"],
    ),
    (
        "id-mismatch.toml",
        &[
            "2:6: id: id \"other-name\" does not match the file name \"id-mismatch.toml\": name the file other-name.toml",
        ],
    ),
    (
        "missing-field.toml",
        &["6:1: steps[0].text: missing field `text`"],
    ),
    (
        "missing-solution.toml",
        &[
            "6:1: steps[0].solution: missing field `solution`: add [steps.solution] with the `sql` or `actions` that do the step",
        ],
    ),
    (
        "missing-steps.toml",
        &["1:1: steps: missing field `steps`: a lesson needs at least one [[steps]] table"],
    ),
    (
        "not-utf8.toml",
        &["8:15: byte 0xE8 is not UTF-8: lesson files are UTF-8 text; save the file as UTF-8"],
    ),
    (
        "quiz-answer-out-of-range.toml",
        &["15:10: steps[0].quiz.answer: answer 3 is out of range: the choices are numbered 0 to 2"],
    ),
    (
        "quiz-check-without-quiz.toml",
        &["20:1: steps[0].checks[1]: a quiz check needs a quiz on its step: add [steps.quiz]"],
    ),
    (
        "ran-both-outcomes.toml",
        &[
            "19:11: steps[0].checks[0].success: a ran check takes `sqlstate` or `success = true`, not both",
        ],
    ),
    (
        "requires-unknown.toml",
        &["5:13: requires[0]: requires unknown lesson \"00-intro\""],
    ),
    (
        "scale-out-of-range.toml",
        &[
            "6:37: setup[0].node: scale acts on the whole cluster and takes no `node`",
            "6:55: setup[0].replicas: 12 replicas is out of range: 1 to 9",
        ],
    ),
    (
        "several-mistakes.toml",
        &[
            "8:9: steps[0].title: must not be empty",
            "10:10: steps[0].target: unknown target \"reed\": use write, read or pg1…pg10",
            "21:10: steps[0].checks[0].within: invalid duration \"forever\": write it like \"10s\", \"500ms\" or \"1m\"",
            "27:9: steps[1].hints: a step needs at least one hint",
            "28:56: steps[1].setup[0].ms: only replay-delay takes `ms`, not pause-replay",
            "35:40: steps[1].checks[0].bytes_behind.stage: unknown stage \"apply\": use sent, write, flush or replay",
            "40:12: steps[1].checks[1].sqlstate: invalid SQLSTATE \"oops\": five digits or capital letters, like \"25006\"",
        ],
    ),
    (
        "sql-syntax-error.toml",
        &[
            "7:19: setup[1].sql: PostgreSQL cannot parse this SQL: syntax error at or near \"TABEL\"",
            "15:7: steps[0].sql: unknown console command \\dx: the console takes \\dt, \\d NAME, \\x, \\timing, \\conninfo and \\connect URL",
            "16:49: steps[0].setup[0].sql: PostgreSQL cannot parse this SQL: syntax error at end of input",
            "21:37: steps[0].solution.sql: PostgreSQL cannot parse this SQL: syntax error at or near \";\"",
            "30:20: steps[0].checks[0].query: PostgreSQL cannot parse this SQL: syntax error at or near \",\"",
            "36:17: steps[0].checks[1].query: PostgreSQL cannot parse this SQL: zero-length delimited identifier at or near \"\"\"\"",
            "47:7: steps[1].solution.sql: \\connect needs an argument: \\c postgresql://host:port,host:port/db?target_session_attrs=read-write (also load_balance_hosts=random, application_name, connect_timeout), or key=value pairs: \\c host=a,b port=1,2 target_session_attrs=read-only; user, password and database default to the cluster's",
        ],
    ),
    (
        "syntax-error.toml",
        &["8:20: invalid basic string, expected `\"`"],
    ),
    (
        "two-expectations.toml",
        &[
            "25:1: steps[0].checks[1].compare: a sql check takes exactly one of `expect`, `expect_rows` or `compare`; this one also has `expect`",
        ],
    ),
    (
        "two-predicates.toml",
        &[
            "23:1: steps[0].checks[1].replay_paused: a telemetry check takes exactly one predicate; this one also has `streaming_replicas`",
        ],
    ),
    (
        "unknown-action.toml",
        &[
            "11:21: steps[0].setup[0].action: unknown action \"reboot\": use stop, start, kill, pause, resume, promote, rewind, partition, heal, pause-replay, resume-replay, replay-delay or scale",
        ],
    ),
    (
        "unknown-check-kind.toml",
        &[
            "16:8: steps[0].checks[0].kind: unknown check kind \"query\": use sql, ran, telemetry or quiz",
        ],
    ),
    (
        "unknown-field.toml",
        &[
            "10:1: steps[0].hint: unknown field `hint`, expected one of `id`, `title`, `text`, `target`, `session`, `sql`, `hints`, `setup`, `solution`, `checks`, `quiz`",
        ],
    ),
    (
        "unknown-node.toml",
        &["11:36: steps[0].setup[0].node: unknown node \"pg11\": nodes are pg1…pg10"],
    ),
    (
        "unknown-session.toml",
        &[
            "9:11: steps[0].session: session \"persistent\" is not a console mode: write \"sticky\" (one connection kept) or \"fresh\" (a new one per run)",
        ],
    ),
    (
        "unknown-target.toml",
        &[
            "22:10: steps[0].checks[1].target: unknown target \"prg2\": use write, read, primary, replicas or pg1…pg10",
        ],
    ),
    (
        "within-too-long.toml",
        &["25:10: steps[0].checks[1].within: within \"2m\" is too long: at most 60s"],
    ),
    (
        "wrong-format.toml",
        &["1:10: format: unsupported format 2: this version of replica-lab reads format 1"],
    ),
    (
        "wrong-type.toml",
        &["8:9: steps[0].title: invalid type: integer `3`, expected a string"],
    ),
];

/// Folders of lessons whose mistake is between files, and the errors they must give.
const FIXTURE_FOLDERS: &[(&str, &[&str])] = &[
    (
        "duplicate-id",
        &[
            "02-second.toml:2:6: id: id \"01-first\" does not match the file name \"02-second.toml\": name the file 01-first.toml",
            "02-second.toml:2:6: id: duplicate lesson id \"01-first\": tests/bad_lessons/duplicate-id/01-first.toml has it too",
        ],
    ),
    (
        "requires-later",
        &[
            "01-first.toml:5:13: requires[0]: requires \"02-second\", which comes later (tests/bad_lessons/requires-later/02-second.toml): a lesson can only require lessons whose files sort before its own",
        ],
    ),
];

fn shown(errors: &[LessonError]) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}

#[test]
fn every_bad_lesson_gives_its_error() {
    for (name, expected) in FIXTURES {
        let file = format!("{BAD}/{name}");
        let errors = match catalog::load(Some(Path::new(&file))) {
            Ok(_) => panic!("{file} loaded without errors"),
            Err(e) => e,
        };
        let expected: Vec<String> = expected.iter().map(|e| format!("{file}:{e}")).collect();
        assert_eq!(shown(&errors), expected, "{file}");
        for e in &errors {
            assert_eq!(e.file, file);
            assert!(e.pos.is_some(), "{e}: no position");
        }
    }
}

#[test]
fn mistakes_between_files_are_found_in_folders() {
    for (folder, expected) in FIXTURE_FOLDERS {
        let dir = format!("{BAD}/{folder}");
        let errors = load_dir(&dir).expect_err("a bad folder");
        let expected: Vec<String> = expected.iter().map(|e| format!("{dir}/{e}")).collect();
        assert_eq!(shown(&errors), expected, "{dir}");
    }
}

#[test]
fn every_fixture_is_asserted() {
    let mut files = Vec::new();
    let mut folders = Vec::new();
    for entry in std::fs::read_dir(BAD).expect("the fixtures folder") {
        let path: PathBuf = entry.expect("an entry").path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        if path.is_dir() {
            folders.push(name);
        } else {
            files.push(name);
        }
    }
    files.sort();
    folders.sort();
    let asserted: Vec<&str> = FIXTURES.iter().map(|(n, _)| *n).collect();
    assert_eq!(files, asserted, "FIXTURES lists every file, in name order");
    let asserted: Vec<&str> = FIXTURE_FOLDERS.iter().map(|(n, _)| *n).collect();
    assert_eq!(folders, asserted);
    assert!(Path::new(BAD).join("syntax-error.toml").exists());
}

#[test]
fn the_error_line_has_file_line_column_and_field() {
    let text = std::fs::read_to_string(format!("{BAD}/unknown-target.toml")).expect("fixture");
    let errors = parse("lessons/02-write-read.toml", &text).expect_err("a bad target");
    let e = &errors[0];
    assert_eq!((e.line(), e.col()), (Some(22), Some(10)));
    assert_eq!(e.field, "steps[0].checks[1].target");
    assert_eq!(
        e.to_string(),
        "lessons/02-write-read.toml:22:10: steps[0].checks[1].target: unknown target \"prg2\": \
         use write, read, primary, replicas or pg1…pg10"
    );
}

const EVERYTHING: &str = r#"
format = 1
id = "05-everything"
title = "Everything"
summary = "Uses every part of the format."
requires = []
replicas = 2
setup = [{ sql = "CREATE TABLE t (id int)" }, { action = "scale", replicas = 3 }]

[[steps]]
id = "break-it"
title = "Break it"
text = "Text."
target = "pg2"
sql = "SELECT 1;"
hints = ["one", "two"]
setup = [
  { action = "stop", node = "pg3" },
  { action = "pause-replay", node = "pg2" },
  { action = "resume-replay", node = "pg2" },
  { action = "replay-delay", node = "pg4", ms = 1500 },
  { sql = "CHECKPOINT" },
  { sql = "SELECT 1", target = "read" },
]

[steps.solution]
sql = "SELECT 2;"
actions = [{ action = "promote", node = "pg2" }, { action = "heal", node = "pg10" }]

[[steps.checks]]
kind = "sql"
target = "primary"
query = "SELECT id, message, ok FROM t ORDER BY id"
expect_rows = [["1", "hello", true], [2, { null = true }, false]]
within = "500ms"

[[steps.checks]]
kind = "sql"
target = "pg10"
query = "SELECT pg_is_in_recovery()"
expect = true

[[steps.checks]]
kind = "sql"
target = "replicas"
query = "SELECT count(*) FROM t"
compare = { op = "!=", value = 0.5 }
within = "1m"

[[steps.checks]]
kind = "ran"
matches = "INSERT"
sqlstate = "25006"
target = "read"

[[steps.checks]]
kind = "telemetry"
streaming_replicas = 2

[[steps.checks]]
kind = "telemetry"
role = { node = "pg2", is = "primary" }

[[steps.checks]]
kind = "telemetry"
haproxy = { backend = "read", server = "pg3", status = "MAINT" }

[[steps.checks]]
kind = "telemetry"
bytes_behind = { node = "pg3", stage = "replay", above = 1024 }

[[steps.checks]]
kind = "telemetry"
bytes_behind = { node = "pg3", stage = "sent", below = 1 }

[[steps.checks]]
kind = "telemetry"
replay_paused = { node = "pg2", is = true }

[[steps.checks]]
kind = "quiz"

[steps.quiz]
question = "Q?"
choices = ["a", "b", "c"]
answer = 2
explain = "Because."

[[steps]]
id = "quiz-only"
title = "Only a quiz"
text = "Answer."
hints = ["Think."]

[steps.quiz]
question = "Q2?"
choices = ["yes", "no"]
answer = 0
explain = "E."
"#;

#[test]
fn every_part_of_the_format_reads_into_the_model() {
    let lesson = parse("05-everything.toml", EVERYTHING).unwrap_or_else(|e| panic!("{e:?}"));
    assert_invariants(&lesson);
    assert_eq!(lesson.replicas, 2);
    assert_eq!(
        lesson.setup,
        [
            Action::Sql {
                sql: "CREATE TABLE t (id int)".into(),
                target: Target::Write
            },
            Action::Scale { replicas: 3 }
        ]
    );
    let first = &lesson.steps[0];
    assert_eq!(first.target, Target::Node("pg2".into()));
    assert_eq!(first.sql.as_deref(), Some("SELECT 1;"));
    let node = |n: &str| n.to_string();
    assert_eq!(
        first.setup,
        [
            Action::Node {
                op: NodeOp::Stop,
                node: node("pg3"),
                force: false,
            },
            Action::PauseReplay { node: node("pg2") },
            Action::ResumeReplay { node: node("pg2") },
            Action::ReplayDelay {
                node: node("pg4"),
                ms: 1500
            },
            Action::Sql {
                sql: "CHECKPOINT".into(),
                target: Target::Write
            },
            Action::Sql {
                sql: "SELECT 1".into(),
                target: Target::Read
            },
        ]
    );
    let solution = first.solution.as_ref().expect("a solution");
    assert_eq!(solution.sql.as_deref(), Some("SELECT 2;"));
    assert_eq!(
        solution
            .actions
            .iter()
            .map(Action::label)
            .collect::<Vec<_>>(),
        ["promote pg2", "heal pg10"]
    );
    let text = |s: &str| Some(s.to_string());
    assert_eq!(
        first.checks,
        [
            Check::Sql(SqlCheck {
                target: CheckTarget::Primary,
                query: "SELECT id, message, ok FROM t ORDER BY id".into(),
                expect: Expect::Rows(vec![
                    vec![text("1"), text("hello"), text("t")],
                    vec![text("2"), None, text("f")],
                ]),
                within: Some(Duration::from_millis(500)),
            }),
            Check::Sql(SqlCheck {
                target: CheckTarget::Node("pg10".into()),
                query: "SELECT pg_is_in_recovery()".into(),
                expect: Expect::Value("t".into()),
                within: None,
            }),
            Check::Sql(SqlCheck {
                target: CheckTarget::Replicas,
                query: "SELECT count(*) FROM t".into(),
                expect: Expect::Compare(Compare {
                    op: CmpOp::Ne,
                    value: 0.5
                }),
                within: Some(Duration::from_secs(60)),
            }),
            Check::Ran(replica_lab::lesson::model::RanCheck {
                matches: "INSERT".into(),
                outcome: RanOutcome::Sqlstate("25006".into()),
                target: Some(Target::Read),
                session: None,
            }),
            Check::Telemetry(TelemetryCheck::StreamingReplicas(Compare {
                op: CmpOp::Eq,
                value: 2.0
            })),
            Check::Telemetry(TelemetryCheck::Role {
                node: node("pg2"),
                is: Role::Primary
            }),
            Check::Telemetry(TelemetryCheck::Haproxy {
                backend: ProxyBackend::Read,
                server: node("pg3"),
                status: ProxyStatus::Maint
            }),
            Check::Telemetry(TelemetryCheck::BytesBehind {
                node: node("pg3"),
                stage: WalStage::Replay,
                bound: Bound::Above(1024)
            }),
            Check::Telemetry(TelemetryCheck::BytesBehind {
                node: node("pg3"),
                stage: WalStage::Sent,
                bound: Bound::Below(1)
            }),
            Check::Telemetry(TelemetryCheck::ReplayPaused {
                node: node("pg2"),
                is: true
            }),
            Check::Quiz,
        ]
    );
    let quiz = first.quiz.as_ref().expect("a quiz");
    assert_eq!((quiz.answer, quiz.choices.len()), (2, 3));
    assert!(quiz.is_right(2) && !quiz.is_right(0));

    // A step with only a quiz: done when the quiz is answered, no solution needed.
    let second = &lesson.steps[1];
    assert_eq!(second.target, Target::Write);
    assert_eq!(second.checks, [Check::Quiz]);
    assert_eq!(second.solution, None);
    assert!(second.setup.is_empty());
}

#[test]
fn the_model_helpers_judge_what_they_see() {
    let mut ran = replica_lab::lesson::model::RanCheck {
        matches: "insert into".into(),
        outcome: RanOutcome::Sqlstate("25006".into()),
        target: None,
        session: None,
    };
    let read = Target::Read;
    assert!(ran.satisfied_by("INSERT INTO t VALUES (1)", &read, Some("25006"), false));
    assert!(!ran.satisfied_by("INSERT INTO t VALUES (1)", &read, None, false));
    assert!(!ran.satisfied_by("SELECT 1", &read, Some("25006"), false));
    ran.target = Some(Target::Node("pg2".into()));
    assert!(!ran.satisfied_by("INSERT INTO t VALUES (1)", &read, Some("25006"), false));
    assert!(ran.satisfied_by(
        "INSERT INTO t VALUES (1)",
        &Target::Node("pg2".into()),
        Some("25006"),
        false
    ));
    assert!(ProxyStatus::Up.matches("UP 1/2"));
    assert!(!ProxyStatus::Up.matches("DOWN"));
    assert!(Bound::Above(0).holds(1) && !Bound::Below(0).holds(0));
    assert_eq!(ProxyBackend::Write.name(), "write");
}

/// Structural errors deep in a file point at the nested field; errors in separate items are
/// all reported; several syntax errors are reported together.
#[test]
fn errors_point_into_nested_tables_and_do_not_hide_each_other() {
    let with_checks = |checks: &str| {
        format!(
            "format = 1\nid = \"x\"\ntitle = \"t\"\nsummary = \"s\"\n\n[[steps]]\nid = \"a\"\n\
             title = \"t\"\ntext = \"t\"\nhints = [\"h\"]\nsolution = {{ sql = \"SELECT 1\" }}\n\
             checks = [\n{checks}\n]\n"
        )
    };
    let text = with_checks(
        "  { kind = \"telemetry\", role = { node = \"pg2\", is = \"replica\", extra = 1 } },\n  \
         { kind = \"telemetry\", role = { node = \"pg2\" } },\n  \
         { kind = \"sql\", target = \"write\", query = \"SELECT 1\", expect = 1.5 },\n  \
         { kind = \"sql\", target = \"write\", query = \"SELECT 1\", expect_rows = [[\"a\"], [\"b\", \"c\"]] },",
    );
    let errors = parse("x.toml", &text).expect_err("four mistakes");
    assert_eq!(
        shown(&errors),
        [
            "x.toml:13:64: steps[0].checks[0].role.extra: unknown field `extra`, expected `node` or `is`",
            "x.toml:14:32: steps[0].checks[1].role.is: missing field `is`",
            "x.toml:15:66: steps[0].checks[2].expect: write a decimal as a string, exactly as PostgreSQL prints it (\"1.50\")",
            "x.toml:16:79: steps[0].checks[3].expect_rows[1]: this row has 2 values and the first has 1: every row has one value per column",
        ]
    );

    let errors = parse("x.toml", "format = 1\nid = \"a\nx = = 2\n").expect_err("syntax");
    assert!(errors.len() >= 2, "{errors:?}");
    assert!(errors.iter().all(|e| e.field.is_empty() && e.pos.is_some()));

    let errors = parse("x.toml", "").expect_err("empty");
    assert_eq!(
        shown(&errors),
        ["x.toml:1:1: format: missing field `format`: a lesson file starts with `format = 1`"]
    );
}

/// A valid lesson to mutate.
fn seed() -> impl Strategy<Value = &'static str> {
    let mut texts: Vec<&'static str> = builtin().into_iter().map(|(_, t)| t).collect();
    texts.push(EVERYTHING);
    proptest::sample::select(texts)
}

const SNIPPETS: &[&str] = &[
    "\"",
    "'",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "=",
    ",",
    "\n",
    "\\",
    "#",
    "\"\"\"",
    "é",
    "\u{0}",
    "format = 2\n",
    "kind = \"sql\"\n",
    "target = \"pg99\"\n",
    "answer = -1\n",
    "within = \"61s\"\n",
    "[[steps]]\n",
    "[[steps.checks]]\n",
    "[steps.quiz]\n",
    "checks = []\n",
    "hints = []\n",
    "expect = { null = true }\n",
    "ms = 99999999999\n",
    "streaming_replicas = -3\n",
    "compare = { op = \"~\", value = nan }\n",
    "requires = [\"04-load-balancing\"]\n",
    "id = \"first\"\n",
    "x = 1\n",
];

#[derive(Clone, Debug)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, &'static str),
    DuplicateLine(usize),
    SwapLines(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(at, n)| Edit::Delete(at, n)),
        (any::<usize>(), proptest::sample::select(SNIPPETS))
            .prop_map(|(at, s)| Edit::Insert(at, s)),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut text = text.to_string();
    for e in edits {
        let boundary = |t: &str, at: usize| {
            let mut at = at % (t.len() + 1);
            while !t.is_char_boundary(at) {
                at -= 1;
            }
            at
        };
        match *e {
            Edit::Delete(at, n) => {
                let start = boundary(&text, at);
                let end = boundary(&text, (start + n).min(text.len()));
                text.replace_range(start..end.max(start), "");
            }
            Edit::Insert(at, s) => {
                let at = boundary(&text, at);
                text.insert_str(at, s);
            }
            Edit::DuplicateLine(i) => {
                let mut lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let i = i % lines.len();
                    lines.insert(i, lines[i]);
                }
                text = lines.join("\n");
            }
            Edit::SwapLines(a, b) => {
                let mut lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let n = lines.len();
                    lines.swap(a % n, b % n);
                }
                text = lines.join("\n");
            }
        }
    }
    text
}

/// Whatever `parse` says, it says it in a well-formed way.
fn check_outcome(text: &str) {
    match parse("p.toml", text) {
        Ok(lesson) => assert_invariants(&lesson),
        Err(errors) => {
            assert!(!errors.is_empty());
            let lines = text.split('\n').count();
            for e in &errors {
                assert_eq!(e.file, "p.toml");
                assert!(!e.message.is_empty(), "{e:?}");
                if let Some(p) = e.pos {
                    assert!(
                        p.line >= 1 && p.line <= lines && p.col >= 1,
                        "{e} in {lines} lines"
                    );
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_arbitrary_text(text in any::<String>()) {
        check_outcome(&text);
    }

    #[test]
    fn parse_never_panics_on_toml_like_text(text in "[a-z0-9_ =\\[\\]{}\"'.,#\\n-]{0,300}") {
        check_outcome(&text);
    }

    #[test]
    fn parse_never_panics_on_mutated_lessons(
        base in seed(),
        edits in proptest::collection::vec(edit(), 1..6),
    ) {
        check_outcome(&apply(base, &edits));
    }
}

/// A lesson's text must hold however the learner's cluster is set up: the endpoints' and
/// nodes' addresses come from placeholders, never as written for the default settings.
#[test]
fn shipped_lessons_name_no_address_or_port_of_the_default_settings() {
    let defaults = replica_lab::settings::Settings::default();
    let base = u32::from(defaults.node_base);
    let mut literal = vec![
        defaults.write_port.to_string(),
        defaults.read_port.to_string(),
        defaults.stats_port.to_string(),
        defaults.node_ports_from.to_string(),
    ];
    // node_base and the addresses of pg1…pg10 on it.
    literal.extend((0..=10).map(|i| std::net::Ipv4Addr::from(base + i).to_string()));
    for file in lessons_folder() {
        let text = std::fs::read_to_string(&file).expect("lesson file");
        for (n, line) in text.lines().enumerate() {
            for l in &literal {
                let at = line.find(l.as_str());
                // 127.0.0.1 is a prefix of 127.0.0.10: only a whole address counts.
                let digit = |c: char| c.is_ascii_digit();
                let whole = at.is_some_and(|i| {
                    !line[i + l.len()..].starts_with(digit) && !line[..i].ends_with(digit)
                });
                assert!(
                    !whole,
                    "{file}:{}: {l} is the default settings' value: use a placeholder \
                     ({{{{write}}}}, {{{{read}}}}, {{{{pg1}}}}…)\n{line}",
                    n + 1
                );
            }
        }
    }
}

/// A `ran` check passes on any statement that matches, wherever it ran; unless only the
/// primary could run it (a write that succeeded) or the console went where a URL says
/// (`\connect`), it must say where.
#[test]
fn shipped_ran_checks_say_where_whenever_it_matters() {
    let writes = [
        "insert", "update", "delete", "create", "alter", "drop", "vacuum",
    ];
    for lesson in builtin_lessons().expect("the shipped lessons") {
        for step in &lesson.steps {
            let by_url = step
                .solution
                .as_ref()
                .and_then(|s| s.sql.as_deref())
                .is_some_and(|sql| sql.trim_start().starts_with("\\c"));
            for check in &step.checks {
                let Check::Ran(ran) = check else { continue };
                let primary_only = ran.outcome == RanOutcome::Success
                    && writes
                        .iter()
                        .any(|w| ran.matches.to_lowercase().starts_with(w));
                assert!(
                    ran.target.is_some() || primary_only || by_url,
                    "{} / {}: ran {:?} names no target, so it passes wherever it ran",
                    lesson.id,
                    step.id,
                    ran.matches
                );
            }
        }
    }
}
