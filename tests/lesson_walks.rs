//! Lessons walked in the real binary on a real local cluster, the way learners who fell into
//! their traps walked them: a statement repeated, the console left in fresh mode by an earlier
//! lesson, a statement left running while moving on, a hint's way of doing a step. Every step
//! must still turn green.

mod support;

use std::time::{Duration, Instant};

use portable_pty::CommandBuilder;
use support::pty::Pty;
use support::{BIN, Rt, TestCluster};

const F2: &[u8] = b"\x1bOQ";
const F5: &[u8] = b"\x1b[15~";
const F7: &[u8] = b"\x1b[18~";
const F10: &[u8] = b"\x1b[21~";
const CTRL_C: &[u8] = b"\x03";
const CTRL_L: &[u8] = b"\x0c";
const CTRL_N: &[u8] = b"\x0e";
const TAB: &[u8] = b"\t";
const DOWN: &[u8] = b"\x1b[B";
const ENTER: &[u8] = b"\r";
const BACKSPACE: &[u8] = b"\x7f";

/// Replication and the cluster's own work share two cores with the other walks.
const CLUSTER: Duration = Duration::from_secs(60);
const SCREEN: Duration = Duration::from_secs(20);

const OUTPUT: &str = "Output";
const RUNNING: &str = "running…";

/// The app in a pseudo-terminal, driven as a learner does.
struct Walk {
    app: Pty,
    syncs: usize,
}

impl Walk {
    /// The app on cluster `c`, once lesson 1 has opened on a cluster that is up.
    fn start(c: &TestCluster) -> Walk {
        let mut cmd = CommandBuilder::new(BIN);
        cmd.args(["--name", &c.name]);
        for (k, v) in c.command(&[]).get_envs() {
            if let (Some(v), Some(k)) = (v, k.to_str()) {
                cmd.env(k, v);
            }
        }
        let app = Pty::spawn(cmd, 50, 160);
        let w = Walk { app, syncs: 0 };
        w.wait(CLUSTER, "lesson 1 open on a running cluster", |s| {
            s.contains("Step 1/") && s.contains("pg4") && s.contains("UP") && !s.contains("⧗")
        });
        w
    }

    fn send(&mut self, keys: &[u8]) {
        self.app.send(keys);
    }

    /// The screen once `cond` holds on two reads a moment apart. A frame arrives in several
    /// reads, and a screen read between them shows the new title over the old footer, say.
    fn wait(&self, limit: Duration, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            self.app.wait_for(left, what, &cond);
            std::thread::sleep(Duration::from_millis(200));
            let again = self.app.text();
            if cond(&again) {
                return again;
            }
        }
    }

    /// Returns once the app has handled every key sent so far: a mark typed into the editor
    /// shows, and is taken out again. Under load the app may be behind the keys, and a screen
    /// read before it caught up shows the last run's output as if it were this one's.
    fn sync(&mut self) {
        self.syncs += 1;
        let mark = format!("--sync-{}", self.syncs);
        self.send(F2);
        self.send(mark.as_bytes());
        self.app
            .wait_for(SCREEN, "the keys handled", |s| s.contains(&mark));
        self.send(&BACKSPACE.repeat(mark.len()));
    }

    /// Runs what the editor holds, and returns once it has been handed to the session.
    fn start_run(&mut self) {
        self.send(F2);
        self.send(F5);
        self.sync();
    }

    /// The output pane once nothing runs.
    fn finished(&self, limit: Duration, what: &str) -> String {
        self.wait(limit, what, |s| !s.contains(RUNNING));
        self.output()
    }

    fn output(&self) -> String {
        self.app.pane(OUTPUT).unwrap_or_default()
    }

    /// Whether the output pane says `phrase`, which it may have wrapped over lines.
    fn output_says(&self, phrase: &str) -> bool {
        words(&self.output()).contains(phrase)
    }

    /// Runs what the editor holds; the output once it finished.
    fn run_editor(&mut self, limit: Duration) -> String {
        self.start_run();
        self.finished(limit, "the statement in the editor to finish")
    }

    /// Types `sql` into an emptied editor and runs it; the output once it finished.
    fn run(&mut self, sql: &str) -> String {
        self.send(F2);
        self.send(CTRL_L);
        self.send(sql.as_bytes());
        self.run_editor(CLUSTER)
    }

    /// Opens the lesson at `index` in the lesson list (F10), whose prerequisites are not
    /// done, and waits for its first step, titled `first`, to be set up.
    fn open_lesson(&mut self, index: usize, id: &str, first: &str) -> String {
        self.send(F10);
        self.app
            .wait_for(SCREEN, "the lesson list", |s| s.contains(id));
        for _ in 0..index {
            self.send(DOWN);
        }
        self.send(ENTER);
        let question = format!("Open {id} now?");
        self.app.wait_for(SCREEN, "the prerequisite question", |s| {
            s.contains(&question)
        });
        self.send(b"y");
        self.wait(CLUSTER, "the lesson's first step, set up", |s| {
            s.contains("Step 1/") && s.contains(first) && !s.contains("⧗")
        })
    }

    /// Waits for step `n` (of `total`) to be done.
    fn done(&self, n: usize, total: usize) -> String {
        let at = format!("Step {n}/{total} ·");
        self.wait(CLUSTER, &format!("step {n} done"), |s| {
            s.contains(&at) && s.contains("✓ Step done.")
        })
    }

    /// Ctrl-N, and waits for step `n` (of `total`), whose title begins with `title`, to be
    /// open and set up.
    fn next(&mut self, n: usize, total: usize, title: &str) -> String {
        self.send(CTRL_N);
        let at = format!("Step {n}/{total} · {title}");
        self.wait(CLUSTER, &format!("step {n} open"), |s| {
            s.contains(&at) && !s.contains("⧗")
        })
    }

    /// Answers the step's quiz with choice `key` (1 is the first), from the lesson pane.
    fn answer(&mut self, key: &[u8]) {
        self.send(F2);
        // Editor → results → nodes → lesson.
        self.send(TAB);
        self.send(TAB);
        self.send(TAB);
        self.send(key);
    }

    /// F7, and waits for the title bar to say `mode`.
    fn toggle_fresh(&mut self, mode: &str) {
        self.send(F7);
        let shown = format!("· {mode}");
        self.app
            .wait_for(SCREEN, &format!("the console {mode}"), |s| {
                s.lines().next().is_some_and(|bar| bar.contains(&shown))
            });
    }

    /// The open step's text and checks as one line of words, as wrapped lines join up.
    fn lesson_text(&self, n: usize, total: usize) -> String {
        words(
            &self
                .app
                .pane(&format!("Step {n}/{total}"))
                .unwrap_or_default(),
        )
    }

    fn title_bar(&self) -> String {
        self.app
            .text()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    }
}

/// `text`'s words, one space apart.
fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The shipped cluster of lesson 1, with its three replicas, under `name` in `slot`.
fn cluster(name: &str, slot: u8) -> Option<TestCluster> {
    let rt = Rt::local(name)?;
    let c = TestCluster::new(name, slot, rt);
    c.up(3);
    Some(c)
}

const SLOTS: &str = "SELECT slot_name, active, restart_lsn FROM pg_replication_slots;";

/// Lesson 7, with step 4's write done twice, as its text invites ("the figure grows with
/// every write"): pg3 then has more rows than one write makes, and step 6 still passes.
#[test]
fn lesson_seven_with_the_write_repeated() {
    let Some(c) = cluster("t-walk-07", 110) else {
        return;
    };
    let mut w = Walk::start(&c);
    w.open_lesson(6, "07-replication-slots", "One slot per replica");
    w.run(
        "SELECT slot_name, slot_type, active, active_pid, restart_lsn, wal_status \
         FROM pg_replication_slots;",
    );
    w.done(1, 6);

    w.next(2, 6, "Who is who");
    assert!(w.title_bar().contains("SQL → pg3"), "{}", w.app.text());
    let out = w.run("SELECT status, slot_name, sender_host, conninfo FROM pg_stat_wal_receiver;");
    assert!(out.contains("streaming"), "{}", w.app.text());
    w.answer(b"2");
    w.done(2, 6);

    // The Nodes pane's way: pg3 is the third node listed.
    w.next(3, 6, "A replica goes away");
    w.send(F2);
    w.send(TAB);
    w.send(TAB);
    w.send(DOWN);
    w.send(DOWN);
    w.send(b"s");
    w.app.wait_for(SCREEN, "the question to stop pg3", |s| {
        s.contains("Stop pg3?")
    });
    w.send(b"y");
    w.run(SLOTS);
    w.done(3, 6);

    w.next(4, 6, "WAL piles up");
    let write = "INSERT INTO slot_load (id, payload) \
                 SELECT g, repeat('x', 100) FROM generate_series(1, 200000) AS g;";
    let out = w.run(write);
    assert!(out.contains("INSERT 0 200000"), "{}", w.app.text());
    w.done(4, 6);
    let out = w.run(
        "SELECT slot_name, active, wal_status, \
         pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)) AS retained \
         FROM pg_replication_slots;",
    );
    assert!(
        out.contains("retained") && out.contains("MB"),
        "{}",
        w.app.text()
    );
    let out = w.run(write);
    assert!(out.contains("INSERT 0 200000"), "{}", w.app.text());

    w.next(5, 6, "The safety valve");
    let out = w.run("SHOW max_slot_wal_keep_size;");
    assert!(out.contains("1GB"), "{}", w.app.text());
    w.answer(b"2");
    w.done(5, 6);

    // The shell's way this time.
    w.next(6, 6, "Back and caught up");
    c.ok(&["node", "start", "pg3"]);
    w.run(
        "SELECT slot_name, active, \
         pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)) AS retained \
         FROM pg_replication_slots;",
    );
    let screen = w.done(6, 6);
    assert!(screen.contains("next lesson"), "{screen}");
}

const DEAD_ROWS: &str =
    "SELECT n_live_tup, n_dead_tup FROM pg_stat_user_tables WHERE relname = 'conflict_demo';";
const HOLDERS: &str = "SELECT s.slot_name, s.xmin, r.backend_xmin \
     FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid;";

/// pg2's `xmin` in the output of [`HOLDERS`].
fn pg2_slot_xmin(output: &str) -> Option<String> {
    output.lines().find_map(|l| {
        let value = l.trim_start().strip_prefix("pg2")?.trim_start();
        let value = value.strip_prefix('│')?.trim_start();
        let digits: String = value.chars().take_while(char::is_ascii_digit).collect();
        (!digits.is_empty()).then_some(digits)
    })
}

/// Lesson 8 after an earlier lesson left the console in fresh mode: the app switches to one
/// sticky session for the steps that hold a transaction, the first step's BEGIN stays open,
/// and the last step's text matches a console that already moved to `write`.
#[test]
fn lesson_eight_from_a_console_left_fresh() {
    let Some(c) = cluster("t-walk-08", 111) else {
        return;
    };
    let mut w = Walk::start(&c);
    w.toggle_fresh("fresh");

    w.open_lesson(7, "08-hot-standby-conflicts", "A long report");
    assert!(
        w.title_bar().contains("SQL → pg2 · sticky"),
        "{}",
        w.app.text()
    );
    assert!(
        w.output_says("this step needs one sticky connection"),
        "{}",
        w.app.text()
    );
    let out = w.run("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM conflict_demo;");
    assert!(out.contains("10000"), "{}", w.app.text());
    assert!(w.title_bar().contains("in transaction"), "{}", w.app.text());
    w.done(1, 6);

    // The editor holds both statements; one run.
    w.next(2, 6, "The clash");
    w.run_editor(CLUSTER);
    assert!(w.output_says("conflict with recovery"), "{}", w.app.text());
    w.answer(b"1");
    w.done(2, 6);

    w.next(3, 6, "Counting conflicts");
    w.run(
        "ROLLBACK; SELECT datname, confl_snapshot, confl_lock, confl_bufferpin, \
         confl_tablespace, confl_deadlock FROM pg_stat_database_conflicts \
         WHERE datname = current_database();",
    );
    w.done(3, 6);

    let screen = w.next(4, 6, "hot_standby_feedback");
    assert!(w.title_bar().contains("· sticky"), "{screen}");
    let out = w.run("ALTER SYSTEM SET hot_standby_feedback = on;");
    assert!(out.contains("ALTER SYSTEM"), "{}", w.app.text());
    w.run("SELECT pg_reload_conf();");
    w.run("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM conflict_demo;");
    w.done(4, 6);

    w.next(5, 6, "No clash this time");
    let out = w.run("SELECT pg_sleep(10), count(*) FROM conflict_demo;");
    assert!(out.contains("5000"), "{}", w.app.text());
    w.done(5, 6);

    // The console moved to write by itself; the text says so and asks for no F6.
    let screen = w.next(6, 6, "The primary pays");
    assert!(w.title_bar().contains("SQL → write"), "{screen}");
    let text = w.lesson_text(6, 6);
    assert!(
        text.contains("Do not press F6") && !text.contains("Press F6"),
        "{text}"
    );
    let out = w.run(&format!("{DEAD_ROWS} {HOLDERS}"));
    assert!(w.output_says("was rolled back"), "{}", w.app.text());
    // A VACUUM before pg2 has reported its new horizon (about once a second) removes nothing.
    // A learner reading the slot takes that long anyway; the test reads it until it moves.
    let held = pg2_slot_xmin(&out).unwrap_or_else(|| panic!("pg2's xmin:\n{out}"));
    let moved = (0..30).any(|_| pg2_slot_xmin(&w.run(HOLDERS)).is_some_and(|x| x != held));
    assert!(moved, "pg2's horizon stayed at {held}:\n{}", w.app.text());
    let out = w.run("VACUUM conflict_demo;");
    assert!(out.contains("VACUUM"), "{}", w.app.text());
    w.run(DEAD_ROWS);
    w.answer(b"2");
    let screen = w.done(6, 6);
    assert!(screen.contains("next lesson"), "{screen}");
}

/// Lesson 10, with step 4's INSERT left waiting as its text says and cancelled in step 5:
/// the statement that ends there is the one step 5 asks for.
#[test]
fn lesson_ten_with_the_insert_left_waiting() {
    let Some(c) = cluster("t-walk-10", 112) else {
        return;
    };
    let mut w = Walk::start(&c);
    w.open_lesson(9, "10-synchronous-replication", "Name a synchronous");
    w.run("ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 (pg2, pg3)';");
    w.run("SELECT pg_reload_conf();");
    w.done(1, 6);

    w.next(2, 6, "How far must");
    let out = w.run(
        "BEGIN; SET LOCAL synchronous_commit = remote_apply; \
         INSERT INTO replication_test (message) VALUES ('applied on pg2 before commit returned'); \
         COMMIT;",
    );
    assert!(out.contains("COMMIT"), "{}", w.app.text());
    w.answer(b"2");
    w.done(2, 6);

    w.next(3, 6, "A quorum");
    w.run("ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (pg2, pg3)';");
    w.run("SELECT pg_reload_conf();");
    w.done(3, 6);

    // The editor holds the INSERT; it waits for standbys that are gone, and is left waiting.
    w.next(4, 6, "When the standbys");
    w.start_run();
    let screen = w.done(4, 6);
    assert!(screen.contains(RUNNING), "{screen}");

    let screen = w.next(5, 6, "Cancel the wait");
    assert!(screen.contains(RUNNING), "{screen}");
    w.send(CTRL_C);
    let out = w.finished(SCREEN, "the wait cancelled");
    assert!(
        w.output_says("canceling wait for synchronous replication") && out.contains("INSERT 0 1"),
        "{}",
        w.app.text()
    );
    w.answer(b"2");
    w.done(5, 6);

    w.next(6, 6, "Back to asynchronous");
    c.ok(&["node", "start", "pg2"]);
    c.ok(&["node", "start", "pg3"]);
    w.run("ALTER SYSTEM RESET synchronous_standby_names;");
    w.run("SELECT pg_reload_conf();");
    let screen = w.done(6, 6);
    assert!(screen.contains("next lesson"), "{screen}");
}

/// Lesson 13, step 2 done the way its second hint says: the loop ran once on its own, then
/// again with `replica-lab scale 4` typed in a shell while it runs. pg5 then holds more rows
/// than one loop writes.
#[test]
fn lesson_thirteen_scaled_during_a_second_loop() {
    let Some(c) = cluster("t-walk-13", 113) else {
        return;
    };
    let mut w = Walk::start(&c);
    w.open_lesson(12, "13-scaling-out", "What a new replica needs");
    w.run(SLOTS);
    w.answer(b"2");
    w.done(1, 4);

    // The editor holds the loop: once by itself, to its end.
    w.next(2, 4, "Add a replica under load");
    w.start_run();
    assert!(w.app.text().contains(RUNNING), "{}", w.app.text());
    let out = w.finished(CLUSTER, "the first loop's end");
    assert!(out.contains("DO"), "{}", w.app.text());
    w.start_run();
    assert!(w.app.text().contains(RUNNING), "{}", w.app.text());
    c.ok(&["scale", "4"]);
    w.done(2, 4);
    // The rest of the loop adds nothing to the step: cancelled, not waited for.
    w.send(CTRL_C);
    w.finished(SCREEN, "the second loop cancelled");

    w.next(3, 4, "The new replica");
    w.toggle_fresh("fresh");
    for _ in 0..3 {
        w.run_editor(SCREEN);
    }
    w.answer(b"2");
    w.done(3, 4);

    w.next(4, 4, "Scale back in");
    c.ok(&["scale", "3"]);
    w.run(SLOTS);
    let screen = w.done(4, 4);
    assert!(screen.contains("next lesson"), "{screen}");
}

/// Lesson 14 from a console left in fresh mode: its second step holds the `\connect`
/// session open, which only a sticky console does; the app switches.
#[test]
fn lesson_fourteen_from_a_console_left_fresh() {
    let Some(c) = cluster("t-walk-14", 114) else {
        return;
    };
    let mut w = Walk::start(&c);
    w.toggle_fresh("fresh");

    // The editor holds the query.
    w.open_lesson(13, "14-client-routing", "Where the nodes are");
    w.run_editor(SCREEN);
    w.done(1, 5);

    w.next(2, 5, "Ask for a writable server");
    assert!(w.title_bar().contains("· sticky"), "{}", w.app.text());
    assert!(
        w.output_says("this step needs one sticky connection"),
        "{}",
        w.app.text()
    );
    w.run_editor(SCREEN);
    let out = w.run(
        "SELECT inet_server_addr(), pg_is_in_recovery(), current_setting('application_name');",
    );
    assert!(out.contains("routing-lesson"), "{}", w.app.text());
    w.done(2, 5);
    let screen = w.app.text();
    assert!(screen.contains("served by pg1"), "{screen}");
}
