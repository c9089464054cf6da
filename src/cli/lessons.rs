//! `replica-lab lessons …`: new, check, list, reset and verify.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::cli::args::{LessonFlags, LessonsCommand, UpFlags};
use crate::cli::load_settings;
use crate::cli::out::{errln, outln};
use crate::error::{Error, Result};
use crate::lesson::catalog::{catalog, load, progress_store};
use crate::lesson::probe::PgQuery;
use crate::lesson::progress::{Damaged, LearnerProgress, ProgressStore};
use crate::lesson::scaffold;
use crate::lesson::verify::{self, Bench, Console, Mode, Pass, StepReport};
use crate::lesson::verify_repeat::flaky;
use crate::lesson::{Lesson, LessonError, load_dir};
use crate::lifecycle::{bring_up, remove};
use crate::settings::Settings;
use crate::sql::tls::ClusterTls;
use crate::telemetry::{Telemetry, TelemetryConfig};

/// The cluster `lessons verify` makes unless told another name.
pub const VERIFY_CLUSTER: &str = "lessons-verify";

pub async fn run(command: LessonsCommand) -> Result<()> {
    match command {
        LessonsCommand::New { id, dir } => new_lesson(&id, &dir),
        LessonsCommand::Check { path } => check(path.as_deref()),
        LessonsCommand::List { lessons, json } => list(&lessons, json),
        LessonsCommand::Reset { id, lessons } => reset(id.as_deref(), &lessons),
        LessonsCommand::Verify {
            path,
            up,
            keep,
            repeat,
            quick,
        } => verify(path.as_deref(), &up, keep, repeat, quick).await,
    }
}

/// Prints every problem on a line of its own; the error says how many there were.
fn problems(errors: &[LessonError]) -> Error {
    for e in errors {
        errln!("{e}");
    }
    Error::new(format!(
        "{} problem{} in the lessons above",
        errors.len(),
        if errors.len() == 1 { "" } else { "s" }
    ))
}

/// The learner's progress as read, with what the learner must be told about the file.
pub struct Opened {
    pub store: ProgressStore,
    pub progress: LearnerProgress,
    /// Also printed on stderr.
    pub warnings: Vec<String>,
    /// What did not load: kept beside the file before a save drops it.
    pub damaged: Option<Damaged>,
}

/// Loads the learner's progress without changing any file; each warning (entries that did
/// not load, where they will be kept) is printed on stderr too.
pub fn load_progress(settings: &Settings) -> Result<Opened> {
    let store = progress_store(settings);
    let loaded = store.load().map_err(|e| Error::new(e.to_string()))?;
    let warnings: Vec<String> = loaded.note.into_iter().collect();
    for w in &warnings {
        errln!("warning: {w}");
    }
    Ok(Opened {
        store,
        progress: loaded.progress,
        warnings,
        damaged: loaded.damaged,
    })
}

/// Writes `DIR/ID.toml` from the scaffold; never over a file that is there.
fn new_lesson(id: &str, dir: &Path) -> Result<()> {
    use std::io::Write as _;
    scaffold::check_id(id).map_err(Error::new)?;
    let path = dir.join(format!("{id}.toml"));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::new(format!(
                "{} exists: choose another id, or remove the file first",
                path.display()
            )));
        }
        Err(e) => {
            return Err(Error::new(format!(
                "cannot write {}: {e}; give a folder you can write to with --dir",
                path.display()
            )));
        }
    };
    file.write_all(scaffold::lesson(id).as_bytes())
        .map_err(|e| Error::new(format!("cannot write {}: {e}", path.display())))?;
    let shown = path.display();
    outln!(
        "wrote {shown}: one step that works; edit it into your lesson\n  \
         replica-lab lessons check {shown}     # the format\n  \
         replica-lab lessons verify {shown}    # every step on a real cluster\n  \
         replica-lab --lessons {}              # learn from that folder",
        dir.display()
    )
}

fn check(path: Option<&Path>) -> Result<()> {
    let lessons = load(path).map_err(|e| problems(&e))?;
    let steps: usize = lessons.iter().map(|l| l.steps.len()).sum();
    outln!("ok: {} lessons, {steps} steps", lessons.len())
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
    let Opened {
        progress, warnings, ..
    } = load_progress(&settings)?;
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
        let doc = serde_json::json!({
            "learner": progress.learner,
            "lessons": listed,
            "warnings": warnings,
        });
        return outln!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(|e| Error::new(e.to_string()))?
        );
    }
    outln!("lessons for {}:", settings.learner_name())?;
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
        outln!(
            "{mark} {:<28} {:>2}/{:<2} {}{help}",
            l.id,
            l.done,
            l.steps,
            l.title
        )?;
    }
    Ok(())
}

fn reset(id: Option<&str>, flags: &LessonFlags) -> Result<()> {
    let settings = load_settings(flags)?;
    let lessons = catalog(&settings).map_err(|e| problems(&e))?;
    let Opened {
        store,
        mut progress,
        mut damaged,
        ..
    } = load_progress(&settings)?;
    let said = match id {
        Some(id) => {
            if !lessons.iter().any(|l| l.id == id) {
                let ids: Vec<&str> = lessons.iter().map(|l| l.id.as_str()).collect();
                return Err(Error::new(format!(
                    "no lesson {id:?}: the lessons are {}",
                    ids.join(", ")
                )));
            }
            if !progress.reset_lesson(id) {
                return outln!("no progress in {id}: nothing to do");
            }
            format!("progress in {id} forgotten")
        }
        None => {
            progress.reset_all();
            "progress in every lesson forgotten".to_string()
        }
    };
    // Saved before it is said, so a reader that stops reading does not undo it; said only
    // when it was saved.
    let kept = store
        .save_keeping(&progress, &mut damaged)
        .map_err(|e| Error::new(format!("nothing was forgotten: {e}")))?;
    if let Some(kept) = kept {
        errln!(
            "note: what could not be read of {} is now kept in {}",
            store.path().display(),
            kept.display()
        );
    }
    outln!("{said}")
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

async fn verify(
    path: Option<&Path>,
    up: &UpFlags,
    keep: bool,
    repeat: u32,
    quick: bool,
) -> Result<()> {
    let lessons = to_verify(path)?;
    let mut settings = load_settings(up)?;
    if up.name.name.is_none() {
        settings.name = VERIFY_CLUSTER.into();
    }
    outln!(
        "verifying {} lesson{} on cluster {}",
        lessons.len(),
        if lessons.len() == 1 { "" } else { "s" },
        settings.name
    )?;
    let started = Instant::now();
    let passes: &[Pass] = if quick { &Pass::QUICK } else { &Pass::ALL };
    let outcome = tokio::select! {
        r = verify_all(&settings, &lessons, repeat, passes) => r,
        _ = tokio::signal::ctrl_c() => Err(Error::new("interrupted")),
    };
    if !keep {
        if let Err(e) = remove(&settings, false).await {
            errln!("warning: cannot remove cluster {}: {e}", settings.name);
        }
    }
    let unsound = outcome?;
    outln!(
        "{} of {} lessons sound in {:.1} s",
        lessons.len() - unsound.len(),
        lessons.len(),
        started.elapsed().as_secs_f64()
    )?;
    if unsound.is_empty() {
        Ok(())
    } else {
        Err(Error::new(format!("problems in {}", unsound.join(", "))))
    }
}

/// Each lesson on a cluster of its own, made fresh, once per pass (sticky with the
/// robustness checks, then fresh), `repeat` times; returns the lessons with problems. Stops
/// after the lesson during which stdout was closed: nobody reads the rest.
async fn verify_all(
    settings: &Settings,
    lessons: &[Lesson],
    repeat: u32,
    passes: &[Pass],
) -> Result<Vec<String>> {
    let mut unsound = Vec::new();
    for lesson in lessons {
        let mut sound = true;
        for &pass in passes {
            let mut runs = Vec::new();
            for round in 1..=repeat {
                let reports = verify_once(settings, lesson, pass, round, repeat).await?;
                sound &= verify::all_sound(&reports) && reports.len() >= lesson.steps.len();
                runs.push(reports);
            }
            for f in flaky(&runs) {
                sound = false;
                outln!("  FLAKY {}", f.line())?;
            }
        }
        if !sound {
            unsound.push(lesson.id.clone());
        }
    }
    Ok(unsound)
}

/// One pass through `lesson` on a cluster made fresh for it.
async fn verify_once(
    settings: &Settings,
    lesson: &Lesson,
    pass: Pass,
    round: u32,
    repeat: u32,
) -> Result<Vec<StepReport>> {
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
    let mode = match pass.mode {
        Mode::Sticky => String::new(),
        Mode::Fresh => " in fresh console mode".to_string(),
    };
    let round = if repeat > 1 {
        format!(", run {round} of {repeat}")
    } else {
        String::new()
    };
    outln!(
        "{}{mode}{round}  (fresh cluster in {:.1} s)",
        lesson.id,
        up.elapsed().as_secs_f64()
    )?;
    let topo = cluster.topology();
    let telemetry = Telemetry::spawn(cluster.rt.clone(), topo.clone(), TelemetryConfig::default());
    let tls = ClusterTls::for_cluster(&cluster.dir, &topo)?;
    let console = Console::spawn(topo.credentials.clone(), tls.clone());
    let query = PgQuery::new(&topo, tls);
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
    let mut written = Ok(());
    let mut each = |r: &StepReport| {
        if written.is_ok() {
            written = print_step(r);
        }
    };
    let reports = verify::lesson(&bench, lesson, pass, &mut each).await;
    written?;
    Ok(reports)
}

fn print_step(r: &StepReport) -> Result<()> {
    let verdict = if r.problems.is_empty() {
        "ok  "
    } else {
        "FAIL"
    };
    outln!("  {verdict} {:<28} {:>5.1} s", r.id, r.took.as_secs_f64())?;
    for p in &r.problems {
        outln!("         {p}")?;
    }
    Ok(())
}
