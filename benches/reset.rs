//! `cargo bench --bench reset`: how long a lesson's reset takes on the local runtime
//! (`replica-lab reset`: the cluster removed and made again). Measured side by side in one
//! run, `BENCH_ROUNDS` rounds of each (5 unless set): the reset copied from the template the
//! data folder keeps for the cluster's shape, and the same reset with no template, made from
//! scratch (initdb, pg_basebackup), as every reset was before templates; that one keeps a
//! template again on its way, and the time it takes for that is printed too. Medians, the
//! ratio and the target (1.5 s) are printed. A report, not a test.
//!
//! The cluster uses ports 23401-23403 and the nodes 127.0.150.11-14, in a throwaway folder;
//! `down` runs whatever happens.

mod support;

use std::path::Path;
use std::process::ExitCode;

use support::{
    BenchEnv, DownGuard, LOCAL_PASS_THROUGH, Ports, cannot_start, catch_interrupts,
    check_interrupted, conclude, cpu_count, env_setting, max, median, min, run_bin, scratch_dir,
    up_local, verdict,
};

const CLUSTER: &str = "bench-reset";
const REPLICAS: u8 = 3;
const TARGET_SECS: f64 = 1.5;

fn main() -> ExitCode {
    catch_interrupts();
    let rounds = match env_setting(
        "BENCH_ROUNDS",
        5,
        |n: &usize| *n >= 1,
        "a number of rounds (1 or more)",
    ) {
        Ok(n) => n,
        Err(e) => return cannot_start(e),
    };
    let scratch = match scratch_dir("replica-lab-bench-reset-") {
        Ok(d) => d,
        Err(e) => return cannot_start(e),
    };
    let root = scratch.path();
    let env = BenchEnv::keeping(LOCAL_PASS_THROUGH)
        .config_home(&root.join("no-config"))
        .state_home(&root.join("state"))
        .data_dir(root)
        .ports(Ports {
            write: 23401,
            read: 23402,
            stats: 23403,
        })
        .node_base("127.0.150.10");
    let mut down = DownGuard::new(env.clone(), CLUSTER, root.join("clusters").join(CLUSTER));
    let result = measure(&env, root, rounds);
    let removed = down.run();
    conclude(result, removed)
}

fn measure(env: &BenchEnv, root: &Path, rounds: usize) -> Result<(), String> {
    let reset = || run_bin(env, &["reset", "--name", CLUSTER]);
    up_local(env, CLUSTER, REPLICAS)?;
    let (mut copied, mut scratch, mut keeping) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        check_interrupted()?;
        let r = reset()?;
        if !r.stderr.contains("copy the template") {
            return Err(format!(
                "the reset was not copied from the template:\n{}",
                r.stderr
            ));
        }
        copied.push(r.secs);
        check_interrupted()?;
        std::fs::remove_dir_all(root.join("templates"))
            .map_err(|e| format!("cannot remove the templates: {e}"))?;
        let r = reset()?;
        let keep = r
            .phases()
            .into_iter()
            .find(|(name, _)| name.starts_with("keep a template"))
            .map(|(_, secs)| secs)
            .ok_or_else(|| format!("the reset from scratch kept no template:\n{}", r.stderr))?;
        scratch.push(r.secs);
        keeping.push(keep);
    }
    let (c, s) = (median(&copied), median(&scratch));
    println!(
        "reset of a local cluster, {REPLICAS} replicas, {rounds} rounds, {} CPUs",
        cpu_count()
    );
    let row = |what: &str, v: &[f64]| {
        println!(
            "  {what:<44} {:>6.2} s median ({:.2}-{:.2})",
            median(v),
            min(v),
            max(v)
        )
    };
    row("copied from the template", &copied);
    row("from scratch (initdb, pg_basebackup)", &scratch);
    row("  of which keeping a template", &keeping);
    println!("  {:<44} {:>6.2}", "ratio copied / from scratch", c / s);
    println!(
        "  {:<44} {}",
        format!("target: median <= {TARGET_SECS} s"),
        verdict(c <= TARGET_SECS)
    );
    Ok(())
}
