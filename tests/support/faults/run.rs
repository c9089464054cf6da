//! One fault sequence from start to end: bring the cluster up, start the load, carry out each
//! step and check the invariants after it, repair what is left at the end, then check that
//! every acknowledged row survived.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{Rt, TestCluster};

use super::check::{self, LossReport, Violation};
use super::exec::{Limits, Ran, carry_out, cli, log_tail, settle, status};
use super::load::{Load, Recorder, TABLE};
use super::observe::{Decided, Seen, StatusView, WriteOutcome, ask_all, client, ids_on, max_id_on};
use super::plan::{Action, Expect, Kind, Step};
use super::report::{Failover, Outcome, StepLine};

/// Writes straight to the process's stderr: the test harness captures `eprintln!`, and a run's
/// progress must show while it runs.
pub fn say(line: &str) {
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
}

/// How long the repairs may run, counted from their start: the last planned step may itself
/// run past the budget, and on a loaded machine the repairs of a Docker cluster (a heal per
/// node, `up`, a rewind) take over a minute, so a deadline shared with the steps left repairs
/// out and the unrepaired end was reported as the cluster's fault.
const REPAIR_TIME: Duration = Duration::from_secs(150);

struct Pending {
    window: usize,
    at_ms: u64,
    node: String,
}

pub struct Run<'a> {
    c: &'a TestCluster,
    limits: Limits,
    rec: Arc<Recorder>,
    started: Instant,
    /// When the repairs must be done by, from their start.
    repairs_due: Option<Instant>,
    lines: Vec<StepLine>,
    violations: Vec<Violation>,
    notes: Vec<String>,
    losses: Vec<LossReport>,
    /// The record's primary after each step, by window.
    authority: Vec<Option<String>>,
    initial: Option<String>,
    failovers: Vec<Failover>,
    pending_kill: Option<Pending>,
    skipped: usize,
    /// Standbys seen not streaming, since when; reported once, after [`check::FOLLOW_MS`].
    not_streaming: BTreeMap<String, (u64, bool)>,
}

impl<'a> Run<'a> {
    /// Brings `c` up with `replicas` replicas and starts the load; panics when it cannot.
    pub async fn start(c: &'a TestCluster, replicas: u8, limits: Limits) -> Run<'a> {
        let up = cli(
            c,
            &["up", "--replicas", &replicas.to_string()],
            limits.whole * 3,
        )
        .await;
        assert!(
            up.ok,
            "the cluster did not come up: {}\n{}",
            up.said(),
            up.stderr
        );
        create_table(c).await;
        let rec = Recorder::new();
        let initial = Decided::read(&c.cluster_dir()).primary;
        Run {
            c,
            limits,
            rec,
            started: Instant::now(),
            repairs_due: None,
            lines: Vec::new(),
            violations: Vec::new(),
            notes: Vec::new(),
            losses: Vec::new(),
            authority: Vec::new(),
            initial,
            failovers: Vec::new(),
            pending_kill: None,
            skipped: 0,
            not_streaming: BTreeMap::new(),
        }
    }

    /// Carries out `plan` under load, repairs, and checks the end.
    pub async fn go(mut self, seed: u64, plan: &[Step]) -> Outcome {
        let ep = |port| SocketAddr::from(([127, 0, 0, 1], port));
        let load = Load::start(
            self.rec.clone(),
            ep(self.c.write_port()),
            ep(self.c.read_port()),
        );
        tokio::time::sleep(Duration::from_millis(800)).await;
        for (i, step) in plan.iter().enumerate() {
            if self.started.elapsed() > self.limits.budget {
                self.skipped += 1;
                self.authority
                    .push(self.authority.last().cloned().flatten());
                continue;
            }
            self.step(step, plan.get(i + 1)).await;
        }
        let finale = self.repair(plan.len()).await;
        // Let the last writes land where the repairs left the writer.
        tokio::time::sleep(Duration::from_millis(800)).await;
        load.stop().await;
        self.conclude(seed, plan.len(), finale).await
    }

    /// One step, then the checks on what it left. A kill of the primary that the plan follows
    /// with a promotion is a failover: the promotion follows at once, as a user would do it,
    /// and the checks wait for it.
    async fn step(&mut self, step: &Step, next: Option<&Step>) {
        self.rec.set_window(step.index);
        let before = Decided::read(&self.c.cluster_dir());
        // What a refusal is judged against: the cluster must be what the model took it for.
        let strayed = match (&step.model, step.expect) {
            (Some(model), Expect::Refuse) => match status(self.c).await {
                Some(s) => check::model_differs(model, &s, &before),
                None => Some("no status".into()),
            },
            _ => None,
        };
        let at_ms = self.rec.now_ms();
        let ran = carry_out(self.c, step, &self.limits).await;
        let returned_ms = self.rec.now_ms();
        let failover = matches!(step.action, Action::Node { op: "kill", .. })
            && step.node().is_some()
            && step.node() == before.primary.as_deref()
            && next.is_some_and(|n| matches!(n.action, Action::Node { op: "promote", .. }));
        match &strayed {
            None => self
                .violations
                .extend(check::refused_what_it_must(step, ran.ok)),
            Some(how) => self.notes.push(format!(
                "step {} `{step}`: not judged, the run strayed from the model ({how})",
                step.index
            )),
        }
        if ran.timed_out {
            self.violations.push(Violation {
                window: step.index,
                check: "hangs",
                detail: format!(
                    "`{step}` did not return within {:.0} s",
                    ran.took.as_secs_f64()
                ),
            });
        } else if step.expect == Expect::Accept && !ran.ok {
            self.notes.push(format!(
                "step {} `{step}` was refused: {}",
                step.index,
                ran.said()
            ));
        }
        if let Some(node) = step
            .node()
            .filter(|_| ran.timed_out || (!ran.ok && step.expect != Expect::Refuse))
        {
            let log = log_tail(self.c, node, 3).await;
            if !log.is_empty() {
                self.notes.push(format!(
                    "step {} `{step}`: {node}'s server log: {log}",
                    step.index
                ));
            }
        }
        let output = format!("{}\n{}", ran.stdout, ran.stderr);
        self.losses
            .extend(check::losses_reported(step.index, &output));
        let (settled, (found, cluster)) = if failover {
            (None, (0, "checked after the promotion".to_string()))
        } else {
            let (_, settled) = settle(self.c, self.limits.settle).await;
            (settled, self.check_now(step.index).await)
        };
        let decided = Decided::read(&self.c.cluster_dir());
        self.track_failover(step, &ran, &before, &decided, at_ms, returned_ms);
        self.authority.push(decided.primary.clone());
        let line = StepLine {
            step: step.clone(),
            ok: ran.ok,
            timed_out: ran.timed_out,
            took: ran.took,
            settled,
            said: ran.said(),
            violations: found,
            deferred: failover,
            cluster,
        };
        say(&line.to_string());
        self.lines.push(line);
    }

    /// The checks on the cluster as it is now: status against direct answers, split brain,
    /// fences. Returns how many violations they found, and the cluster in a line.
    async fn check_now(&mut self, window: usize) -> (usize, String) {
        let Some(first) = status(self.c).await else {
            self.notes
                .push(format!("step {window}: status --json gave nothing"));
            return (0, "no status".into());
        };
        let before = ask_all(&first).await;
        let Some(s) = status(self.c).await else {
            return (0, "no status".into());
        };
        let after = ask_all(&s).await;
        let now_ms = self.rec.now_ms();
        let decided = Decided::read(&self.c.cluster_dir());
        let fenced = decided.fenced.clone();
        let agreed_seen = agreed(&before, &after);
        let mut has = Vec::new();
        for (name, seen) in agreed_seen.iter().filter(|(n, _)| !fenced.contains(n)) {
            let addr = s
                .node(name)
                .and_then(|n| n.connect.parse::<SocketAddr>().ok());
            if let (
                Seen::Answered {
                    in_recovery: true, ..
                },
                Some(addr),
            ) = (seen, addr)
            {
                if let Some(max) = max_id_on(addr).await {
                    has.push((name.clone(), max));
                }
            }
        }
        let mut found = check::status_tells_the_truth(window, &s, &before, &after);
        if let Some(primary) = decided.primary.as_deref() {
            found.extend(check::streaming_standbys_keep_up(
                window,
                now_ms,
                &self.rec.writes(),
                &s,
                primary,
                &has,
            ));
        }
        found.extend(check::split_brain_is_flagged(window, &s, &fenced));
        found.extend(check::one_writable_node(
            window,
            &agreed(&before, &after),
            &fenced,
        ));
        found.extend(check::fences_hold(window, &s, &fenced));
        found.extend(self.track_following(window, now_ms, &s, &decided));
        for v in &found {
            say(&format!("    VIOLATION {v}"));
        }
        let n = found.len();
        self.violations.extend(found);
        (n, cluster_line(&s, &fenced))
    }

    /// Standbys that stay out of streaming from a running primary for too long.
    fn track_following(
        &mut self,
        window: usize,
        now_ms: u64,
        s: &StatusView,
        decided: &Decided,
    ) -> Vec<Violation> {
        let Some(primary) = decided.primary.as_deref() else {
            self.not_streaming.clear();
            return Vec::new();
        };
        let now: BTreeSet<String> = check::not_streaming(s, &decided.fenced, primary)
            .into_iter()
            .collect();
        self.not_streaming.retain(|n, _| now.contains(n));
        let mut out = Vec::new();
        for node in now {
            let (since, reported) = self
                .not_streaming
                .entry(node.clone())
                .or_insert((now_ms, false));
            if !*reported {
                if let Some(v) = check::follows_the_primary(window, &node, *since, now_ms) {
                    *reported = true;
                    out.push(v);
                }
            }
        }
        out
    }

    /// A kill of the primary, then straight away a promotion that worked: a failover to time.
    fn track_failover(
        &mut self,
        step: &Step,
        ran: &Ran,
        before: &Decided,
        after: &Decided,
        at_ms: u64,
        returned_ms: u64,
    ) {
        let pending = self.pending_kill.take();
        let node = step.node().map(String::from);
        match (&step.action, pending) {
            (Action::Node { op: "kill", .. }, _)
                if ran.ok && node.is_some() && node == before.primary =>
            {
                self.pending_kill = node.map(|node| Pending {
                    window: step.index,
                    at_ms,
                    node,
                });
            }
            (Action::Node { op: "promote", .. }, Some(p))
                if ran.ok && p.window + 1 == step.index && node == after.primary =>
            {
                self.failovers.push(Failover {
                    old: p.node,
                    new: node.unwrap_or_default(),
                    kill_ms: p.at_ms,
                    promote_started_ms: at_ms,
                    promote_returned_ms: returned_ms,
                    first_write_ms: None,
                });
            }
            _ => {}
        }
    }

    /// Puts right what the steps left: resumes, heals, `up`, a primary if there is none,
    /// rewinds of fenced nodes. Each repair is a step, checked like the others. Returns how
    /// many there were.
    async fn repair(&mut self, first: usize) -> usize {
        self.repairs_due = Some(Instant::now() + REPAIR_TIME);
        let mut next = first;
        let mut queue: Vec<(Kind, Action)> = Vec::new();
        let node_op = |op: &'static str, node: &str, force: bool| Action::Node {
            op,
            node: node.to_string(),
            force,
        };
        if let Some(s) = status(self.c).await {
            for n in s.nodes.iter().filter(|n| n.state == "paused") {
                queue.push((Kind::Resume, node_op("resume", &n.name, false)));
            }
            if self.c.rt == Rt::Docker {
                for n in &s.nodes {
                    queue.push((Kind::Heal, node_op("heal", &n.name, false)));
                }
            }
        }
        queue.push((Kind::Up, Action::Up));
        for (kind, action) in queue.drain(..) {
            self.repair_with(&repair_step(&mut next, kind, action))
                .await;
        }
        let decided = Decided::read(&self.c.cluster_dir());
        let s = status(self.c).await.unwrap_or_default();
        let primary_serves = decided
            .primary
            .as_deref()
            .and_then(|p| s.node(p))
            .is_some_and(|n| n.role == "primary" && n.state == "running");
        if !primary_serves {
            let standby = s.nodes.iter().find(|n| {
                n.role == "replica" && n.state == "running" && !decided.fenced.contains(&n.name)
            });
            if let Some(n) = standby {
                queue.push((Kind::PromoteForce, node_op("promote", &n.name, true)));
            }
        }
        for (kind, action) in queue.drain(..) {
            self.repair_with(&repair_step(&mut next, kind, action))
                .await;
        }
        for node in Decided::read(&self.c.cluster_dir()).fenced {
            let step = repair_step(&mut next, Kind::Rewind, node_op("rewind", &node, false));
            self.repair_with(&step).await;
        }
        let s = status(self.c).await.unwrap_or_default();
        for n in s.nodes.iter().filter(|n| n.state == "stopped") {
            let step = repair_step(&mut next, Kind::Start, node_op("start", &n.name, false));
            self.repair_with(&step).await;
        }
        next - first
    }

    /// One repair, unless the time for repairs is up too (the end is then checked as it is).
    async fn repair_with(&mut self, step: &Step) {
        if self.repairs_due.is_some_and(|due| Instant::now() > due) {
            self.notes
                .push(format!("repair `{step}` left out: out of time"));
            return;
        }
        self.step(step, None).await;
    }

    /// The end: the cluster whole, the load's observations checked, every row accounted for.
    async fn conclude(mut self, seed: u64, planned: usize, finale: usize) -> Outcome {
        let last = planned + finale;
        let decided = Decided::read(&self.c.cluster_dir());
        let s = wait_whole(self.c, decided.primary.as_deref(), Duration::from_secs(15)).await;
        self.violations.extend(check::whole_at_the_end(
            last,
            &s,
            decided.primary.as_deref(),
        ));
        let writes = self.rec.writes();
        let reads = self.rec.reads();
        self.violations
            .extend(check::writes_reach_only_the_primary(&writes));
        self.violations
            .extend(check::reads_reach_only_standbys(&reads));
        self.violations.extend(check::one_writer_at_a_time(
            &writes,
            self.initial.as_deref(),
            &self.authority,
        ));
        let primary_addr = decided
            .primary
            .as_deref()
            .and_then(|p| s.node(p))
            .and_then(|n| n.connect.parse::<SocketAddr>().ok());
        let mut excused = Vec::new();
        match primary_addr {
            Some(addr) => match ids_on(addr).await {
                Ok(ids) => {
                    let (v, e) = check::acknowledged_rows_survive(&writes, &ids, &self.losses);
                    excused = e;
                    self.violations.extend(v);
                }
                Err(e) => self.violations.push(Violation {
                    window: last,
                    check: "lost-rows",
                    detail: format!("cannot read the rows on the final primary: {e}"),
                }),
            },
            None => self.violations.push(Violation {
                window: last,
                check: "lost-rows",
                detail: "no final primary to read the rows from".into(),
            }),
        }
        for f in &mut self.failovers {
            f.first_write_ms = writes
                .iter()
                .filter(|w| w.at_ms >= f.kill_ms && w.acked_by() == Some(f.new.as_str()))
                .map(|w| w.at_ms)
                .min();
        }
        self.violations.sort_by_key(|v| v.window);
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        for w in &writes {
            let why = match &w.outcome {
                WriteOutcome::Acked { .. } => continue,
                WriteOutcome::ReadOnly { .. } => "read-only (a standby)".to_string(),
                WriteOutcome::Failed { what } => what.clone(),
            };
            *reasons.entry(why).or_insert(0) += 1;
        }
        let mut reasons: Vec<(String, usize)> = reasons.into_iter().collect();
        reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
        reasons.truncate(5);
        let mut acked_by_step: BTreeMap<(usize, String), usize> = BTreeMap::new();
        for w in &writes {
            if let Some(node) = w.acked_by() {
                *acked_by_step
                    .entry((w.window, node.to_string()))
                    .or_insert(0) += 1;
            }
        }
        let failed = |o: &WriteOutcome| !matches!(o, WriteOutcome::Acked { .. });
        Outcome {
            runtime: self.c.rt.name(),
            seed,
            planned,
            skipped: self.skipped,
            finale,
            faults: self
                .lines
                .iter()
                .filter(|l| l.step.kind.is_fault() && l.ok)
                .count(),
            rows_acked: writes.iter().filter(|w| w.acked_by().is_some()).count(),
            writes: writes.len(),
            write_failures: writes.iter().filter(|w| failed(&w.outcome)).count(),
            failure_reasons: reasons,
            reads: reads.len(),
            excused,
            acked_by_step,
            violations: self.violations,
            notes: self.notes,
            failovers: self.failovers,
            took: self.started.elapsed(),
            lines: self.lines,
        }
    }
}

/// `pg1 primary running · pg2 replica paused (fenced) · …`, and HAProxy's routable servers.
fn cluster_line(s: &StatusView, fenced: &BTreeSet<String>) -> String {
    let nodes: Vec<String> = s
        .nodes
        .iter()
        .map(|n| {
            let streaming = if n.streaming == Some(false) {
                " not streaming"
            } else {
                ""
            };
            let fence = if fenced.contains(&n.name) {
                " (fenced)"
            } else {
                ""
            };
            format!("{} {} {}{streaming}{fence}", n.name, n.role, n.state)
        })
        .collect();
    let routes = |backend: &str| -> String {
        let up: Vec<&str> = s
            .haproxy
            .iter()
            .filter(|r| r.backend == backend && r.status.starts_with("UP"))
            .map(|r| r.server.as_str())
            .collect();
        up.join(",")
    };
    if s.haproxy.is_empty() {
        format!("{}; no HAProxy", nodes.join(" · "))
    } else {
        format!(
            "{}; writes→[{}] reads→[{}]",
            nodes.join(" · "),
            routes("write"),
            routes("read")
        )
    }
}

fn repair_step(next: &mut usize, kind: Kind, action: Action) -> Step {
    let step = Step {
        index: *next,
        kind,
        action,
        expect: Expect::Either,
        model: None,
    };
    *next += 1;
    step
}

/// The nodes that answered the same before and after: a node that changed in between says
/// nothing certain.
fn agreed(before: &[(String, Seen)], after: &[(String, Seen)]) -> Vec<(String, Seen)> {
    before
        .iter()
        .filter(|b| after.contains(b))
        .cloned()
        .collect()
}

/// Polls status until the cluster is whole (or `limit`); returns the last status.
async fn wait_whole(c: &TestCluster, primary: Option<&str>, limit: Duration) -> StatusView {
    let started = Instant::now();
    let mut last = StatusView::default();
    while started.elapsed() < limit {
        if let Some(s) = status(c).await {
            let whole = check::whole_at_the_end(0, &s, primary).is_empty()
                && check::settled(&s, &BTreeSet::new());
            last = s;
            if whole {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    last
}

/// The table the writer fills, made through the write endpoint.
async fn create_table(c: &TestCluster) {
    let addr = SocketAddr::from(([127, 0, 0, 1], c.write_port()));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = String::new();
    while Instant::now() < deadline {
        match client(addr, "mydatabase").await {
            Ok(cl) => match cl.batch_execute(TABLE).await {
                Ok(()) => return,
                Err(e) => last = e.to_string(),
            },
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("cannot create the table through the write endpoint: {last}");
}
