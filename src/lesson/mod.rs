//! Lessons: TOML files under `lessons/`, one per lesson, each a series of steps checked
//! against the live cluster. The shipped ones are built into the binary ([`builtin`]).
//!
//! # Format 1
//!
//! ```toml
//! format = 1                      # this version reads 1 only
//! id = "02-write-read"            # kebab-case; the file is named after it (02-write-read.toml)
//! title = "Write on the primary, read on a replica"
//! summary = "One or two sentences for the list of lessons."
//! requires = ["01-topology"]      # lessons whose files sort earlier; optional
//! replicas = 3                    # the cluster it is written for (default 3); it starts on one
//! setup = [{ sql = "CREATE TABLE …" }]  # optional: run on a fresh cluster when the lesson
//!                                       # starts or is reset (what it needs from earlier ones)
//!
//! [[steps]]                       # at least one
//! id = "create-table"             # kebab-case, unique in the lesson
//! title = "Create a table"
//! text = """Markdown shown in the lesson pane."""
//! target = "write"                # where the console points: write (default), read, pg1…pg10
//! session = "sticky"              # optional: the console mode the step needs, sticky (one
//!                                 # connection kept) or fresh (one per run); the app switches
//! sql = "CREATE TABLE …"          # optional: put into the editor when the step opens
//! hints = ["a nudge", "a bigger nudge", "nearly the answer"]   # at least one, shown in turn
//! setup = [{ action = "stop", node = "pg3" }]                   # optional, run when it opens
//!
//! [steps.solution]                # sql and/or actions; may be left out only when every check
//! sql = "CREATE TABLE …"          # of the step is a quiz
//! actions = [{ action = "promote", node = "pg2" }]
//!
//! [[steps.checks]]                # at least one, unless the step has a quiz and nothing else
//! kind = "sql"
//! target = "replicas"             # write, read, primary, replicas (every one), pg1…pg10
//! query = "SELECT count(*) FROM replication_test"
//! expect = "1"                    # or expect_rows = [["1", "hello"], ["2", { null = true }]]
//!                                 # or compare = { op = ">=", value = 1 }; exactly one
//! within = "10s"                  # optional: retry this long (at most 60s)
//!
//! [[steps.checks]]
//! kind = "ran"                    # the learner ran a statement…
//! matches = "insert into"         # …containing this (case-insensitive)…
//! sqlstate = "25006"              # …that failed so; or success = true
//! target = "read"                 # optional: …run there (write, read, pg1…pg10)
//!
//! [[steps.checks]]
//! kind = "telemetry"              # exactly one predicate:
//! streaming_replicas = 2          # or { op = ">=", value = 1 }
//! # role = { node = "pg2", is = "primary" }
//! # haproxy = { backend = "read", server = "pg2", status = "UP" }   # UP, DOWN or MAINT
//! # bytes_behind = { node = "pg2", stage = "replay", above = 0 }     # or below = N
//! # replay_paused = { node = "pg2", is = true }
//!
//! [[steps.checks]]
//! kind = "quiz"                   # the step's quiz, answered right
//!
//! [steps.quiz]                    # optional
//! question = "…"
//! choices = ["…", "…"]            # at least two
//! answer = 1                      # index into choices, from 0
//! explain = "…"
//! ```
//!
//! Actions: `{ action = A, node = "pgN" }` with A one of stop, start, kill, pause, resume,
//! promote, rewind, partition, heal, pause-replay, resume-replay; `{ action = "replay-delay",
//! node = "pgN", ms = 500 }`; `{ action = "scale", replicas = 3 }`; `{ sql = "…", target =
//! "write" }` (target defaults to write).
//!
//! Text, hints and SQL may hold `{{write}}`, `{{read}}`, `{{pg1}}`…`{{pg10}}` (host:port as a
//! client on this machine reaches it), `{{user}}`, `{{password}}` and `{{database}}`: the app
//! fills them in with the learner's own cluster. `{{replicas}}` anywhere in the file is the
//! lesson's `replicas`: write "the {{replicas}} replicas", never a number the cluster may not have.
//!
//! Every SQL text (a step's `sql`, a solution's `sql`, a check's `query`, an action's `sql`)
//! must parse with PostgreSQL's own parser once its placeholders hold sample values; a step's
//! or a solution's `sql` may instead be one console command (`\connect URL`, `\dt`, …).
//! Whether the tables it names exist is left to `lessons verify`.
//!
//! `expect` values compare as text, as PostgreSQL prints them: integers as digits, booleans as
//! `t`/`f`; write decimals as strings. A step with a quiz and no checks is done when the quiz
//! is answered; a step with other checks and a quiz lists `{ kind = "quiz" }` among them.
//! Unknown fields are errors.

pub mod act;
pub mod catalog;
pub mod clock;
pub mod course;
mod crossfile;
mod error;
pub mod evaluate;
pub mod generation;
pub mod load;
pub mod model;
pub mod probe;
pub mod progress;
mod raw;
mod read;
mod read_actions;
mod read_checks;
mod read_sql;
mod read_telemetry;
mod salvage;
pub mod settle;
mod span;
pub mod scaffold;
pub mod sql_syntax;
pub mod template;
mod toml_string;
mod validate;
pub mod verify;
mod verify_console;
pub mod verify_repeat;
mod verify_robust;

pub use error::{LessonError, Pos};
pub use load::{load_dir, load_files, parse};
pub use model::Lesson;

/// The shipped lessons, as (path in the repository, text), in order.
pub fn builtin() -> Vec<(&'static str, &'static str)> {
    macro_rules! lessons {
        ($($name:literal),* $(,)?) => {
            vec![$((
                concat!("lessons/", $name, ".toml"),
                include_str!(concat!("../../lessons/", $name, ".toml")),
            )),*]
        };
    }
    lessons![
        "01-topology",
        "02-write-read",
        "03-read-only",
        "04-load-balancing",
        "05-wal-pipeline",
        "06-lag-pitfalls",
        "07-replication-slots",
        "08-hot-standby-conflicts",
        "09-stale-reads",
        "10-synchronous-replication",
        "11-manual-failover",
        "12-split-brain-rewind",
        "13-scaling-out",
        "14-client-routing",
    ]
}

/// The shipped lessons, parsed and checked together.
pub fn builtin_lessons() -> Result<Vec<Lesson>, Vec<LessonError>> {
    load_files(&builtin())
}
