//! The operations a node can be put through, as plain data: the CLI, lessons and the app
//! name them; `lifecycle::node_ops` carries them out.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum NodeOp {
    Stop,
    Start,
    /// SIGKILL: a crash, no clean shutdown.
    Kill,
    /// SIGSTOP: the server is frozen, its connections hang.
    Pause,
    Resume,
    Promote,
    /// Turn a stopped former primary into a replica of the current primary.
    Rewind,
    /// Cut the node off the cluster network (Docker runtime).
    Partition,
    /// Reconnect a partitioned node.
    Heal,
}

impl NodeOp {
    /// The operation's name on the command line, in lesson files and on screen.
    pub fn name(self) -> &'static str {
        match self {
            NodeOp::Stop => "stop",
            NodeOp::Start => "start",
            NodeOp::Kill => "kill",
            NodeOp::Pause => "pause",
            NodeOp::Resume => "resume",
            NodeOp::Promote => "promote",
            NodeOp::Rewind => "rewind",
            NodeOp::Partition => "partition",
            NodeOp::Heal => "heal",
        }
    }
}
