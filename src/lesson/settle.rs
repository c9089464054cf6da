//! Setup that settles before a step acts: actions run in order, and a lesson's or a step's
//! setup counts as done only when every replica that replays has replayed it. An action that
//! halts a node (pauses or delays its replay, stops, freezes, cuts it off or promotes it)
//! first waits for the same, so the node holds what came before it. The app and `lessons
//! verify` both run actions through [`run_actions`].

use std::time::{Duration, Instant};

use super::act;
use super::model::Action;
use crate::cluster::admin::Admin;
use crate::cluster::fencing::Lsn;
use crate::cluster::node_op::NodeOp;
use crate::lifecycle::Cluster;

/// The longest a setup waits for the replicas to replay it.
pub const SETTLE_WITHIN: Duration = Duration::from_secs(30);

const POLL_EVERY: Duration = Duration::from_millis(100);

/// How long a node gets to answer one poll before it counts as not replaying.
const POLL_TIMEOUT: Duration = Duration::from_secs(3);

/// Whether `action` stops a node from replaying what the primary writes next.
pub fn halts_replay(action: &Action) -> bool {
    match action {
        Action::PauseReplay { .. } => true,
        Action::ReplayDelay { ms, .. } => *ms > 0,
        Action::Node { op, .. } => matches!(
            op,
            NodeOp::Stop | NodeOp::Kill | NodeOp::Pause | NodeOp::Partition | NodeOp::Promote
        ),
        Action::ResumeReplay { .. } | Action::Sql { .. } | Action::Scale { .. } => false,
    }
}

/// Where one node stands, as a poll saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    pub node: String,
    pub in_recovery: bool,
    /// Replayed up to (a replica) or written up to (a primary).
    pub lsn: Option<Lsn>,
    /// Replay is paused, delayed on purpose, or no WAL arrives: it will not catch up by itself.
    pub held: bool,
}

/// The replicas that replay but have not reached `target` yet, with where each is.
pub fn behind(target: Lsn, positions: &[Position]) -> Vec<(String, Option<Lsn>)> {
    positions
        .iter()
        .filter(|p| p.in_recovery && !p.held)
        .filter(|p| p.lsn.is_none_or(|l| l < target))
        .map(|p| (p.node.clone(), p.lsn))
        .collect()
}

/// The primary's position among `positions`: the node the record names when it answers as a
/// primary, else the first that does.
pub fn primary_lsn(positions: &[Position], named: Option<&str>) -> Option<Lsn> {
    let primaries: Vec<&Position> = positions.iter().filter(|p| !p.in_recovery).collect();
    primaries
        .iter()
        .find(|p| Some(p.node.as_str()) == named)
        .or_else(|| primaries.first())
        .and_then(|p| p.lsn)
}

/// What running a list of actions came to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ran {
    /// What the actions reported along the way.
    pub notes: Vec<String>,
    /// Replicas that had not replayed the setup in time, said in a sentence.
    pub unsettled: Option<String>,
}

/// An action that failed; the ones after it did not run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failed {
    pub label: String,
    pub error: String,
}

/// Runs `actions` in order; `reshaped` is called after each that changes the cluster's shape
/// (scale). Before an action that halts a node, and after the last one when `is_setup`, waits
/// until every replica has replayed what the primary had written.
pub async fn run_actions(
    cluster: &Cluster,
    actions: &[Action],
    is_setup: bool,
    reshaped: &(dyn Fn() + Send + Sync),
) -> Result<Ran, Failed> {
    let mut ran = Ran::default();
    let note_unsettled = |ran: &mut Ran, r: Result<(), String>| {
        if let Err(why) = r {
            ran.unsettled.get_or_insert(why);
        }
    };
    for action in actions {
        if halts_replay(action) {
            note_unsettled(&mut ran, settle(cluster, SETTLE_WITHIN).await);
        }
        match act::run(cluster, action).await {
            Ok(text) if !text.is_empty() => ran.notes.push(text),
            Ok(_) => {}
            Err(e) => {
                return Err(Failed {
                    label: action.label(),
                    error: e.to_string(),
                });
            }
        }
        if matches!(action, Action::Scale { .. }) {
            reshaped();
        }
    }
    if is_setup && !actions.is_empty() {
        note_unsettled(&mut ran, settle(cluster, SETTLE_WITHIN).await);
    }
    Ok(ran)
}

const POSITION_SQL: &str = "SELECT pg_is_in_recovery(), \
  (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text, \
  pg_is_in_recovery() AND (pg_get_wal_replay_pause_state() <> 'not paused' \
    OR current_setting('recovery_min_apply_delay') NOT IN ('0', '0ms') \
    OR NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming'))";

/// Waits until every replica that replays has reached the primary's current WAL position,
/// taken once now; nodes that do not answer are left out. `Err` says who was still behind.
pub async fn settle(cluster: &Cluster, within: Duration) -> Result<(), String> {
    let record = cluster.current_record().map_err(|e| e.to_string())?;
    let topo = record.topology();
    let mut nodes = Vec::new();
    for spec in &topo.nodes {
        let addr = cluster.rt.client_addr(spec);
        let connect = Admin::tcp(addr, &topo.credentials, "postgres");
        if let Ok(Ok(admin)) = tokio::time::timeout(POLL_TIMEOUT, connect).await {
            nodes.push((spec.name.clone(), admin));
        }
    }
    let first = poll(&nodes).await;
    let named = record.authority.primary.as_deref();
    let Some(target) = primary_lsn(&first, named) else {
        return Ok(());
    };
    let deadline = Instant::now() + within;
    let mut positions = first;
    loop {
        let late = behind(target, &positions);
        if late.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let who: Vec<String> = late
                .iter()
                .map(|(n, l)| match l {
                    Some(l) => format!("{n} at {l}"),
                    None => format!("{n} at no position"),
                })
                .collect();
            return Err(format!(
                "the setup had not replayed on every replica after {} s: {}, the primary at {target}",
                within.as_secs(),
                who.join(", ")
            ));
        }
        tokio::time::sleep(POLL_EVERY).await;
        positions = poll(&nodes).await;
    }
}

async fn poll(nodes: &[(String, Admin)]) -> Vec<Position> {
    let polls = nodes.iter().map(|(name, admin)| position(name, admin));
    futures::future::join_all(polls)
        .await
        .into_iter()
        .flatten()
        .collect()
}

async fn position(name: &str, admin: &Admin) -> Option<Position> {
    let query = admin.client().query_one(POSITION_SQL, &[]);
    let row = tokio::time::timeout(POLL_TIMEOUT, query).await.ok()?.ok()?;
    let lsn: Option<String> = row.get(1);
    Some(Position {
        node: name.to_string(),
        in_recovery: row.get(0),
        lsn: lsn.as_deref().and_then(Lsn::parse),
        held: row.get::<_, Option<bool>>(2).unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(node: &str, in_recovery: bool, lsn: u64, held: bool) -> Position {
        Position {
            node: node.into(),
            in_recovery,
            lsn: Some(Lsn(lsn)),
            held,
        }
    }

    #[test]
    fn only_replicas_that_replay_are_waited_for() {
        let p = [
            pos("pg1", false, 100, false),
            pos("pg2", true, 100, false),
            pos("pg3", true, 90, false),
            pos("pg4", true, 10, true),
        ];
        assert_eq!(primary_lsn(&p, Some("pg1")), Some(Lsn(100)));
        assert_eq!(behind(Lsn(100), &p), vec![("pg3".into(), Some(Lsn(90)))]);
        assert!(behind(Lsn(90), &p).is_empty());
    }

    #[test]
    fn the_named_primary_wins_over_a_rival() {
        let p = [pos("pg1", false, 50, false), pos("pg2", false, 70, false)];
        assert_eq!(primary_lsn(&p, Some("pg2")), Some(Lsn(70)));
        assert_eq!(primary_lsn(&p, None), Some(Lsn(50)));
        assert_eq!(primary_lsn(&[pos("pg2", true, 1, false)], None), None);
    }

    #[test]
    fn halting_actions_wait_first() {
        let node = |op| Action::Node {
            op,
            node: "pg3".into(),
            force: false,
        };
        assert!(halts_replay(&Action::PauseReplay { node: "pg3".into() }));
        assert!(halts_replay(&node(NodeOp::Stop)));
        assert!(!halts_replay(&node(NodeOp::Start)));
        assert!(!halts_replay(&Action::ReplayDelay {
            node: "pg3".into(),
            ms: 0
        }));
        assert!(!halts_replay(&Action::Scale { replicas: 2 }));
    }
}
