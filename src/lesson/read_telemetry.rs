//! Telemetry checks: one predicate on what the dashboard sees of the cluster.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::model::{
    Bound, Check, CmpOp, Compare, ProxyBackend, ProxyStatus, TelemetryCheck, WalStage,
};
use super::raw::{RawCompare, RawTelemetryCheck};
use super::read::Parser;
use super::span::{Value, integer, join};
use crate::cluster::status::Role;

const PREDICATES: [&str; 5] = [
    "streaming_replicas",
    "role",
    "haproxy",
    "bytes_behind",
    "replay_paused",
];

impl<'d, 'a> Parser<'d, 'a> {
    pub(super) fn telemetry_check(
        &mut self,
        path: &str,
        v: &'d Value<'a>,
        table: &'d DeTable<'a>,
    ) -> Option<Check> {
        let raw: RawTelemetryCheck = self.de(path, v)?;
        let chosen = self.one_of(
            path,
            table,
            &PREDICATES,
            "a telemetry check takes exactly one predicate",
        );
        let Some((name, value)) = chosen else {
            self.error(
                v.span(),
                path,
                "a telemetry check needs one of streaming_replicas, role, haproxy, bytes_behind \
                 or replay_paused",
            );
            return None;
        };
        let field = join(path, &name);
        let check = match name.as_str() {
            "streaming_replicas" => match value.get_ref() {
                DeValue::Integer(_) => match integer(value.get_ref()).filter(|n| *n >= 0) {
                    Some(n) => TelemetryCheck::StreamingReplicas(Compare {
                        op: CmpOp::Eq,
                        value: n as f64,
                    }),
                    None => {
                        self.error(value.span(), &field, "a count cannot be negative");
                        return None;
                    }
                },
                DeValue::Table(_) => {
                    let c: RawCompare = self.de(&field, value)?;
                    let c = Spanned::new(value.span(), c);
                    TelemetryCheck::StreamingReplicas(self.compare(&c, &field)?)
                }
                other => {
                    self.error(
                        value.span(),
                        &field,
                        format!(
                            "invalid type: {}, expected a count or {{ op = \">=\", value = 1 }}",
                            other.type_str()
                        ),
                    );
                    return None;
                }
            },
            "role" => {
                let r = raw.role.as_ref()?.get_ref();
                let node = self.node(&r.node, &format!("{field}.node"));
                let is = match r.is.get_ref().as_str() {
                    "primary" => Some(Role::Primary),
                    "replica" => Some(Role::Replica),
                    other => {
                        self.error(
                            r.is.span(),
                            &format!("{field}.is"),
                            format!("unknown role {other:?}: use primary or replica"),
                        );
                        None
                    }
                };
                TelemetryCheck::Role {
                    node: node?,
                    is: is?,
                }
            }
            "haproxy" => {
                let h = raw.haproxy.as_ref()?.get_ref();
                let backend = match h.backend.get_ref().as_str() {
                    "write" => Some(ProxyBackend::Write),
                    "read" => Some(ProxyBackend::Read),
                    other => {
                        self.error(
                            h.backend.span(),
                            &format!("{field}.backend"),
                            format!("unknown backend {other:?}: use write or read"),
                        );
                        None
                    }
                };
                let server = self.node(&h.server, &format!("{field}.server"));
                let status = match h.status.get_ref().as_str() {
                    "UP" => Some(ProxyStatus::Up),
                    "DOWN" => Some(ProxyStatus::Down),
                    "MAINT" => Some(ProxyStatus::Maint),
                    other => {
                        self.error(
                            h.status.span(),
                            &format!("{field}.status"),
                            format!("unknown status {other:?}: use UP, DOWN or MAINT"),
                        );
                        None
                    }
                };
                TelemetryCheck::Haproxy {
                    backend: backend?,
                    server: server?,
                    status: status?,
                }
            }
            "bytes_behind" => {
                let b = raw.bytes_behind.as_ref()?;
                let inner = b.get_ref();
                let node = self.node(&inner.node, &format!("{field}.node"));
                let stage = match inner.stage.get_ref().as_str() {
                    "sent" => Some(WalStage::Sent),
                    "write" => Some(WalStage::Write),
                    "flush" => Some(WalStage::Flush),
                    "replay" => Some(WalStage::Replay),
                    other => {
                        self.error(
                            inner.stage.span(),
                            &format!("{field}.stage"),
                            format!("unknown stage {other:?}: use sent, write, flush or replay"),
                        );
                        None
                    }
                };
                let bound = match (&inner.above, &inner.below) {
                    (Some(_), Some(below)) => {
                        self.error(
                            below.span(),
                            &format!("{field}.below"),
                            "bytes_behind takes `above` or `below`, not both",
                        );
                        None
                    }
                    (None, None) => {
                        self.error(
                            b.span(),
                            &format!("{field}.above"),
                            "bytes_behind needs `above = N` or `below = N`",
                        );
                        None
                    }
                    (Some(n), None) => self.bytes(n, &format!("{field}.above")).map(Bound::Above),
                    (None, Some(n)) => self.bytes(n, &format!("{field}.below")).map(Bound::Below),
                };
                TelemetryCheck::BytesBehind {
                    node: node?,
                    stage: stage?,
                    bound: bound?,
                }
            }
            _ => {
                let r = raw.replay_paused.as_ref()?.get_ref();
                let node = self.node(&r.node, &format!("{field}.node"));
                TelemetryCheck::ReplayPaused {
                    node: node?,
                    is: r.is,
                }
            }
        };
        Some(Check::Telemetry(check))
    }

    fn bytes(&mut self, n: &Spanned<i64>, path: &str) -> Option<u64> {
        let value = u64::try_from(*n.get_ref()).ok();
        if value.is_none() {
            self.error(n.span(), path, "a byte count cannot be negative");
        }
        value
    }
}
