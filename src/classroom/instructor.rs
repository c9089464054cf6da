//! The instructor's commands: the roster once, broadcast, pace, drill, export, and the live
//! view (`replica-lab classroom`).
//!
//! The hub is the `--db` URL, else the one `classroom host` remembered in `hub.toml`. The
//! instructor's login owns the hub's tables, so it reads every learner's rows; the triggers on
//! those tables send the notifications learners' apps and the live view wait on.

#[path = "instructor_ui.rs"]
pub mod ui;

use std::io::stdout;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream};
use futures::StreamExt as _;
use tokio::sync::mpsc;
use tokio_postgres::Client;

use super::connect::{Hub, HubError, connect, mask};
use super::export;
use super::host::HubFile;
use super::roster::{self, LessonInfo, Roster};
use crate::error::{Error, Result};
use crate::cli::NameFlag;
use crate::commands::load_settings;
use crate::settings::Settings;
use crate::tui::state::ThemeName;
use ui::{Action, Link, View};

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
pub struct Class {
    pub url: String,
    pub session_id: i64,
    pub title: String,
}

const NO_HUB: &str = "no class hub is known on this machine: start a class with \
                      `replica-lab classroom host`, or name the hub with --db URL";

/// Connects to the hub and finds the session: `hub.toml`'s when it names this hub (or no
/// `--db` was given), else the newest session on the hub.
pub async fn open(settings: &Settings, db: Option<&str>) -> Result<(Hub, Class)> {
    let saved = HubFile::load(&super::classroom_dir(settings))?;
    let url = match (db, &saved) {
        (Some(url), _) => url.to_string(),
        (None, Some(s)) => s.url.clone(),
        (None, None) => return Err(Error::new(NO_HUB)),
    };
    let hub = connect(&url, APPLICATION_NAME).await?;
    let class = match saved.filter(|s| s.url == url) {
        Some(s) => Class {
            url,
            session_id: s.session_id,
            title: s.title,
        },
        None => newest_session(&hub.client, &url).await?,
    };
    Ok((hub, class))
}

async fn newest_session(client: &Client, url: &str) -> Result<Class> {
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
    Ok(Class {
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

fn settings() -> Result<Settings> {
    load_settings(&NameFlag::default())
}

/// The catalog's lessons: what completion and the pace are measured against.
pub fn lessons(settings: &Settings) -> Result<Vec<LessonInfo>> {
    crate::lesson_commands::catalog(settings)
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

pub async fn read_roster(client: &Client, class: &Class) -> Result<Roster> {
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
    class: &Class,
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

// --- the commands ----------------------------------------------------------------------------

pub async fn roster_command(db: Option<&str>, json: bool) -> Result<()> {
    let settings = settings()?;
    let lessons = lessons(&settings)?;
    let (hub, class) = open(&settings, db).await?;
    let roster = read_roster(&hub.client, &class).await?;
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
        println!("{text}");
    } else if roster.rows.is_empty() {
        println!(
            "{} (session {}): nobody joined yet",
            roster.session.title, roster.session.id
        );
    } else {
        print!("{}", roster::table(&roster, &lessons));
    }
    Ok(())
}

pub async fn broadcast(db: Option<&str>, message: &str) -> Result<()> {
    let settings = settings()?;
    let (hub, class) = open(&settings, db).await?;
    send_broadcast(&hub.client, class.session_id, message).await?;
    println!("sent to the class {:?}", class.title);
    Ok(())
}

pub async fn pace(db: Option<&str>, upto: &str) -> Result<()> {
    let settings = settings()?;
    let lessons = lessons(&settings)?;
    let pace = parse_pace(upto, lessons.len()).map_err(Error::new)?;
    let (hub, class) = open(&settings, db).await?;
    set_pace(&hub.client, class.session_id, pace).await?;
    match pace {
        Some(n) => println!("lessons 1 to {n} unlocked"),
        None => println!("every lesson unlocked"),
    }
    Ok(())
}

pub async fn drill(db: Option<&str>, action: &str, note: &str) -> Result<()> {
    let action = parse_drill(action).map_err(Error::new)?;
    let settings = settings()?;
    let (hub, class) = open(&settings, db).await?;
    let roster = read_roster(&hub.client, &class).await?;
    start_drill(&hub.client, class.session_id, action, note).await?;
    let allowed = roster.rows.iter().filter(|r| r.allow_drills).count();
    println!(
        "drill {action} started: {allowed} of {} learners allow drills on their cluster",
        roster.rows.len()
    );
    Ok(())
}

pub async fn export(db: Option<&str>, csv: Option<&Path>, md: Option<&Path>) -> Result<()> {
    if csv.is_none() && md.is_none() {
        return Err(Error::new(
            "say where to write the results: --csv FILE, --md FILE, or both",
        ));
    }
    let settings = settings()?;
    let lessons = lessons(&settings)?;
    let (hub, class) = open(&settings, db).await?;
    for path in write_export(&hub.client, &class, &lessons, csv, md).await? {
        println!("wrote {}", path.display());
    }
    Ok(())
}

// --- the live view ---------------------------------------------------------------------------

/// At most one roster read in flight, and one more if a notification came in meanwhile:
/// a burst of events costs two reads, however long it is, and the last read always sees the
/// last event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Refresh {
    in_flight: bool,
    again: bool,
}

impl Refresh {
    /// Something changed: whether to start a read now.
    pub fn wanted(&mut self) -> bool {
        if self.in_flight {
            self.again = true;
            false
        } else {
            self.in_flight = true;
            true
        }
    }

    /// A read finished: whether to start the next one now.
    pub fn finished(&mut self) -> bool {
        if self.again {
            self.again = false;
            true
        } else {
            self.in_flight = false;
            false
        }
    }

    /// The connection was lost with a read in flight: nothing is pending any more.
    pub fn reset(&mut self) {
        *self = Refresh::default();
    }
}

/// How often the "time on step" columns move without anything happening on the hub.
const TICK: Duration = Duration::from_secs(1);
/// The longest wait between attempts to reach a lost hub.
const MAX_RETRY: Duration = Duration::from_secs(10);
/// A roster read that takes longer is taken as a dead connection (a network that dropped
/// without a word never ends the connection on its own).
const READ_LIMIT: Duration = Duration::from_secs(10);
/// How long an action (an export of a big class included) may take.
const ACT_LIMIT: Duration = Duration::from_secs(30);

enum Msg {
    Key(crossterm::event::KeyEvent),
    Redraw,
    Notified(i64),
    /// A roster read, tagged with the connection it was made on.
    Read(u64, Result<Roster>),
    /// An action's outcome, worded for the status line.
    Done(std::result::Result<String, String>),
    Connected(Hub),
    /// The connection `link` is gone, and why.
    Lost {
        link: u64,
        why: String,
    },
    /// An attempt to reach the hub again failed.
    Retry(String),
    Terminate,
}

/// Restores the terminal before the panic's message, so it is readable.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        ratatui::restore();
        previous(info);
        std::process::exit(101);
    }));
}

fn theme() -> ThemeName {
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        ThemeName::Mono
    } else {
        ThemeName::Dark
    }
}

pub async fn view(db: Option<&str>) -> Result<()> {
    let settings = settings()?;
    let lessons = lessons(&settings)?;
    // Reach the hub before taking the terminal: a wrong URL is then a plain message.
    let (hub, class) = open(&settings, db).await?;
    listen(&hub.client, class.session_id).await?;
    let mut view = View::new(class.session_id, &class.title, &mask(&class.url), lessons);
    view.theme = if settings.theme == "light" && theme() == ThemeName::Dark {
        ThemeName::Light
    } else {
        theme()
    };
    install_panic_hook();
    let mut terminal = ratatui::init();
    let result = live(&mut terminal, view, hub, class).await;
    ratatui::restore();
    let _ = std::io::Write::flush(&mut stdout());
    result
}

async fn listen(client: &Client, session: i64) -> Result<()> {
    client
        .batch_execute(&format!(
            "LISTEN classroom_events; LISTEN classroom_session_{session}"
        ))
        .await
        .map_err(|e| HubError::sql("cannot listen for the class's events", &e).into())
}

/// Forwards the hub's notifications to the loop, then says the connection ended.
fn forward(
    mut notes: mpsc::UnboundedReceiver<tokio_postgres::Notification>,
    link: u64,
    tx: mpsc::Sender<Msg>,
) {
    tokio::spawn(async move {
        while let Some(n) = notes.recv().await {
            // A session's own channel carries no session id; any note on it is ours.
            let session = n.payload().parse().unwrap_or(-1);
            if tx.send(Msg::Notified(session)).await.is_err() {
                return;
            }
        }
        let why = "the connection ended".to_string();
        let _ = tx.send(Msg::Lost { link, why }).await;
    });
}

fn reconnect(class: Class, after: Duration, tx: mpsc::Sender<Msg>) {
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        let msg = match connect(&class.url, APPLICATION_NAME).await {
            Ok(hub) => match listen(&hub.client, class.session_id).await {
                Ok(()) => Msg::Connected(hub),
                Err(e) => Msg::Retry(e.message),
            },
            Err(e) => Msg::Retry(e.to_string()),
        };
        let _ = tx.send(msg).await;
    });
}

fn read(link: &Connection, class: &Class, tx: &mpsc::Sender<Msg>) {
    let (client, class, tx, id) = (link.client.clone(), class.clone(), tx.clone(), link.id);
    tokio::spawn(async move {
        let msg = match tokio::time::timeout(READ_LIMIT, read_roster(&client, &class)).await {
            Ok(r) => Msg::Read(id, r),
            Err(_) => Msg::Lost {
                link: id,
                why: format!("the hub did not answer for {} s", READ_LIMIT.as_secs()),
            },
        };
        let _ = tx.send(msg).await;
    });
}

/// The hub connection in use; `id` tells its answers from those of one that was lost.
struct Connection {
    client: Arc<Client>,
    id: u64,
}

/// Runs an action on the hub; its outcome comes back as [`Msg::Done`].
fn act(
    action: Action,
    view: &mut View,
    client: &Arc<Client>,
    class: &Class,
    tx: &mpsc::Sender<Msg>,
) {
    let (client, class, tx) = (client.clone(), class.clone(), tx.clone());
    let lessons = view.lessons.clone();
    let stamp = export::utc_stamp(view.now);
    view.notice = None;
    view.busy = Some(match &action {
        Action::Broadcast(_) => "sending the broadcast…".into(),
        Action::Pace(_) => "setting the pace…".into(),
        Action::Drill(a) => format!("starting the drill {a}…"),
        Action::Export => "exporting…".into(),
        Action::Quit => return,
    });
    tokio::spawn(async move {
        let work = async move { run_action(action, &client, &class, &lessons, &stamp).await };
        let outcome = match tokio::time::timeout(ACT_LIMIT, work).await {
            Ok(Some(outcome)) => outcome,
            Ok(None) => return,
            Err(_) => Err(Error::new(format!(
                "the hub did not answer for {} s; the view reconnects when it is back",
                ACT_LIMIT.as_secs()
            ))),
        };
        let _ = tx.send(Msg::Done(outcome.map_err(|e| e.message))).await;
    });
}

/// What an action does on the hub, worded for the status line; `None` for quitting.
async fn run_action(
    action: Action,
    client: &Client,
    class: &Class,
    lessons: &[LessonInfo],
    stamp: &str,
) -> Option<Result<String>> {
    let s = class.session_id;
    Some(match action {
        Action::Broadcast(m) => send_broadcast(client, s, &m)
            .await
            .map(|_| format!("sent: {m}")),
        Action::Pace(p) => set_pace(client, s, p).await.map(|()| match p {
            Some(n) => format!("lessons 1 to {n} unlocked"),
            None => "every lesson unlocked".into(),
        }),
        Action::Drill(a) => start_drill(client, s, a, "")
            .await
            .map(|_| format!("drill {a} started")),
        Action::Export => {
            let base = format!("class-{s}-{stamp}");
            let csv = PathBuf::from(format!("{base}.csv"));
            let md = PathBuf::from(format!("{base}.md"));
            let here = std::env::current_dir().unwrap_or_default();
            write_export(client, class, lessons, Some(&csv), Some(&md))
                .await
                .map(|_| format!("exported to {}/{base}.csv and .md", here.display()))
        }
        Action::Quit => return None,
    })
}

async fn live(
    terminal: &mut ratatui::DefaultTerminal,
    mut view: View,
    hub: Hub,
    class: Class,
) -> Result<()> {
    let (tx, mut rx) = mpsc::channel::<Msg>(1024);
    let mut link = Connection {
        client: Arc::new(hub.client),
        id: 0,
    };
    forward(hub.notifications, link.id, tx.clone());
    let mut refresh = Refresh::default();
    let mut reconnecting = false;
    let mut read_at = Instant::now();
    let mut retry = Duration::from_secs(1);
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Error::new(format!("cannot watch for SIGTERM: {e}")))?;
    let draw_err = |e: std::io::Error| Error::new(format!("cannot draw: {e}"));
    if refresh.wanted() {
        read(&link, &class, &tx);
    }
    loop {
        terminal.draw(|f| ui::draw(f, &view)).map_err(draw_err)?;
        let msg = tokio::select! {
            ev = keys.next() => match ev {
                Some(Ok(Event::Key(k))) => Msg::Key(k),
                Some(Ok(Event::Resize(..))) => Msg::Redraw,
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(Error::new(format!("cannot read the terminal: {e}"))),
                None => Msg::Terminate,
            },
            Some(m) = rx.recv() => m,
            _ = tick.tick() => Msg::Redraw,
            _ = term.recv() => Msg::Terminate,
            _ = tokio::signal::ctrl_c() => Msg::Terminate,
        };
        match msg {
            Msg::Key(k) => match ui::on_key(&mut view, k) {
                Some(Action::Quit) => return Ok(()),
                Some(action) => act(action, &mut view, &link.client, &class, &tx),
                None => {}
            },
            Msg::Redraw => {}
            Msg::Notified(session) => {
                if (session == class.session_id || session == -1) && refresh.wanted() {
                    read(&link, &class, &tx);
                }
                // Nothing on screen changed yet; the read's answer redraws.
                continue;
            }
            Msg::Read(id, _) if id != link.id => continue,
            Msg::Read(_, Ok(r)) => {
                read_at = Instant::now();
                view.now = r.read_at;
                view.roster = Some(r);
                view.link = Link::Live;
                if refresh.finished() {
                    read(&link, &class, &tx);
                }
            }
            Msg::Read(_, Err(e)) => {
                view.warn(e.message);
                if refresh.finished() {
                    read(&link, &class, &tx);
                }
            }
            Msg::Done(outcome) => {
                view.busy = None;
                match outcome {
                    Ok(text) => view.say(text),
                    Err(text) => view.warn(text),
                }
            }
            Msg::Lost { link: id, why } => {
                // A connection already replaced, or one being replaced, changes nothing.
                if id == link.id && !reconnecting {
                    reconnecting = true;
                    // Reads in flight on the dead connection are answered by nobody; the
                    // new connection starts clean.
                    refresh.reset();
                    view.link = Link::Lost(why);
                    reconnect(class.clone(), retry, tx.clone());
                }
            }
            Msg::Retry(why) => {
                retry = (retry * 2).min(MAX_RETRY);
                view.link = Link::Lost(why);
                reconnect(class.clone(), retry, tx.clone());
            }
            Msg::Connected(hub) => {
                link = Connection {
                    client: Arc::new(hub.client),
                    id: link.id + 1,
                };
                forward(hub.notifications, link.id, tx.clone());
                reconnecting = false;
                retry = Duration::from_secs(1);
                view.link = Link::Live;
                if refresh.wanted() {
                    read(&link, &class, &tx);
                }
            }
            Msg::Terminate => return Ok(()),
        }
        if let Some(r) = &view.roster {
            view.now = r.read_at + read_at.elapsed();
        }
    }
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

    #[test]
    fn refreshes_coalesce_to_one_in_flight_and_one_more() {
        let mut r = Refresh::default();
        assert!(r.wanted());
        assert!(!r.wanted());
        assert!(!r.wanted());
        assert!(r.finished(), "the burst gets one more read");
        assert!(!r.wanted());
        assert!(r.finished(), "a note during the second read gets a third");
        assert!(!r.finished());
        assert!(r.wanted(), "idle again: the next note reads at once");
        r.reset();
        assert!(r.wanted());
    }
}
