//! Nodes as local processes: one data folder per node under the cluster folder, each server on
//! its own loopback address, HAProxy as a daemon with its runtime API on a unix socket.

mod as_user;
mod copies;
mod network;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use nix::sys::signal::Signal;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub use self::as_user::ServiceUser;
pub use self::network::{detect_addressing, port_holder, port_in_use};
use super::binaries::Binaries;
use super::process::{
    pid_state, postmaster_pid, processes_under, recorded_postmaster_pid, signal_tree, wait_gone,
};
use crate::cluster::admin::Admin;
use crate::cluster::certs;
use crate::cluster::haproxy::{self, ProxyEnv, state_file};
use crate::cluster::pgconf::{self, HbaRules, NODE_CONF, NodeConf, STANDBY_SIGNAL, SocketLogin};
use crate::cluster::state::RuntimeKind;
use crate::cluster::status::ProcState;
use crate::cluster::topology::{NodeSpec, Topology};
use crate::runtime::{ClusterRuntime, Error, NodeSignal, Result};

pub struct LocalRuntime {
    dir: PathBuf,
    bins: Binaries,
    user: Option<ServiceUser>,
}

impl LocalRuntime {
    pub fn new(cluster_dir: PathBuf, bins: Binaries, user: Option<ServiceUser>) -> Self {
        LocalRuntime {
            dir: cluster_dir,
            bins,
            user,
        }
    }

    fn node_dir(&self, node: &NodeSpec) -> PathBuf {
        self.dir.join(&node.name)
    }

    fn data_dir(&self, node: &NodeSpec) -> PathBuf {
        self.node_dir(node).join("data")
    }

    fn socket_dir(&self, node: &NodeSpec) -> PathBuf {
        self.node_dir(node).join("run")
    }

    fn proxy_dir(&self) -> PathBuf {
        self.dir.join("haproxy")
    }

    fn proxy_file(&self, name: &str) -> PathBuf {
        self.proxy_dir().join(name)
    }

    fn haproxy_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.proxy_file("haproxy.pid")).ok()?;
        let pid = text.lines().next()?.trim().parse().ok()?;
        pid_state(pid).map(|_| pid)
    }

    /// Every HAProxy process of this cluster, including old ones still serving sessions
    /// from before a reload.
    fn haproxy_pids(&self) -> Vec<i32> {
        let cfg = self.proxy_file("haproxy.cfg");
        let mut pids = processes_under(&self.proxy_dir());
        pids.extend(self.haproxy_pid());
        pids.sort_unstable();
        pids.dedup();
        pids.retain(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .map(|b| String::from_utf8_lossy(&b).contains(&*cfg.to_string_lossy()))
                .unwrap_or(true)
        });
        pids
    }

    /// `pg_hba.conf` and `pg_ident.conf` in `data`: over the socket, `postgres` for the app's
    /// and the servers' OS accounts only (peer); a password for everyone else, the check
    /// login from HAProxy's pinned address apart.
    fn write_access(&self, data: &Path, topo: &Topology) -> Result<()> {
        let rules = HbaRules {
            socket: SocketLogin::Peer,
            clients: "127.0.0.0/8".into(),
            check_from: format!("{}/32", topo.proxy_source),
            exposed: topo.exposure.tls,
            endpoint_logins: topo.exposure.endpoint_logins.clone(),
        };
        // Only a HAProxy with an address of its own can be told apart from the app.
        let shared = topo.proxy_source == std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
        if rules.exposed && shared {
            return Err(Error::new(
                "listening beyond loopback needs loopback aliases (127.0.0.x), which this \
                 machine lacks: HAProxy and the app would share 127.0.0.1, and the rules meant \
                 for what comes through HAProxy would refuse the app; use the Docker runtime \
                 instead",
            ));
        }
        // The certificate goes in before the setting that makes the server read it.
        let tls = certs::for_topology(&self.dir, topo)?;
        if let Some(tls) = &tls {
            self.write_owned(&data.join(pgconf::SERVER_KEY), &tls.key_pem)?;
            self.write_owned(&data.join(pgconf::SERVER_CERT), &tls.cert_pem)?;
            self.write_owned(&data.join(pgconf::SERVER_CA), &tls.ca_pem)?;
        }
        self.write_owned(
            &data.join(pgconf::TLS_CONF),
            &pgconf::tls_conf(tls.is_some()),
        )?;
        self.write_owned(
            &data.join("pg_hba.conf"),
            &pgconf::hba_conf(&topo.credentials, &rules),
        )?;
        let accounts = self.socket_accounts();
        let accounts: Vec<&str> = accounts.iter().map(String::as_str).collect();
        self.write_owned(&data.join("pg_ident.conf"), &pgconf::ident_conf(&accounts))
    }

    async fn check_proxy_config(&self, cfg_path: &Path) -> Result<()> {
        self.run(
            "checking the HAProxy configuration",
            self.command(&self.bins.haproxy)
                .arg("-c")
                .arg("-q")
                .arg("-f")
                .arg(cfg_path),
        )
        .await
        .map(|_| ())
    }
}

#[async_trait]
impl ClusterRuntime for LocalRuntime {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Local
    }

    fn cluster_dir(&self) -> &Path {
        &self.dir
    }

    fn client_addr(&self, node: &NodeSpec) -> SocketAddr {
        node.socket_addr()
    }

    fn node_conf(&self, node: &NodeSpec) -> NodeConf {
        NodeConf::for_node(
            node,
            node.host.to_string(),
            self.socket_dir(node).to_string_lossy().into_owned(),
        )
    }

    async fn prepare(&self, _topo: &Topology) -> Result<()> {
        self.make_owned_dir(&self.dir)?;
        self.make_owned_dir(&self.proxy_dir())
    }

    async fn init_primary(&self, node: &NodeSpec, topo: &Topology) -> Result<()> {
        let data = self.data_dir(node);
        self.make_owned_dir(&self.node_dir(node))?;
        self.make_owned_dir(&self.socket_dir(node))?;
        self.run(
            &format!("initdb for {}", node.name),
            self.command(self.bins.pg("initdb"))
                .arg("-D")
                .arg(&data)
                .args([
                    "-U",
                    "postgres",
                    // Both replaced by `write_access` before the server first starts.
                    "--auth-local=peer",
                    "--auth-host=scram-sha-256",
                ])
                .args([
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "--no-sync",
                    "--no-instructions",
                ]),
        )
        .await?;
        let conf_path = data.join("postgresql.conf");
        let mut conf = std::fs::read_to_string(&conf_path)
            .map_err(|e| Error::new(format!("cannot read {}: {e}", conf_path.display())))?;
        conf.push_str(&pgconf::shared_conf());
        self.write_owned(&conf_path, &conf)?;
        self.write_access(&data, topo)?;
        let node_conf = self.node_conf(node).render(&topo.credentials);
        self.configure_node(node, &node_conf, false).await
    }

    async fn bootstrap_session(&self, node: &NodeSpec) -> Result<Admin> {
        Ok(Admin::socket(&self.socket_dir(node), node.port).await?)
    }

    async fn clone_replica(
        &self,
        node: &NodeSpec,
        primary: &NodeSpec,
        topo: &Topology,
    ) -> Result<()> {
        let data = self.data_dir(node);
        self.make_owned_dir(&self.node_dir(node))?;
        self.make_owned_dir(&self.socket_dir(node))?;
        if data.exists() {
            std::fs::remove_dir_all(&data)
                .map_err(|e| Error::new(format!("cannot clear {}: {e}", data.display())))?;
        }
        self.run(
            &format!("pg_basebackup for {}", node.name),
            self.command(self.bins.pg("pg_basebackup"))
                .arg("-D")
                .arg(&data)
                .args([
                    "-h",
                    &primary.host.to_string(),
                    "-p",
                    &primary.port.to_string(),
                ])
                .args(["-U", &topo.credentials.replication_user, "-w"])
                .args([
                    "-X",
                    "stream",
                    "-c",
                    "fast",
                    "--no-sync",
                    "-S",
                    &node.slot_name(),
                ])
                .env("PGPASSWORD", &topo.credentials.replication_password)
                .env("PGAPPNAME", format!("{}-clone", node.name)),
        )
        .await?;
        Ok(())
    }

    async fn rewind(&self, node: &NodeSpec, primary: &NodeSpec, topo: &Topology) -> Result<()> {
        let creds = &topo.credentials;
        // The password goes through the environment, which only the process's own account
        // can read; a command line is anyone's to see in /proc.
        let source = format!(
            "host={} port={} user={} dbname=postgres",
            primary.host,
            primary.port,
            pgconf::conninfo_quote(&creds.user),
        );
        self.run(
            &format!("pg_rewind of {} from {}", node.name, primary.name),
            self.command(self.bins.pg("pg_rewind"))
                .arg("-D")
                .arg(self.data_dir(node))
                .arg(format!("--source-server={source}"))
                .arg("--no-sync")
                .env("PGPASSWORD", &creds.password),
        )
        .await
        .map(|_| ())
    }

    async fn refresh_access(&self, node: &NodeSpec, topo: &Topology) -> Result<()> {
        let data = self.data_dir(node);
        if !data.join("PG_VERSION").exists() {
            return Ok(());
        }
        for dir in [self.dir.clone(), self.proxy_dir(), self.node_dir(node)] {
            self.make_owned_dir(&dir)?;
        }
        // Older versions made the socket folder open to all and trusted every local login.
        self.make_owned_dir(&self.socket_dir(node))?;
        self.write_access(&data, topo)?;
        for file in [
            data.join(NODE_CONF),
            self.node_dir(node).join("postgres.log"),
        ] {
            if file.exists() {
                as_user::restrict(&file, 0o600)?;
            }
        }
        self.reload_node(node).await
    }

    async fn configure_node(&self, node: &NodeSpec, conf: &str, standby: bool) -> Result<()> {
        let data = self.data_dir(node);
        self.write_owned(&data.join(NODE_CONF), conf)?;
        let signal = data.join(STANDBY_SIGNAL);
        if standby {
            self.write_owned(&signal, "")
        } else {
            match std::fs::remove_file(&signal) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(Error::new(format!(
                    "cannot remove {}: {e}",
                    signal.display()
                ))),
            }
        }
    }

    async fn is_standby(&self, node: &NodeSpec) -> Result<bool> {
        Ok(self.data_dir(node).join(STANDBY_SIGNAL).exists())
    }

    async fn reload_node(&self, node: &NodeSpec) -> Result<()> {
        match postmaster_pid(&self.data_dir(node)) {
            Some(pid) => nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGHUP)
                .map_err(|e| Error::new(format!("cannot signal {}: {e}", node.name))),
            None => Ok(()),
        }
    }

    async fn start_node(&self, node: &NodeSpec) -> Result<()> {
        let node_dir = self.node_dir(node);
        // A crashed postmaster lingers as a zombie until it is reaped, and PostgreSQL will not
        // start while the pid in its lock file exists.
        if let Some(pid) = recorded_postmaster_pid(&self.data_dir(node)) {
            if pid_state(pid).is_none() {
                wait_gone(pid, Duration::from_secs(5)).await;
            }
        }
        self.run(
            &format!("starting {}", node.name),
            self.command(self.bins.pg("pg_ctl"))
                .arg("-D")
                .arg(self.data_dir(node))
                .arg("-l")
                .arg(node_dir.join("postgres.log"))
                .args(["-w", "-t", "120", "start"]),
        )
        .await
        .map(|_| ())
        .map_err(|e| {
            Error::new(format!(
                "{e} (server log: {})",
                node_dir.join("postgres.log").display()
            ))
        })
    }

    async fn stop_node(&self, node: &NodeSpec) -> Result<()> {
        let data = self.data_dir(node);
        if let Some(pid) = postmaster_pid(&data) {
            // A frozen server cannot act on the shutdown request.
            let _ = signal_tree(pid, Signal::SIGCONT);
        } else {
            return Ok(());
        }
        self.run(
            &format!("stopping {}", node.name),
            self.command(self.bins.pg("pg_ctl"))
                .arg("-D")
                .arg(&data)
                .args(["-m", "fast", "-w", "-t", "60", "stop"]),
        )
        .await
        .map(|_| ())
    }

    async fn signal_node(&self, node: &NodeSpec, signal: NodeSignal) -> Result<()> {
        let Some(pid) = postmaster_pid(&self.data_dir(node)) else {
            return Err(Error::new(format!(
                "{} is not running: start it with `replica-lab node start {}`",
                node.name, node.name
            )));
        };
        let sig = match signal {
            NodeSignal::Kill => Signal::SIGKILL,
            NodeSignal::Pause => Signal::SIGSTOP,
            NodeSignal::Resume => Signal::SIGCONT,
        };
        signal_tree(pid, sig)
            .map_err(|e| Error::new(format!("cannot signal {}: {e}", node.name)))?;
        if signal == NodeSignal::Kill && !wait_gone(pid, Duration::from_secs(5)).await {
            return Err(Error::new(format!(
                "{} (pid {pid}) was killed but has not exited after 5 s",
                node.name
            )));
        }
        Ok(())
    }

    async fn node_state(&self, node: &NodeSpec) -> Result<Option<ProcState>> {
        let data = self.data_dir(node);
        if !data.join("PG_VERSION").exists() {
            return Ok(None);
        }
        Ok(Some(
            postmaster_pid(&data)
                .and_then(pid_state)
                .unwrap_or(ProcState::Stopped),
        ))
    }

    async fn remove_node(&self, node: &NodeSpec) -> Result<()> {
        let data = self.data_dir(node);
        if let Some(pid) = postmaster_pid(&data) {
            let _ = signal_tree(pid, Signal::SIGKILL);
        }
        for pid in processes_under(&self.node_dir(node)) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
        }
        let dir = self.node_dir(node);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::new(format!("cannot remove {}: {e}", dir.display()))),
        }
    }

    fn peer_addr(&self, node: &NodeSpec) -> (String, u16) {
        (node.host.to_string(), node.port)
    }

    fn proxy_config(&self, topo: &Topology) -> String {
        let servers = self.proxy_servers(topo);
        let env = ProxyEnv {
            api_socket: self
                .proxy_file("haproxy.sock")
                .to_string_lossy()
                .into_owned(),
            state_file: self
                .proxy_file("server-state")
                .to_string_lossy()
                .into_owned(),
            dns: None,
            source: Some(topo.proxy_source.to_string()),
            stats_login: haproxy::stats_login(topo.endpoints.stats, &topo.credentials),
        };
        haproxy::render(
            &topo.endpoints,
            &servers,
            &topo.credentials.check_user,
            &env,
        )
    }

    async fn apply_proxy(&self, config: &str) -> Result<()> {
        let cfg = self.proxy_file("haproxy.cfg");
        let next = self.proxy_file("haproxy.cfg.next");
        self.write_owned(&next, config)?;
        self.check_proxy_config(&next).await?;
        std::fs::rename(&next, &cfg)
            .map_err(|e| Error::new(format!("cannot install {}: {e}", cfg.display())))?;
        let mut cmd = self.command(&self.bins.haproxy);
        cmd.arg("-D")
            .arg("-f")
            .arg(&cfg)
            .arg("-p")
            .arg(self.proxy_file("haproxy.pid"));
        let running = self.haproxy_pid();
        // Neither a fresh process nor a reload may assume a server UP before its check has
        // seen its role: see `state_file`.
        let state = match running {
            Some(_) => {
                state_file::merged_state(&self.proxy_api("show servers state").await?, config)
            }
            None => state_file::initial_state(config),
        };
        self.write_owned(&self.proxy_file("server-state"), &state)?;
        if let Some(old) = running {
            cmd.arg("-x")
                .arg(self.proxy_file("haproxy.sock"))
                .arg("-sf")
                .arg(old.to_string());
        }
        let what = if running.is_some() {
            "reloading HAProxy"
        } else {
            "starting HAProxy"
        };
        self.run(what, &mut cmd).await.map(|_| ())
    }

    async fn restart_proxy(&self, config: &str) -> Result<()> {
        // SIGKILL, because a stopped (SIGSTOP) process holds SIGTERM until it is continued.
        for pid in self.haproxy_pids() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
            if !wait_gone(pid, Duration::from_secs(5)).await {
                return Err(Error::new(format!(
                    "HAProxy (pid {pid}) did not end within 5 s of SIGKILL"
                )));
            }
        }
        self.apply_proxy(config).await
    }

    async fn proxy_api(&self, command: &str) -> Result<String> {
        let path = self.proxy_file("haproxy.sock");
        let io = async {
            let mut stream = tokio::net::UnixStream::connect(&path).await?;
            stream.write_all(format!("{command}\n").as_bytes()).await?;
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await?;
            Ok::<_, std::io::Error>(answer)
        };
        match tokio::time::timeout(Duration::from_secs(3), io).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(Error::new(format!(
                "HAProxy's runtime API at {} does not answer: {e}",
                path.display()
            ))),
            Err(_) => Err(Error::new(
                "HAProxy's runtime API did not answer within 3 s",
            )),
        }
    }

    async fn proxy_running(&self) -> Result<bool> {
        Ok(self.haproxy_pid().is_some())
    }

    fn copies_shape(&self) -> Option<String> {
        self.shape()
    }

    async fn keep_copy(&self, node: &NodeSpec, dest: &Path) -> Result<()> {
        self.copy_data_to(node, dest).await
    }

    async fn put_back(&self, node: &NodeSpec, src: &Path, standby: bool) -> Result<()> {
        self.data_from(node, src, standby).await
    }

    async fn destroy(&self, keep_data: bool) -> Result<()> {
        for pid in self.haproxy_pids() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM);
        }
        let nodes: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.join("data").is_dir())
                    .collect()
            })
            .unwrap_or_default();
        let stops = nodes.iter().map(|node_dir| async move {
            let data = node_dir.join("data");
            let Some(pid) = postmaster_pid(&data) else {
                return;
            };
            let _ = signal_tree(pid, Signal::SIGCONT);
            let mode = if keep_data { "fast" } else { "immediate" };
            let _ = self
                .command(self.bins.pg("pg_ctl"))
                .arg("-D")
                .arg(&data)
                .args(["-m", mode, "-w", "-t", "30", "stop"])
                .output()
                .await;
        });
        futures::future::join_all(stops).await;
        // Whatever survived (a crashed run's orphans, a wedged server) is killed outright.
        for pid in processes_under(&self.dir) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
        }
        for pid in self.haproxy_pids() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
        }
        if !keep_data {
            match std::fs::remove_dir_all(&self.dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(Error::new(format!(
                        "cannot remove {}: {e}",
                        self.dir.display()
                    )));
                }
            }
        }
        Ok(())
    }
}
