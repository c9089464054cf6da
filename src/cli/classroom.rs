//! `replica-lab classroom …`: the instructor's commands and the learner's, with their printing.

use std::net::IpAddr;
use std::path::Path;

use serde::Serialize;

use super::Next;
use super::args::ClassroomCommand;
use super::out::{self, errln, outln};
use super::pull_bar::pull_bar;
use super::report_to_stderr;
use crate::classroom::catalogue::{self, HubCatalogue};
use crate::classroom::connect::{HubError, connect, mask};
use crate::classroom::host::{self, HUB_CLUSTER, HubFile};
use crate::classroom::instructor;
use crate::classroom::membership;
use crate::classroom::migrate::migrate;
use crate::classroom::queue::Queue;
use crate::classroom::{classroom_dir, roster};
use crate::cli::load_settings;
use crate::cluster::state::cluster_dir;
use crate::error::{Error, Result};
use crate::lifecycle::remove;
use crate::settings::{Settings, data_root};

/// Settings from the config file and environment only: these commands take no cluster flags.
#[derive(Serialize)]
struct NoFlags {}

fn settings() -> Result<Settings> {
    load_settings(&NoFlags {})
}

pub async fn run(command: Option<ClassroomCommand>, db: Option<String>) -> Result<Next> {
    let done = match command {
        None => {
            return Ok(Next::Instructor {
                settings: settings()?,
                db,
            });
        }
        Some(ClassroomCommand::Host {
            db,
            title,
            code_valid,
            bind_host,
            port,
        }) => host(db.as_deref(), &title, &code_valid, bind_host, port).await,
        Some(ClassroomCommand::Down { purge }) => down(purge).await,
        Some(ClassroomCommand::Join {
            code,
            name,
            hub,
            allow_drills,
        }) => join_command(&hub, &code, &name, allow_drills).await,
        Some(ClassroomCommand::Leave) => leave_command().await,
        Some(ClassroomCommand::Roster { json }) => roster_command(db.as_deref(), json).await,
        Some(ClassroomCommand::Broadcast { message }) => broadcast(db.as_deref(), &message).await,
        Some(ClassroomCommand::Pace { upto }) => pace(db.as_deref(), &upto).await,
        Some(ClassroomCommand::Drill { action, note }) => {
            drill(db.as_deref(), &action, &note).await
        }
        Some(ClassroomCommand::Export { csv, md }) => {
            export(db.as_deref(), csv.as_deref(), md.as_deref()).await
        }
    };
    done.map(|()| Next::Done)
}

/// `replica-lab classroom join CODE --name NAME --hub URL [--allow-drills]`.
pub async fn join_command(hub: &str, code: &str, name: &str, allow_drills: bool) -> Result<()> {
    let settings = settings()?;
    let dir = classroom_dir(&settings);
    if let Some(m) = membership::load(&dir)? {
        return Err(Error::new(membership::already(&m, &dir)));
    }
    let aside = membership::set_aside_old_queue(&dir)?;
    let m = membership::join(hub, code, name, allow_drills, &dir).await?;
    outln!("{}", membership::joined_text(&m, &dir, aside.as_deref()))?;
    Ok(())
}

/// `replica-lab --join CODE --hub URL`: joins before the app opens, as `name`; an existing
/// membership is kept (the app reports to that class).
pub async fn join_for_app(
    settings: &Settings,
    hub: &str,
    code: &str,
    allow_drills: bool,
) -> Result<()> {
    let name = &settings.learner_name();
    let dir = classroom_dir(settings);
    if let Some(m) = membership::load(&dir)? {
        errln!(
            "already in a class as {} (session {}): --join is not needed; \
             `replica-lab classroom leave` to join another",
            m.name,
            m.session_id
        );
        return Ok(());
    }
    let aside = membership::set_aside_old_queue(&dir)?;
    let m = membership::join(hub, code, name, allow_drills, &dir).await?;
    errln!("{}", membership::joined_text(&m, &dir, aside.as_deref()));
    Ok(())
}

/// `replica-lab classroom leave`: one last try to deliver what is queued, then the membership
/// is forgotten; what could not be delivered stays on disk.
pub async fn leave_command() -> Result<()> {
    let settings = settings()?;
    let dir = classroom_dir(&settings);
    let Some(m) = membership::load(&dir)? else {
        outln!("not in a class: nothing to leave")?;
        return Ok(());
    };
    let left = match Queue::open(&membership::queue_dir(&dir)) {
        Ok(queue) => membership::deliver_before_leaving(&m, queue).await,
        Err(e) => Err(e.to_string()),
    };
    membership::leave(&dir)?;
    outln!(
        "left the class (you were {} in session {})",
        m.name,
        m.session_id
    )?;
    match left {
        Ok(0) => outln!("  every event had reached the hub")?,
        Ok(n) => outln!(
            "  {n} events could not be delivered (the hub was not reachable); they are kept in {}",
            membership::queue_dir(&dir).display()
        )?,
        Err(e) => outln!("  the events queued were not checked: {e}")?,
    }
    outln!("  your login on the hub stays until the instructor ends the class")?;
    Ok(())
}

pub async fn host(
    db: Option<&str>,
    title: &str,
    code_valid: &str,
    bind: Option<IpAddr>,
    port: u16,
) -> Result<()> {
    let valid_for = host::parse_valid_for(code_valid).map_err(Error::new)?;
    let settings = settings()?;
    // The hub takes events about these lessons only; a folder that does not load stops here,
    // before a hub is started for nothing.
    let lessons = HubCatalogue::load(&settings)?;
    let (url, learners_url) = match db {
        Some(url) => (url.to_string(), host::gate_url(url)?),
        None => {
            host::start_hub(&settings, bind, port, report_to_stderr(), Some(pull_bar())).await?
        }
    };
    let hub = if db.is_some() {
        connect(&url, "replica-lab classroom host").await?
    } else {
        host::connect_started(&url).await?
    };
    host::check_can_create_roles(&hub.client).await?;
    let version = migrate(&hub.client).await?;
    let (session_id, code) = host::create_session(&hub.client, title, valid_for).await?;
    catalogue::upload(&hub.client, session_id, &lessons).await?;
    let adopted = catalogue::adopt(&hub.client, &lessons).await?;
    let expires: String = hub
        .client
        .query_one(
            "SELECT to_char(code_expires_at, 'YYYY-MM-DD HH24:MI TZ')
             FROM classroom.sessions WHERE id = $1",
            &[&session_id],
        )
        .await
        .map_err(|e| HubError::sql("cannot read the session back", &e))?
        .get(0);
    let dir = classroom_dir(&settings);
    let saved = HubFile {
        url: url.clone(),
        session_id,
        title: title.trim().to_string(),
    }
    .save(&dir)?;
    outln!(
        "class {:?} is open on {} (session {session_id}, hub schema version {version})\n\
         its lessons: {} with {} steps; the hub takes events about these only\n\
         join code {code}, accepted until {expires} ({code_valid})\n\n\
         learners run:\n  replica-lab classroom join {code} --name YOUR-NAME --hub {learners_url}\n\
         or start the app with:\n  replica-lab --join {code} --learner YOUR-NAME --hub {learners_url}\n",
        title.trim(),
        mask(&learners_url),
        lessons.lessons.len(),
        lessons.steps(),
    )?;
    if adopted > 0 {
        outln!(
            "{adopted} older class{} on this hub had no list of lessons: they follow these now\n",
            if adopted == 1 { "" } else { "es" }
        )?;
    }
    if learners_url.contains("sslrootcert=") {
        outln!(
            "the hub URL names sslrootcert: each learner needs that CA file at the same path, \
             or edits it in the command\n"
        )?;
    }
    outln!(
        "the roster: replica-lab classroom   (this hub is remembered in {})",
        saved.display()
    )?;
    Ok(())
}

pub async fn down(purge: bool) -> Result<()> {
    let base = settings()?;
    let settings = Settings {
        name: HUB_CLUSTER.into(),
        ..base
    };
    let stopped = remove(&settings, !purge).await?;
    let dir = classroom_dir(&settings);
    if purge {
        match std::fs::remove_file(HubFile::path(&dir)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::new(format!(
                    "cannot remove {}: {e}",
                    HubFile::path(&dir).display()
                )));
            }
        }
    }
    match (stopped, purge) {
        (false, _) => outln!(
            "no hub was started on this machine (classroom host without --db starts one): \
             nothing to stop{}",
            if purge {
                "; the hub file is removed"
            } else {
                ""
            }
        )?,
        (true, false) => outln!(
            "the hub is stopped; its data stays in {} (classroom host starts it again, \
             classroom down --purge removes it)",
            cluster_dir(&data_root(&settings), HUB_CLUSTER).display()
        )?,
        (true, true) => outln!("the hub is removed, with its data")?,
    }
    Ok(())
}

pub async fn roster_command(db: Option<&str>, json: bool) -> Result<()> {
    let settings = settings()?;
    let lessons = instructor::lessons(&settings)?;
    let (hub, class) = instructor::open(&settings, db).await?;
    let roster = instructor::read_roster(&hub.client, &class).await?;
    if json {
        let s = &roster.session;
        let out = serde_json::json!({
            "session": {
                "id": s.id,
                "title": s.title,
                "pace": s.pace,
                "stuck_after_seconds": s.stuck_after.as_secs(),
            },
            "completion": roster::completion(&roster.rows, &lessons),
            "learners": roster::json_rows(&roster, &lessons),
        });
        let text = serde_json::to_string_pretty(&out)
            .map_err(|e| Error::new(format!("cannot write the roster as JSON: {e}")))?;
        outln!("{text}")?;
    } else if roster.rows.is_empty() {
        outln!(
            "{} (session {}): nobody joined yet",
            roster.session.title,
            roster.session.id
        )?;
    } else {
        out::text(&roster::table(&roster, &lessons))?;
    }
    Ok(())
}

pub async fn broadcast(db: Option<&str>, message: &str) -> Result<()> {
    let settings = settings()?;
    let (hub, class) = instructor::open(&settings, db).await?;
    instructor::send_broadcast(&hub.client, class.session_id, message).await?;
    outln!("sent to the class {:?}", class.title)?;
    Ok(())
}

pub async fn pace(db: Option<&str>, upto: &str) -> Result<()> {
    let settings = settings()?;
    let lessons = instructor::lessons(&settings)?;
    let pace = instructor::parse_pace(upto, lessons.len()).map_err(Error::new)?;
    let (hub, class) = instructor::open(&settings, db).await?;
    instructor::set_pace(&hub.client, class.session_id, pace).await?;
    match pace {
        Some(n) => outln!("lessons 1 to {n} unlocked")?,
        None => outln!("every lesson unlocked")?,
    }
    Ok(())
}

pub async fn drill(db: Option<&str>, action: &str, note: &str) -> Result<()> {
    let action = instructor::parse_drill(action).map_err(Error::new)?;
    let settings = settings()?;
    let (hub, class) = instructor::open(&settings, db).await?;
    let roster = instructor::read_roster(&hub.client, &class).await?;
    instructor::start_drill(&hub.client, class.session_id, action, note).await?;
    let allowed = roster.rows.iter().filter(|r| r.allow_drills).count();
    outln!(
        "drill {action} started: {allowed} of {} learners allow drills on their cluster",
        roster.rows.len()
    )?;
    Ok(())
}

pub async fn export(db: Option<&str>, csv: Option<&Path>, md: Option<&Path>) -> Result<()> {
    if csv.is_none() && md.is_none() {
        return Err(Error::new(
            "say where to write the results: --csv FILE, --md FILE, or both",
        ));
    }
    let settings = settings()?;
    let lessons = instructor::lessons(&settings)?;
    let (hub, class) = instructor::open(&settings, db).await?;
    for path in instructor::write_export(&hub.client, &class, &lessons, csv, md).await? {
        outln!("wrote {}", path.display())?;
    }
    Ok(())
}
