//! `cargo bench --bench lessons`: what the tutorial costs.
//!
//! 1. Loading and validating every shipped lesson (parse, check, cross-file `requires`), as
//!    the app does at start: 200 rounds after a warm-up, from the text built into the binary
//!    and from the `lessons/` folder on disk. Target: under 20 ms.
//! 2. How long a check takes to turn green after the statement that satisfies it, on a real
//!    2-replica local cluster (`up --runtime local --replicas 2 --name benchlesson`, on
//!    127.0.0.1:24205-24207 and 127.0.62.11-13). Each round inserts a row through the write
//!    endpoint, then judges, as the app does after a statement (`judge_sql` tried every
//!    `RETRY_EVERY`): a `sql` check on `write` (no replication involved), and one on
//!    `replicas` (which waits for replay). Beside the second, the bench polls both replicas
//!    directly every millisecond to time replication itself, so the check's own share is
//!    the difference. Target: under 1 s, excluding replication.
//! 3. Judging a step's checks that need no query (`ran`, telemetry, quiz) on a snapshot.
//!
//! A report, not a test: the targets are printed next to the figures. `down` runs whatever
//! happens, also on Ctrl-C.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use replica_lab::cluster::state::{ClusterRecord, cluster_dir};
use replica_lab::lesson::evaluate::{Attempt, Run, judge_local};
use replica_lab::lesson::model::{
    Check, CheckTarget, CmpOp, Compare, Expect, RanCheck, RanOutcome, SqlCheck, TelemetryCheck,
};
use replica_lab::lesson::probe::{PgQuery, Query, RETRY_EVERY, judge_sql};
use replica_lab::lesson::{builtin_lessons, load_dir};
use replica_lab::settings::Credentials;
use replica_lab::sql::Target;
use replica_lab::telemetry::snapshot_once;

use support::{
    BenchEnv, DownGuard, LOCAL_PASS_THROUGH, Ports, cannot_start, catch_interrupts,
    check_interrupted, conclude, max, median, min, percentile, scratch_dir, up_local, verdict,
};

const CLUSTER: &str = "benchlesson";
const PORTS: Ports = Ports {
    write: 24205,
    read: 24206,
    stats: 24204,
};
const NODE_BASE: &str = "127.0.62.10";

const LOAD_WARM_UP: usize = 20;
const LOAD_ROUNDS: usize = 200;
const CHECK_ROUNDS: usize = 30;
const LOCAL_ROUNDS: usize = 10_000;

const TARGET_LOAD_MS: f64 = 20.0;
const TARGET_GREEN_MS: f64 = 1000.0;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn row(label: &str, values: &[f64], target: Option<f64>) {
    let mark = target.map_or(String::new(), |t| {
        format!(
            "  target < {t:.0} ms: {}",
            verdict(percentile(values, 99.0) < t)
        )
    });
    println!(
        "  {label:<44} min {:>8.3}  median {:>8.3}  p99 {:>8.3}  max {:>8.3} ms{mark}",
        min(values),
        median(values),
        percentile(values, 99.0),
        max(values)
    );
}

fn loading() -> Result<(), String> {
    let count = builtin_lessons().map_err(|e| format!("{e:?}"))?.len();
    println!("loading and validating the {count} shipped lessons");
    let time = |what: &str, f: &dyn Fn() -> bool| -> Result<(), String> {
        for _ in 0..LOAD_WARM_UP {
            f();
        }
        let mut took = Vec::with_capacity(LOAD_ROUNDS);
        for _ in 0..LOAD_ROUNDS {
            let start = Instant::now();
            if !f() {
                return Err(format!("{what}: the lessons did not load"));
            }
            took.push(ms(start.elapsed()));
        }
        row(what, &took, Some(TARGET_LOAD_MS));
        Ok(())
    };
    time("built in (as the app starts)", &|| {
        builtin_lessons().is_ok()
    })?;
    time("from the lessons/ folder", &|| {
        load_dir(Path::new("lessons")).is_ok()
    })?;
    Ok(())
}

fn bench_env(root: &Path) -> BenchEnv {
    BenchEnv::keeping(LOCAL_PASS_THROUGH)
        .data_dir(root)
        .ports(PORTS)
        .node_base(NODE_BASE)
        .config_home(&root.join("no-config"))
}

async fn client(addr: SocketAddr, c: &Credentials) -> Result<tokio_postgres::Client, String> {
    let (client, conn) = tokio_postgres::Config::new()
        .host(addr.ip().to_string())
        .port(addr.port())
        .user(&c.user)
        .password(&c.password)
        .dbname(&c.database)
        .application_name("replica-lab-bench")
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

fn count_check(target: CheckTarget, at_least: f64) -> SqlCheck {
    SqlCheck {
        target,
        query: "SELECT count(*) FROM bench_green".into(),
        expect: Expect::Compare(Compare {
            op: CmpOp::Ge,
            value: at_least,
        }),
        within: Some(Duration::from_secs(10)),
    }
}

/// Tries `check` as the app's judging loop does until it passes; the time it took.
async fn until_green(
    q: &dyn Query,
    check: &SqlCheck,
    snap: &replica_lab::telemetry::model::Snapshot,
) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        let v = judge_sql(q, check, snap).await;
        if v.pass {
            return Ok(start.elapsed());
        }
        if start.elapsed() > Duration::from_secs(10) {
            return Err(format!("the check never passed: {}", v.detail));
        }
        tokio::time::sleep(RETRY_EVERY).await;
    }
}

/// When every replica shows `n` rows, polled every millisecond on kept connections.
async fn replicated(replicas: &[tokio_postgres::Client], n: i64) -> Result<Duration, String> {
    let start = Instant::now();
    for r in replicas {
        loop {
            let row = r
                .query_one("SELECT count(*) FROM bench_green", &[])
                .await
                .map_err(|e| e.to_string())?;
            if row.get::<_, i64>(0) >= n {
                break;
            }
            if start.elapsed() > Duration::from_secs(10) {
                return Err("replication took over 10 s".into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    Ok(start.elapsed())
}

async fn checks(root: &Path) -> Result<(), String> {
    up_local(&bench_env(root), CLUSTER, 2)?;
    let record = ClusterRecord::load(&cluster_dir(root, CLUSTER))
        .map_err(|e| e.to_string())?
        .ok_or("no cluster record")?;
    let topo = record.topology();
    let creds = topo.credentials.clone();
    let rt = support_runtime(&record, root)?;
    let snap = snapshot_once(rt.as_ref(), &topo).await;
    let writer = client(topo.endpoints.write, &creds).await?;
    writer
        .batch_execute("DROP TABLE IF EXISTS bench_green; CREATE TABLE bench_green (id int)")
        .await
        .map_err(|e| e.to_string())?;
    let mut replicas = Vec::new();
    for spec in topo.nodes.iter().filter(|n| n.name != "pg1") {
        replicas.push(client(rt.client_addr(spec), &creds).await?);
    }
    // The table must exist on the replicas before the first round.
    replicated(&replicas, 0).await.ok();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let q = PgQuery {
        credentials: creds.clone(),
        endpoint_tls: None,
    };
    let (mut on_write, mut on_replicas, mut replication, mut overhead) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 1..=CHECK_ROUNDS {
        check_interrupted()?;
        let n = i64::try_from(i).unwrap_or(i64::MAX);
        writer
            .execute("INSERT INTO bench_green VALUES ($1)", &[&(n as i32)])
            .await
            .map_err(|e| e.to_string())?;
        let w = until_green(&q, &count_check(CheckTarget::Write, n as f64), &snap).await?;
        on_write.push(ms(w));

        writer
            .execute("INSERT INTO bench_green VALUES ($1)", &[&(n as i32)])
            .await
            .map_err(|e| e.to_string())?;
        let wanted = (2 * n) as f64;
        let on_all = count_check(CheckTarget::Replicas, wanted);
        let (green, repl) = tokio::join!(
            until_green(&q, &on_all, &snap),
            replicated(&replicas, 2 * n)
        );
        let (green, repl) = (ms(green?), ms(repl?));
        on_replicas.push(green);
        replication.push(repl);
        overhead.push((green - repl).max(0.0));
    }
    println!(
        "\na check turning green after the statement that satisfies it ({CHECK_ROUNDS} rounds)"
    );
    row(
        "sql on write (no replication)",
        &on_write,
        Some(TARGET_GREEN_MS),
    );
    row("sql on replicas, with replication", &on_replicas, None);
    row("  of which replication itself", &replication, None);
    row("  the check's own share", &overhead, Some(TARGET_GREEN_MS));

    let step_checks = vec![
        Check::Ran(RanCheck {
            matches: "insert into".into(),
            outcome: RanOutcome::Success,
            target: Some(Target::Write),
            session: None,
        }),
        Check::Telemetry(TelemetryCheck::StreamingReplicas(Compare {
            op: CmpOp::Ge,
            value: 2.0,
        })),
    ];
    let attempt = Attempt {
        runs: (0..20)
            .map(|i| Run {
                text: format!("INSERT INTO t VALUES ({i})"),
                target: Target::Write,
                sqlstate: None,
                fresh: false,
            })
            .collect(),
        quiz_answer: None,
    };
    let start = Instant::now();
    for _ in 0..LOCAL_ROUNDS {
        for c in &step_checks {
            std::hint::black_box(judge_local(c, &attempt, None, Some(&snap)));
        }
    }
    println!(
        "\njudging a ran and a telemetry check without I/O: {:.2} µs per step",
        start.elapsed().as_secs_f64() * 1e6 / LOCAL_ROUNDS as f64
    );
    Ok(())
}

/// The runtime the CLI builds for the bench's local cluster.
fn support_runtime(
    record: &ClusterRecord,
    root: &Path,
) -> Result<Box<dyn replica_lab::runtime::ClusterRuntime>, String> {
    use replica_lab::runtime::binaries::Binaries;
    use replica_lab::runtime::local::{LocalRuntime, ServiceUser};
    let s = &record.settings;
    let bins = Binaries::find(s.pg_bindir.as_deref(), s.haproxy_bin.as_deref())
        .map_err(|e| e.to_string())?;
    let user = ServiceUser::resolve(&s.os_user).map_err(|e| e.to_string())?;
    Ok(Box::new(LocalRuntime::new(
        cluster_dir(root, CLUSTER),
        bins,
        user,
    )))
}

fn main() -> ExitCode {
    if let Err(e) = loading() {
        return cannot_start(e);
    }
    let scratch = match scratch_dir("replica-lab-bench-lessons.") {
        Ok(d) => d,
        Err(e) => return cannot_start(e),
    };
    if let Err(e) = std::fs::create_dir(scratch.path().join("no-config")) {
        return cannot_start(format!("cannot create an empty config folder: {e}"));
    }
    catch_interrupts();
    let root = scratch.path();
    let mut down = DownGuard::new(bench_env(root), CLUSTER, cluster_dir(root, CLUSTER));
    let result = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt.block_on(checks(root)),
        Err(e) => Err(format!("cannot start tokio: {e}")),
    };
    conclude(result, down.run())
}
