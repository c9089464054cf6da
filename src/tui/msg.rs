//! What flows into `update` (messages) and out of it (effects).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyEvent, MouseEvent};

use crate::classroom::membership::Membership;
use crate::classroom::queue::ClassEvent;
use crate::classroom::reporter::{ClassMsg, ReporterState};
use crate::cluster::node_op::NodeOp;
use crate::lesson::clock::Now;
use crate::lesson::evaluate::Verdict;
use crate::lesson::model::{Action, SqlCheck};
use crate::lesson::progress::LearnerProgress;
use crate::runtime::docker::engine::PullProgress;
use crate::sql::{SqlEvent, Target};
use crate::telemetry::model::Snapshot;

#[derive(Clone, Debug, PartialEq)]
pub enum Startup {
    Phase {
        name: String,
        took: std::time::Duration,
    },
    Note(String),
    Pull(PullProgress),
    Ready,
    Failed(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Msg {
    /// The time: the loop sends it before every batch of other messages.
    Tick(Now),
    Key(KeyEvent),
    Mouse(MouseEvent),
    /// A click landed on a pane (the loop maps positions with the pure layout).
    Click(super::state::Focus),
    Resize,
    /// Quit from outside (SIGTERM, SIGINT).
    Terminate,
    Startup(Startup),
    /// The cluster made anew for a lesson (`Fresh`) is attached, or could not be made; the
    /// lesson's actions of round `round` wait for it.
    Recreated {
        round: u64,
        actions: Vec<Action>,
        result: Result<(), String>,
    },
    Snapshot(Arc<Snapshot>),
    Sql(SqlEvent),
    ActionDone {
        op: NodeOp,
        node: String,
        result: Result<String, String>,
    },
    ServedBy(Result<BTreeMap<String, usize>, String>),
    /// The app looked after the cluster on its own (see `lifecycle::supervise`).
    Supervised(String),
    /// The tutorial's setup (or solution) actions of generation `round` are done.
    Prepared {
        round: u64,
        result: Result<String, String>,
    },
    /// Results of judging `judging` of the open step's `sql` checks; `last` when no more
    /// tries follow.
    SqlVerdicts {
        judging: u64,
        verdicts: Vec<(usize, Verdict)>,
        last: bool,
    },
    /// Saving progress failed; it is still in the state and goes with the next save.
    ProgressNotSaved(String),
    /// Progress was saved to `path` after a save that failed, or with what did not load of
    /// the file kept in `kept` first.
    ProgressSaved {
        path: PathBuf,
        kept: Option<PathBuf>,
    },
    /// What this machine's class folder (`dir`) says about a class the learner joined.
    Membership {
        dir: PathBuf,
        found: Result<Option<Membership>, String>,
    },
    /// The instructor sent something.
    Class(ClassMsg),
    /// How delivery to the class's hub stands.
    ClassStatus(ReporterState),
    /// Something went wrong with the class's events on this machine (a full disk).
    ClassNotice(String),
}

/// `Prepare` rounds at or above this are drills, not the tutorial's: the tutorial's rounds
/// count up from 0 and never get here.
pub const DRILL_ROUND: u64 = 1 << 63;

/// Whether the tutorial needs a fresh cluster before its actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fresh {
    Never,
    /// When the cluster is not as lessons start (a failover, a stopped node, …).
    IfChanged,
    Always,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    RunSql {
        id: u64,
        target: Target,
        text: String,
        fresh: bool,
        /// A new sticky session even to the target the console has (`\connect`); a fresh run
        /// gets a new connection anyway.
        reconnect: bool,
    },
    CancelSql,
    NodeAction {
        op: NodeOp,
        node: String,
        force: bool,
    },
    ServedBy {
        connections: usize,
    },
    /// Keep a run in the console's history file.
    SaveHistory(String),
    /// Run the tutorial's actions, on a fresh cluster if asked; answered by `Prepared`.
    Prepare {
        round: u64,
        fresh: Fresh,
        /// For the progress line while the cluster is made anew.
        lesson: String,
        actions: Vec<Action>,
    },
    /// Judge `sql` checks, trying again for up to `patience` until they pass; a newer
    /// judging replaces it.
    JudgeSql {
        judging: u64,
        checks: Vec<(usize, SqlCheck)>,
        patience: Duration,
    },
    SaveProgress(Box<LearnerProgress>),
    /// Start reporting to the class `membership` names, with its queue under `dir`.
    JoinClass {
        membership: Box<Membership>,
        dir: PathBuf,
    },
    /// Queue a progress event for the class's hub.
    Report(ClassEvent),
}
