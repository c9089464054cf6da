//! `replica-lab lessons …`: check, list, reset and verify.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::cli::args::{LessonFlags, LessonsCommand, UpFlags};
use crate::error::{Error, Result};
use crate::lesson::catalog::{catalog, load, progress_store};
use crate::lesson::probe::PgQuery;
use crate::lesson::progress::{LearnerProgress, ProgressStore};
use crate::lesson::verify::{self, Bench, Console, StepReport};
use crate::lesson::{Lesson, LessonError, load_dir};
use crate::lifecycle::{bring_up, remove};
use crate::settings::Settings;
use crate::settings::load_settings;
use crate::telemetry::{Telemetry, TelemetryConfig};

/// The cluster `lessons verify` makes unless told another name.
pub const VERIFY_CLUSTER: &str = "lessons-verify";

pub async fn run(command: LessonsCommand) -> Result<()> {
    match command {
        LessonsCommand::Check { path } => check(path.as_deref()),
        LessonsCommand::List { lessons, json } => list(&lessons, json),
        LessonsCommand::Reset { id, lessons } => reset(id.as_deref(), &lessons),
        LessonsCommand::Verify { path, up, keep } => verify(path.as_deref(), &up, keep).await,
    }
}

/// Prints every problem on a line of its own; the error says how many there were.
fn problems(errors: &[LessonError]) -> Error {
    for e in errors {
        eprintln!("{e}");
    }
    Error::new(format!(
        "{} problem{} in the lessons above",
        errors.len(),
        if errors.len() == 1 { "" } else { "s" }
    ))
}

/// Loads the learner's progress; a damaged file was moved aside, and the note says where.
pub fn load_progress(settings: &Settings) -> Result<(ProgressStore, LearnerProgress)> {
    let store = progress_store(settings);
    let loaded = store.load().map_err(|e| Error::new(e.to_string()))?;
    if let Some(note) = loaded.note {
        eprintln!("warning: {note}");
    }
    Ok((store, loaded.progress))
}

fn check(path: Option<&Path>) -> Result<()> {
    let lessons = load(path).map_err(|e| problems(&e))?;
    let steps: usize = lessons.iter().map(|l| l.steps.len()).sum();
    println!("ok: {} lessons, {steps} steps", lessons.len());
    Ok(())
}

#[derive(Serialize)]
struct Listed<'a> {
    id: &'a str,
    title: &'a str,
    summary: &'a str,
    requires: &'a [String],
    steps: usize,
    done: usize,
    with_help: usize,
    complete: bool,
    current: bool,
}

fn list(flags: &LessonFlags, json: bool) -> Result<()> {
    let settings = load_settings(flags)?;
    let lessons = catalog(&settings).map_err(|e| problems(&e))?;
    let (_, progress) = load_progress(&settings)?;
    let listed: Vec<Listed> = lessons
        .iter()
        .map(|l| {
            let s = progress.summary(l);
            Listed {
                id: &l.id,
                title: &l.title,
                summary: &l.summary,
                requires: &l.requires,
                steps: s.total,
                done: s.done,
                with_help: s.with_help,
                complete: progress.is_complete(l),
                current: progress.current_lesson.as_deref() == Some(l.id.as_str()),
            }
        })
        .collect();
    if json {
        let doc = serde_json::json!({ "learner": progress.learner, "lessons": listed });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(|e| Error::new(e.to_string()))?
        );
        return Ok(());
    }
    println!("lessons for {}:", settings.learner_name());
    for l in &listed {
        let mark = if l.complete {
            "✓"
        } else if l.current {
            "▶"
        } else {
            " "
        };
        let help = if l.with_help > 0 {
            format!(" ({} with help)", l.with_help)
        } else {
            String::new()
        };
        println!(
            "{mark} {:<28} {:>2}/{:<2} {}{help}",
            l.id, l.done, l.steps, l.title
        );
    }
    Ok(())
}

fn reset(id: Option<&str>, flags: &LessonFlags) -> Result<()> {
    let settings = load_settings(flags)?;
    let lessons = catalog(&settings).map_err(|e| problems(&e))?;
    let (store, mut progress) = load_progress(&settings)?;
    match id {
        Some(id) => {
            if !lessons.iter().any(|l| l.id == id) {
                let ids: Vec<&str> = lessons.iter().map(|l| l.id.as_str()).collect();
                return Err(Error::new(format!(
                    "no lesson {id:?}: the lessons are {}",
                    ids.join(", ")
                )));
            }
            if progress.reset_lesson(id) {
                println!("progress in {id} forgotten");
            } else {
                println!("no progress in {id}: nothing to do");
            }
        }
        None => {
            progress.reset_all();
            println!("progress in every lesson forgotten");
        }
    }
    store.save(&progress).map_err(|e| Error::new(e.to_string()))
}

/// The lessons to verify: all at `path`, or the one a file holds (read with its folder, so
/// `requires` resolve).
fn to_verify(path: Option<&Path>) -> Result<Vec<Lesson>> {
    let Some(file) = path.filter(|p| p.is_file()) else {
        return load(path).map_err(|e| problems(&e));
    };
    let folder = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let all = load_dir(&folder).map_err(|e| problems(&e))?;
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let one: Vec<Lesson> = all.into_iter().filter(|l| l.id == stem).collect();
    if one.is_empty() {
        return Err(Error::new(format!(
            "{} holds no lesson with the id {stem:?}",
            folder.display()
        )));
    }
    Ok(one)
}

async fn verify(path: Option<&Path>, up: &UpFlags, keep: bool) -> Result<()> {
    let lessons = to_verify(path)?;
    let mut settings = load_settings(up)?;
    if up.name.name.is_none() {
        settings.name = VERIFY_CLUSTER.into();
    }
    println!(
        "verifying {} lesson{} on cluster {}",
        lessons.len(),
        if lessons.len() == 1 { "" } else { "s" },
        settings.name
    );
    let started = Instant::now();
    let outcome = tokio::select! {
        r = verify_all(&settings, &lessons) => r,
        _ = tokio::signal::ctrl_c() => Err(Error::new("interrupted")),
    };
    if !keep {
        if let Err(e) = remove(&settings, false).await {
            eprintln!("warning: cannot remove cluster {}: {e}", settings.name);
        }
    }
    let unsound = outcome?;
    println!(
        "{} of {} lessons sound in {:.1} s",
        lessons.len() - unsound.len(),
        lessons.len(),
        started.elapsed().as_secs_f64()
    );
    if unsound.is_empty() {
        Ok(())
    } else {
        Err(Error::new(format!("problems in {}", unsound.join(", "))))
    }
}

/// Each lesson on a cluster of its own, made fresh; returns the lessons with problems.
async fn verify_all(settings: &Settings, lessons: &[Lesson]) -> Result<Vec<String>> {
    let mut unsound = Vec::new();
    for lesson in lessons {
        let up = Instant::now();
        // Each lesson on the cluster it is written for.
        let settings = &Settings {
            replicas: lesson.replicas,
            ..settings.clone()
        };
        remove(settings, false).await?;
        let cluster = bring_up(
            settings,
            Arc::new(|_| {}),
            Some(super::pull_bar::pull_bar()),
        )
        .await?;
        println!(
            "{}  (fresh cluster in {:.1} s)",
            lesson.id,
            up.elapsed().as_secs_f64()
        );
        let topo = cluster.topology();
        let telemetry =
            Telemetry::spawn(cluster.rt.clone(), topo.clone(), TelemetryConfig::default());
        let console = Console::spawn(topo.credentials.clone());
        let query = PgQuery {
            credentials: topo.credentials.clone(),
        };
        let reshaped = || {
            if let Ok(record) = cluster.current_record() {
                telemetry.set_topology(record.topology());
            }
        };
        let bench = Bench {
            cluster: &cluster,
            query: &query,
            snapshots: telemetry.snapshots.clone(),
            console: &console,
            reshaped: &reshaped,
        };
        let reports = verify::lesson(&bench, lesson, &mut print_step).await;
        if !verify::all_sound(&reports) || reports.len() < lesson.steps.len() {
            unsound.push(lesson.id.clone());
        }
    }
    Ok(unsound)
}

fn print_step(r: &StepReport) {
    let verdict = if r.problems.is_empty() {
        "ok  "
    } else {
        "FAIL"
    };
    println!("  {verdict} {:<28} {:>5.1} s", r.id, r.took.as_secs_f64());
    for p in &r.problems {
        println!("         {p}");
    }
}
