//! `lessons verify --repeat N`: the same lesson run N times on fresh clusters, and the steps
//! whose verdict was not the same every time (flaky: a race, a timing, a leftover).

use super::verify::StepReport;

/// One step's verdict in each run: `Some(true)` sound, `Some(false)` with problems, `None`
/// not reached (an earlier step could not run).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flaky {
    pub id: String,
    pub verdicts: Vec<Option<bool>>,
    /// The first problem seen in a run where the step was not sound.
    pub problem: Option<String>,
}

impl Flaky {
    /// `sound in 2 of 3 runs (run 2: …)`.
    pub fn line(&self) -> String {
        let sound = self.verdicts.iter().filter(|v| **v == Some(true)).count();
        let mut text = format!(
            "{}: sound in {sound} of {} runs",
            self.id,
            self.verdicts.len()
        );
        if let Some(run) = self.verdicts.iter().position(|v| *v != Some(true)) {
            let what = match (&self.verdicts[run], &self.problem) {
                (None, _) => "not reached".to_string(),
                (_, Some(p)) => p.clone(),
                (_, None) => "problems".to_string(),
            };
            text.push_str(&format!(" (run {}: {what})", run + 1));
        }
        text
    }
}

/// The steps whose verdict differs between `runs`, each run the reports of one pass through
/// the same lesson, in the order the steps first appear.
pub fn flaky(runs: &[Vec<StepReport>]) -> Vec<Flaky> {
    let mut ids: Vec<&str> = Vec::new();
    for r in runs.iter().flatten() {
        if !ids.contains(&r.id.as_str()) {
            ids.push(&r.id);
        }
    }
    ids.into_iter()
        .filter_map(|id| {
            let found: Vec<Option<&StepReport>> = runs
                .iter()
                .map(|run| run.iter().find(|r| r.id == id))
                .collect();
            let verdicts: Vec<Option<bool>> = found
                .iter()
                .map(|r| r.map(|r| r.problems.is_empty()))
                .collect();
            let same = verdicts.windows(2).all(|w| w[0] == w[1]);
            (!same).then(|| Flaky {
                id: id.to_string(),
                problem: found
                    .iter()
                    .flatten()
                    .find_map(|r| r.problems.first().cloned()),
                verdicts,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn report(id: &str, problems: &[&str]) -> StepReport {
        StepReport {
            id: id.into(),
            problems: problems.iter().map(|p| p.to_string()).collect(),
            took: Duration::ZERO,
        }
    }

    #[test]
    fn a_step_that_is_not_always_the_same_is_flaky() {
        let runs = vec![
            vec![report("a", &[]), report("b", &[]), report("c", &["x"])],
            vec![
                report("a", &[]),
                report("b", &["no lag_demo"]),
                report("c", &["x"]),
            ],
            vec![report("a", &["cannot run"])],
        ];
        let found = flaky(&runs);
        let ids: Vec<&str> = found.iter().map(|f| f.id.as_str()).collect();
        // a failed once; b failed once and was not reached once; c always failed until it
        // was not reached.
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(found[1].verdicts, [Some(true), Some(false), None]);
        assert_eq!(
            found[1].line(),
            "b: sound in 1 of 3 runs (run 2: no lag_demo)"
        );
        assert_eq!(
            found[0].line(),
            "a: sound in 2 of 3 runs (run 3: cannot run)"
        );
    }

    #[test]
    fn the_same_verdict_every_time_is_not_flaky() {
        let runs = vec![
            vec![report("a", &[]), report("b", &["wrong"])],
            vec![report("a", &[]), report("b", &["also wrong"])],
        ];
        assert!(flaky(&runs).is_empty());
        assert!(flaky(&[]).is_empty());
    }
}
