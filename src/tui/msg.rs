//! What flows into `update` (messages) and out of it (effects).

use std::collections::BTreeMap;
use std::sync::Arc;

use crossterm::event::{KeyEvent, MouseEvent};

use crate::cluster::node_ops::NodeOp;
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
    Key(KeyEvent),
    Mouse(MouseEvent),
    /// A click landed on a pane (the loop maps positions with the pure layout).
    Click(super::state::Focus),
    Resize,
    /// Quit from outside (SIGTERM, SIGINT).
    Terminate,
    Startup(Startup),
    Snapshot(Arc<Snapshot>),
    Sql(SqlEvent),
    ActionDone {
        op: NodeOp,
        node: String,
        result: Result<String, String>,
    },
    ServedBy(Result<BTreeMap<String, usize>, String>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    RunSql {
        id: u64,
        target: Target,
        text: String,
        fresh: bool,
    },
    CancelSql,
    NodeAction {
        op: NodeOp,
        node: String,
    },
    ServedBy {
        connections: usize,
    },
    SaveHistory,
}
