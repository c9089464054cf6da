//! `replica-lab doctor`: what this machine has, what it lacks, and what to do about it.

use std::net::SocketAddr;
use std::time::Duration;

use crate::cli::out::outln;
use crate::error::Error;
use crate::runtime::binaries::{find_haproxy, find_pg_bindir};
use crate::runtime::local::{ServiceUser, detect_addressing, port_holder, port_in_use};
use crate::settings::Settings;

/// One line of the report: fine, or the problem and its fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub what: String,
    pub ok: bool,
    pub detail: String,
    /// Whether the local runtime cannot work without it.
    pub needed_locally: bool,
}

fn check(what: &str, needed_locally: bool, result: Result<String, String>) -> Check {
    let (ok, detail) = match result {
        Ok(d) => (true, d),
        Err(d) => (false, d),
    };
    Check {
        what: what.to_string(),
        ok,
        detail,
        needed_locally,
    }
}

fn version(program: &std::path::Path, arg: &str) -> String {
    std::process::Command::new(program)
        .arg(arg)
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_string)
        })
        .unwrap_or_default()
}

pub async fn checks(settings: &Settings) -> Vec<Check> {
    let mut out = Vec::new();
    out.push(check(
        "PostgreSQL server programs",
        true,
        find_pg_bindir(settings.pg_bindir.as_deref())
            .map(|d| {
                format!(
                    "{} ({})",
                    d.display(),
                    version(&d.join("postgres"), "--version")
                )
            })
            .map_err(|e| e.to_string()),
    ));
    out.push(check(
        "HAProxy",
        true,
        find_haproxy(settings.haproxy_bin.as_deref())
            .map(|p| format!("{} ({})", p.display(), version(&p, "-v")))
            .map_err(|e| e.to_string()),
    ));
    out.push(check(
        "account for the servers",
        true,
        match ServiceUser::resolve(&settings.os_user) {
            Ok(Some(u)) => Ok(format!("running as root: servers run as {}", u.name)),
            Ok(None) => Ok("servers run as the current user".into()),
            Err(e) => Err(e.to_string()),
        },
    ));
    out.push(check(
        "loopback addresses",
        false,
        Ok(match detect_addressing(settings.node_base) {
            crate::cluster::topology::NodeAddressing::LoopbackAliases => {
                "each node gets its own 127.0.0.x address".into()
            }
            crate::cluster::topology::NodeAddressing::DistinctPorts => format!(
                "only 127.0.0.1 is usable: pgN gets port node_ports_from + N - 1 ({} for pg1) \
                 instead",
                settings.node_ports_from
            ),
        }),
    ));
    for (port, what, flag) in [
        (settings.write_port, "write endpoint port", "--write-port"),
        (settings.read_port, "read endpoint port", "--read-port"),
        (settings.stats_port, "stats port", "--stats-port"),
    ] {
        let addr = SocketAddr::new(settings.bind_host, port);
        out.push(check(
            what,
            true,
            if port_in_use(addr) {
                let holder = port_holder(port).map(|h| format!(" by {h}")).unwrap_or_default();
                Err(format!(
                    "{addr} is in use{holder} (a running replica-lab cluster holds it too): free it or choose another with {flag}"
                ))
            } else {
                Ok(format!("{addr} is free"))
            },
        ));
    }
    out.push(check("Docker engine", false, docker_engine().await));
    out
}

async fn docker_engine() -> Result<String, String> {
    let docker = bollard::Docker::connect_with_defaults()
        .map_err(|e| format!("not usable ({e}): start Docker, or use --runtime local"))?;
    let ask = async {
        let docker = docker.negotiate_version().await?;
        docker.version().await
    };
    match tokio::time::timeout(Duration::from_secs(3), ask).await {
        Ok(Ok(v)) => Ok(format!(
            "answers (engine {}, API {})",
            v.version.unwrap_or_default(),
            v.api_version.unwrap_or_default()
        )),
        Ok(Err(e)) => Err(format!(
            "does not answer ({e}): start Docker, or use --runtime local"
        )),
        Err(_) => Err("did not answer within 3 s: start Docker, or use --runtime local".into()),
    }
}

pub async fn run() -> Result<(), Error> {
    let settings = crate::cli::load_settings(&serde_json::Map::new())?;
    let results = checks(&settings).await;
    for c in &results {
        outln!(
            "{} {:<28} {}",
            if c.ok { "ok  " } else { "FAIL" },
            c.what,
            c.detail
        )?;
    }
    let local_ok = results.iter().all(|c| c.ok || !c.needed_locally);
    let docker_ok = results.iter().any(|c| c.what == "Docker engine" && c.ok);
    if local_ok || docker_ok {
        Ok(())
    } else {
        Err(Error::new(
            "this machine cannot run a cluster yet: fix the FAIL lines above",
        ))
    }
}
