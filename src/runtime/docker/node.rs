//! The server containers: created once per node, `postgres` as the main process.

use super::*;

impl DockerRuntime {
    /// The server's container: `postgres` itself is its main process, so a container kill is
    /// a crash, a pause a freeze, and a stop a clean shutdown.
    pub(super) async fn create_node_container(&self, node: &NodeSpec) -> Result<()> {
        let name = self.container(node);
        if self.docker.inspect_container(&name, None).await.is_ok() {
            return Ok(());
        }
        let port_key = format!("{PG_PORT}/tcp");
        let body = ContainerCreateBody {
            image: Some(self.pg_image.clone()),
            hostname: Some(node.name.clone()),
            user: Some("postgres".into()),
            entrypoint: Some(vec!["postgres".into(), "-D".into(), PGDATA.into()]),
            cmd: Some(vec![]),
            labels: Some(self.labels(Some(&node.name))),
            exposed_ports: Some(vec![port_key.clone()]),
            stop_signal: Some("SIGINT".into()),
            stop_timeout: Some(60),
            host_config: Some(HostConfig {
                mounts: Some(vec![volume_mount(&self.volume(node))]),
                port_bindings: Some(HashMap::from([(
                    port_key,
                    Some(vec![binding(node.host, node.port)]),
                )])),
                network_mode: Some(self.network()),
                ..Default::default()
            }),
            networking_config: Some(self.on_network(&node.name, self.node_address(node))),
            ..Default::default()
        };
        self.docker
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                body,
            )
            .await
            .map(|_| ())
            .map_err(|e| api_error(&format!("creating container {name}"), e))
    }

    pub(super) fn on_network(&self, alias: &str, address: Option<Ipv4Addr>) -> NetworkingConfig {
        NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                self.network(),
                self.endpoint(alias, address),
            )])),
        }
    }

    pub(super) async fn state_of(&self, container: &str) -> Result<Option<ProcState>> {
        match self.docker.inspect_container(container, None).await {
            Ok(c) => {
                let s = c.state.unwrap_or_default();
                Ok(Some(if s.paused == Some(true) {
                    ProcState::Paused
                } else if s.running == Some(true) {
                    ProcState::Running
                } else {
                    ProcState::Stopped
                }))
            }
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(api_error(&format!("inspecting {container}"), e)),
        }
    }

    /// Waits until the server answers the protocol: any reply but "starting up" counts.
    pub(super) async fn wait_accepting(&self, node: &NodeSpec) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(120);
        let addr = self.client_addr(node);
        loop {
            let mut cfg = tokio_postgres::Config::new();
            cfg.host(addr.ip().to_string())
                .port(addr.port())
                // A login that fails is an answer: the server is up. A password is given so
                // the refusal comes from the server, not from the client lacking one.
                .user("replica-lab-probe")
                .password("-")
                .dbname("postgres")
                .connect_timeout(Duration::from_secs(2));
            match cfg.connect(tokio_postgres::NoTls).await {
                Ok(_) => return Ok(()),
                Err(e) => {
                    let starting = e.as_db_error().map(|d| d.code().code() == "57P03");
                    if starting == Some(false) {
                        return Ok(());
                    }
                }
            }
            if self.node_state(node).await? != Some(ProcState::Running) {
                return Err(Error::new(format!(
                    "{} exited while starting: see `docker logs {}`",
                    node.name,
                    self.container(node)
                )));
            }
            if Instant::now() > deadline {
                return Err(Error::new(format!(
                    "{} did not accept connections within 120 s",
                    node.name
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
