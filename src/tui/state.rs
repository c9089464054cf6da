//! Everything the screen shows, as plain data. Only `update` changes it; rendering reads it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::class_state::JoinedClass;
use super::editor::Editor;
use crate::cluster::node_op::NodeOp;
use crate::lesson::clock::Now;
use crate::lesson::course::Course;
use crate::lesson::generation::Generation;
use crate::runtime::docker::engine::PullProgress;
use crate::sql::{Notice, ResultSet, SqlError, Target, TxState};
use crate::telemetry::model::Snapshot;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    Lesson,
    Editor,
    Results,
    Nodes,
}

impl Focus {
    pub const ORDER: [Focus; 4] = [Focus::Lesson, Focus::Editor, Focus::Results, Focus::Nodes];
}

/// A node action waiting for the user's yes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confirm {
    pub op: NodeOp,
    pub node: String,
    /// `--force`: start a fenced node as it is, or promote despite a running primary.
    pub force: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    Confirm(Confirm),
    /// Ctrl-R: incremental search through the console history.
    HistorySearch {
        query: String,
        selected: usize,
    },
    /// The list of lessons, with progress.
    Lessons {
        selected: usize,
    },
    /// Running the solution marks the step as solved with help: ask first.
    ConfirmSolve,
    /// Resetting a lesson forgets its progress and makes the cluster anew.
    ConfirmReset {
        lesson: usize,
    },
    /// A lesson whose prerequisites are not done yet.
    ConfirmOpen {
        lesson: usize,
        missing: Vec<String>,
    },
}

/// One step of bringing the cluster up, as the start-up screen lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct StartupStep {
    pub name: String,
    pub took: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    /// Starting or attaching to the cluster.
    Starting {
        steps: Vec<StartupStep>,
        notes: Vec<String>,
        pull: Option<PullProgress>,
        /// Why start-up failed, with the fix; the app stays open to show it.
        error: Option<String>,
    },
    Running,
}

/// Who answered the last run: the console's badge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServedBy {
    pub node: Option<String>,
    pub address: String,
    pub role: Option<String>,
}

/// The console's output pane: the last run's results, bounded by the session's row cap.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Output {
    pub results: Vec<ResultSet>,
    pub notices: Vec<Notice>,
    pub error: Option<SqlError>,
    pub served_by: Option<ServedBy>,
    pub elapsed: Option<Duration>,
    /// The last result is a preview of a statement still streaming.
    pub preview: bool,
    /// A line of information (e.g. `\conninfo`, a cancelled run).
    pub info: Option<String>,
    /// First row shown, first column shown.
    pub scroll_row: usize,
    pub scroll_col: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Console {
    pub editor: Editor,
    pub target: Target,
    /// A new connection per run (shows per-connection balancing) instead of a sticky session.
    pub fresh: bool,
    /// The id of the run in flight; answers for other ids are stale and dropped.
    pub running: Option<u64>,
    /// Where run ids come from.
    pub runs: Generation,
    pub output: Output,
    pub tx: TxState,
    /// `\x`: one column per line.
    pub expanded: bool,
    /// `\timing`: show how long each run took.
    pub timing: bool,
    /// Past runs, oldest first.
    pub history: Vec<String>,
    /// Position while browsing history with Up/Down.
    pub history_pos: Option<usize>,
    /// The text and target of the run in flight, for the tutorial's `ran` checks.
    pub running_text: (String, Target),
    /// The run in flight has a connection of its own (fresh mode, not a `\connect`).
    pub running_fresh: bool,
    /// F5 was pressed while the lesson was being prepared: the editor's text runs when it is
    /// ready.
    pub queued_run: bool,
}

impl Console {
    /// Whether an answer for run `id` is one the console waits for: only the newest run's,
    /// and only while it runs.
    pub fn awaits(&self, id: u64) -> bool {
        self.running.is_some() && self.runs.is_current(id)
    }
}

/// A node action in flight or just finished.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionStatus {
    pub op: NodeOp,
    pub node: String,
    /// `None` while running; `Some(Ok)` with a note or `Some(Err)` with the cause.
    pub outcome: Option<Result<String, String>>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dashboard {
    pub snapshot: Option<Arc<Snapshot>>,
    /// Recent replay bytes behind, per node, oldest first (for sparklines).
    pub replay_history: BTreeMap<String, Vec<u64>>,
    pub selected: usize,
    pub served_by: Option<BTreeMap<String, usize>>,
    pub served_by_running: bool,
    pub action: Option<ActionStatus>,
    /// The last thing the app did on its own (HAProxy restarted, a split brain settled).
    pub duty: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LessonPane {
    pub title: String,
    pub text: String,
    pub scroll: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThemeName {
    Dark,
    Light,
    /// NO_COLOR: no colours at all, only bold and reverse.
    Mono,
}

#[derive(Clone, Debug, PartialEq)]
pub struct State {
    pub phase: Phase,
    pub focus: Focus,
    pub overlay: Overlay,
    pub lesson: LessonPane,
    pub course: Course,
    /// The class the learner reports to, when they joined one.
    pub class: Option<JoinedClass>,
    pub console: Console,
    pub dash: Dashboard,
    pub theme: ThemeName,
    /// The cluster's name and runtime, for the title bar.
    pub cluster: String,
    /// The time as of the newest `Msg::Tick`: what `update` and the tutorial go by.
    pub now: Now,
    pub quit: bool,
}

impl State {
    pub fn new(cluster: String, lesson: LessonPane, theme: ThemeName) -> State {
        State {
            phase: Phase::Starting {
                steps: Vec::new(),
                notes: Vec::new(),
                pull: None,
                error: None,
            },
            focus: Focus::Editor,
            overlay: Overlay::None,
            lesson,
            course: Course::without_lessons(None),
            class: None,
            console: Console {
                editor: Editor::default(),
                target: Target::Write,
                fresh: false,
                running: None,
                runs: Generation::default(),
                output: Output::default(),
                tx: TxState::Idle,
                expanded: false,
                timing: false,
                history: Vec::new(),
                history_pos: None,
                running_text: (String::new(), Target::Write),
                running_fresh: false,
                queued_run: false,
            },
            dash: Dashboard::default(),
            theme,
            cluster,
            // Until the loop's first tick.
            now: Now::read(),
            quit: false,
        }
    }

    /// The nodes the dashboard lists, in order.
    pub fn node_names(&self) -> Vec<String> {
        self.dash
            .snapshot
            .as_ref()
            .map(|s| s.nodes.iter().map(|n| n.name.clone()).collect())
            .unwrap_or_default()
    }
}
