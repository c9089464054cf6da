//! Cluster operations every runtime shares: create, recover, scale, wait until ready.

use std::time::{Duration, Instant};

use super::template::Template;
use super::{Cluster, Progress};
use crate::cluster::admin::Admin;
use crate::cluster::status::{NodeState, NodeStatus, Role, unsettled};
use crate::cluster::topology::{NodeSpec, Topology};
use crate::error::{Error, Result};
use crate::lifecycle::probe::{Prober, probe_nodes, proxy_stats};

const READY_TIMEOUT: Duration = Duration::from_secs(90);
const POLL: Duration = Duration::from_millis(150);

impl Cluster {
    pub(super) async fn phase<T>(
        &self,
        name: &str,
        fut: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let start = Instant::now();
        let out = fut.await?;
        self.report(Progress::Phase {
            name: name.to_string(),
            took: start.elapsed(),
        });
        Ok(out)
    }

    async fn admin(&self, node: &NodeSpec, topo: &Topology) -> Result<Admin> {
        Ok(Admin::tcp(self.rt.client_addr(node), &topo.credentials, "postgres").await?)
    }

    /// Creates the cluster: copied from the template for its shape where there is one,
    /// otherwise from nothing (keeping a template on the way); returns once every replica
    /// streams and HAProxy's checks agree with the roles.
    pub(super) async fn create(&self) -> Result<()> {
        let topo = self.topology();
        self.rt.prepare(&topo).await?;
        self.record.save(&self.dir)?;
        let template = Template::for_cluster(&self.root, &self.record.settings, self.rt.as_ref());
        let copied = match template.as_ref().filter(|t| t.exists()) {
            Some(t) => match self.create_from(t, &topo).await {
                Ok(()) => true,
                Err(e) => {
                    self.note(format!("{e}; making the cluster from scratch"));
                    false
                }
            },
            None => false,
        };
        if !copied {
            self.create_from_scratch(&topo, template.as_ref()).await?;
        }
        self.phase(
            "streaming and haproxy checks settled",
            self.wait_ready(&topo),
        )
        .await?;
        let mut done = self.record.clone();
        done.complete = true;
        done.save(&self.dir)
    }

    /// pg1 by initdb, the others cloned from it in parallel while HAProxy starts; the
    /// template, when one is to be made, is taken before the clones.
    async fn create_from_scratch(
        &self,
        topo: &Topology,
        template: Option<&Template>,
    ) -> Result<()> {
        let (primary, replicas) = topo
            .nodes
            .split_first()
            .ok_or_else(|| Error::new("a cluster needs at least one node"))?;
        self.phase(
            &format!("initdb {}", primary.name),
            self.rt.init_primary(primary, topo),
        )
        .await?;
        self.phase(
            &format!("start {}", primary.name),
            self.rt.start_node(primary),
        )
        .await?;
        self.phase("roles and slots", async {
            let admin = self.rt.bootstrap_session(primary).await?;
            admin.bootstrap(&topo.credentials).await?;
            for r in replicas {
                admin.ensure_slot(&r.slot_name()).await?;
            }
            Ok(())
        })
        .await?;
        if let Some(template) = template {
            self.make_template(template, primary).await?;
        }
        let clones = self.phase("clone and start replicas", async {
            let all = replicas.iter().map(|r| self.add_replica(r, primary, topo));
            futures::future::try_join_all(all).await.map(|_| ())
        });
        let proxy_config = self.rt.proxy_config(topo);
        let proxy = self.phase("start haproxy", self.rt.apply_proxy(&proxy_config));
        tokio::try_join!(clones, proxy)?;
        Ok(())
    }

    /// Clones `node` from `primary`, points it there and starts it.
    pub(super) async fn add_replica(
        &self,
        node: &NodeSpec,
        primary: &NodeSpec,
        topo: &Topology,
    ) -> Result<()> {
        self.rt.clone_replica(node, primary, topo).await?;
        let conf = self.rt.standby_conf(node, primary);
        self.rt
            .configure_node(node, &conf.render(&topo.credentials), true)
            .await?;
        self.rt.start_node(node).await
    }

    /// Brings back whatever of an existing cluster is not running (after a crash, a reboot or
    /// `down --keep-data`). Returns what had to be restarted.
    pub(super) async fn recover(&self) -> Result<Vec<String>> {
        let topo = self.topology();
        self.rt.prepare(&topo).await?;
        let mut restarted = self.bring_back_nodes(&topo).await?;
        let running = self.rt.proxy_running().await?;
        let config = self.rt.proxy_config(&topo);
        // A HAProxy that runs but does not answer (stopped, stuck) cannot be reloaded, since
        // a reload starts from its live health states: it is started afresh instead.
        if running && self.rt.proxy_api("show info").await.is_err() {
            self.rt.restart_proxy(&config).await?;
            restarted.push("haproxy (it did not answer)".into());
        } else {
            // Reloaded even when it runs: a `scale` cut short leaves it on the old shape.
            self.rt.apply_proxy(&config).await?;
            if !running {
                restarted.push("haproxy".into());
            }
        }
        // After HAProxy took its pinned address: the new rules let its checks in from there.
        for node in &topo.nodes {
            self.rt.refresh_access(node, &topo).await?;
        }
        self.apply_fences(&topo).await?;
        self.wait_ready(&topo).await?;
        self.restrict_check_role(&topo).await?;
        // Rewritten so an older version's record loses its wider mode.
        self.record.save(&self.dir)?;
        Ok(restarted)
    }

    /// Brings the health-check login of a cluster made by an older version to the current
    /// rules, on the primary (standbys follow by replication).
    async fn restrict_check_role(&self, topo: &Topology) -> Result<()> {
        let primary = self.primary(topo).await?;
        let admin = self.admin(&primary, topo).await?;
        admin.restrict_check_role(&topo.credentials).await?;
        Ok(())
    }

    /// Waits until every replica streams from the one primary and HAProxy routes by role.
    pub async fn wait_ready(&self, topo: &Topology) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut admin: Option<(String, Admin)> = None;
        let mut prober = Prober::default();
        loop {
            let nodes = prober.probe_nodes(self.rt.as_ref(), topo).await;
            let waiting = self.not_ready(topo, &nodes, &mut admin).await;
            if waiting.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::new(format!(
                    "cluster {} not ready after {} s: waiting for {}",
                    topo.cluster,
                    READY_TIMEOUT.as_secs(),
                    waiting.join(", ")
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// What is still missing; reuses one connection to the primary across polls.
    async fn not_ready(
        &self,
        topo: &Topology,
        nodes: &[NodeStatus],
        admin: &mut Option<(String, Admin)>,
    ) -> Vec<String> {
        // A fenced node is expected out of both backends, whatever it answers, and is not
        // waited for: it runs, if at all, because someone forced it.
        let fenced = |n: &NodeStatus| self.record.authority.fence_of(&n.name).is_some();
        // Nor is a node cut off the network on purpose: it cannot stream until it is healed.
        let mut cut = Vec::new();
        for n in &topo.nodes {
            if self.rt.is_partitioned(n).await.unwrap_or(false) {
                cut.push(n.name.clone());
            }
        }
        let nodes: Vec<NodeStatus> = nodes
            .iter()
            .cloned()
            .map(|mut n| {
                if fenced(&n) || cut.contains(&n.name) {
                    n.role = Role::Unknown;
                    n.state = NodeState::Stopped;
                }
                n
            })
            .collect();
        let nodes = nodes.as_slice();
        let primaries: Vec<&NodeStatus> =
            nodes.iter().filter(|n| n.role == Role::Primary).collect();
        let [primary] = primaries.as_slice() else {
            return vec![format!("exactly one primary (found {})", primaries.len())];
        };
        if admin.as_ref().is_none_or(|(name, _)| *name != primary.name) {
            let Some(spec) = topo.node(&primary.name) else {
                return vec!["the primary's address".into()];
            };
            match self.admin(spec, topo).await {
                Ok(a) => *admin = Some((primary.name.clone(), a)),
                Err(e) => return vec![e.to_string()],
            }
        }
        let Some((_, a)) = admin.as_ref() else {
            return vec!["a connection to the primary".into()];
        };
        let streaming = match a.streaming_standbys().await {
            Ok(s) => s,
            Err(e) => {
                *admin = None;
                return vec![e.to_string()];
            }
        };
        let mut waiting: Vec<String> = nodes
            .iter()
            // A node someone stopped or froze on purpose is not waited for.
            .filter(|n| !matches!(n.state, NodeState::Stopped | NodeState::Paused))
            .filter(|n| n.role != Role::Primary && !streaming.contains(&n.name))
            .map(|n| format!("{} to stream", n.name))
            .collect();
        match proxy_stats(self.rt.as_ref()).await {
            Some(stats) => waiting.extend(unsettled(nodes, &stats)),
            None => waiting.push("HAProxy's runtime API".into()),
        }
        waiting
    }

    /// The one node that accepts writes now.
    pub async fn primary(&self, topo: &Topology) -> Result<NodeSpec> {
        let nodes = probe_nodes(self.rt.as_ref(), topo).await;
        let primaries: Vec<&str> = nodes
            .iter()
            .filter(|n| n.role == Role::Primary)
            .map(|n| n.name.as_str())
            .collect();
        match primaries.as_slice() {
            [one] => topo
                .node(one)
                .cloned()
                .ok_or_else(|| Error::new(format!("{one} is not in the topology"))),
            [] => Err(Error::new(
                "no node is primary right now: promote a replica with `replica-lab node promote NODE`",
            )),
            many => Err(Error::new(format!(
                "split brain: {} are all primaries; stop all but one (`replica-lab node stop NODE`) \
                 and rejoin the others with `replica-lab node rewind NODE`",
                many.join(", ")
            ))),
        }
    }

    /// Changes the number of replicas while the cluster serves: new replicas are cloned
    /// and added to HAProxy by a seamless reload; removed ones are drained first.
    pub(super) async fn scale_now(&mut self, replicas: u8) -> Result<()> {
        let topo = self.topology();
        let primary = self.primary(&topo).await?;
        let current: Vec<NodeSpec> = topo
            .nodes
            .iter()
            .filter(|n| n.name != primary.name)
            .cloned()
            .collect();
        let want = usize::from(replicas);
        if want == current.len() {
            self.note(format!(
                "cluster {} already has {replicas} replicas",
                topo.cluster
            ));
            return Ok(());
        }
        if want > current.len() {
            self.grow(&topo, &primary, want - current.len()).await
        } else {
            let mut doomed = current;
            doomed.sort_by_key(|n| std::cmp::Reverse(n.index));
            doomed.truncate(doomed.len() - want);
            self.shrink(&topo, &primary, &doomed).await
        }
    }

    async fn grow(&mut self, topo: &Topology, primary: &NodeSpec, count: usize) -> Result<()> {
        let mut bigger = topo.clone();
        let mut added = Vec::new();
        for _ in 0..count {
            let index = bigger.free_index();
            let spec = crate::cluster::topology::node_spec(
                &self.record.settings,
                self.record.addressing,
                index,
            );
            bigger.nodes.push(spec.clone());
            added.push(spec);
        }
        bigger.nodes.sort_by_key(|n| n.index);
        let admin = self.admin(primary, topo).await?;
        for n in &added {
            admin.ensure_slot(&n.slot_name()).await?;
        }
        self.record.nodes = bigger.nodes.iter().map(|n| n.index).collect();
        self.record.settings.replicas = u8::try_from(bigger.nodes.len() - 1).unwrap_or(u8::MAX);
        self.record.cloning = added.iter().map(|n| n.name.clone()).collect();
        self.record.save(&self.dir)?;
        self.phase("clone and start new replicas", async {
            let all = added.iter().map(|n| self.add_replica(n, primary, &bigger));
            futures::future::try_join_all(all).await.map(|_| ())
        })
        .await?;
        self.record.cloning.clear();
        self.record.save(&self.dir)?;
        self.phase(
            "reload haproxy",
            self.rt.apply_proxy(&self.rt.proxy_config(&bigger)),
        )
        .await?;
        self.phase(
            "new replicas streaming and checked",
            self.wait_ready(&bigger),
        )
        .await
    }

    async fn shrink(
        &mut self,
        topo: &Topology,
        primary: &NodeSpec,
        doomed: &[NodeSpec],
    ) -> Result<()> {
        for n in doomed {
            // New connections stop going there at once; running ones get a moment to finish.
            self.rt
                .proxy_api(&format!("set server read/{} state drain", n.name))
                .await?;
            self.rt
                .proxy_api(&format!("set server write/{} state maint", n.name))
                .await?;
        }
        let drain_deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < drain_deadline {
            let stats = proxy_stats(self.rt.as_ref()).await.unwrap_or_default();
            let busy = stats
                .iter()
                .any(|s| doomed.iter().any(|n| n.name == s.server) && s.current_sessions > 0);
            if !busy {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        let mut smaller = topo.clone();
        smaller
            .nodes
            .retain(|n| doomed.iter().all(|d| d.name != n.name));
        self.phase(
            "reload haproxy",
            self.rt.apply_proxy(&self.rt.proxy_config(&smaller)),
        )
        .await?;
        self.phase("remove replicas", async {
            futures::future::try_join_all(doomed.iter().map(|n| self.rt.remove_node(n)))
                .await
                .map(|_| ())
        })
        .await?;
        self.record.nodes = smaller.nodes.iter().map(|n| n.index).collect();
        // A name used again by a later scale-up is a new node, cloned fresh: not fenced.
        for n in doomed {
            self.record.authority.unfence(&n.name);
        }
        self.record.settings.replicas = u8::try_from(smaller.nodes.len() - 1).unwrap_or(u8::MAX);
        self.record.save(&self.dir)?;
        let admin = self.admin(primary, topo).await?;
        for n in doomed {
            drop_slot_when_released(&admin, &n.slot_name()).await?;
        }
        Ok(())
    }
}

/// A slot stays active until the primary notices its walsender's client is gone.
async fn drop_slot_when_released(admin: &Admin, slot: &str) -> Result<()> {
    for _ in 0..50 {
        admin.drop_slot(slot).await?;
        let row = admin
            .client()
            .query_opt(
                "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1",
                &[&slot],
            )
            .await
            .map_err(|e| Error::new(format!("reading replication slots: {e}")))?;
        if row.is_none() {
            return Ok(());
        }
        tokio::time::sleep(POLL).await;
    }
    Err(Error::new(format!(
        "replication slot {slot} is still in use: drop it later with SELECT pg_drop_replication_slot('{slot}')"
    )))
}
