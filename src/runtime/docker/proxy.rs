//! The HAProxy container: its config, seamless reloads through the master process, and the
//! runtime API on a unix socket inside it, reached through `docker exec`.

use super::*;
use crate::cluster::haproxy::state_file;

/// Where the runtime API listens inside the container. A unix socket, not TCP: the API can
/// change every server's state, and a TCP listener would be open to every node container
/// on the network (and to the host, if published). Only `docker exec` reaches it.
const API_SOCKET: &str = "/tmp/haproxy.sock";
/// Speaks to [`API_SOCKET`] from inside the container: one command (from `$CMD`) and its
/// whole answer. Perl's socket modules are in perl-base, which every Debian image has; the
/// image needs no client of its own (socat, netcat).
const API_CLIENT: &str = r#"exec perl -MIO::Socket::UNIX -e '
my $s = IO::Socket::UNIX->new(Peer => $ARGV[0])
  or die "cannot reach HAProxy runtime API at $ARGV[0]: $!\n";
print $s "$ENV{CMD}\n";
print while <$s>;
' "$SOCK""#;
/// Installs the first config and its all-DOWN state once; every start begins from the
/// all-DOWN state of whatever config is installed now.
const ENTRYPOINT: &str = r#"set -e
if [ ! -s /tmp/haproxy.cfg ]; then
  printf '%s' "$HAPROXY_CFG" > /tmp/haproxy.cfg
  printf '%s' "$HAPROXY_STATE" > /tmp/initial-state
fi
cp /tmp/initial-state /tmp/server-state
exec haproxy -W -db -f /tmp/haproxy.cfg
"#;
/// Inside the container the endpoints listen on fixed ports; Docker publishes them.
const WRITE_PORT: u16 = 5435;
const READ_PORT: u16 = 5436;
const STATS_PORT: u16 = 8404;

impl DockerRuntime {
    pub(super) fn proxy_container(&self) -> String {
        format!("rl-{}-haproxy", self.cluster)
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
        let body = ContainerCreateBody {
            image: Some(self.proxy_image.clone()),
            // The config the container was made with is only its first: a reload replaces
            // the file, and a restarted container (a crash, `docker restart`) runs what was
            // installed last, with every server DOWN until checked (see `state_file`).
            entrypoint: Some(vec!["sh".into(), "-c".into(), ENTRYPOINT.into()]),
            cmd: Some(vec![]),
            env: Some(vec![
                format!("HAPROXY_CFG={config}"),
                format!("HAPROXY_STATE={}", state_file::initial_state(config)),
            ]),
            labels: Some(self.labels(None)),
            exposed_ports: Some(ports.keys().cloned().collect()),
            host_config: Some(HostConfig {
                port_bindings: Some(ports),
                network_mode: Some(self.network()),
                ..Default::default()
            }),
            networking_config: Some(self.on_network("haproxy", self.proxy_address())),
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
            api_socket: API_SOCKET.into(),
            state_file: "/tmp/server-state".into(),
            // Only a network made before fixed addresses needs names resolved.
            dns: self.subnet().is_none().then(|| "127.0.0.11:53".into()),
            // The container's only address on the network is its fixed one.
            source: None,
            stats_login: haproxy::stats_login(topo.endpoints.stats, &topo.credentials),
        };
        haproxy::render(&inside, &servers, &topo.credentials.check_user, &env)
    }

    pub(super) async fn install_proxy_config(&self, config: &str) -> Result<()> {
        let name = self.proxy_container();
        match self.state_of(&name).await? {
            // Made before HAProxy had a fixed address: the nodes no longer let its checks in.
            Some(ProcState::Running) if !self.proxy_has_fixed_address().await => {
                self.recreate_proxy(config).await
            }
            Some(ProcState::Running) => {
                // Keep health states across the reload (see the local runtime), then let the
                // master process hand the listeners to a new worker.
                let live = self.proxy_api("show servers state").await?;
                let script = r#"set -e
printf '%s' "$CFG" > /tmp/haproxy.cfg.next
haproxy -c -q -f /tmp/haproxy.cfg.next
printf '%s' "$STATE" > /tmp/server-state
printf '%s' "$INITIAL" > /tmp/initial-state
mv /tmp/haproxy.cfg.next /tmp/haproxy.cfg
kill -USR2 1
"#;
                let env = [
                    ("CFG".to_string(), config.to_string()),
                    ("STATE".into(), state_file::merged_state(&live, config)),
                    ("INITIAL".into(), state_file::initial_state(config)),
                ];
                exec(&self.docker, &name, None, script, &env)
                    .await?
                    .ok("reloading HAProxy")
                    .map(|_| ())
            }
            Some(_) => self.recreate_proxy(config).await,
            None => self.create_proxy(config).await,
        }
    }

    /// Whether the HAProxy container sits at the address the nodes expect, or the network has
    /// no fixed addresses at all.
    async fn proxy_has_fixed_address(&self) -> bool {
        let Some(want) = self.proxy_address() else {
            return true;
        };
        let Ok(c) = self
            .docker
            .inspect_container(&self.proxy_container(), None)
            .await
        else {
            return true;
        };
        c.network_settings
            .and_then(|n| n.networks)
            .and_then(|nets| nets.get(&self.network()).cloned())
            .and_then(|e| e.ip_address)
            .is_some_and(|ip| ip == want.to_string())
    }

    /// A new container in place of the old one, whatever state that is in.
    pub(super) async fn recreate_proxy(&self, config: &str) -> Result<()> {
        engine::force_remove(&self.docker, &self.proxy_container())
            .await
            .map_err(|e| api_error("removing the HAProxy container", e))?;
        self.create_proxy(config).await
    }

    pub(super) async fn call_proxy_api(&self, command: &str) -> Result<String> {
        let env = [
            ("CMD".to_string(), command.to_string()),
            ("SOCK".to_string(), API_SOCKET.to_string()),
        ];
        let container = self.proxy_container();
        let call = exec(&self.docker, &container, None, API_CLIENT, &env);
        match tokio::time::timeout(Duration::from_secs(3), call).await {
            Ok(Ok(ran)) if ran.code == 0 && !ran.output.is_empty() => Ok(ran.output),
            Ok(Ok(ran)) if ran.code == 0 => {
                Err(Error::new("HAProxy's runtime API closed without answering"))
            }
            Ok(Ok(ran)) => Err(Error::new(format!(
                "HAProxy's runtime API does not answer: {}",
                ran.output.trim()
            ))),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::new(
                "HAProxy's runtime API did not answer within 3 s",
            )),
        }
    }
}
