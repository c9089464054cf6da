//! The instructor's live view (`replica-lab classroom`): the roster as the hub pushes it,
//! with keys to broadcast, pace, drill and export.

pub mod ui;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream};
use futures::StreamExt as _;
use tokio::sync::mpsc;
use tokio_postgres::Client;

use crate::classroom::connect::{Hub, HubError, connect, mask};
use crate::classroom::export;
use crate::classroom::instructor::{
    APPLICATION_NAME, ClassSession, lessons, open, read_roster, send_broadcast, set_pace,
    start_drill, write_export,
};
use crate::classroom::roster::{LessonInfo, Roster};
use crate::error::{Error, Result};
use crate::settings::Settings;
use crate::tui::terminal::{self, Mouse};
use crate::tui::theme;
use ui::{Action, Link, View};

/// At most one roster read in flight, and one more if a notification came in meanwhile:
/// a burst of events costs two reads, however long it is, and the last read always sees the
/// last event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RosterReads {
    in_flight: bool,
    again: bool,
}

impl RosterReads {
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
        *self = RosterReads::default();
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

/// What the live view's loop reacts to.
enum LiveMsg {
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

/// What prints the class without a terminal.
const PRINTS_INSTEAD: &str = "`replica-lab classroom roster`";

pub async fn view(settings: &Settings, db: Option<&str>) -> Result<()> {
    terminal::require(PRINTS_INSTEAD)?;
    let lessons = lessons(settings)?;
    // Reach the hub before taking the terminal: a wrong URL is then a plain message.
    let (hub, class) = open(settings, db).await?;
    listen(&hub.client, class.session_id).await?;
    let mut view = View::new(class.session_id, &class.title, &mask(&class.url), lessons);
    view.theme = theme::choose(&settings.theme);
    terminal::install_panic_hook(None);
    let mut screen = terminal::enter(Mouse::Ignored, PRINTS_INSTEAD)?;
    let result = live(&mut screen, view, hub, class).await;
    terminal::restore();
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
    tx: mpsc::Sender<LiveMsg>,
) {
    tokio::spawn(async move {
        while let Some(n) = notes.recv().await {
            // A session's own channel carries no session id; any note on it is ours.
            let session = n.payload().parse().unwrap_or(-1);
            if tx.send(LiveMsg::Notified(session)).await.is_err() {
                return;
            }
        }
        let why = "the connection ended".to_string();
        let _ = tx.send(LiveMsg::Lost { link, why }).await;
    });
}

fn reconnect(class: ClassSession, after: Duration, tx: mpsc::Sender<LiveMsg>) {
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        let msg = match connect(&class.url, APPLICATION_NAME).await {
            Ok(hub) => match listen(&hub.client, class.session_id).await {
                Ok(()) => LiveMsg::Connected(hub),
                Err(e) => LiveMsg::Retry(e.message),
            },
            Err(e) => LiveMsg::Retry(e.to_string()),
        };
        let _ = tx.send(msg).await;
    });
}

fn read(link: &Connection, class: &ClassSession, tx: &mpsc::Sender<LiveMsg>) {
    let (client, class, tx, id) = (link.client.clone(), class.clone(), tx.clone(), link.id);
    tokio::spawn(async move {
        let msg = match tokio::time::timeout(READ_LIMIT, read_roster(&client, &class)).await {
            Ok(r) => LiveMsg::Read(id, r),
            Err(_) => LiveMsg::Lost {
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

/// Runs an action on the hub; its outcome comes back as [`LiveMsg::Done`].
fn act(
    action: Action,
    view: &mut View,
    client: &Arc<Client>,
    class: &ClassSession,
    tx: &mpsc::Sender<LiveMsg>,
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
        let _ = tx.send(LiveMsg::Done(outcome.map_err(|e| e.message))).await;
    });
}

/// What an action does on the hub, worded for the status line; `None` for quitting.
async fn run_action(
    action: Action,
    client: &Client,
    class: &ClassSession,
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
    class: ClassSession,
) -> Result<()> {
    let (tx, mut rx) = mpsc::channel::<LiveMsg>(1024);
    let mut link = Connection {
        client: Arc::new(hub.client),
        id: 0,
    };
    forward(hub.notifications, link.id, tx.clone());
    let mut refresh = RosterReads::default();
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
                Some(Ok(Event::Key(k))) => LiveMsg::Key(k),
                Some(Ok(Event::Resize(..))) => LiveMsg::Redraw,
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(Error::new(format!("cannot read the terminal: {e}"))),
                None => LiveMsg::Terminate,
            },
            Some(m) = rx.recv() => m,
            _ = tick.tick() => LiveMsg::Redraw,
            _ = term.recv() => LiveMsg::Terminate,
            _ = tokio::signal::ctrl_c() => LiveMsg::Terminate,
        };
        match msg {
            LiveMsg::Key(k) => match ui::on_key(&mut view, k) {
                Some(Action::Quit) => return Ok(()),
                Some(action) => act(action, &mut view, &link.client, &class, &tx),
                None => {}
            },
            LiveMsg::Redraw => {}
            LiveMsg::Notified(session) => {
                if (session == class.session_id || session == -1) && refresh.wanted() {
                    read(&link, &class, &tx);
                }
                // Nothing on screen changed yet; the read's answer redraws.
                continue;
            }
            LiveMsg::Read(id, _) if id != link.id => continue,
            LiveMsg::Read(_, Ok(r)) => {
                read_at = Instant::now();
                view.now = r.read_at;
                view.roster = Some(r);
                view.link = Link::Live;
                if refresh.finished() {
                    read(&link, &class, &tx);
                }
            }
            LiveMsg::Read(_, Err(e)) => {
                view.warn(e.message);
                if refresh.finished() {
                    read(&link, &class, &tx);
                }
            }
            LiveMsg::Done(outcome) => {
                view.busy = None;
                match outcome {
                    Ok(text) => view.say(text),
                    Err(text) => view.warn(text),
                }
            }
            LiveMsg::Lost { link: id, why } => {
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
            LiveMsg::Retry(why) => {
                retry = (retry * 2).min(MAX_RETRY);
                view.link = Link::Lost(why);
                reconnect(class.clone(), retry, tx.clone());
            }
            LiveMsg::Connected(hub) => {
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
            LiveMsg::Terminate => return Ok(()),
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
    fn refreshes_coalesce_to_one_in_flight_and_one_more() {
        let mut r = RosterReads::default();
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
