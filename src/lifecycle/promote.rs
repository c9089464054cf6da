//! Promotion that says what it costs: no second primary, no standby behind another promoted
//! without `--force`, and after it only the standbys that can follow are said to follow.

use std::time::{Duration, Instant};

use super::Cluster;
use crate::cluster::admin::Admin;
use crate::cluster::fencing::{FenceKind, Lsn, ahead_of, can_follow, human_bytes};
use crate::cluster::haproxy::{READ_BACKEND, WRITE_BACKEND, state_file};
use crate::cluster::status::{NodeState, NodeStatus, Role};
use crate::cluster::topology::{NodeSpec, Topology};
use crate::error::{Error, Result};
use crate::lifecycle::probe::{probe_nodes, proxy_stats};

const FOLLOW_TIMEOUT: Duration = Duration::from_secs(15);

impl Cluster {
    pub(super) async fn promote(
        &self,
        topo: &Topology,
        node: &NodeSpec,
        force: bool,
    ) -> Result<()> {
        let nodes = probe_nodes(self.rt.as_ref(), topo).await;
        let me = nodes.iter().find(|n| n.name == node.name);
        match me.map(|n| n.role) {
            Some(Role::Primary) => {
                return Err(Error::new(format!(
                    "{} is already a primary: promote one of the replicas instead",
                    node.name
                )));
            }
            Some(Role::Replica) => {}
            _ => {
                return Err(Error::new(format!(
                    "{} does not answer, so it cannot be promoted: check it with `replica-lab status`",
                    node.name
                )));
            }
        }
        let recorded = self.record.authority.primary.clone();
        self.refuse_stale_candidate(topo, node, recorded.as_deref())
            .await?;
        // A primary that still runs, or the recorded one while its process lives (frozen,
        // cut off), would be a second primary the moment this one is promoted.
        let rivals: Vec<&NodeStatus> = nodes
            .iter()
            .filter(|n| n.name != node.name)
            .filter(|n| {
                n.role == Role::Primary
                    || (Some(&n.name) == recorded.as_ref() && n.state != NodeState::Stopped)
            })
            .collect();
        let old_primary_was_down = rivals.is_empty();
        if let Some(r) = rivals.first().filter(|_| !force) {
            return Err(Error::new(format!(
                "{r} is the primary and its server is {state}: promoting {me} now would make two \
                 primaries. Stop it first (`replica-lab node stop {r}`), or add --force to stop it \
                 and promote {me}",
                r = r.name,
                state = r.state.as_str(),
                me = node.name
            )));
        }
        for r in &rivals {
            self.stop_rival(r).await?;
            if r.state == NodeState::Running {
                self.note(format!(
                    "stopped {} first, so that {} is the only primary",
                    r.name, node.name
                ));
            } else {
                // A clean stop hands the standbys its last WAL; a kill does not.
                self.note(format!(
                    "killed {} first ({}), so that {} is the only primary: commits it \
                     acknowledged that {} had not received are lost",
                    r.name,
                    r.state.as_str(),
                    node.name,
                    node.name
                ));
            }
        }
        let positions = self.positions(topo).await;
        let ahead = ahead_of(&node.name, &positions);
        if let Some(a) = ahead.first().filter(|_| !force) {
            return Err(Error::new(format!(
                "{a} has {human} ({bytes} bytes) of WAL that {me} never received: promoting {me} \
                 would lose the commits in it. Promote {a} instead (`replica-lab node promote {a}`), \
                 or add --force to promote {me} and lose them",
                a = a.node,
                human = human_bytes(a.bytes),
                bytes = a.bytes,
                me = node.name
            )));
        }
        let admin = Admin::tcp(self.rt.client_addr(node), &topo.credentials, "postgres").await?;
        let before = positions
            .iter()
            .find(|(n, _)| *n == node.name)
            .map(|(_, l)| *l);
        // The read endpoint would keep sending readers to it until its check failed twice,
        // reads on a primary: out first, back as DOWN once promoted, and its check says no.
        // A HAProxy that is down routes nothing, and starts with every server DOWN.
        let read_hold = format!("set server {READ_BACKEND}/{} state maint", node.name);
        let _ = self.rt.proxy_api(&read_hold).await;
        let promoted = admin.promote().await;
        let release = state_file::release_commands(READ_BACKEND, &node.name);
        let _ = self.rt.proxy_api(&release).await;
        if !promoted? {
            return Err(Error::new(format!(
                "{} did not finish promotion within 30 s: see its server log",
                node.name
            )));
        }
        let timeline = admin.primary_timeline().await?.unwrap_or(0);
        let fork = admin.fork_point(timeline).await?.or(before);
        // Written before anything else moves, so a crash from here on still knows who leads.
        let mut record = self.current_record()?;
        record.authority.promoted(&node.name, timeline, fork);
        record.save(&self.dir)?;
        for a in &ahead {
            self.note(format!(
                "lost: {} of WAL that {} had and {} never received",
                human_bytes(a.bytes),
                a.node,
                node.name
            ));
        }
        if old_primary_was_down {
            if let Some(old) = recorded.as_deref().filter(|o| *o != node.name) {
                self.note(format!(
                    "{old} was down: commits it acknowledged that no standby had received are not \
                     on {} (replication is asynchronous); `replica-lab node rewind {old}` discards them",
                    node.name
                ));
            }
        }
        for other in topo.nodes.iter().filter(|n| n.name != node.name) {
            admin.ensure_slot(&other.slot_name()).await?;
        }
        let (followers, diverged) = self.repoint(topo, node, fork, &mut record, &nodes).await?;
        record.save(&self.dir)?;
        let mut now = self.clone();
        now.record = record;
        now.apply_fences(topo).await?;
        for (name, past) in &diverged {
            self.note(format!(
                "{name} cannot follow {}: it has {} of WAL past the fork; it is kept out of both \
                 endpoints until `replica-lab node rewind {name}`",
                node.name,
                human_bytes(*past)
            ));
        }
        now.report_following(&admin, node, &followers).await?;
        now.wait_writes_reach(node).await;
        Ok(())
    }

    /// Every running standby's WAL position, once nothing arrives any more (a primary that
    /// was just stopped sends its last WAL as it shuts down).
    async fn positions(&self, topo: &Topology) -> Vec<(String, Lsn)> {
        let mut last = self.positions_now(topo).await;
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            let now = self.positions_now(topo).await;
            if now == last {
                break;
            }
            last = now;
        }
        last
    }

    async fn positions_now(&self, topo: &Topology) -> Vec<(String, Lsn)> {
        let mut out = Vec::new();
        for n in &topo.nodes {
            let Ok(admin) = Admin::tcp(self.rt.client_addr(n), &topo.credentials, "postgres").await
            else {
                continue;
            };
            if let Ok((true, _)) = admin.role_and_address().await {
                if let Ok(Some(lsn)) = admin.wal_position().await {
                    out.push((n.name.clone(), lsn));
                }
            }
        }
        out
    }

    /// Points the standbys that can follow `primary` at it; fences the ones past the fork.
    /// Returns the running followers and the diverged nodes with how far past the fork they are.
    async fn repoint(
        &self,
        topo: &Topology,
        primary: &NodeSpec,
        fork: Option<Lsn>,
        record: &mut crate::cluster::state::ClusterRecord,
        nodes: &[NodeStatus],
    ) -> Result<(Vec<String>, Vec<(String, u64)>)> {
        let mut followers = Vec::new();
        let mut diverged = Vec::new();
        for other in topo.nodes.iter().filter(|n| n.name != primary.name) {
            let state = nodes.iter().find(|n| n.name == other.name).map(|n| n.state);
            if state == Some(NodeState::Paused) {
                // A frozen server reloads nothing (and a paused container runs no command):
                // `node resume` repoints it.
                self.note(format!(
                    "{} is paused: `replica-lab node resume {}` repoints it to stream from {}",
                    other.name, other.name, primary.name
                ));
                continue;
            }
            if record.authority.fence_of(&other.name).is_some()
                || !self.rt.is_standby(other).await?
            {
                continue;
            }
            let running = nodes
                .iter()
                .any(|n| n.name == other.name && n.role == Role::Replica);
            if running {
                if let (Some(fork), Some(replayed)) = (fork, self.replayed(topo, other).await) {
                    if !can_follow(replayed, fork) {
                        record.authority.fence(
                            &other.name,
                            FenceKind::Diverged,
                            format!(
                                "{} replayed WAL past the point where {} forked timeline {}",
                                other.name, primary.name, record.authority.timeline
                            ),
                        );
                        diverged.push((other.name.clone(), replayed.bytes_after(fork)));
                        continue;
                    }
                }
            }
            let conf = self.rt.standby_conf(other, primary);
            self.rt
                .configure_node(other, &conf.render(&topo.credentials), true)
                .await?;
            if running {
                self.rt.reload_node(other).await?;
                followers.push(other.name.clone());
            } else {
                self.note(format!(
                    "{} is not running; it will stream from {} when started",
                    other.name, primary.name
                ));
            }
        }
        Ok((followers, diverged))
    }

    /// What a standby has replayed, once replay stops moving (it has applied what it received).
    async fn replayed(&self, topo: &Topology, node: &NodeSpec) -> Option<Lsn> {
        let admin = Admin::tcp(self.rt.client_addr(node), &topo.credentials, "postgres")
            .await
            .ok()?;
        let mut last: Option<Lsn> = None;
        for _ in 0..20 {
            let row = admin
                .client()
                .query_one("SELECT pg_last_wal_replay_lsn()::text", &[])
                .await
                .ok()?;
            let now = row
                .get::<_, Option<String>>(0)
                .as_deref()
                .and_then(Lsn::parse);
            if now.is_some() && now == last {
                return now;
            }
            last = now;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        last
    }

    /// Says which standbys stream from `primary`, once they do; never claims one that does not.
    async fn report_following(
        &self,
        admin: &Admin,
        primary: &NodeSpec,
        followers: &[String],
    ) -> Result<()> {
        if followers.is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + FOLLOW_TIMEOUT;
        let mut streaming = Vec::new();
        while Instant::now() < deadline {
            streaming = admin.streaming_standbys().await?;
            if followers.iter().all(|f| streaming.contains(f)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (yes, no): (Vec<&String>, Vec<&String>) =
            followers.iter().partition(|f| streaming.contains(f));
        if !yes.is_empty() {
            let names: Vec<&str> = yes.iter().map(|s| s.as_str()).collect();
            self.note(format!(
                "{} now stream from {}",
                names.join(", "),
                primary.name
            ));
        }
        if !no.is_empty() {
            let names: Vec<&str> = no.iter().map(|s| s.as_str()).collect();
            self.note(format!(
                "{} were pointed at {} but do not stream after {} s: check `replica-lab status` \
                 and their server logs",
                names.join(", "),
                primary.name,
                FOLLOW_TIMEOUT.as_secs()
            ));
        }
        Ok(())
    }

    /// Returns once the write endpoint reaches `node` alone, so a script's next write does not
    /// land in the gap while HAProxy's checks catch up.
    async fn wait_writes_reach(&self, node: &NodeSpec) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let stats = proxy_stats(self.rt.as_ref()).await.unwrap_or_default();
            let up: Vec<&str> = stats
                .iter()
                .filter(|s| s.backend == WRITE_BACKEND && s.routable())
                .map(|s| s.server.as_str())
                .collect();
            if up == [node.name.as_str()] {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.note(format!(
            "HAProxy does not route writes to {} yet: check `replica-lab status`",
            node.name
        ));
    }
}
