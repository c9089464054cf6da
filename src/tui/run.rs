//! The app's event loop and its terminal: set up, restored on every way out.

use std::io::stdout;

use crossterm::event::{
    DisableMouseCapture, EnableMouseCapture, Event, EventStream, MouseEventKind,
};
use futures::StreamExt;
use tokio::sync::mpsc;

use super::course::{Class, Course};
use super::effects::{Attach, Runner};
use super::keys::Keymap;
use super::msg::{Effect, Fresh, Msg, Startup};
use super::state::{Focus, LessonPane, State, ThemeName};
use super::ui;
use super::update::update;
use crate::error::Error;
use crate::lesson::catalog::{catalog, progress_store};
use crate::lesson::progress::{LearnerProgress, ProgressStore};
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

/// A panic anywhere, on any task, restores the terminal first and ends the app: a TUI
/// half-torn-down by a dead task is worse than a clean exit with the cause.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = crossterm::execute!(stdout(), DisableMouseCapture);
        ratatui::restore();
        tracing::error!("panic: {info}");
        previous(info);
        eprintln!(
            "replica-lab stopped after an internal error; details in {}",
            log_path().display()
        );
        std::process::exit(101);
    }));
}

fn theme(settings: &Settings) -> ThemeName {
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return ThemeName::Mono;
    }
    match settings.theme.as_str() {
        "light" => ThemeName::Light,
        _ => ThemeName::Dark,
    }
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

/// The lessons and the learner's progress; without lessons the app is a free console, and
/// says why.
fn course(settings: &Settings) -> (Course, Option<ProgressStore>) {
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
            course.notice = loaded.note;
            (course, Some(store))
        }
        // Never overwrite progress this version cannot read: run without saving.
        Err(e) => {
            let mut course = Course::new(lessons, LearnerProgress::new(settings.learner_name()));
            course.notice = Some(format!("{e}; progress will not be saved this time"));
            (course, None)
        }
    }
}

/// Runs the app until the user quits; returns whether the cluster came up.
pub async fn run(settings: Settings) -> Result<bool, Error> {
    init_logging();
    let (keymap, ignored) = Keymap::new(&settings.keys);
    let mut state = State::new(settings.name.clone(), lesson(), theme(&settings));
    let (course, store) = course(&settings);
    state.course = course;
    state.course.vars = crate::lesson::template::credentials(&settings.credentials());
    let history = History::load(&History::default_path());
    state.console.history = history.entries().to_vec();
    if !ignored.is_empty() {
        state.console.output.info = Some(format!("ignored key settings: {}", ignored.join(", ")));
    }
    install_panic_hook();
    let mut terminal = ratatui::init();
    let _ = crossterm::execute!(stdout(), EnableMouseCapture);
    let result = event_loop(&mut terminal, state, keymap, settings, history, store).await;
    let _ = crossterm::execute!(stdout(), DisableMouseCapture);
    ratatui::restore();
    result
}

/// A learner who joined a class reports to it from the start.
fn join_class(state: &mut State, runner: &mut Runner, dir: std::path::PathBuf) {
    match crate::classroom::membership::load(&dir) {
        Ok(Some(m)) => {
            state.course.class = Some(Class::new(m.name.clone(), m.allow_drills));
            runner.start_class(m, dir);
        }
        Ok(None) => {}
        Err(e) => {
            state.console.output.info = Some(format!("progress is not reported to the class: {e}"));
        }
    }
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

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    mut state: State,
    keymap: Keymap,
    settings: Settings,
    history: History,
    store: Option<ProgressStore>,
) -> Result<bool, Error> {
    let (tx, mut rx) = mpsc::channel::<Msg>(256);
    let (ready_tx, mut ready_rx) = mpsc::channel::<Attach>(1);
    let class_dir = crate::classroom::classroom_dir(&settings);
    let mut runner = Runner::new(tx.clone(), ready_tx, settings, history, store);
    runner.start();
    join_class(&mut state, &mut runner, class_dir);
    let mut events = EventStream::new();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Error::new(format!("cannot watch for SIGTERM: {e}")))?;
    let draw_err = |e: std::io::Error| Error::new(format!("cannot draw: {e}"));
    loop {
        terminal.draw(|f| ui::draw(f, &state)).map_err(draw_err)?;
        let msg = tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(k))) => Msg::Key(k),
                Some(Ok(Event::Mouse(m))) => match m.kind {
                    MouseEventKind::Down(_) => match clicked(terminal, &state, m.column, m.row) {
                        Some(focus) => Msg::Click(focus),
                        None => continue,
                    },
                    _ => Msg::Mouse(m),
                },
                Some(Ok(Event::Resize(..))) => Msg::Resize,
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(Error::new(format!("cannot read the terminal: {e}"))),
                None => Msg::Terminate,
            },
            Some(m) = rx.recv() => m,
            Some(ready) = ready_rx.recv() => match (ready.result, ready.then) {
                (Ok(running), None) => {
                    runner.attach(running);
                    Msg::Startup(Startup::Ready)
                }
                (Err(e), None) => Msg::Startup(Startup::Failed(e)),
                // A lesson's fresh cluster: attach it, then run the lesson's setup on it.
                (Ok(running), Some((round, actions))) => {
                    runner.attach(running);
                    let prepare = Effect::Prepare { round, fresh: Fresh::Never, lesson: String::new(), actions };
                    runner.apply(prepare, &state);
                    continue;
                }
                (Err(e), Some((round, _))) => Msg::Prepared { round, result: Err(e) },
            },
            _ = term.recv() => Msg::Terminate,
            _ = tokio::signal::ctrl_c() => Msg::Terminate,
        };
        for effect in update(&mut state, &keymap, msg) {
            runner.apply(effect, &state);
        }
        if state.quit {
            state.course.bank_time();
            if let Err(e) = runner.save_progress_now(&state.course.progress) {
                tracing::error!("{e}");
                eprintln!("warning: {e}");
            }
            runner.finish_class().await;
            return Ok(matches!(state.phase, super::state::Phase::Running));
        }
    }
}
