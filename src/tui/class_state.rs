//! The class a learner joined, as the app shows it, and what reporting to it needs to
//! remember between messages. The tutorial itself knows nothing of classes: only the pace
//! reaches it (`Course::pace`).

use crate::classroom::reporter::ReporterState;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct JoinedClass {
    /// The learner's name in the class.
    pub name: String,
    pub allow_drills: bool,
    pub status: ReporterState,
    /// The instructor's latest message: in the lesson pane until the next one.
    pub broadcast: Option<String>,
    /// Messages not looked at yet (the title bar's badge).
    pub unread: usize,
    pub drill: Option<DrillRun>,
    /// The lesson last reported opened.
    pub lesson_reported: Option<usize>,
    /// A statement or F3 asked for judging: its outcome is reported as `checked`.
    pub check_asked: bool,
    /// Report `checked` when the judging with this tag (or a newer one) gives its last
    /// answer.
    pub report_after: Option<u64>,
}

impl JoinedClass {
    pub fn new(name: String, allow_drills: bool) -> JoinedClass {
        JoinedClass {
            name,
            allow_drills,
            ..JoinedClass::default()
        }
    }

    /// A new step: what was asked on the old one is no longer awaited.
    pub fn new_step(&mut self) {
        // A drill that is over has been seen on the step it happened on.
        if self.drill.as_ref().is_some_and(|d| d.outcome.is_some()) {
            self.drill = None;
        }
        self.check_asked = false;
        self.report_after = None;
    }

    /// The title bar's word on delivery: `✓`, `12 queued`, `hub unreachable`.
    pub fn delivery(&self) -> String {
        let s = &self.status;
        let queued = match s.queued {
            0 => String::new(),
            n => format!("{n} queued"),
        };
        match (s.connected, s.last_error.is_some()) {
            (true, _) if queued.is_empty() => "✓".into(),
            (true, _) => queued,
            (false, true) if queued.is_empty() => "hub unreachable".into(),
            (false, true) => format!("hub unreachable · {queued}"),
            (false, false) if queued.is_empty() => "connecting…".into(),
            (false, false) => format!("connecting… · {queued}"),
        }
    }
}

/// A drill the instructor started, on this learner's cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrillRun {
    pub id: i64,
    pub action: String,
    pub note: String,
    /// What is done to the cluster, e.g. `kill pg1`.
    pub what: String,
    /// `None` while it runs; why it was skipped or failed, or what it did.
    pub outcome: Option<Result<String, String>>,
}
