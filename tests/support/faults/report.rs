//! What a run found, and how it reads: the step log, the violations with the steps that led to
//! them, the counts, and the failover timings.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::check::Violation;
use super::plan::Step;

/// One step as it went.
#[derive(Clone, Debug)]
pub struct StepLine {
    pub step: Step,
    pub ok: bool,
    pub timed_out: bool,
    pub took: Duration,
    /// How long until HAProxy agreed with the roles; `None`: not within the limit.
    pub settled: Option<Duration>,
    pub said: String,
    /// Found by the checks right after it.
    pub violations: usize,
    /// A kill of the primary whose checks waited for the promotion after it.
    pub deferred: bool,
    /// The cluster after it, in a line.
    pub cluster: String,
}

impl fmt::Display for StepLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = match (self.ok, self.timed_out) {
            (_, true) => "HUNG",
            (true, _) => "ok",
            (false, _) => "refused",
        };
        let settled = match (self.settled, self.deferred) {
            (_, true) => "promotion next".to_string(),
            (Some(d), _) => format!("settled {:.1} s", d.as_secs_f64()),
            (None, _) => "not settled".into(),
        };
        write!(
            f,
            "  #{:<3} {:<34} {:<7} {:>5.1} s  {settled}",
            self.step.index,
            self.step.to_string(),
            verdict,
            self.took.as_secs_f64()
        )?;
        if !self.said.is_empty() && !self.ok {
            write!(f, "  ({})", self.said)?;
        }
        if self.violations > 0 {
            write!(f, "  {} violation(s)", self.violations)?;
        }
        if self.violations > 0 || self.timed_out || self.settled.is_none() && !self.deferred {
            write!(f, "\n         then: {}", self.cluster)?;
        }
        Ok(())
    }
}

/// A kill of the primary followed at once by a promotion, in milliseconds since the run began.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failover {
    pub old: String,
    pub new: String,
    pub kill_ms: u64,
    pub promote_started_ms: u64,
    pub promote_returned_ms: u64,
    /// The first write the new primary acknowledged.
    pub first_write_ms: Option<u64>,
}

impl Failover {
    pub fn kill_to_promoted(&self) -> u64 {
        self.promote_returned_ms.saturating_sub(self.kill_ms)
    }

    pub fn promote_took(&self) -> u64 {
        self.promote_returned_ms
            .saturating_sub(self.promote_started_ms)
    }

    pub fn kill_to_write(&self) -> Option<u64> {
        self.first_write_ms.map(|w| w.saturating_sub(self.kill_ms))
    }
}

/// Median and max; `None` for no values.
pub fn median_max(values: &[u64]) -> Option<(u64, u64)> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let max = *v.last()?;
    let mid = v.len() / 2;
    let median = if v.len() % 2 == 0 {
        (v[mid - 1] + v[mid]) / 2
    } else {
        v[mid]
    };
    Some((median, max))
}

#[derive(Debug)]
pub struct Outcome {
    pub runtime: &'static str,
    pub seed: u64,
    pub planned: usize,
    /// Planned steps left out when the time budget ran out.
    pub skipped: usize,
    /// Repair steps after the plan.
    pub finale: usize,
    /// Faults the app carried out (kill, stop, pause, partition, HAProxy killed).
    pub faults: usize,
    pub rows_acked: usize,
    pub writes: usize,
    pub write_failures: usize,
    /// The commonest reasons a write was not acknowledged, with counts.
    pub failure_reasons: Vec<(String, usize)>,
    pub reads: usize,
    /// Rows missing at the end that a reported loss covers: step, node, ids.
    pub excused: Vec<(usize, String, Vec<i64>)>,
    /// Rows acknowledged in each step, by node: `(step, node) → count`.
    pub acked_by_step: BTreeMap<(usize, String), usize>,
    pub violations: Vec<Violation>,
    /// Steps the model expected to work that the app refused, and the like: worth reading,
    /// not invariants.
    pub notes: Vec<String>,
    pub failovers: Vec<Failover>,
    pub took: Duration,
    pub lines: Vec<StepLine>,
}

impl Outcome {
    /// The steps up to `window`, the last few of them, as a replayable sequence.
    pub fn leading_to(&self, window: usize) -> String {
        let upto: Vec<&StepLine> = self
            .lines
            .iter()
            .filter(|l| l.step.index <= window)
            .collect();
        let from = upto.len().saturating_sub(6);
        let shown: Vec<String> = upto[from..]
            .iter()
            .map(|l| {
                format!(
                    "#{} {}{}",
                    l.step.index,
                    l.step,
                    if l.ok { "" } else { " ✗" }
                )
            })
            .collect();
        format!("{}{}", if from > 0 { "… " } else { "" }, shown.join(" → "))
    }

    /// Violations by check: how many, and the first with the steps that provoked it.
    pub fn by_check(&self) -> BTreeMap<&'static str, Vec<&Violation>> {
        let mut out: BTreeMap<&'static str, Vec<&Violation>> = BTreeMap::new();
        for v in &self.violations {
            out.entry(v.check).or_default().push(v);
        }
        out
    }

    pub fn summary(&self) -> String {
        let mut s = format!(
            "fault sequence on {} (seed {:#x}): {} steps planned, {} run, {} skipped for time, \
             {} repairs; {} faults; {} rows acknowledged of {} writes ({} failed), {} reads; \
             {} violations; {:.0} s\n",
            self.runtime,
            self.seed,
            self.planned,
            self.planned - self.skipped,
            self.skipped,
            self.finale,
            self.faults,
            self.rows_acked,
            self.writes,
            self.write_failures,
            self.reads,
            self.violations.len(),
            self.took.as_secs_f64()
        );
        if !self.failure_reasons.is_empty() {
            let r: Vec<String> = self
                .failure_reasons
                .iter()
                .map(|(why, n)| format!("{n}× {why}"))
                .collect();
            s.push_str(&format!("  unacknowledged writes: {}\n", r.join("; ")));
        }
        if !self.excused.is_empty() {
            let total: usize = self.excused.iter().map(|(_, _, ids)| ids.len()).sum();
            let parts: Vec<String> = self
                .excused
                .iter()
                .map(|(w, node, ids)| {
                    let of = self
                        .acked_by_step
                        .get(&(*w, node.clone()))
                        .copied()
                        .unwrap_or(0);
                    let first = ids.iter().min().copied().unwrap_or(0);
                    let last = ids.iter().max().copied().unwrap_or(0);
                    format!(
                        "{} of the {of} acknowledged by {node} in step {w} (ids {first}..={last})",
                        ids.len()
                    )
                })
                .collect();
            s.push_str(&format!(
                "  {total} acknowledged rows are gone, as the app reported at a failover: {}\n",
                parts.join(", ")
            ));
        }
        for (check, vs) in self.by_check() {
            s.push_str(&format!("  [{check}] ×{}\n", vs.len()));
            for v in vs.iter().take(4) {
                s.push_str(&format!(
                    "    {v}\n      after: {}\n",
                    self.leading_to(v.window)
                ));
            }
        }
        for n in &self.notes {
            s.push_str(&format!("  note: {n}\n"));
        }
        let k2p: Vec<u64> = self
            .failovers
            .iter()
            .map(Failover::kill_to_promoted)
            .collect();
        let prom: Vec<u64> = self.failovers.iter().map(Failover::promote_took).collect();
        let k2w: Vec<u64> = self
            .failovers
            .iter()
            .filter_map(Failover::kill_to_write)
            .collect();
        if let (Some((m1, x1)), Some((m2, x2))) = (median_max(&k2p), median_max(&prom)) {
            s.push_str(&format!(
                "  failovers: {}; kill → promote returned {m1} ms median, {x1} ms max (the \
                 promote itself {m2} / {x2} ms)",
                self.failovers.len()
            ));
            match median_max(&k2w) {
                Some((m3, x3)) => s.push_str(&format!(
                    "; kill → first write on the new primary {m3} / {x3} ms ({} of them)\n",
                    k2w.len()
                )),
                None => s.push_str("; no write reached a new primary\n"),
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_max_of_odd_even_and_none() {
        assert_eq!(median_max(&[5, 1, 3]), Some((3, 5)));
        assert_eq!(median_max(&[4, 1, 3, 10]), Some((3, 10)));
        assert_eq!(median_max(&[]), None);
    }
}
