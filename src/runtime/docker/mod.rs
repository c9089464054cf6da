//! Nodes as containers through the Docker Engine API: one network, one volume per node, one
//! container per server and one for HAProxy, all labelled with the cluster's name. Nodes find
//! each other by network alias (`pg1`, `pg2`, …); HAProxy reaches them at their fixed
//! addresses (see `network`).

pub mod engine;
mod access;
mod network;
mod node;
mod proxy;
mod sweep;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, Mount, MountType, NetworkConnectRequest,
    NetworkCreateRequest, NetworkDisconnectRequest, NetworkingConfig, PortBinding,
    VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, ListContainersOptionsBuilder,
    ListVolumesOptionsBuilder, RemoveVolumeOptionsBuilder, StopContainerOptionsBuilder,
};

use self::access::ACCESS_SCRIPT;
use self::engine::{
    LABEL_CLUSTER, LABEL_NODE, OneShot, api_error, ensure_image, exec, is_not_found, sh_quote,
};
use crate::cluster::admin::Admin;
use crate::cluster::haproxy::{self, ProxyEnv, ProxyServer, node_target};
use crate::cluster::pgconf::{self, NODE_CONF, NodeConf, STANDBY_SIGNAL};
use crate::cluster::state::RuntimeKind;
use crate::cluster::status::ProcState;
use crate::cluster::topology::{Endpoints, NodeSpec, Topology};
use crate::runtime::{ClusterRuntime, Error, NodeSignal, Result};
use crate::settings::Settings;

/// Where a node's volume is mounted: the `postgres` account's home in both the official and
/// the Debian-built images, so a new volume takes that account's ownership.
const VOLUME_AT: &str = "/var/lib/postgresql";
const PGDATA: &str = "/var/lib/postgresql/replica-lab";
const PG_PORT: u16 = 5432;

pub struct DockerRuntime {
    docker: Docker,
    cluster: String,
    dir: PathBuf,
    pg_image: String,
    proxy_image: String,
    /// Where the endpoints are published on the host.
    endpoints: Endpoints,
    superuser_password: String,
    /// The cluster network's subnet, once it exists.
    subnet: Mutex<Option<network::Subnet>>,
    pull_reporter: Arc<engine::PullReporter>,
}

impl DockerRuntime {
    pub async fn connect(settings: &Settings, cluster_dir: PathBuf) -> Result<Self> {
        let rt = DockerRuntime {
            docker: engine::connect().await?,
            cluster: settings.name.clone(),
            dir: cluster_dir,
            pg_image: settings.postgres_image.clone(),
            proxy_image: settings.haproxy_image.clone(),
            endpoints: Endpoints {
                write: SocketAddr::new(settings.bind_host, settings.write_port),
                read: SocketAddr::new(settings.bind_host, settings.read_port),
                stats: SocketAddr::new(settings.stats_host(), settings.stats_port),
            },
            superuser_password: settings.password.clone(),
            subnet: Mutex::new(None),
            pull_reporter: Arc::new(|_: &engine::PullProgress| {}),
        };
        rt.remember_subnet(rt.lookup_subnet().await);
        Ok(rt)
    }

    /// Where image pull progress goes (nowhere by default).
    pub fn with_pull_reporter(mut self, reporter: Arc<engine::PullReporter>) -> Self {
        self.pull_reporter = reporter;
        self
    }

    /// Whether both configured images are already on the engine (no pull needed).
    pub async fn images_present(&self) -> bool {
        engine::image_present(&self.docker, &self.pg_image).await
            && engine::image_present(&self.docker, &self.proxy_image).await
    }

    fn network(&self) -> String {
        format!("rl-{}", self.cluster)
    }

    fn container(&self, node: &NodeSpec) -> String {
        format!("rl-{}-{}", self.cluster, node.name)
    }

    fn volume(&self, node: &NodeSpec) -> String {
        self.container(node)
    }

    fn labels(&self, node: Option<&str>) -> HashMap<String, String> {
        let mut l = HashMap::from([(LABEL_CLUSTER.to_string(), self.cluster.clone())]);
        if let Some(n) = node {
            l.insert(LABEL_NODE.to_string(), n.to_string());
        }
        l
    }

    fn cluster_filter(&self) -> HashMap<String, Vec<String>> {
        HashMap::from([(
            "label".to_string(),
            vec![format!("{LABEL_CLUSTER}={}", self.cluster)],
        )])
    }

    /// A one-shot container on the node's volume and the cluster network.
    fn one_shot<'a>(&'a self, node: &'a NodeSpec, volume: &'a str) -> OneShot<'a> {
        OneShot {
            image: &self.pg_image,
            name: format!("{}-task", self.container(node)),
            user: "postgres",
            volume,
            mount_at: VOLUME_AT,
            network: self.network(),
            labels: self.labels(Some(&node.name)),
        }
    }

    /// Runs `script` against the node's data: inside the server's container while it runs,
    /// else in a one-shot container on its volume.
    async fn in_node(
        &self,
        node: &NodeSpec,
        what: &str,
        script: &str,
        env: &[(String, String)],
    ) -> Result<String> {
        let mut env = env.to_vec();
        env.push(("PGDATA".into(), PGDATA.into()));
        let ran = if self.node_state(node).await? == Some(ProcState::Running) {
            exec(
                &self.docker,
                &self.container(node),
                Some("postgres"),
                script,
                &env,
            )
            .await?
        } else {
            let volume = self.volume(node);
            self.one_shot(node, &volume)
                .run(&self.docker, script, &env)
                .await?
        };
        ran.ok(&format!("{what} ({})", node.name))
    }

    async fn create_volume(&self, node: &NodeSpec) -> Result<()> {
        self.docker
            .create_volume(VolumeCreateRequest {
                name: Some(self.volume(node)),
                labels: Some(self.labels(Some(&node.name))),
                ..Default::default()
            })
            .await
            .map(|_| ())
            .map_err(|e| api_error("creating a volume", e))
    }
}

fn volume_mount(volume: &str) -> Mount {
    Mount {
        target: Some(VOLUME_AT.into()),
        source: Some(volume.into()),
        typ: Some(MountType::VOLUME),
        ..Default::default()
    }
}

fn binding(host: IpAddr, port: u16) -> PortBinding {
    PortBinding {
        host_ip: Some(host.to_string()),
        host_port: Some(port.to_string()),
    }
}

#[async_trait]
impl ClusterRuntime for DockerRuntime {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Docker
    }

    fn cluster_dir(&self) -> &Path {
        &self.dir
    }

    fn client_addr(&self, node: &NodeSpec) -> SocketAddr {
        node.socket_addr()
    }

    fn node_conf(&self, node: &NodeSpec) -> NodeConf {
        NodeConf {
            listen: "*".into(),
            port: PG_PORT,
            socket_dir: "/tmp".into(),
            cluster_name: node.name.clone(),
            upstream: None,
        }
    }

    async fn prepare(&self, _topo: &Topology) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| Error::new(format!("cannot create {}: {e}", self.dir.display())))?;
        // The cluster record in it holds the passwords.
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::new(format!("cannot restrict {}: {e}", self.dir.display())))?;
        }
        ensure_image(&self.docker, &self.pg_image, self.pull_reporter.as_ref()).await?;
        ensure_image(&self.docker, &self.proxy_image, self.pull_reporter.as_ref()).await?;
        let name = self.network();
        match self.network_is_ours().await {
            Some(true) => {
                self.remember_subnet(self.lookup_subnet().await);
                Ok(())
            }
            Some(false) => Err(Error::new(format!(
                "a Docker network named {name} exists and is not this cluster's: remove or rename it, \
                 or choose another cluster name with --name"
            ))),
            None => self.create_network().await,
        }
    }

    async fn init_primary(&self, node: &NodeSpec, topo: &Topology) -> Result<()> {
        self.create_volume(node).await?;
        let script = r#"set -e
rm -rf "$PGDATA"
printf '%s\n' "$SUPERUSER_PASSWORD" > /tmp/pw
initdb -D "$PGDATA" -U postgres --pwfile=/tmp/pw --auth-local=trust --auth-host=scram-sha-256 \
  -E UTF8 --no-locale --no-sync --no-instructions
rm -f /tmp/pw
printf '%s' "$SHARED_CONF" >> "$PGDATA/postgresql.conf"
printf '%s' "$NODE_CONF_TEXT" > "$PGDATA/$NODE_CONF_FILE"
"#;
        let script = format!("{script}{ACCESS_SCRIPT}");
        let mut env = vec![
            (
                "SUPERUSER_PASSWORD".to_string(),
                self.superuser_password.clone(),
            ),
            ("SHARED_CONF".into(), pgconf::shared_conf()),
            (
                "NODE_CONF_TEXT".into(),
                self.node_conf(node).render(&topo.credentials),
            ),
            ("NODE_CONF_FILE".into(), NODE_CONF.into()),
        ];
        env.extend(self.access_env(topo)?);
        self.in_node(node, "initdb", &script, &env).await?;
        self.create_node_container(node).await
    }

    async fn bootstrap_session(&self, node: &NodeSpec) -> Result<Admin> {
        Ok(Admin::tcp_login(
            self.client_addr(node),
            "postgres",
            &self.superuser_password,
            "postgres",
        )
        .await?)
    }

    async fn clone_replica(
        &self,
        node: &NodeSpec,
        primary: &NodeSpec,
        topo: &Topology,
    ) -> Result<()> {
        self.create_volume(node).await?;
        let (host, port) = self.peer_addr(primary);
        let script = format!(
            r#"set -e
rm -rf "$PGDATA"
pg_basebackup -D "$PGDATA" -h {} -p {port} -U {} -w -X stream -c fast --no-sync -S {}
"#,
            sh_quote(&host),
            sh_quote(&topo.credentials.replication_user),
            sh_quote(&node.slot_name())
        );
        let env = [
            (
                "PGPASSWORD".to_string(),
                topo.credentials.replication_password.clone(),
            ),
            ("PGAPPNAME".into(), format!("{}-clone", node.name)),
        ];
        self.in_node(node, "pg_basebackup", &script, &env).await?;
        self.create_node_container(node).await
    }

    async fn rewind(&self, node: &NodeSpec, primary: &NodeSpec, topo: &Topology) -> Result<()> {
        let (host, port) = self.peer_addr(primary);
        let creds = &topo.credentials;
        // The password goes through the environment: a container's command lines show in
        // the host's /proc to everyone.
        let source = format!(
            "host={host} port={port} user={} dbname=postgres",
            pgconf::conninfo_quote(&creds.user),
        );
        // The stopped server was PID 1 in its container, and PID 1 is alive in this one:
        // its lock file would make pg_rewind's crash recovery think it still runs.
        let script = r#"rm -f "$PGDATA/postmaster.pid"
exec pg_rewind -D "$PGDATA" --source-server="$SOURCE" --no-sync"#;
        let env = [
            ("SOURCE".to_string(), source),
            ("PGPASSWORD".into(), creds.password.clone()),
        ];
        self.in_node(node, "pg_rewind", script, &env)
            .await
            .map(|_| ())
    }

    async fn refresh_access(&self, node: &NodeSpec, topo: &Topology) -> Result<()> {
        if self.node_state(node).await?.is_none() {
            return Ok(());
        }
        let script = format!("set -e\n[ -s \"$PGDATA/PG_VERSION\" ] || exit 0\n{ACCESS_SCRIPT}");
        self.in_node(
            node,
            "writing the login rules",
            &script,
            &self.access_env(topo)?,
        )
        .await?;
        self.reload_node(node).await
    }

    async fn configure_node(&self, node: &NodeSpec, conf: &str, standby: bool) -> Result<()> {
        let script = r#"set -e
printf '%s' "$NODE_CONF_TEXT" > "$PGDATA/$NODE_CONF_FILE"
if [ "$STANDBY" = 1 ]; then : > "$PGDATA/$SIGNAL"; else rm -f "$PGDATA/$SIGNAL"; fi
"#;
        let env = [
            ("NODE_CONF_TEXT".to_string(), conf.to_string()),
            ("NODE_CONF_FILE".into(), NODE_CONF.into()),
            ("SIGNAL".into(), STANDBY_SIGNAL.into()),
            ("STANDBY".into(), if standby { "1" } else { "0" }.into()),
        ];
        self.in_node(node, "writing settings", script, &env)
            .await
            .map(|_| ())
    }

    async fn is_standby(&self, node: &NodeSpec) -> Result<bool> {
        let out = self
            .in_node(
                node,
                "reading the standby signal",
                r#"if [ -f "$PGDATA/$SIGNAL" ]; then echo yes; else echo no; fi"#,
                &[("SIGNAL".into(), STANDBY_SIGNAL.into())],
            )
            .await?;
        Ok(out.trim() == "yes")
    }

    async fn reload_node(&self, node: &NodeSpec) -> Result<()> {
        if self.node_state(node).await? != Some(ProcState::Running) {
            return Ok(());
        }
        self.docker
            .kill_container(
                &self.container(node),
                Some(
                    KillContainerOptionsBuilder::default()
                        .signal("SIGHUP")
                        .build(),
                ),
            )
            .await
            .map_err(|e| api_error(&format!("reloading {}", node.name), e))
    }

    async fn start_node(&self, node: &NodeSpec) -> Result<()> {
        self.create_node_container(node).await?;
        if self.node_state(node).await? != Some(ProcState::Running) {
            self.docker
                .start_container(&self.container(node), None)
                .await
                .map_err(|e| api_error(&format!("starting {}", node.name), e))?;
        }
        self.wait_accepting(node).await
    }

    async fn stop_node(&self, node: &NodeSpec) -> Result<()> {
        let name = self.container(node);
        match self.node_state(node).await? {
            None | Some(ProcState::Stopped) => return Ok(()),
            Some(ProcState::Paused) => {
                // A frozen server cannot act on the shutdown request.
                let _ = self.docker.unpause_container(&name).await;
            }
            Some(ProcState::Running) => {}
        }
        self.docker
            .stop_container(
                &name,
                Some(StopContainerOptionsBuilder::default().t(60).build()),
            )
            .await
            .map_err(|e| api_error(&format!("stopping {}", node.name), e))
    }

    async fn signal_node(&self, node: &NodeSpec, signal: NodeSignal) -> Result<()> {
        let name = self.container(node);
        let since = std::time::SystemTime::now();
        let (result, event) = match signal {
            NodeSignal::Kill => {
                if self.node_state(node).await? == Some(ProcState::Paused) {
                    let _ = self.docker.unpause_container(&name).await;
                }
                let kill = KillContainerOptionsBuilder::default()
                    .signal("SIGKILL")
                    .build();
                (self.docker.kill_container(&name, Some(kill)).await, "die")
            }
            NodeSignal::Pause => (self.docker.pause_container(&name).await, "pause"),
            NodeSignal::Resume => (self.docker.unpause_container(&name).await, "unpause"),
        };
        result.map_err(|e| api_error(&format!("signalling {}", node.name), e))?;
        // Return once the engine reports the change, so the caller sees the new state.
        engine::wait_event(
            &self.docker,
            &name,
            &[event],
            since,
            Duration::from_secs(10),
        )
        .await
        .map(|_| ())
    }

    async fn node_ip(&self, node: &NodeSpec) -> Option<String> {
        let c = self
            .docker
            .inspect_container(&self.container(node), None)
            .await
            .ok()?;
        let nets = c.network_settings?.networks?;
        let ip = nets.get(&self.network())?.ip_address.clone()?;
        (!ip.is_empty()).then_some(ip)
    }

    async fn node_state(&self, node: &NodeSpec) -> Result<Option<ProcState>> {
        self.state_of(&self.container(node)).await
    }

    async fn remove_node(&self, node: &NodeSpec) -> Result<()> {
        // A clean stop closes the replication connection; a removed container's would linger
        // on the primary until wal_sender_timeout, keeping its slot busy.
        let _ = self.stop_node(node).await;
        for attempt in 1.. {
            // Its one-shot task (a clone cut short by a killed command) holds the volume too.
            for c in [
                self.container(node),
                format!("{}-task", self.container(node)),
            ] {
                let _ = engine::force_remove(&self.docker, &c).await;
            }
            match self
                .docker
                .remove_volume(
                    &self.volume(node),
                    Some(RemoveVolumeOptionsBuilder::default().force(true).build()),
                )
                .await
            {
                Ok(()) => return Ok(()),
                Err(e) if is_not_found(&e) => return Ok(()),
                Err(e) if attempt < 5 && e.to_string().contains("in use") => {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Err(e) => return Err(api_error(&format!("removing {}'s volume", node.name), e)),
            }
        }
        Ok(())
    }

    fn peer_addr(&self, node: &NodeSpec) -> (String, u16) {
        (node.name.clone(), PG_PORT)
    }

    fn proxy_servers(&self, topo: &Topology) -> Vec<ProxyServer> {
        topo.nodes
            .iter()
            .map(|n| ProxyServer {
                name: n.name.clone(),
                target: match self.subnet() {
                    Some(s) => format!("{}:{PG_PORT}", s.node(n.index)),
                    // A network made before fixed addresses: by name, through Docker's DNS.
                    None => node_target(self.peer_addr(n)),
                },
            })
            .collect()
    }

    fn proxy_config(&self, topo: &Topology) -> String {
        self.render_proxy_config(topo)
    }

    async fn apply_proxy(&self, config: &str) -> Result<()> {
        self.install_proxy_config(config).await
    }

    async fn restart_proxy(&self, config: &str) -> Result<()> {
        self.recreate_proxy(config).await
    }

    async fn proxy_api(&self, command: &str) -> Result<String> {
        self.call_proxy_api(command).await
    }

    async fn proxy_running(&self) -> Result<bool> {
        Ok(self.state_of(&self.proxy_container()).await? == Some(ProcState::Running))
    }

    async fn set_partitioned(&self, node: &NodeSpec, cut: bool) -> Result<()> {
        let container = self.container(node);
        let net = self.network();
        let result = if cut {
            self.docker
                .disconnect_network(
                    &net,
                    NetworkDisconnectRequest {
                        container,
                        force: Some(true),
                    },
                )
                .await
        } else {
            self.docker
                .connect_network(
                    &net,
                    NetworkConnectRequest {
                        container,
                        endpoint_config: Some(self.endpoint(&node.name, self.node_address(node))),
                    },
                )
                .await
        };
        result.map_err(|e| api_error(&format!("changing {}'s network", node.name), e))
    }

    async fn is_partitioned(&self, node: &NodeSpec) -> Result<bool> {
        let c = self
            .docker
            .inspect_container(&self.container(node), None)
            .await
            .map_err(|e| api_error(&format!("inspecting {}", node.name), e))?;
        let attached = c
            .network_settings
            .and_then(|n| n.networks)
            .is_some_and(|nets| nets.contains_key(&self.network()));
        Ok(!attached)
    }

    async fn destroy(&self, keep_data: bool) -> Result<()> {
        self.remove_everything(keep_data).await
    }
}
