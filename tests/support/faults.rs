//! Seeded fault sequences under load, with the cluster's invariants checked after every step:
//! no write reaches a standby, no read reaches a primary, one writer at a time, a split brain
//! is flagged and fenced, `status --json` says what the nodes say, and every acknowledged
//! row survives unless the app reported its loss.
//!
//! Included by path (`#[path = "support/faults.rs"] mod faults;`) next to `mod support;`,
//! from `tests/faults.rs` and `benches/fault_soak.rs`, so its unit tests run once.
//! `plan` makes the steps, `load` writes and reads, `observe` holds what was seen, `check`
//! judges it, `exec` carries steps out, `run` drives a sequence, `report` tells it.

// Each includer uses a part; and a bench is built with cfg(test) but no test harness, which
// leaves the unit tests' helpers unused there.
#![allow(dead_code, unused_imports)]

#[path = "faults/check.rs"]
pub mod check;
#[path = "faults/exec.rs"]
pub mod exec;
#[path = "faults/load.rs"]
pub mod load;
#[path = "faults/observe.rs"]
pub mod observe;
#[path = "faults/plan.rs"]
pub mod plan;
#[path = "faults/report.rs"]
pub mod report;
#[path = "faults/run.rs"]
pub mod run;
