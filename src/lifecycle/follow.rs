//! A standby that could not be repointed when another node was promoted (frozen, cut off)
//! is repointed when it answers again, or fenced if it went past the fork meanwhile.

use super::Cluster;
use crate::cluster::admin::Admin;
use crate::cluster::fencing::{FenceKind, Lsn, can_follow, human_bytes};
use crate::cluster::topology::{NodeSpec, Topology};
use crate::error::{Error, Result};

impl Cluster {
    /// Points `node` at the record's primary if it is a standby that can follow it. Quiet and
    /// harmless when it already does: the same settings, reloaded.
    pub(super) async fn follow_primary(&self, topo: &Topology, node: &NodeSpec) -> Result<()> {
        let auth = &self.record.authority;
        let Some(primary) = auth.primary.as_deref().and_then(|p| topo.node(p)) else {
            return Ok(());
        };
        if primary.name == node.name
            || auth.fence_of(&node.name).is_some()
            || !self.rt.is_standby(node).await?
        {
            return Ok(());
        }
        let (upstream, _) = self.rt.peer_addr(primary);
        if self.upstream_host(topo, node).await.as_deref() == Some(upstream.as_str()) {
            // Repointed when the primary was promoted: past the fork on its timeline, rightly.
            return Ok(());
        }
        if let (Some(fork), Some(replayed)) = (auth.fork, self.replay_position(topo, node).await) {
            if !can_follow(replayed, fork) {
                let mut record = self.current_record()?;
                record.authority.fence(
                    &node.name,
                    FenceKind::Diverged,
                    format!(
                        "{} replayed WAL past the point where {} forked timeline {}",
                        node.name, primary.name, auth.timeline
                    ),
                );
                record.save(&self.dir)?;
                let mut now = self.clone();
                now.record = record;
                now.apply_fences(topo).await?;
                self.note(format!(
                    "{} cannot follow {}: it has {} of WAL past the fork; it is kept out of both \
                     endpoints until `replica-lab node rewind {}`",
                    node.name,
                    primary.name,
                    human_bytes(replayed.bytes_after(fork)),
                    node.name
                ));
                return Ok(());
            }
        }
        let conf = self.rt.standby_conf(node, primary);
        self.rt
            .configure_node(node, &conf.render(&topo.credentials), true)
            .await?;
        self.rt.reload_node(node).await
    }

    /// Refuses to promote a node that does not follow the cluster's primary: a fenced one, or
    /// one still pointed at an older primary (frozen or cut off through a failover). Promoted,
    /// it would fork the old timeline again, under a number the cluster already used.
    pub(super) async fn refuse_stale_candidate(
        &self,
        topo: &Topology,
        node: &NodeSpec,
        recorded: Option<&str>,
    ) -> Result<()> {
        if let Some(f) = self.record.authority.fence_of(&node.name) {
            return Err(Error::new(format!(
                "{} is fenced ({}): it cannot be promoted. `replica-lab node rewind {}` makes it a \
                 standby of the primary first",
                node.name, f.why, node.name
            )));
        }
        let Some(primary) = recorded
            .filter(|p| *p != node.name)
            .and_then(|p| topo.node(p))
        else {
            return Ok(());
        };
        let Some(up) = self.upstream_host(topo, node).await else {
            return Ok(());
        };
        if up == self.rt.peer_addr(primary).0 {
            return Ok(());
        }
        let from = topo
            .nodes
            .iter()
            .find(|n| self.rt.peer_addr(n).0 == up)
            .map_or(up.clone(), |n| n.name.clone());
        Err(Error::new(format!(
            "{me} still streams from {from}, not from the primary {p} (timeline {tl}): it missed \
             the failover, and promoted it would fork an older timeline. `replica-lab node resume \
             {me}` or `heal {me}` repoints it; `replica-lab node stop {me}` and `node rewind {me}` \
             bring it onto timeline {tl}",
            me = node.name,
            p = primary.name,
            tl = self.record.authority.timeline,
        )))
    }

    /// The host the standby streams from by its settings (`primary_conninfo`), if it answers.
    pub(super) async fn upstream_host(&self, topo: &Topology, node: &NodeSpec) -> Option<String> {
        let admin = Admin::tcp(self.rt.client_addr(node), &topo.credentials, "postgres")
            .await
            .ok()?;
        let row = admin
            .client()
            .query_one("SELECT current_setting('primary_conninfo')", &[])
            .await
            .ok()?;
        conninfo_host(&row.get::<_, String>(0)).map(str::to_string)
    }

    /// Where the standby's replay stands, if it answers.
    async fn replay_position(&self, topo: &Topology, node: &NodeSpec) -> Option<Lsn> {
        let admin = Admin::tcp(self.rt.client_addr(node), &topo.credentials, "postgres")
            .await
            .ok()?;
        let row = admin
            .client()
            .query_one("SELECT pg_last_wal_replay_lsn()::text", &[])
            .await
            .ok()?;
        row.get::<_, Option<String>>(0)
            .as_deref()
            .and_then(Lsn::parse)
    }
}

/// `host=` of a keyword/value connection string; values may be single-quoted.
fn conninfo_host(conninfo: &str) -> Option<&str> {
    conninfo.split_whitespace().find_map(|kv| {
        let v = kv.strip_prefix("host=")?;
        Some(v.trim_matches('\''))
    })
}

#[cfg(test)]
mod tests {
    use super::conninfo_host;

    #[test]
    fn the_upstream_host_is_read_from_the_conninfo() {
        assert_eq!(
            conninfo_host("host=pg2 port=5432 user=replicator application_name=pg3"),
            Some("pg2")
        );
        assert_eq!(
            conninfo_host("port=5432 host='127.0.0.12'"),
            Some("127.0.0.12")
        );
        assert_eq!(conninfo_host(""), None);
    }
}
