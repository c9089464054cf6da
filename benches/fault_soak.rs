//! `cargo bench --bench fault_soak`: the long seeded fault sequence under load, on each
//! runtime, with every invariant checked after each step (see `tests/support/faults.rs`).
//! Prints the step log, the counts (steps, rows written, faults, violations with the steps
//! that led to them) and failover timings: from the kill of the primary to `node promote`
//! returning, and to the first write the new primary acknowledged, median and max in ms.
//!
//! A report, not a test: violations are printed, not asserted; the exit code says only
//! whether it could run. `FAULT_SOAK_STEPS` (default 200), `FAULT_SOAK_SEED` (decimal or
//! 0x-hex, default 0x5EEDF417) and `FAULT_SOAK_RUNTIME` (`local`, `docker` or `both`, the
//! default) choose the run; the clusters use test slots 67 (local) and 68 (Docker), so run it
//! under the same lock as the cluster tests.

#[path = "../tests/support/mod.rs"]
mod support;
#[path = "../tests/support/faults.rs"]
mod faults;

use std::process::ExitCode;

use faults::exec::Limits;
use faults::plan::plan;
use faults::run::{Run, say};
use support::{Rt, TestCluster};

const REPLICAS: u8 = 2;

struct Settings {
    steps: usize,
    seed: u64,
    runtimes: Vec<(Rt, u8)>,
}

fn settings() -> Result<Settings, String> {
    let var = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_string());
    let steps = match var("FAULT_SOAK_STEPS") {
        None => 200,
        Some(v) => v.parse::<usize>().ok().filter(|n| *n >= 1).ok_or(format!(
            "FAULT_SOAK_STEPS={v:?} is not a number of steps (1 or more)"
        ))?,
    };
    let seed = match var("FAULT_SOAK_SEED") {
        None => 0x5EED_F417,
        Some(v) => match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => v.parse::<u64>().ok(),
        }
        .ok_or(format!(
            "FAULT_SOAK_SEED={v:?} is not a number (decimal or 0x-hex)"
        ))?,
    };
    let runtimes = match var("FAULT_SOAK_RUNTIME").as_deref() {
        None | Some("both") => vec![(Rt::Local, 67), (Rt::Docker, 68)],
        Some("local") => vec![(Rt::Local, 67)],
        Some("docker") => vec![(Rt::Docker, 68)],
        Some(v) => {
            return Err(format!(
                "FAULT_SOAK_RUNTIME={v:?} is not local, docker or both"
            ));
        }
    };
    Ok(Settings {
        steps,
        seed,
        runtimes,
    })
}

fn main() -> ExitCode {
    let s = match settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("fault_soak: {e}");
            return ExitCode::from(2);
        }
    };
    let tokio = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!("fault_soak: cannot start tokio: {e}");
            return ExitCode::from(2);
        }
    };
    let mut summaries = Vec::new();
    for (rt, slot) in &s.runtimes {
        let available = match rt {
            Rt::Local => Rt::local("fault_soak (local)"),
            Rt::Docker => Rt::docker("fault_soak (docker)"),
        };
        if available.is_none() {
            continue;
        }
        let c = TestCluster::new(&format!("soak-{}", rt.name()), *slot, *rt);
        let steps = plan(s.seed, s.steps, REPLICAS, *rt == Rt::Docker);
        say(&format!(
            "fault soak on {}: {} steps, seed {:#x}",
            rt.name(),
            s.steps,
            s.seed
        ));
        let outcome = tokio.block_on(async {
            tokio::select! {
                o = async { Run::start(&c, REPLICAS, Limits::soak()).await.go(s.seed, &steps).await } => Some(o),
                _ = tokio::signal::ctrl_c() => None,
            }
        });
        // `c` is dropped here whatever happened: `down` runs.
        drop(c);
        let Some(outcome) = outcome else {
            eprintln!("fault_soak: interrupted");
            return ExitCode::from(130);
        };
        let summary = outcome.summary();
        say(&summary);
        summaries.push(summary);
    }
    if summaries.is_empty() {
        eprintln!("fault_soak: no runtime could run");
        return ExitCode::from(2);
    }
    println!("\n{}", summaries.join("\n"));
    ExitCode::SUCCESS
}
