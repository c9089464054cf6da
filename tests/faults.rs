//! A short seeded fault sequence under load on each runtime: kills, stops, pauses, cuts,
//! HAProxy killed, promotions with and without --force, rewinds, scaling and `up` again,
//! with every invariant checked after each step and at the end. The run prints its step log
//! and a summary (steps, rows acknowledged, faults, violations with the steps that led to
//! them, failover timings) and fails on any violation. `benches/fault_soak.rs` runs the long
//! version.

mod support;
#[path = "support/faults.rs"]
mod faults;

use faults::exec::Limits;
use faults::plan::plan;
use faults::run::{Run, say};
use support::{Rt, TestCluster};

const SEED: u64 = 0x5EED_F417;
const STEPS: usize = 25;
const REPLICAS: u8 = 2;

#[tokio::test(flavor = "multi_thread")]
async fn local_survives_a_seeded_fault_sequence() {
    if let Some(rt) = Rt::local("local_survives_a_seeded_fault_sequence") {
        sequence(rt, 65).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_survives_a_seeded_fault_sequence() {
    if let Some(rt) = Rt::docker("docker_survives_a_seeded_fault_sequence") {
        sequence(rt, 66).await;
    }
}

/// The two runtimes one after the other: at once, on two cores, each would time the other.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn sequence(rt: Rt, slot: u8) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let c = TestCluster::new(&format!("t-{}-faults", rt.name()), slot, rt);
    let steps = plan(SEED, STEPS, REPLICAS, rt == Rt::Docker);
    say(&format!(
        "fault sequence on {} (seed {SEED:#x}):",
        rt.name()
    ));
    let outcome = Run::start(&c, REPLICAS, Limits::short())
        .await
        .go(SEED, &steps)
        .await;
    let summary = outcome.summary();
    say(&summary);
    assert!(
        outcome.rows_acked > 0,
        "no write was acknowledged:\n{summary}"
    );
    assert!(
        outcome.violations.is_empty(),
        "{} violations:\n{summary}",
        outcome.violations.len()
    );
}
