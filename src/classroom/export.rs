//! The class's results as files: a CSV with one row per learner and step reached, and a
//! Markdown summary for the instructor's notes.
//!
//! The events are folded into per-step results here, in plain functions; only [`fetch`] talks
//! to the hub.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use tokio_postgres::Client;

use super::printable::printable;
use super::roster::{self, LessonInfo, Roster};

/// One progress event as the export reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRow {
    pub learner_id: i64,
    pub name: String,
    pub kind: String,
    pub lesson: Option<String>,
    pub step: Option<String>,
    pub detail: serde_json::Value,
    pub happened_at: SystemTime,
}

/// A drill the instructor started, its time as the hub formats it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrillRow {
    pub started: String,
    pub action: String,
    pub note: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    SolvedWithHelp,
    /// Reached, not done.
    Open,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::SolvedWithHelp => "solved_with_help",
            Outcome::Open => "open",
        }
    }
}

/// What one learner did on one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepResult {
    pub learner_id: i64,
    pub learner: String,
    pub lesson: String,
    pub step: String,
    pub outcome: Outcome,
    pub hints: u32,
    pub checks: u32,
    pub seconds: u64,
}

/// Working state for one (learner, lesson, step) while folding.
struct Tally {
    result: StepResult,
    first: SystemTime,
    last: SystemTime,
    finished_at: Option<SystemTime>,
    /// Time on the step as the learner's app measured it, when it said.
    reported: Option<u64>,
}

/// Folds events (in each learner's order) into one result per learner and step reached,
/// ordered by learner name, then by when the step was first reached.
///
/// Seconds are the app's own measure when an outcome event carries `detail.seconds`
/// (it excludes time the app was closed), else from the first event on the step to its
/// outcome, or to its last event while still open.
pub fn step_results(events: &[EventRow]) -> Vec<StepResult> {
    let mut order: Vec<(String, i64, String, String)> = Vec::new();
    let mut tallies: BTreeMap<(i64, String, String), Tally> = BTreeMap::new();
    for e in events {
        let (Some(lesson), Some(step)) = (&e.lesson, &e.step) else {
            continue;
        };
        let key = (e.learner_id, lesson.clone(), step.clone());
        let t = tallies.entry(key).or_insert_with(|| {
            order.push((e.name.clone(), e.learner_id, lesson.clone(), step.clone()));
            Tally {
                result: StepResult {
                    learner_id: e.learner_id,
                    learner: e.name.clone(),
                    lesson: lesson.clone(),
                    step: step.clone(),
                    outcome: Outcome::Open,
                    hints: 0,
                    checks: 0,
                    seconds: 0,
                },
                first: e.happened_at,
                last: e.happened_at,
                finished_at: None,
                reported: None,
            }
        });
        t.first = t.first.min(e.happened_at);
        t.last = t.last.max(e.happened_at);
        match e.kind.as_str() {
            "hint" => t.result.hints += 1,
            "checked" => t.result.checks += 1,
            "passed" | "solved_with_help" => {
                let outcome = if e.kind == "passed" {
                    Outcome::Passed
                } else {
                    Outcome::SolvedWithHelp
                };
                // Help once used stays on the record, whatever is reported after it.
                if t.result.outcome != Outcome::SolvedWithHelp {
                    t.result.outcome = outcome;
                }
                t.finished_at.get_or_insert(e.happened_at);
                if let Some(s) = e.detail.get("seconds").and_then(serde_json::Value::as_u64) {
                    t.reported = Some(s);
                }
            }
            _ => {}
        }
    }
    // Stable: a learner's steps keep the order they were reached in.
    order.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    order
        .into_iter()
        .filter_map(|(_, id, lesson, step)| tallies.remove(&(id, lesson, step)))
        .map(|t| {
            let end = t.finished_at.unwrap_or(t.last);
            let measured = end.duration_since(t.first).unwrap_or(Duration::ZERO);
            StepResult {
                seconds: t.reported.unwrap_or(measured.as_secs()),
                ..t.result
            }
        })
        .collect()
}

/// A CSV field of text that came from a learner's app: neutral for a spreadsheet (see
/// [`neutral_cell`]), then quoted when it holds a separator, a quote or a line break
/// (RFC 4180).
fn field(s: &str) -> String {
    let s = neutral_cell(s);
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.into_owned()
    }
}

/// A cell a spreadsheet would take for a formula (`=HYPERLINK(…)`, `+1+cmd|…`, `-2+3`,
/// `@SUM(…)`, or one of those after a tab or carriage return) gets a leading `'`, which makes
/// it text, as OWASP's advice on CSV injection says.
pub fn neutral_cell(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

pub const CSV_HEADER: &str = "learner,lesson,step,outcome,hints,checks,seconds";

pub fn csv(results: &[StepResult]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for r in results {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{}",
            field(&r.learner),
            field(&r.lesson),
            field(&r.step),
            r.outcome.as_str(),
            r.hints,
            r.checks,
            r.seconds
        );
    }
    out
}

/// Steps solved with help, most often first: (lesson, step, learners).
pub fn most_helped(results: &[StepResult]) -> Vec<(String, String, usize)> {
    let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for r in results
        .iter()
        .filter(|r| r.outcome == Outcome::SolvedWithHelp)
    {
        *counts.entry((&r.lesson, &r.step)).or_default() += 1;
    }
    let mut out: Vec<(String, String, usize)> = counts
        .into_iter()
        .map(|((l, s), n)| (l.to_string(), s.to_string(), n))
        .collect();
    out.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.0, &a.1).cmp(&(&b.0, &b.1))));
    out
}

/// Markdown table cells cannot hold `|` or line breaks; the summary is read in terminals
/// too, so control characters go.
fn cell(s: &str) -> String {
    printable(s).replace('|', "\\|")
}

/// The class summary: learners, completion per lesson, who is stuck, the steps most solved
/// with help, and the drills run.
pub fn markdown(
    roster: &Roster,
    lessons: &[LessonInfo],
    results: &[StepResult],
    drills: &[DrillRow],
) -> String {
    let now = roster.read_at;
    let session = &roster.session;
    let mut md = String::new();
    let _ = writeln!(md, "# Class summary: {}\n", session.title);
    let _ = writeln!(
        md,
        "{} learners · pace: {} · stuck after {}\n",
        roster.rows.len(),
        session.pace.map_or_else(
            || "all lessons".to_string(),
            |p| format!("up to lesson {p}")
        ),
        roster::short_duration(session.stuck_after)
    );

    md.push_str("## Learners\n\n");
    if roster.rows.is_empty() {
        md.push_str("Nobody joined.\n\n");
    } else {
        md.push_str("| Learner | Lesson | Step | Passed | With help | Hints | Checks |\n");
        md.push_str("|---|---|---|---:|---:|---:|---:|\n");
        for r in &roster.rows {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} |",
                cell(&r.name),
                cell(r.lesson.as_deref().unwrap_or("-")),
                cell(r.step.as_deref().unwrap_or("-")),
                r.steps_passed,
                r.steps_helped,
                r.hints,
                r.checks
            );
        }
        md.push('\n');
    }

    md.push_str("## Completion per lesson\n\n");
    md.push_str("| Lesson | Steps | Completed | In it |\n|---|---:|---:|---:|\n");
    for c in roster::completion(&roster.rows, lessons) {
        let _ = writeln!(
            md,
            "| {} {} | {} | {} of {} | {} |",
            cell(&c.id),
            cell(&c.title),
            c.steps,
            c.completed,
            roster.rows.len(),
            c.in_it
        );
    }
    md.push('\n');

    md.push_str("## Stuck\n\n");
    let stuck: Vec<_> = roster
        .rows
        .iter()
        .filter(|r| roster::stuck(r, now, session.stuck_after, lessons))
        .collect();
    if stuck.is_empty() {
        md.push_str("Nobody is stuck.\n\n");
    } else {
        for r in stuck {
            let _ = writeln!(
                md,
                "- {} on {} / {} for {}",
                printable(&r.name),
                printable(r.lesson.as_deref().unwrap_or("-")),
                printable(r.step.as_deref().unwrap_or("-")),
                roster::time_on_step(r, now).map_or_else(String::new, roster::short_duration)
            );
        }
        md.push('\n');
    }

    md.push_str("## Steps most solved with help\n\n");
    let helped = most_helped(results);
    if helped.is_empty() {
        md.push_str("No step was solved with help.\n\n");
    } else {
        for (lesson, step, n) in helped.iter().take(10) {
            let _ = writeln!(
                md,
                "- {} / {}: {n} learner{}",
                printable(lesson),
                printable(step),
                if *n == 1 { "" } else { "s" }
            );
        }
        md.push('\n');
    }

    md.push_str("## Drills run\n\n");
    if drills.is_empty() {
        md.push_str("No drills were run.\n");
    } else {
        for d in drills {
            let note = if d.note.is_empty() {
                String::new()
            } else {
                format!(": {}", d.note)
            };
            let _ = writeln!(md, "- {} {}{note}", d.started, d.action);
        }
    }
    md
}

const EVENTS: &str = "\
SELECT e.learner_id, l.name, e.kind, e.lesson, e.step, e.detail, e.happened_at
  FROM classroom.events e
  JOIN classroom.learners l ON l.id = e.learner_id
 WHERE l.session_id = $1
 ORDER BY e.learner_id, e.seq";

const DRILLS: &str = "\
SELECT to_char(started_at, 'YYYY-MM-DD HH24:MI:SS TZ'), action, note
  FROM classroom.drills WHERE session_id = $1 ORDER BY started_at, id";

/// The session's events (each learner's in their order) and its drills.
pub async fn fetch(
    client: &Client,
    session: i64,
) -> Result<(Vec<EventRow>, Vec<DrillRow>), tokio_postgres::Error> {
    let mut events = Vec::new();
    for r in client.query(EVENTS, &[&session]).await? {
        events.push(EventRow {
            learner_id: r.try_get(0)?,
            name: r.try_get(1)?,
            kind: r.try_get(2)?,
            lesson: r.try_get(3)?,
            step: r.try_get(4)?,
            detail: r.try_get(5)?,
            happened_at: r.try_get(6)?,
        });
    }
    let mut drills = Vec::new();
    for r in client.query(DRILLS, &[&session]).await? {
        drills.push(DrillRow {
            started: r.try_get(0)?,
            action: r.try_get(1)?,
            note: r.try_get(2)?,
        });
    }
    Ok((events, drills))
}

/// `20250314-093005` in UTC: for file names that sort by time.
pub fn utc_stamp(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rest = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rest / 3600,
        (rest % 3600) / 60,
        rest % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classroom::roster::tests::{at, lessons, row};
    use crate::classroom::roster::{RosterRow, Session};

    fn ev(id: i64, name: &str, kind: &str, step: &str, t: u64) -> EventRow {
        EventRow {
            learner_id: id,
            name: name.into(),
            kind: kind.into(),
            lesson: Some("01-topology".into()),
            step: Some(step.into()),
            detail: serde_json::json!({}),
            happened_at: at(t),
        }
    }

    #[test]
    fn events_fold_into_one_result_per_step() {
        let mut passed = ev(2, "ann", "passed", "s2", 200);
        passed.detail = serde_json::json!({"seconds": 42});
        let events = vec![
            ev(1, "zed", "step_opened", "s1", 100),
            ev(1, "zed", "checked", "s1", 110),
            ev(1, "zed", "hint", "s1", 120),
            ev(1, "zed", "solved_with_help", "s1", 150),
            ev(1, "zed", "passed", "s1", 151),
            ev(2, "ann", "step_opened", "s2", 100),
            ev(2, "ann", "checked", "s2", 130),
            passed,
            ev(2, "ann", "step_opened", "s1", 300),
            ev(2, "ann", "checked", "s1", 330),
        ];
        let r = step_results(&events);
        let got: Vec<(&str, &str, Outcome, u32, u32, u64)> = r
            .iter()
            .map(|r| {
                (
                    r.learner.as_str(),
                    r.step.as_str(),
                    r.outcome,
                    r.hints,
                    r.checks,
                    r.seconds,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("ann", "s2", Outcome::Passed, 0, 1, 42),
                ("ann", "s1", Outcome::Open, 0, 1, 30),
                ("zed", "s1", Outcome::SolvedWithHelp, 1, 1, 50),
            ]
        );
    }

    #[test]
    fn events_without_a_step_are_left_out() {
        let mut e = ev(1, "a", "lesson_opened", "x", 0);
        e.step = None;
        assert!(step_results(&[e]).is_empty());
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let r = StepResult {
            learner_id: 1,
            learner: "O'Neil, \"Jo\"".into(),
            lesson: "l".into(),
            step: "s".into(),
            outcome: Outcome::Passed,
            hints: 1,
            checks: 2,
            seconds: 3,
        };
        assert_eq!(
            csv(&[r]),
            format!("{CSV_HEADER}\n\"O'Neil, \"\"Jo\"\"\",l,s,passed,1,2,3\n")
        );
    }

    #[test]
    fn cells_a_spreadsheet_would_run_are_text() {
        for (cell, neutral) in [
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "'=HYPERLINK(\"http://x\",\"y\")",
            ),
            ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
        ] {
            assert_eq!(neutral_cell(cell), neutral, "{cell:?}");
        }
        for plain in ["ann", "01-topology", "a=b", "O'Neil", "", " =1"] {
            assert!(
                matches!(neutral_cell(plain), std::borrow::Cow::Borrowed(_)),
                "{plain:?}"
            );
        }
        let r = StepResult {
            learner_id: 1,
            learner: "@ann".into(),
            lesson: "01-topology".into(),
            step: "=HYPERLINK(\"http://x\",\"y\")".into(),
            outcome: Outcome::Open,
            hints: 0,
            checks: 0,
            seconds: 0,
        };
        assert_eq!(
            csv(&[r]),
            format!(
                "{CSV_HEADER}\n'@ann,01-topology,\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",open,0,0,0\n"
            )
        );
    }

    #[test]
    fn the_summary_has_every_section() {
        let mut stuck_row: RosterRow = row("ann", Some("01-topology"), 0, &[]);
        stuck_row.name = "a|nn".into();
        let roster = Roster {
            session: Session {
                id: 3,
                title: "Tuesday".into(),
                pace: Some(2),
                stuck_after: Duration::from_secs(60),
            },
            rows: vec![stuck_row],
            read_at: at(600),
        };
        let results = step_results(&[ev(1, "ann", "solved_with_help", "s1", 5)]);
        let drills = vec![DrillRow {
            started: "2025-01-01 10:00:00 UTC".into(),
            action: "kill-primary".into(),
            note: "now".into(),
        }];
        let md = markdown(&roster, &lessons(), &results, &drills);
        for section in [
            "# Class summary: Tuesday",
            "## Learners",
            "## Completion per lesson",
            "## Stuck",
            "## Steps most solved with help",
            "## Drills run",
        ] {
            assert!(md.contains(section), "{section} missing:\n{md}");
        }
        assert!(md.contains("| a\\|nn |"));
        assert!(md.contains("- a|nn on 01-topology / s1 for 10m00s"));
        assert!(md.contains("- 01-topology / s1: 1 learner\n"));
        assert!(md.contains("kill-primary: now"));
        assert!(md.contains("up to lesson 2"));
    }

    #[test]
    fn stamps_are_utc_calendar_times() {
        assert_eq!(utc_stamp(at(0)), "19700101-000000");
        assert_eq!(utc_stamp(at(951_782_400)), "20000229-000000");
        assert_eq!(utc_stamp(at(1_741_944_605)), "20250314-093005");
    }
}
