//! Joining a class and leaving it: the learner's own login on the hub, kept in
//! `membership.json` (owner only), which the app reads to report progress.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio_postgres::error::SqlState;

use super::connect::{HubError, connect, mask, server_message, with_login};
use super::queue::{Queue, write_atomic};
use crate::error::Error;
use crate::settings::read_if_exists;

const FILE: &str = "membership.json";

/// This machine's place in a class.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The hub, logging in as this learner's own role (the password is in it).
    pub hub_url: String,
    pub role: String,
    pub learner_id: i64,
    pub session_id: i64,
    pub name: String,
    pub allow_drills: bool,
    /// The newest broadcast and drill when joining: older ones are never shown or run.
    #[serde(default)]
    pub seen_broadcast: i64,
    #[serde(default)]
    pub seen_drill: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    #[error("{0}")]
    Hub(#[from] HubError),
    /// The hub said no: its words, and what to do.
    #[error("the hub refused to let {name} join: {cause}")]
    Refused { name: String, cause: String },
    #[error("cannot {what} {path}: {source}")]
    File {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{path} cannot be read ({reason}): remove it and join again")]
    Damaged { path: PathBuf, reason: String },
}

impl From<MembershipError> for Error {
    fn from(e: MembershipError) -> Self {
        Error::new(e.to_string())
    }
}

pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// Where this machine's queue of events lives.
pub fn queue_dir(dir: &Path) -> PathBuf {
    dir.join("queue")
}

/// The membership saved in `dir`, if any.
pub fn load(dir: &Path) -> std::result::Result<Option<Membership>, MembershipError> {
    let p = path(dir);
    let text = match read_if_exists(&p) {
        Ok(Some(t)) => t,
        Ok(None) => return Ok(None),
        Err(source) => {
            return Err(MembershipError::File {
                what: "read",
                path: p,
                source,
            });
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| MembershipError::Damaged {
            path: p,
            reason: e.to_string(),
        })
}

/// Writes `m` to `dir` (owner only), replacing any earlier membership whole.
pub fn save(dir: &Path, m: &Membership) -> std::result::Result<(), MembershipError> {
    let p = path(dir);
    let file_err = |what, source| MembershipError::File {
        what,
        path: p.clone(),
        source,
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| file_err("create the folder of", e))?;
    let bytes = serde_json::to_vec_pretty(m).map_err(|e| file_err("write", io::Error::other(e)))?;
    write_atomic(&p, &bytes).map_err(|e| file_err("write", e))
}

/// Forgets the membership in `dir`; returns the one there was.
pub fn leave(dir: &Path) -> std::result::Result<Option<Membership>, MembershipError> {
    let m = load(dir)?;
    let p = path(dir);
    match std::fs::remove_file(&p) {
        Ok(()) => Ok(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(m),
        Err(source) => Err(MembershipError::File {
            what: "remove",
            path: p,
            source,
        }),
    }
}

/// The hub's refusal of a join, with what to do about it.
fn refusal(name: &str, error: &tokio_postgres::Error) -> MembershipError {
    let cause = server_message(error);
    let has_hint = error.as_db_error().is_some_and(|d| d.hint().is_some());
    let fix = match error.code() {
        _ if has_hint => "",
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => "; choose another --name",
        Some(c) if *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
            "; check the code with the instructor"
        }
        Some(c) if *c == SqlState::UNDEFINED_FUNCTION || *c == SqlState::INVALID_SCHEMA_NAME => {
            "; this server is not a class hub: use the URL `replica-lab classroom host` printed"
        }
        Some(c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => {
            "; the hub URL must log in as classroom_gate (use the URL the instructor gave)"
        }
        _ => "",
    };
    MembershipError::Refused {
        name: name.to_string(),
        cause: format!("{cause}{fix}"),
    }
}

/// Joins the class behind `hub` with `code` as `name`: the hub makes a login of the learner's
/// own, which is then saved in `dir` with the learner's choice about drills.
pub async fn join(
    hub: &str,
    code: &str,
    name: &str,
    allow_drills: bool,
    dir: &Path,
) -> std::result::Result<Membership, MembershipError> {
    let gate = super::host::gate_url(hub)?;
    let gate_hub = connect(&gate, "replica-lab join").await?;
    let row = gate_hub
        .client
        .query_one(
            "SELECT learner_id, role_name::text, password, session_id FROM classroom.join($1, $2)",
            &[&code.trim(), &name],
        )
        .await
        .map_err(|e| refusal(name, &e))?;
    let (learner_id, role, password, session_id): (i64, String, String, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    drop(gate_hub);
    let hub_url = with_login(hub, &role, &password)?;
    let own = connect(&hub_url, "replica-lab join").await?;
    let step = |what: &'static str| move |e: tokio_postgres::Error| HubError::sql(what, &e);
    own.client
        .execute(
            "UPDATE classroom.learners SET allow_drills = $1 WHERE id = $2",
            &[&allow_drills, &learner_id],
        )
        .await
        .map_err(step("cannot record your choice about drills on the hub"))?;
    let row = own
        .client
        .query_one(
            "SELECT (SELECT coalesce(max(id), 0) FROM classroom.broadcasts),
                    (SELECT coalesce(max(id), 0) FROM classroom.drills)",
            &[],
        )
        .await
        .map_err(step("cannot read the class's messages"))?;
    let m = Membership {
        hub_url,
        role,
        learner_id,
        session_id,
        name: name.trim().to_string(),
        allow_drills,
        seen_broadcast: row.get(0),
        seen_drill: row.get(1),
    };
    save(dir, &m)?;
    Ok(m)
}

/// Sets aside events a previous membership left undelivered: they belong to that learner, not
/// to this one. Returns where they went.
pub fn set_aside_old_queue(dir: &Path) -> std::result::Result<Option<PathBuf>, Error> {
    let qdir = queue_dir(dir);
    if !qdir.exists() {
        return Ok(None);
    }
    let q = Queue::open(&qdir).map_err(|e| Error::new(e.to_string()))?;
    let waiting = q.len();
    drop(q);
    if waiting == 0 {
        return Ok(None);
    }
    let aside = dir.join(format!("queue.left-{}", super::queue::now_ms()));
    std::fs::rename(&qdir, &aside).map_err(|e| {
        Error::new(format!(
            "cannot set aside the events of your previous class in {}: {e}",
            qdir.display()
        ))
    })?;
    Ok(Some(aside))
}

pub fn already(m: &Membership, dir: &Path) -> String {
    format!(
        "you are in a class already, as {} (learner {} of session {}, hub {}); \
         `replica-lab classroom leave` first (membership in {})",
        m.name,
        m.learner_id,
        m.session_id,
        mask(&m.hub_url),
        path(dir).display()
    )
}

pub fn joined_text(m: &Membership, dir: &Path, aside: Option<&Path>) -> String {
    let mut text = format!(
        "joined the class as {} (learner {}, session {})\n\
         \x20 the app reports your progress (lessons and steps opened, checks, hints, steps done\n\
         \x20 and the time they took) to the hub; events wait in {} while the hub cannot be\n\
         \x20 reached and go out once it can\n\
         \x20 drills from the instructor {}\n\
         \x20 start the app as usual: replica-lab",
        m.name,
        m.learner_id,
        m.session_id,
        queue_dir(dir).display(),
        if m.allow_drills {
            "run on your own cluster (you allowed them)"
        } else {
            "are skipped (join with --allow-drills to let them run on your cluster)"
        },
    );
    if let Some(a) = aside {
        text.push_str(&format!(
            "\n  events your previous class never received are kept in {}",
            a.display()
        ));
    }
    text
}

/// Tries for a few seconds to deliver the queue; returns how many events are left.
pub async fn deliver_before_leaving(
    m: &Membership,
    queue: Queue,
) -> std::result::Result<usize, String> {
    use super::reporter::{Reporter, ReporterConfig};
    if queue.is_empty() {
        return Ok(0);
    }
    let (tx, _rx) = tokio::sync::mpsc::channel(1);
    let config = ReporterConfig {
        listen: false,
        ..ReporterConfig::default()
    };
    let reporter = Reporter::spawn(m.clone(), queue, config, tx);
    reporter.flush(std::time::Duration::from_secs(5)).await;
    let left = reporter.state.borrow().queued;
    Ok(left)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member() -> Membership {
        Membership {
            hub_url: "postgresql://rl_learner_7:secret@hub:5439/classroom".into(),
            role: "rl_learner_7".into(),
            learner_id: 7,
            session_id: 3,
            name: "ann".into(),
            allow_drills: true,
            seen_broadcast: 2,
            seen_drill: 0,
        }
    }

    #[test]
    fn a_membership_round_trips_privately_and_leaves() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().join("classroom");
        assert_eq!(load(&d).expect("load"), None);
        save(&d, &member()).expect("save");
        assert_eq!(load(&d).expect("load"), Some(member()));
        let mode = std::fs::metadata(path(&d))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(leave(&d).expect("leave"), Some(member()));
        assert_eq!(load(&d).expect("load"), None);
        assert_eq!(leave(&d).expect("leave again"), None);
    }

    #[test]
    fn a_damaged_file_says_what_to_do() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(path(dir.path()), "{ nope").expect("write");
        let e = load(dir.path()).expect_err("damaged").to_string();
        assert!(e.contains("remove it and join again"), "{e}");
    }

    #[test]
    fn messages_never_show_the_password() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = already(&member(), dir.path());
        assert!(!text.contains("secret"), "{text}");
        assert!(text.contains("classroom leave"), "{text}");
        let text = joined_text(&member(), dir.path(), None);
        assert!(!text.contains("secret"), "{text}");
        assert!(text.contains("run on your own cluster"), "{text}");
    }

    #[test]
    fn an_old_queue_with_waiting_events_is_set_aside() {
        use super::super::queue::{ClassEvent, EventKind};
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(set_aside_old_queue(dir.path()).expect("nothing"), None);
        let mut q = Queue::open(&queue_dir(dir.path())).expect("open");
        q.push(ClassEvent::new(EventKind::Hint, None, None))
            .expect("push");
        drop(q);
        let aside = set_aside_old_queue(dir.path())
            .expect("set aside")
            .expect("moved");
        assert!(aside.join("events.jsonl").exists());
        assert!(!queue_dir(dir.path()).exists());
    }
}
