//! What the instructor does to a class, on the hub: find the session, read the roster,
//! broadcast, set the pace, start a drill, export. The CLI and the live view both use these.
//!
//! The hub is the `--db` URL, else the one `classroom host` remembered in `hub.toml`. The
//! instructor's login owns the hub's tables, so it reads every learner's rows; the triggers on
//! those tables send the notifications learners' apps and the live view wait on.

use std::path::{Path, PathBuf};

use tokio_postgres::Client;

use super::connect::{Hub, HubError, connect, mask};
use super::export;
use super::host::HubFile;
use super::roster::{self, LessonInfo, Roster};
use crate::error::{Error, Result};
use crate::settings::Settings;

/// What the instructor's sessions are called in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "replica-lab-instructor";

/// The drills every learner's app knows, with what each does to the learner's own cluster.
pub const DRILLS: [(&str, &str); 3] = [
    ("kill-primary", "the primary dies now"),
    ("stop-replica", "a replica stops"),
    ("pause-replay", "a replica stops replaying WAL"),
];

/// `N` (1 to `lessons`) or `all`; `None` means every lesson.
pub fn parse_pace(text: &str, lessons: usize) -> std::result::Result<Option<u32>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("all") {
        return Ok(None);
    }
    match text.parse::<u32>() {
        Ok(n) if n >= 1 && (n as usize) <= lessons => Ok(Some(n)),
        _ if lessons == 0 => Err(format!(
            "the pace {text:?} cannot be set: there are no lessons in the catalog; check the \
             `lessons` setting (replica-lab lessons check)"
        )),
        _ => Err(format!(
            "the pace {text:?} is not a lesson number: give 1 to {lessons} (lessons unlocked up \
             to that one) or `all`"
        )),
    }
}

/// One of [`DRILLS`], or a message listing them.
pub fn parse_drill(action: &str) -> std::result::Result<&'static str, String> {
    let action = action.trim();
    DRILLS
        .iter()
        .map(|(a, _)| *a)
        .find(|a| a.eq_ignore_ascii_case(action))
        .ok_or_else(|| {
            let known: Vec<&str> = DRILLS.iter().map(|(a, _)| *a).collect();
            format!(
                "there is no drill {action:?}: choose one of {}",
                known.join(", ")
            )
        })
}

// --- which hub and session -------------------------------------------------------------------

/// The hub and the session the instructor works on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassSession {
    pub url: String,
    pub session_id: i64,
    pub title: String,
}

const NO_HUB: &str = "no class hub is known on this machine: start a class with \
                      `replica-lab classroom host`, or name the hub with --db URL";

/// Connects to the hub and finds the session: `hub.toml`'s when it names this hub (or no
/// `--db` was given), else the newest session on the hub.
pub async fn open(settings: &Settings, db: Option<&str>) -> Result<(Hub, ClassSession)> {
    let saved = HubFile::load(&super::classroom_dir(settings))?;
    let url = match (db, &saved) {
        (Some(url), _) => url.to_string(),
        (None, Some(s)) => s.url.clone(),
        (None, None) => return Err(Error::new(NO_HUB)),
    };
    let hub = connect(&url, APPLICATION_NAME).await?;
    let class = match saved.filter(|s| s.url == url) {
        Some(s) => ClassSession {
            url,
            session_id: s.session_id,
            title: s.title,
        },
        None => newest_session(&hub.client, &url).await?,
    };
    Ok((hub, class))
}

async fn newest_session(client: &Client, url: &str) -> Result<ClassSession> {
    let row = client
        .query_opt(
            "SELECT id, title FROM classroom.sessions ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await
        .map_err(|e| not_a_hub(url, &e))?;
    let row = row.ok_or_else(|| {
        Error::new(format!(
            "the hub at {} has no class yet: start one with `replica-lab classroom host --db URL`",
            mask(url)
        ))
    })?;
    Ok(ClassSession {
        url: url.to_string(),
        session_id: row.get(0),
        title: row.get(1),
    })
}

/// A hub without the classroom schema is most likely the wrong database.
fn not_a_hub(url: &str, e: &tokio_postgres::Error) -> Error {
    if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE)
        || e.code() == Some(&tokio_postgres::error::SqlState::INVALID_SCHEMA_NAME)
    {
        return Error::new(format!(
            "{} is not a class hub (it has no classroom schema): check the database in the URL, \
             or start a class there with `replica-lab classroom host --db URL`",
            mask(url)
        ));
    }
    if e.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) {
        return Error::new(format!(
            "the login in {} may not read the class: use the instructor's login, the one \
             `classroom host` was given",
            mask(url)
        ));
    }
    HubError::sql("reading the class from the hub", e).into()
}

/// The catalog's lessons: what completion and the pace are measured against.
pub fn lessons(settings: &Settings) -> Result<Vec<LessonInfo>> {
    crate::lesson::catalog::catalog(settings)
        .map(|l| roster::lessons_of(&l))
        .map_err(|errors| {
            let first = errors.first().map(ToString::to_string).unwrap_or_default();
            Error::new(format!(
                "the lessons cannot be loaded ({first}); fix them (replica-lab lessons check) \
                 or unset the `lessons` setting"
            ))
        })
}

// --- what the instructor sends ---------------------------------------------------------------

pub async fn read_roster(client: &Client, class: &ClassSession) -> Result<Roster> {
    roster::fetch(client, class.session_id)
        .await
        .map_err(|e| not_a_hub(&class.url, &e))?
        .ok_or_else(|| {
            Error::new(format!(
                "session {} is not on the hub at {} any more: start a class with \
                 `replica-lab classroom host`",
                class.session_id,
                mask(&class.url)
            ))
        })
}

pub async fn send_broadcast(client: &Client, session: i64, message: &str) -> Result<i64> {
    let message = message.trim();
    if message.is_empty() {
        return Err(Error::new(
            "the message is empty: write what the class should read, in quotes",
        ));
    }
    let row = client
        .query_one(
            "INSERT INTO classroom.broadcasts (session_id, message) VALUES ($1, $2) RETURNING id",
            &[&session, &message],
        )
        .await
        .map_err(|e| HubError::sql("cannot send the broadcast", &e))?;
    Ok(row.get(0))
}

pub async fn set_pace(client: &Client, session: i64, pace: Option<u32>) -> Result<()> {
    let pace = pace.map(|p| i32::try_from(p).unwrap_or(i32::MAX));
    client
        .execute(
            "UPDATE classroom.sessions SET pace = $2 WHERE id = $1",
            &[&session, &pace],
        )
        .await
        .map_err(|e| HubError::sql("cannot set the pace", &e))?;
    Ok(())
}

pub async fn start_drill(client: &Client, session: i64, action: &str, note: &str) -> Result<i64> {
    let action = parse_drill(action).map_err(Error::new)?;
    let row = client
        .query_one(
            "INSERT INTO classroom.drills (session_id, action, note) VALUES ($1, $2, $3) \
             RETURNING id",
            &[&session, &action, &note.trim()],
        )
        .await
        .map_err(|e| HubError::sql("cannot start the drill", &e))?;
    Ok(row.get(0))
}

/// Writes the CSV and/or the Markdown summary; returns the files written.
pub async fn write_export(
    client: &Client,
    class: &ClassSession,
    lessons: &[LessonInfo],
    csv: Option<&Path>,
    md: Option<&Path>,
) -> Result<Vec<PathBuf>> {
    let roster = read_roster(client, class).await?;
    let (events, drills) = export::fetch(client, class.session_id)
        .await
        .map_err(|e| not_a_hub(&class.url, &e))?;
    let results = export::step_results(&events);
    let mut written = Vec::new();
    let files = [
        (csv, export::csv(&results)),
        (md, export::markdown(&roster, lessons, &results, &drills)),
    ];
    for (path, text) in files {
        let Some(path) = path else { continue };
        std::fs::write(path, text).map_err(|e| {
            Error::new(format!(
                "cannot write {}: {e}; choose a file in a folder you can write to",
                path.display()
            ))
        })?;
        written.push(path.to_path_buf());
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_is_a_lesson_number_or_all() {
        assert_eq!(parse_pace("3", 14), Ok(Some(3)));
        assert_eq!(parse_pace(" ALL ", 14), Ok(None));
        for bad in ["0", "15", "-1", "three", ""] {
            let e = parse_pace(bad, 14).unwrap_err();
            assert!(e.contains("1 to 14") && e.contains("`all`"), "{e}");
        }
        assert!(parse_pace("1", 0).unwrap_err().contains("no lessons"));
    }

    #[test]
    fn drills_are_the_known_ones() {
        assert_eq!(parse_drill("Kill-Primary"), Ok("kill-primary"));
        let e = parse_drill("reboot").unwrap_err();
        assert!(
            e.contains("kill-primary, stop-replica, pause-replay"),
            "{e}"
        );
    }
}
