//! A lesson as the app uses it: plain data, already validated by [`super::load`].
//!
//! Nothing here knows about TOML or positions in a file; see [`super`] for the file format.

use std::time::Duration;

use crate::cluster::haproxy::{READ_BACKEND, WRITE_BACKEND};
use crate::cluster::node_op::NodeOp;
use crate::cluster::status::Role;
use crate::sql::Target;
use crate::telemetry::model::Lag;

/// The format version this build reads.
pub const FORMAT: i64 = 1;

/// The longest a `sql` check may keep retrying while replication catches up.
pub const MAX_WITHIN: Duration = Duration::from_secs(60);

/// The replicas a lesson is written for when it does not say.
pub const DEFAULT_REPLICAS: u8 = 3;

/// The highest node number a lesson may name (`pg1` … `pg10`).
pub const MAX_NODE: u32 = 10;

/// The longest replay delay an action may set.
pub const MAX_REPLAY_DELAY_MS: u64 = 600_000;

#[derive(Clone, Debug, PartialEq)]
pub struct Lesson {
    pub format: i64,
    /// Kebab-case, the file's name without `.toml` (`02-write-read`).
    pub id: String,
    pub title: String,
    /// One or two sentences for a list of lessons.
    pub summary: String,
    /// Ids of lessons that come earlier and should be done first.
    pub requires: Vec<String>,
    /// How many replicas the lesson is written for; it starts on a cluster of that size.
    pub replicas: u8,
    /// Run, in order, on a cluster in its starting state (all nodes up, `pg1` primary) when
    /// the lesson starts or is reset: whatever the lesson needs from earlier ones.
    pub setup: Vec<Action>,
    /// At least one.
    pub steps: Vec<Step>,
}

impl Lesson {
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Unique in its lesson.
    pub id: String,
    pub title: String,
    /// Markdown.
    pub text: String,
    /// Where the SQL console points when the step opens.
    pub target: Target,
    /// How the console must connect for the step to work, when it matters: the app switches
    /// to it when the step opens, and says so.
    pub session: Option<ConsoleMode>,
    /// Text put into the editor when the step opens.
    pub sql: Option<String>,
    /// Shown one at a time, each a little more telling; at least one.
    pub hints: Vec<String>,
    /// Run, in order, when the step opens.
    pub setup: Vec<Action>,
    /// What doing the step looks like; absent only on a step whose checks are all quizzes.
    pub solution: Option<Solution>,
    /// The step is done when every check passes; at least one. A step written with a quiz and
    /// no checks gets a single [`Check::Quiz`].
    pub checks: Vec<Check>,
    pub quiz: Option<Quiz>,
}

/// The console's two ways of connecting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleMode {
    /// One connection kept across runs: a transaction stays open between them.
    Sticky,
    /// A new connection for every run: load balancing shows, nothing outlives a run.
    Fresh,
}

impl ConsoleMode {
    pub fn is_fresh(self) -> bool {
        self == ConsoleMode::Fresh
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Solution {
    /// Statements to run on the step's target.
    pub sql: Option<String>,
    pub actions: Vec<Action>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Quiz {
    pub question: String,
    /// At least two.
    pub choices: Vec<String>,
    /// Index into `choices`, from 0.
    pub answer: usize,
    /// Shown once answered, right or wrong.
    pub explain: String,
}

impl Quiz {
    pub fn is_right(&self, choice: usize) -> bool {
        choice == self.answer
    }
}

/// Something done to the cluster: in a step's setup or its solution.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// `replica-lab node OP NODE`, with `--force` when `force`.
    Node {
        op: NodeOp,
        node: String,
        force: bool,
    },
    /// `SELECT pg_wal_replay_pause()` on a replica: WAL keeps arriving, nothing is applied.
    PauseReplay { node: String },
    /// `SELECT pg_wal_replay_resume()` on a replica.
    ResumeReplay { node: String },
    /// `recovery_min_apply_delay` on a replica (0 removes the delay).
    ReplayDelay { node: String, ms: u64 },
    /// Statements run on a target.
    Sql { sql: String, target: Target },
    /// `replica-lab scale N`: add or remove replicas while the cluster runs.
    Scale { replicas: u8 },
}

impl Action {
    /// A short description for the UI: `stop pg2`, `pause-replay pg3`, `sql on write`.
    pub fn label(&self) -> String {
        match self {
            Action::Node { op, node, force } => format!(
                "{} {node}{}",
                node_op_name(*op),
                if *force { " --force" } else { "" }
            ),
            Action::PauseReplay { node } => format!("pause-replay {node}"),
            Action::ResumeReplay { node } => format!("resume-replay {node}"),
            Action::ReplayDelay { node, ms } => format!("replay-delay {node} {ms}ms"),
            Action::Sql { target, .. } => format!("sql on {}", target.label()),
            Action::Scale { replicas } => format!("scale to {replicas} replicas"),
        }
    }
}

/// The name a node operation has in lesson files and on the command line.
pub fn node_op_name(op: NodeOp) -> &'static str {
    op.name()
}

/// One condition a step waits for.
#[derive(Clone, Debug, PartialEq)]
pub enum Check {
    /// A query on the live cluster returns what is expected.
    Sql(SqlCheck),
    /// The learner ran a statement in the console, with the expected outcome, while the step
    /// was open (statements from earlier steps do not count).
    Ran(RanCheck),
    /// The telemetry snapshot shows something.
    Telemetry(TelemetryCheck),
    /// The learner answered the step's quiz correctly.
    Quiz,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SqlCheck {
    pub target: CheckTarget,
    pub query: String,
    pub expect: Expect,
    /// Retry for up to this long before failing (replication takes a moment).
    pub within: Option<Duration>,
}

/// Where a `sql` check runs its query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckTarget {
    /// HAProxy's write endpoint.
    Write,
    /// HAProxy's read endpoint: whichever replica the connection lands on.
    Read,
    /// The node that is primary now.
    Primary,
    /// Every replica, each on its own connection: all must satisfy the check.
    Replicas,
    /// One node by name.
    Node(String),
}

impl CheckTarget {
    pub fn label(&self) -> String {
        match self {
            CheckTarget::Write => "write".into(),
            CheckTarget::Read => "read".into(),
            CheckTarget::Primary => "primary".into(),
            CheckTarget::Replicas => "replicas".into(),
            CheckTarget::Node(n) => n.clone(),
        }
    }
}

/// What a `sql` check's query must return.
#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    /// The first column of the first row, as PostgreSQL prints it (`t`, `42`, `hello`).
    Value(String),
    /// Every row, in order; `None` is SQL NULL.
    Rows(Vec<Vec<Option<String>>>),
    /// The first column of the first row, read as a number.
    Compare(Compare),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Compare {
    pub op: CmpOp,
    pub value: f64,
}

impl Compare {
    /// Whether `actual OP value` holds.
    pub fn holds(&self, actual: f64) -> bool {
        self.op.holds(actual, self.value)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    Ne,
}

impl CmpOp {
    pub const ALL: [CmpOp; 6] = [
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Eq,
        CmpOp::Ge,
        CmpOp::Gt,
        CmpOp::Ne,
    ];

    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Eq => "=",
            CmpOp::Ge => ">=",
            CmpOp::Gt => ">",
            CmpOp::Ne => "!=",
        }
    }

    pub fn from_symbol(s: &str) -> Option<CmpOp> {
        CmpOp::ALL.into_iter().find(|op| op.symbol() == s)
    }

    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Eq => a == b,
            CmpOp::Ge => a >= b,
            CmpOp::Gt => a > b,
            CmpOp::Ne => a != b,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RanCheck {
    /// Case-insensitive substring of the statement text the learner ran.
    pub matches: String,
    pub outcome: RanOutcome,
    /// Where the statement must have run (`write`, `read`, a node); anywhere when `None`.
    pub target: Option<Target>,
    /// The console mode it must have run in, for a step that teaches the mode (pressing F7);
    /// either when `None`.
    pub session: Option<ConsoleMode>,
}

impl RanCheck {
    /// Whether a statement the learner ran on `target` (on a connection of its own when
    /// `fresh`), and what became of it, satisfies the check.
    pub fn satisfied_by(
        &self,
        statement: &str,
        target: &Target,
        sqlstate: Option<&str>,
        fresh: bool,
    ) -> bool {
        let found = statement
            .to_lowercase()
            .contains(&self.matches.to_lowercase());
        found
            && self.target.as_ref().is_none_or(|t| t == target)
            && self.session.is_none_or(|m| m.is_fresh() == fresh)
            && match &self.outcome {
                RanOutcome::Success => sqlstate.is_none(),
                RanOutcome::Sqlstate(code) => sqlstate == Some(code.as_str()),
            }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RanOutcome {
    /// The statement succeeded.
    Success,
    /// The statement failed with this SQLSTATE (`25006`: read-only transaction).
    Sqlstate(String),
}

/// One predicate on the telemetry snapshot.
#[derive(Clone, Debug, PartialEq)]
pub enum TelemetryCheck {
    /// How many replicas the primary streams to.
    StreamingReplicas(Compare),
    /// The node's current role.
    Role { node: String, is: Role },
    /// A server's status in an HAProxy backend.
    Haproxy {
        backend: ProxyBackend,
        server: String,
        status: ProxyStatus,
    },
    /// Bytes a replica is behind the primary at one WAL stage.
    BytesBehind {
        node: String,
        stage: WalStage,
        bound: Bound,
    },
    /// Whether replay is paused on a replica.
    ReplayPaused { node: String, is: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyBackend {
    Write,
    Read,
}

impl ProxyBackend {
    /// The backend's name in HAProxy's statistics.
    pub fn name(self) -> &'static str {
        match self {
            ProxyBackend::Write => WRITE_BACKEND,
            ProxyBackend::Read => READ_BACKEND,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyStatus {
    Up,
    Down,
    Maint,
}

impl ProxyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyStatus::Up => "UP",
            ProxyStatus::Down => "DOWN",
            ProxyStatus::Maint => "MAINT",
        }
    }

    /// Whether HAProxy's status text is this status: `UP 1/2` (going down) is still `UP`.
    pub fn matches(self, status: &str) -> bool {
        status.split_whitespace().next() == Some(self.as_str())
    }
}

/// The stages of the WAL pipeline, as telemetry measures the bytes behind at each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalStage {
    Sent,
    Write,
    Flush,
    Replay,
}

impl WalStage {
    pub fn as_str(self) -> &'static str {
        match self {
            WalStage::Sent => "sent",
            WalStage::Write => "write",
            WalStage::Flush => "flush",
            WalStage::Replay => "replay",
        }
    }

    pub fn bytes(self, lag: &Lag) -> i64 {
        match self {
            WalStage::Sent => lag.sent_bytes,
            WalStage::Write => lag.write_bytes,
            WalStage::Flush => lag.flush_bytes,
            WalStage::Replay => lag.replay_bytes,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// Strictly more than this many bytes.
    Above(u64),
    /// Strictly fewer than this many bytes.
    Below(u64),
}

impl Bound {
    pub fn holds(self, bytes: i64) -> bool {
        match self {
            Bound::Above(n) => i128::from(bytes) > i128::from(n),
            Bound::Below(n) => i128::from(bytes) < i128::from(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons() {
        for op in CmpOp::ALL {
            assert_eq!(CmpOp::from_symbol(op.symbol()), Some(op));
        }
        assert!(CmpOp::Ge.holds(2.0, 2.0));
        assert!(!CmpOp::Gt.holds(2.0, 2.0));
        assert!(CmpOp::Ne.holds(1.0, 2.0));
    }
}
