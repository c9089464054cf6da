//! Actions, for a step's `setup` and `solution`: node operations and SQL.

use super::model::{Action, MAX_REPLAY_DELAY_MS, node_op_name};
use super::raw::{RawNodeAction, RawSqlAction};
use super::read::Parser;
use super::read_sql::RunBy;
use super::span::Value;
use crate::cluster::node_op::NodeOp;
use crate::settings::{MAX_REPLICAS, MIN_REPLICAS};
use crate::sql::Target;

const ACTIONS: &str = "stop, start, kill, pause, resume, promote, rewind, partition, heal, \
                       pause-replay, resume-replay, replay-delay or scale";
const NODE_OPS: [NodeOp; 9] = [
    NodeOp::Stop,
    NodeOp::Start,
    NodeOp::Kill,
    NodeOp::Pause,
    NodeOp::Resume,
    NodeOp::Promote,
    NodeOp::Rewind,
    NodeOp::Partition,
    NodeOp::Heal,
];

impl<'d, 'a> Parser<'d, 'a> {
    pub(super) fn actions(&mut self, path: &str, v: &'d Value<'a>) -> Option<Vec<Action>> {
        let items = self.array(path, v)?;
        let mut actions = Vec::new();
        let mut complete = true;
        for (p, item) in items {
            match self.action(&p, item) {
                Some(a) => actions.push(a),
                None => complete = false,
            }
        }
        complete.then_some(actions)
    }

    fn action(&mut self, path: &str, v: &'d Value<'a>) -> Option<Action> {
        let table = self.table(path, v)?;
        if table.contains_key("action") {
            let raw: RawNodeAction = self.de(path, v)?;
            let name = raw.action.get_ref().as_str();
            if name == "scale" {
                return self.scale(path, v, &raw);
            }
            if let Some(r) = &raw.replicas {
                self.error(
                    r.span(),
                    &format!("{path}.replicas"),
                    format!("only scale takes `replicas`, not {name}"),
                );
            }
            let node = match &raw.node {
                Some(n) => self.node(n, &format!("{path}.node")),
                None => {
                    self.error(
                        v.span(),
                        &format!("{path}.node"),
                        format!(
                            "missing field `node`: {name} acts on one node, e.g. node = \"pg2\""
                        ),
                    );
                    None
                }
            };
            if let Some(ms) = raw.ms.as_ref().filter(|_| name != "replay-delay") {
                self.error(
                    ms.span(),
                    &format!("{path}.ms"),
                    format!("only replay-delay takes `ms`, not {name}"),
                );
            }
            let force = match &raw.force {
                Some(f) if !matches!(name, "start" | "promote") => {
                    self.error(
                        f.span(),
                        &format!("{path}.force"),
                        format!("only start and promote take `force`, not {name}"),
                    );
                    false
                }
                Some(f) => *f.get_ref(),
                None => false,
            };
            let action = match name {
                "pause-replay" => Action::PauseReplay { node: node? },
                "resume-replay" => Action::ResumeReplay { node: node? },
                "replay-delay" => {
                    let Some(ms) = &raw.ms else {
                        self.error(
                            v.span(),
                            &format!("{path}.ms"),
                            "missing field `ms`: replay-delay needs the delay in milliseconds",
                        );
                        return None;
                    };
                    let value = u64::try_from(*ms.get_ref())
                        .ok()
                        .filter(|&n| n <= MAX_REPLAY_DELAY_MS);
                    if value.is_none() {
                        self.error(
                            ms.span(),
                            &format!("{path}.ms"),
                            format!(
                                "replay delay {} ms is out of range: 0 (no delay) to {MAX_REPLAY_DELAY_MS}",
                                ms.get_ref()
                            ),
                        );
                    }
                    Action::ReplayDelay {
                        node: node?,
                        ms: value?,
                    }
                }
                other => match NODE_OPS.into_iter().find(|op| node_op_name(*op) == other) {
                    Some(op) => Action::Node {
                        op,
                        node: node?,
                        force,
                    },
                    None => {
                        self.error(
                            raw.action.span(),
                            &format!("{path}.action"),
                            format!("unknown action {other:?}: use {ACTIONS}"),
                        );
                        return None;
                    }
                },
            };
            Some(action)
        } else if table.contains_key("sql") {
            let raw: RawSqlAction = self.de(path, v)?;
            let sql_path = format!("{path}.sql");
            self.text_field(&raw.sql, &sql_path);
            self.sql(&raw.sql, &sql_path, RunBy::Server);
            let target = match &raw.target {
                Some(t) => self.step_target(t, &format!("{path}.target"))?,
                None => Target::Write,
            };
            Some(Action::Sql {
                sql: raw.sql.into_inner(),
                target,
            })
        } else {
            self.error(
                v.span(),
                path,
                "an action is { action = \"stop\", node = \"pg2\" } or { sql = \"…\", target = \"write\" }",
            );
            None
        }
    }

    /// `{ action = "scale", replicas = N }`: the cluster, not one node.
    fn scale(&mut self, path: &str, v: &'d Value<'a>, raw: &RawNodeAction) -> Option<Action> {
        for (present, field) in [
            (raw.node.as_ref().map(|n| n.span()), "node"),
            (raw.ms.as_ref().map(|m| m.span()), "ms"),
        ] {
            if let Some(span) = present {
                self.error(
                    span,
                    &format!("{path}.{field}"),
                    format!("scale acts on the whole cluster and takes no `{field}`"),
                );
            }
        }
        let Some(replicas) = &raw.replicas else {
            self.error(
                v.span(),
                &format!("{path}.replicas"),
                "missing field `replicas`: scale needs the new number of replicas",
            );
            return None;
        };
        let n = *replicas.get_ref();
        match u8::try_from(n)
            .ok()
            .filter(|r| (MIN_REPLICAS..=MAX_REPLICAS).contains(r))
        {
            Some(replicas) => Some(Action::Scale { replicas }),
            None => {
                self.error(
                    replicas.span(),
                    &format!("{path}.replicas"),
                    format!("{n} replicas is out of range: {MIN_REPLICAS} to {MAX_REPLICAS}"),
                );
                None
            }
        }
    }
}
