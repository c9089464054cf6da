//! What serde reads: the shape of each item, with spans where semantic checks point.

use serde::Deserialize;
use serde::de::IgnoredAny;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLesson {
    #[allow(dead_code)]
    pub(super) format: IgnoredAny,
    pub(super) id: Spanned<String>,
    pub(super) title: Spanned<String>,
    pub(super) summary: Spanned<String>,
    pub(super) requires: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) replicas: Option<Spanned<i64>>,
    #[allow(dead_code)]
    pub(super) setup: Option<IgnoredAny>,
    #[allow(dead_code)]
    pub(super) steps: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    pub(super) id: Spanned<String>,
    pub(super) title: Spanned<String>,
    pub(super) text: Spanned<String>,
    pub(super) target: Option<Spanned<String>>,
    pub(super) session: Option<Spanned<String>>,
    pub(super) sql: Option<Spanned<String>>,
    pub(super) hints: Spanned<Vec<Spanned<String>>>,
    #[allow(dead_code)]
    pub(super) setup: Option<IgnoredAny>,
    pub(super) solution: Option<Spanned<RawSolution>>,
    #[allow(dead_code)]
    pub(super) checks: Option<IgnoredAny>,
    pub(super) quiz: Option<Spanned<RawQuiz>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSolution {
    pub(super) sql: Option<Spanned<String>>,
    pub(super) actions: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQuiz {
    pub(super) question: Spanned<String>,
    pub(super) choices: Spanned<Vec<Spanned<String>>>,
    pub(super) answer: Spanned<i64>,
    pub(super) explain: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNodeAction {
    pub(super) action: Spanned<String>,
    pub(super) node: Option<Spanned<String>>,
    pub(super) ms: Option<Spanned<i64>>,
    pub(super) replicas: Option<Spanned<i64>>,
    pub(super) force: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSqlAction {
    pub(super) sql: Spanned<String>,
    pub(super) target: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSqlCheck {
    #[allow(dead_code)]
    pub(super) kind: IgnoredAny,
    pub(super) target: Spanned<String>,
    pub(super) query: Spanned<String>,
    #[allow(dead_code)]
    pub(super) expect: Option<IgnoredAny>,
    #[allow(dead_code)]
    pub(super) expect_rows: Option<IgnoredAny>,
    pub(super) compare: Option<Spanned<RawCompare>>,
    pub(super) within: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCompare {
    pub(super) op: Spanned<String>,
    pub(super) value: Spanned<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRanCheck {
    #[allow(dead_code)]
    pub(super) kind: IgnoredAny,
    pub(super) matches: Spanned<String>,
    pub(super) sqlstate: Option<Spanned<String>>,
    pub(super) success: Option<Spanned<bool>>,
    pub(super) target: Option<Spanned<String>>,
    pub(super) session: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTelemetryCheck {
    #[allow(dead_code)]
    pub(super) kind: IgnoredAny,
    #[allow(dead_code)]
    pub(super) streaming_replicas: Option<IgnoredAny>,
    pub(super) role: Option<Spanned<RawRole>>,
    pub(super) haproxy: Option<Spanned<RawHaproxy>>,
    pub(super) bytes_behind: Option<Spanned<RawBytesBehind>>,
    pub(super) replay_paused: Option<Spanned<RawReplayPaused>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQuizCheck {
    #[allow(dead_code)]
    pub(super) kind: IgnoredAny,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRole {
    pub(super) node: Spanned<String>,
    pub(super) is: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHaproxy {
    pub(super) backend: Spanned<String>,
    pub(super) server: Spanned<String>,
    pub(super) status: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBytesBehind {
    pub(super) node: Spanned<String>,
    pub(super) stage: Spanned<String>,
    pub(super) above: Option<Spanned<i64>>,
    pub(super) below: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReplayPaused {
    pub(super) node: Spanned<String>,
    pub(super) is: bool,
}
