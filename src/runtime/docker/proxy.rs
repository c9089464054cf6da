//! The HAProxy container: its config, seamless reloads through the master process, and the
//! runtime API published on loopback.

use super::*;

/// Where the runtime API listens inside the container; published on a free loopback port.
pub(super) const API_PORT: u16 = 9999;
const PROXY_CFG: &str = "/tmp/haproxy.cfg";
/// Inside the container the endpoints listen on fixed ports; Docker publishes them.
const WRITE_PORT: u16 = 5435;
const READ_PORT: u16 = 5436;
const STATS_PORT: u16 = 8404;

impl DockerRuntime {
    pub(super) fn proxy_container(&self) -> String {
        format!("rl-{}-haproxy", self.cluster)
    }

    pub(super) async fn api_port(&self) -> Result<u16> {
        if let Ok(guard) = self.api_port.lock() {
            if let Some(p) = *guard {
                return Ok(p);
            }
        }
        let c = self
            .docker
            .inspect_container(&self.proxy_container(), None)
            .await
            .map_err(|e| api_error("inspecting HAProxy", e))?;
        let port = c
            .network_settings
            .and_then(|n| n.ports)
            .and_then(|p| p.get(&format!("{API_PORT}/tcp")).cloned().flatten())
            .and_then(|b| b.into_iter().find_map(|b| b.host_port?.parse::<u16>().ok()))
            .ok_or_else(|| Error::new("HAProxy's runtime API port is not published"))?;
        if let Ok(mut guard) = self.api_port.lock() {
            *guard = Some(port);
        }
        Ok(port)
    }

    pub(super) async fn create_proxy(&self, config: &str) -> Result<()> {
        let name = self.proxy_container();
        let mut ports = HashMap::new();
        for (inner, outer) in [
            (WRITE_PORT, self.endpoints.write),
            (READ_PORT, self.endpoints.read),
            (STATS_PORT, self.endpoints.stats),
        ] {
            ports.insert(
                format!("{inner}/tcp"),
                Some(vec![binding(outer.ip(), outer.port())]),
            );
        }
        // The runtime API gets a free port on loopback only.
        ports.insert(
            format!("{API_PORT}/tcp"),
            Some(vec![PortBinding {
                host_ip: Some("127.0.0.1".into()),
                host_port: Some(String::new()),
            }]),
        );
        let body = ContainerCreateBody {
            image: Some(self.proxy_image.clone()),
            entrypoint: Some(vec![
                "sh".into(),
                "-c".into(),
                format!(
                    "printf '%s' \"$HAPROXY_CFG\" > {PROXY_CFG} && exec haproxy -W -db -f {PROXY_CFG}"
                ),
            ]),
            cmd: Some(vec![]),
            env: Some(vec![format!("HAPROXY_CFG={config}")]),
            labels: Some(self.labels(None)),
            exposed_ports: Some(ports.keys().cloned().collect()),
            host_config: Some(HostConfig {
                port_bindings: Some(ports),
                network_mode: Some(self.network()),
                ..Default::default()
            }),
            networking_config: Some(self.aliases("haproxy")),
            ..Default::default()
        };
        self.docker
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                body,
            )
            .await
            .map_err(|e| api_error("creating the HAProxy container", e))?;
        self.docker
            .start_container(&name, None)
            .await
            .map_err(|e| api_error("starting HAProxy", e))
    }

    pub(super) fn render_proxy_config(&self, topo: &Topology) -> String {
        let servers = self.proxy_servers(topo);
        let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let inside = Endpoints {
            write: SocketAddr::new(any, WRITE_PORT),
            read: SocketAddr::new(any, READ_PORT),
            stats: SocketAddr::new(any, STATS_PORT),
        };
        let env = ProxyEnv {
            api_socket: format!("ipv4@0.0.0.0:{API_PORT}"),
            state_file: "/tmp/server-state".into(),
            dns: Some("127.0.0.11:53".into()),
        };
        haproxy::render(&inside, &servers, &topo.credentials.check_user, &env)
    }

    pub(super) async fn install_proxy_config(&self, config: &str) -> Result<()> {
        let name = self.proxy_container();
        match self.state_of(&name).await? {
            Some(ProcState::Running) => {
                // Keep health states across the reload (see the local runtime), then let the
                // master process hand the listeners to a new worker.
                let state = self.proxy_api("show servers state").await?;
                let script = r#"set -e
printf '%s' "$CFG" > /tmp/haproxy.cfg.next
haproxy -c -q -f /tmp/haproxy.cfg.next
printf '%s' "$STATE" > /tmp/server-state
mv /tmp/haproxy.cfg.next /tmp/haproxy.cfg
kill -USR2 1
"#;
                let env = [
                    ("CFG".to_string(), config.to_string()),
                    ("STATE".into(), state),
                ];
                exec(&self.docker, &name, None, script, &env)
                    .await?
                    .ok("reloading HAProxy")
                    .map(|_| ())
            }
            Some(_) => {
                let _ = engine::force_remove(&self.docker, &name).await;
                if let Ok(mut guard) = self.api_port.lock() {
                    *guard = None;
                }
                self.create_proxy(config).await
            }
            None => self.create_proxy(config).await,
        }
    }

    pub(super) async fn call_proxy_api(&self, command: &str) -> Result<String> {
        let port = self.api_port().await?;
        let io = async {
            let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
            stream.write_all(format!("{command}\n").as_bytes()).await?;
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await?;
            Ok::<_, std::io::Error>(answer)
        };
        match tokio::time::timeout(Duration::from_secs(3), io).await {
            Ok(Ok(answer)) if !answer.is_empty() => Ok(answer),
            Ok(Ok(_)) => Err(Error::new("HAProxy's runtime API closed without answering")),
            Ok(Err(e)) => Err(Error::new(format!(
                "HAProxy's runtime API does not answer: {e}"
            ))),
            Err(_) => Err(Error::new(
                "HAProxy's runtime API did not answer within 3 s",
            )),
        }
    }
}
