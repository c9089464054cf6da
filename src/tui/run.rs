//! The app's event loop and its terminal: set up, restored on every way out.

use std::path::PathBuf;

use crossterm::event::{Event, EventStream, MouseEventKind};
use futures::{FutureExt, StreamExt};
use tokio::sync::mpsc;

use super::effects::{Attach, Runner};
use super::keys::Keymap;
use super::msg::Msg;
use super::state::{Focus, LessonPane, Phase, State};
use super::terminal::{self, Mouse};
use super::theme;
use super::ui;
use super::update::update;
use crate::error::Error;
use crate::lesson::catalog::{catalog, progress_store};
use crate::lesson::clock::Now;
use crate::lesson::course::{Course, FileNote};
use crate::lesson::progress::{Damaged, LearnerProgress, ProgressStore};
use crate::settings::Settings;
use crate::sql::history::History;

const WELCOME: &str = include_str!("../../assets/welcome.md");

/// Where the app writes its log: never onto the screen.
pub fn log_path() -> std::path::PathBuf {
    directories::ProjectDirs::from("", "", "replica-lab")
        .map(|d| d.state_dir().unwrap_or(d.data_dir()).to_path_buf())
        .unwrap_or_else(std::env::temp_dir)
        .join("replica-lab.log")
}

fn init_logging() {
    let path = log_path();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    else {
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("REPLICA_LAB_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
}

fn lesson() -> LessonPane {
    let title = WELCOME
        .lines()
        .next()
        .map(|l| l.trim_start_matches('#').trim().to_string())
        .unwrap_or_default();
    LessonPane {
        title,
        text: WELCOME.to_string(),
        scroll: 0,
    }
}

/// The lessons and the learner's progress, with what did not load of the file; without
/// lessons the app is a free console, and says why.
fn course(settings: &Settings) -> (Course, Option<(ProgressStore, Option<Damaged>)>) {
    let lessons = match catalog(settings) {
        Ok(l) => l,
        Err(errors) => {
            let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
            return (Course::without_lessons(Some(text.join("\n"))), None);
        }
    };
    let store = progress_store(settings);
    match store.load() {
        Ok(loaded) => {
            let mut course = Course::new(lessons, loaded.progress);
            course.progress_note = loaded.note.map(FileNote::trouble);
            (course, Some((store, loaded.damaged)))
        }
        // Never overwrite progress this version cannot read: run without saving.
        Err(e) => {
            let mut course = Course::new(lessons, LearnerProgress::new(settings.learner_name()));
            course.progress_note = Some(FileNote::trouble(format!(
                "{e}; progress will not be saved this time"
            )));
            (course, None)
        }
    }
}

/// What the app starts from, read from disk before the screen is taken.
struct Start {
    state: State,
    keymap: Keymap,
    store: Option<(ProgressStore, Option<Damaged>)>,
    history: PathBuf,
    /// The first messages, before anything else happens.
    first: Vec<Msg>,
}

fn start(settings: &Settings) -> Start {
    let (keymap, ignored) = Keymap::new(&settings.keys);
    let mut state = State::new(
        settings.name.clone(),
        lesson(),
        theme::choose(&settings.theme),
    );
    let (course, store) = course(settings);
    state.course = course;
    state.course.vars = crate::lesson::template::credentials(&settings.credentials());
    let history = History::default_path();
    state.console.history = History::load(&history).entries().to_vec();
    if !ignored.is_empty() {
        state.console.output.info = Some(format!("ignored key settings: {}", ignored.join(", ")));
    }
    // A learner who joined a class reports to it from the start: before the cluster is up,
    // so the lesson it opens on is reported too.
    let dir = crate::classroom::classroom_dir(settings);
    let found = crate::classroom::membership::load(&dir).map_err(|e| e.to_string());
    Start {
        state,
        keymap,
        store,
        history,
        first: vec![Msg::Tick(Now::read()), Msg::Membership { dir, found }],
    }
}

/// Runs the app until the user quits; returns whether the cluster came up.
pub async fn run(settings: Settings) -> Result<bool, Error> {
    init_logging();
    let start = start(&settings);
    terminal::install_panic_hook(Some(log_path()));
    let mut screen = terminal::enter(
        Mouse::Captured,
        "`replica-lab up`, `status` and `lessons list`",
    )?;
    let result = event_loop(&mut screen, start, settings).await;
    terminal::restore();
    let (up, unsaved) = result?;
    for e in unsaved {
        tracing::error!("{e}");
        eprintln!("warning: {e}");
    }
    Ok(up)
}

/// Which pane a click at (`x`, `y`) landed on, from the same layout the screen is drawn with.
fn clicked(terminal: &ratatui::DefaultTerminal, state: &State, x: u16, y: u16) -> Option<Focus> {
    let size = terminal.size().ok()?;
    let panes = ui::panes(
        ratatui::layout::Rect::new(0, 0, size.width, size.height),
        state,
    );
    let at = ratatui::layout::Position::new(x, y);
    [
        (panes.lesson, Focus::Lesson),
        (panes.editor, Focus::Editor),
        (panes.output, Focus::Results),
        (panes.dashboard, Focus::Nodes),
    ]
    .into_iter()
    .find(|(r, _)| r.contains(at))
    .map(|(_, f)| f)
}

/// The most messages applied between two frames: a flood still lets the screen move.
const MAX_BATCH: usize = 256;

/// The terminal's event as a message; `None` for one the app ignores.
fn from_terminal(terminal: &ratatui::DefaultTerminal, state: &State, ev: Event) -> Option<Msg> {
    match ev {
        Event::Key(k) => Some(Msg::Key(k)),
        Event::Mouse(m) => match m.kind {
            MouseEventKind::Down(_) => clicked(terminal, state, m.column, m.row).map(Msg::Click),
            _ => Some(Msg::Mouse(m)),
        },
        Event::Resize(..) => Some(Msg::Resize),
        _ => None,
    }
}

fn read_error(e: std::io::Error) -> Error {
    Error::new(format!("cannot read the terminal: {e}"))
}

/// Returns whether the cluster was up at the end, and what could not be saved on the way out.
async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    start: Start,
    settings: Settings,
) -> Result<(bool, Vec<String>), Error> {
    let Start {
        mut state,
        keymap,
        store,
        history,
        first,
    } = start;
    let (tx, mut rx) = mpsc::channel::<Msg>(256);
    let (ready_tx, mut ready_rx) = mpsc::channel::<Attach>(1);
    let mut runner = Runner::new(tx.clone(), ready_tx, settings, history, store);
    for msg in first {
        for effect in update(&mut state, &keymap, msg) {
            runner.apply(effect);
        }
    }
    runner.start();
    let mut events = EventStream::new();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Error::new(format!("cannot watch for SIGTERM: {e}")))?;
    let draw_err = |e: std::io::Error| Error::new(format!("cannot draw: {e}"));
    loop {
        terminal.draw(|f| ui::draw(f, &state)).map_err(draw_err)?;
        let msg = tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(ev)) => match from_terminal(terminal, &state, ev) {
                    Some(m) => m,
                    None => continue,
                },
                Some(Err(e)) => return Err(read_error(e)),
                None => Msg::Terminate,
            },
            Some(m) = rx.recv() => m,
            Some(up) = ready_rx.recv() => runner.attach(up),
            _ = term.recv() => Msg::Terminate,
            _ = tokio::signal::ctrl_c() => Msg::Terminate,
        };
        // One frame for everything already waiting; the time, first, is what it all goes by.
        let mut batch = vec![Msg::Tick(Now::read()), msg];
        while batch.len() < MAX_BATCH {
            if let Ok(m) = rx.try_recv() {
                batch.push(m);
            } else if let Ok(up) = ready_rx.try_recv() {
                batch.push(runner.attach(up));
            } else {
                match events.next().now_or_never() {
                    Some(Some(Ok(ev))) => batch.extend(from_terminal(terminal, &state, ev)),
                    Some(Some(Err(e))) => return Err(read_error(e)),
                    Some(None) => {
                        batch.push(Msg::Terminate);
                        break;
                    }
                    None => break,
                }
            }
        }
        for msg in batch {
            for effect in update(&mut state, &keymap, msg) {
                runner.apply(effect);
            }
            if state.quit {
                let unsaved = runner.finish().await;
                return Ok((matches!(state.phase, Phase::Running), unsaved));
            }
        }
    }
}
