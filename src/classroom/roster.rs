//! The class at a glance: one row per learner, read from `classroom.learner_state` (which a
//! trigger keeps from the events, so the roster never scans them), who is stuck, and how far
//! the class is in each lesson.
//!
//! Everything here but [`fetch`] is a plain function of its arguments; times come from the hub
//! (its `now()` rides along with the rows), so the instructor's clock never decides who is
//! stuck.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio_postgres::{Client, Row};

use super::printable::{printable, printable_or_dash};
use crate::lesson::Lesson;

/// One lesson of the catalog, as far as the roster needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LessonInfo {
    pub id: String,
    pub title: String,
    pub steps: u32,
}

/// The lessons in teaching order, with their step counts.
pub fn lessons_of(catalog: &[Lesson]) -> Vec<LessonInfo> {
    catalog
        .iter()
        .map(|l| LessonInfo {
            id: l.id.clone(),
            title: l.title.clone(),
            steps: u32::try_from(l.steps.len()).unwrap_or(u32::MAX),
        })
        .collect()
}

/// The session's settings that the roster shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    pub id: i64,
    pub title: String,
    /// Lessons unlocked up to this number; `None`: all.
    pub pace: Option<u32>,
    pub stuck_after: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RosterRow {
    pub learner_id: i64,
    pub name: String,
    pub lesson: Option<String>,
    pub step: Option<String>,
    pub step_since: Option<SystemTime>,
    pub last_seen: Option<SystemTime>,
    pub steps_passed: u32,
    pub steps_helped: u32,
    pub hints: u32,
    pub checks: u32,
    /// Lesson id → steps done in it.
    pub lessons_done: BTreeMap<String, u32>,
    pub allow_drills: bool,
}

/// The roster as read at one moment of the hub's clock.
#[derive(Clone, Debug, PartialEq)]
pub struct Roster {
    pub session: Session,
    pub rows: Vec<RosterRow>,
    /// The hub's `now()` when the rows were read.
    pub read_at: SystemTime,
}

/// The session and its learners, ordered by name. The session's columns ride on every row and
/// the learners are a LEFT JOIN, so a class nobody joined yet still yields its one row.
pub const QUERY: &str = "\
SELECT se.id, se.title, se.pace, extract(epoch FROM se.stuck_after)::float8, now(),
       l.id, l.name, l.allow_drills,
       s.lesson, s.step, s.step_since, s.last_seen,
       coalesce(s.steps_passed, 0), coalesce(s.steps_helped, 0),
       coalesce(s.hints, 0), coalesce(s.checks, 0), coalesce(s.lessons_done, '{}'::jsonb)
  FROM classroom.sessions se
  LEFT JOIN classroom.learners l ON l.session_id = se.id
  LEFT JOIN classroom.learner_state s ON s.learner_id = l.id
 WHERE se.id = $1
 ORDER BY l.name, l.id";

/// Reads the roster of `session`; `Ok(None)` when there is no such session.
pub async fn fetch(client: &Client, session: i64) -> Result<Option<Roster>, tokio_postgres::Error> {
    let rows = client.query(QUERY, &[&session]).await?;
    from_rows(&rows)
}

fn from_rows(rows: &[Row]) -> Result<Option<Roster>, tokio_postgres::Error> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let pace: Option<i32> = first.try_get(2)?;
    let stuck_secs: f64 = first.try_get(3)?;
    let session = Session {
        id: first.try_get(0)?,
        title: first.try_get(1)?,
        pace: pace.and_then(|p| u32::try_from(p).ok()),
        stuck_after: Duration::try_from_secs_f64(stuck_secs).unwrap_or(Duration::ZERO),
    };
    let read_at: SystemTime = first.try_get(4)?;
    let mut learners = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(learner_id) = row.try_get::<_, Option<i64>>(5)? else {
            continue;
        };
        let done: serde_json::Value = row.try_get(16)?;
        learners.push(RosterRow {
            learner_id,
            name: row.try_get(6)?,
            allow_drills: row.try_get(7)?,
            lesson: row.try_get(8)?,
            step: row.try_get(9)?,
            step_since: row.try_get(10)?,
            last_seen: row.try_get(11)?,
            steps_passed: count(row.try_get(12)?),
            steps_helped: count(row.try_get(13)?),
            hints: count(row.try_get(14)?),
            checks: count(row.try_get(15)?),
            lessons_done: lessons_done(&done),
        });
    }
    Ok(Some(Roster {
        session,
        rows: learners,
        read_at,
    }))
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// `{"01-topology": 3, …}`; anything that is not a count of steps is left out rather than
/// failing the whole roster over one learner's odd value.
pub fn lessons_done(value: &serde_json::Value) -> BTreeMap<String, u32> {
    value
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), u32::try_from(v.as_u64()?).ok()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// How long the learner has been on their current step; `None` when no step is open.
pub fn time_on_step(row: &RosterRow, now: SystemTime) -> Option<Duration> {
    row.step.as_ref()?;
    Some(
        now.duration_since(row.step_since?)
            .unwrap_or(Duration::ZERO),
    )
}

/// Whether the learner has done every step of `lesson`.
pub fn completed(row: &RosterRow, lesson: &LessonInfo) -> bool {
    lesson.steps > 0 && row.lessons_done.get(&lesson.id).copied().unwrap_or(0) >= lesson.steps
}

/// Whether the learner has finished what they are on: every step of their current lesson is
/// done (a learner resting on the last step of a lesson is not stuck on it).
pub fn finished(row: &RosterRow, lessons: &[LessonInfo]) -> bool {
    let Some(current) = &row.lesson else {
        return true;
    };
    lessons
        .iter()
        .find(|l| &l.id == current)
        .is_some_and(|l| completed(row, l))
}

/// Stuck: on the same step for longer than `threshold`, and not finished.
pub fn stuck(
    row: &RosterRow,
    now: SystemTime,
    threshold: Duration,
    lessons: &[LessonInfo],
) -> bool {
    time_on_step(row, now).is_some_and(|t| t > threshold) && !finished(row, lessons)
}

/// How the class stands in one lesson.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LessonCompletion {
    pub id: String,
    pub title: String,
    pub steps: u32,
    /// Learners who did every step.
    pub completed: usize,
    /// Learners on it now who have not completed it.
    pub in_it: usize,
}

/// Completion of every lesson of the catalog across the class, in teaching order.
pub fn completion(rows: &[RosterRow], lessons: &[LessonInfo]) -> Vec<LessonCompletion> {
    lessons
        .iter()
        .map(|l| {
            let done = rows.iter().filter(|r| completed(r, l)).count();
            let in_it = rows
                .iter()
                .filter(|r| r.lesson.as_deref() == Some(l.id.as_str()) && !completed(r, l))
                .count();
            LessonCompletion {
                id: l.id.clone(),
                title: l.title.clone(),
                steps: l.steps,
                completed: done,
                in_it,
            }
        })
        .collect()
}

/// `7s`, `4m05s`, `2h03m`: short enough for a table column.
pub fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// The roster as `classroom roster --json` prints it: times as seconds, judged at `now`.
#[derive(Clone, Debug, Serialize)]
pub struct JsonRow<'a> {
    pub learner_id: i64,
    pub name: &'a str,
    pub lesson: Option<&'a str>,
    pub step: Option<&'a str>,
    pub seconds_on_step: Option<u64>,
    pub seconds_since_seen: Option<u64>,
    pub stuck: bool,
    pub steps_passed: u32,
    pub steps_helped: u32,
    pub hints: u32,
    pub checks: u32,
    pub lessons_done: &'a BTreeMap<String, u32>,
    pub allow_drills: bool,
}

pub fn json_rows<'a>(roster: &'a Roster, lessons: &[LessonInfo]) -> Vec<JsonRow<'a>> {
    let now = roster.read_at;
    roster
        .rows
        .iter()
        .map(|r| JsonRow {
            learner_id: r.learner_id,
            name: &r.name,
            lesson: r.lesson.as_deref(),
            step: r.step.as_deref(),
            seconds_on_step: time_on_step(r, now).map(|d| d.as_secs()),
            seconds_since_seen: r
                .last_seen
                .map(|t| now.duration_since(t).unwrap_or(Duration::ZERO).as_secs()),
            stuck: stuck(r, now, roster.session.stuck_after, lessons),
            steps_passed: r.steps_passed,
            steps_helped: r.steps_helped,
            hints: r.hints,
            checks: r.checks,
            lessons_done: &r.lessons_done,
            allow_drills: r.allow_drills,
        })
        .collect()
}

/// The roster as a plain table for a terminal; what learners' apps sent is made printable.
pub fn table(roster: &Roster, lessons: &[LessonInfo]) -> String {
    let now = roster.read_at;
    let header = [
        "NAME", "LESSON", "STEP", "ON STEP", "PASSED", "HELPED", "HINTS", "CHECKS", "",
    ];
    let mut cells: Vec<[String; 9]> = vec![header.map(String::from)];
    for r in &roster.rows {
        cells.push([
            printable(&r.name).into_owned(),
            printable_or_dash(r.lesson.as_deref()).into_owned(),
            printable_or_dash(r.step.as_deref()).into_owned(),
            time_on_step(r, now).map_or_else(|| "-".into(), short_duration),
            r.steps_passed.to_string(),
            r.steps_helped.to_string(),
            r.hints.to_string(),
            r.checks.to_string(),
            if stuck(r, now, roster.session.stuck_after, lessons) {
                "STUCK".into()
            } else {
                String::new()
            },
        ]);
    }
    let mut widths = [0usize; 9];
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for row in &cells {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    pub fn lessons() -> Vec<LessonInfo> {
        vec![
            LessonInfo {
                id: "01-topology".into(),
                title: "Topology".into(),
                steps: 3,
            },
            LessonInfo {
                id: "02-write-read".into(),
                title: "Write, read".into(),
                steps: 2,
            },
        ]
    }

    pub fn row(name: &str, lesson: Option<&str>, since: u64, done: &[(&str, u32)]) -> RosterRow {
        RosterRow {
            learner_id: 1,
            name: name.into(),
            lesson: lesson.map(String::from),
            step: lesson.map(|_| "s1".to_string()),
            step_since: lesson.map(|_| at(since)),
            last_seen: Some(at(since)),
            steps_passed: 0,
            steps_helped: 0,
            hints: 0,
            checks: 0,
            lessons_done: done.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            allow_drills: false,
        }
    }

    #[test]
    fn stuck_only_past_the_threshold() {
        let r = row("ann", Some("01-topology"), 1000, &[]);
        let ten = Duration::from_secs(600);
        assert!(!stuck(&r, at(1000 + 600), ten, &lessons()));
        assert!(stuck(&r, at(1000 + 601), ten, &lessons()));
    }

    #[test]
    fn a_finished_lesson_or_no_step_is_never_stuck() {
        let done = row("bob", Some("02-write-read"), 0, &[("02-write-read", 2)]);
        assert!(!stuck(
            &done,
            at(99_999),
            Duration::from_secs(1),
            &lessons()
        ));
        let idle = row("cy", None, 0, &[]);
        assert!(!stuck(
            &idle,
            at(99_999),
            Duration::from_secs(1),
            &lessons()
        ));
    }

    #[test]
    fn a_step_since_in_the_future_counts_as_no_time() {
        let r = row("ann", Some("01-topology"), 2000, &[]);
        assert_eq!(time_on_step(&r, at(1000)), Some(Duration::ZERO));
    }

    #[test]
    fn an_unknown_lesson_can_still_be_stuck() {
        let r = row("ann", Some("99-gone"), 0, &[("99-gone", 50)]);
        assert!(stuck(&r, at(10), Duration::from_secs(1), &lessons()));
    }

    #[test]
    fn completion_counts_done_and_in_progress_separately() {
        let rows = vec![
            row("a", Some("02-write-read"), 0, &[("01-topology", 3)]),
            row("b", Some("01-topology"), 0, &[("01-topology", 1)]),
            row(
                "c",
                Some("02-write-read"),
                0,
                &[("01-topology", 3), ("02-write-read", 2)],
            ),
            row("d", None, 0, &[]),
        ];
        let c = completion(&rows, &lessons());
        assert_eq!((c[0].completed, c[0].in_it), (2, 1));
        assert_eq!((c[1].completed, c[1].in_it), (1, 1));
    }

    #[test]
    fn lessons_done_skips_what_is_not_a_count() {
        let v = serde_json::json!({"a": 2, "b": -1, "c": "x", "d": 0});
        let m = lessons_done(&v);
        assert_eq!(m.len(), 2);
        assert_eq!(m["a"], 2);
        assert!(lessons_done(&serde_json::json!([1])).is_empty());
    }

    #[test]
    fn durations_are_short() {
        assert_eq!(short_duration(Duration::from_secs(7)), "7s");
        assert_eq!(short_duration(Duration::from_secs(245)), "4m05s");
        assert_eq!(short_duration(Duration::from_secs(7380)), "2h03m");
    }

    #[test]
    fn the_table_marks_who_is_stuck() {
        let roster = Roster {
            session: Session {
                id: 1,
                title: "t".into(),
                pace: None,
                stuck_after: Duration::from_secs(60),
            },
            rows: vec![
                row("ann", Some("01-topology"), 0, &[]),
                row("bob", Some("01-topology"), 100, &[]),
            ],
            read_at: at(120),
        };
        let t = table(&roster, &lessons());
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("NAME"));
        assert!(lines[1].starts_with("ann") && lines[1].ends_with("STUCK"));
        assert!(lines[2].starts_with("bob") && !lines[2].contains("STUCK"));
    }

    #[test]
    fn the_table_prints_no_control_characters() {
        let mut evil = row("ev\x1b[2Jil", Some("\x1b]0;owned\x07"), 0, &[]);
        evil.step = Some("s\u{9b}1\n".into());
        let roster = Roster {
            session: Session {
                id: 1,
                title: "t".into(),
                pace: None,
                stuck_after: Duration::from_secs(60),
            },
            rows: vec![evil],
            read_at: at(10),
        };
        let t = table(&roster, &lessons());
        assert!(!t.replace('\n', "").contains(char::is_control), "{t:?}");
        let line = t.lines().nth(1).unwrap_or_default();
        assert!(line.starts_with("ev[2Jil  ]0;owned  s1"), "{line:?}");
    }
}
