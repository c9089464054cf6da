//! The cluster for plain Docker Compose users (`compose.yaml` at the repository root), kept
//! from drifting away from the app: the files it mounts from `assets/compose/` are rendered
//! here from the same code the app uses (the shared `postgresql.conf` lines, `pg_hba.conf`,
//! the per-node settings, the HAProxy configuration with its role checks), and a unit test
//! fails while the committed files differ from what this module renders. Regenerate them with
//!
//! ```sh
//! REPLICA_LAB_BLESS=1 cargo test --lib compose
//! ```
//!
//! The services are `primary`, `replica` (scalable: `--scale replica=N`, up to
//! [`MAX_REPLICAS`]) and `haproxy`. Each replica names itself after its container's host name
//! (see [`REPLICA_NAME_SH`]), which is unique per scaled container; HAProxy fills its
//! `server-template` slots from every address Docker's DNS gives for the `replica` alias.

mod scripts;
#[cfg(test)]
mod tests;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::cluster::admin::check_role_attrs;
use crate::cluster::haproxy::{self, ProxyEnv, ProxyServer, ProxyTemplate};
use crate::cluster::pgconf::{HbaRules, NodeConf, SocketLogin, quote_ident};
use crate::cluster::topology::Endpoints;
use crate::settings::Settings;
use crate::settings::{Credentials, MAX_REPLICAS};
use crate::sql::meta::quote_literal;

/// Where the rendered files live, relative to the repository root.
pub const ASSETS_DIR: &str = "assets/compose";
/// Where `compose.yaml` mounts [`ASSETS_DIR`] in every container.
pub const MOUNTED_AT: &str = "/bootstrap";
/// Set to `1` for the unit test to rewrite [`ASSETS_DIR`] instead of comparing.
pub const BLESS_ENV: &str = "REPLICA_LAB_BLESS";

/// The data directory inside a node's container, as in the app's Docker runtime; the volume
/// is mounted at its parent, the `postgres` account's home, so it takes that ownership.
pub const PGDATA: &str = "/var/lib/postgresql/replica-lab";
pub const PG_PORT: u16 = 5432;
/// The network aliases of the two PostgreSQL services.
pub const PRIMARY_HOST: &str = "primary";
pub const REPLICA_HOST: &str = "replica";
/// Replicas name themselves `replica_<host name>`.
pub const REPLICA_PREFIX: &str = "replica_";
/// Stands for a replica's name in [`replica_node_conf`] until the replica knows it.
pub const NODE_PLACEHOLDER: &str = "@NODE@";
/// The unix socket directory, as in the app's Docker runtime.
const SOCKET_DIR: &str = "/tmp";
/// Docker's embedded DNS, as every container on a user-defined network sees it.
const DOCKER_DNS: &str = "127.0.0.11:53";
/// The project network's subnet and the part Docker hands out by itself, as `compose.yaml`
/// sets them, so HAProxy can have an address no other container takes.
pub const SUBNET: &str = "10.212.0.0/24";
pub const DYNAMIC_RANGE: &str = "10.212.0.128/25";
/// HAProxy's fixed address (`compose.yaml`): the nodes let the health-check login in from
/// here only.
pub const HAPROXY_ADDR: &str = "10.212.0.5";

/// The files under [`ASSETS_DIR`]: name, contents.
pub fn assets() -> Vec<(&'static str, String)> {
    let creds = Settings::default().credentials();
    vec![
        ("haproxy.cfg", haproxy_cfg(&creds)),
        ("healthcheck.sh", scripts::healthcheck(&creds)),
        ("primary.sh", scripts::primary(&creds)),
        ("replica.sh", scripts::replica(&creds)),
    ]
}

/// Where HAProxy listens inside its container; `compose.yaml` publishes these ports.
pub fn inner_endpoints() -> Endpoints {
    let d = Settings::default();
    let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    Endpoints {
        write: SocketAddr::new(any, d.write_port),
        read: SocketAddr::new(any, d.read_port),
        stats: SocketAddr::new(any, d.stats_port),
    }
}

/// The app's HAProxy configuration with the primary and [`MAX_REPLICAS`] replica slots in
/// both backends, so traffic follows roles (a promoted replica would take writes too).
pub fn haproxy_cfg(creds: &Credentials) -> String {
    let servers = [ProxyServer {
        name: PRIMARY_HOST.into(),
        target: haproxy::node_target((PRIMARY_HOST.into(), PG_PORT)),
    }];
    let templates = [ProxyTemplate {
        prefix: REPLICA_HOST.into(),
        count: MAX_REPLICAS,
        target: haproxy::node_target((REPLICA_HOST.into(), PG_PORT)),
    }];
    let env = ProxyEnv {
        api_socket: "/tmp/haproxy.sock".into(),
        state_file: "/tmp/server-state".into(),
        dns: Some(DOCKER_DNS.into()),
        source: None,
        // compose publishes the stats page on loopback only.
        stats_login: None,
    };
    let cfg = haproxy::render_with_templates(
        &inner_endpoints(),
        &servers,
        &templates,
        &creds.check_user,
        &env,
    );
    // The app's own header says it rewrites the file; this one is static.
    let body = match cfg.split_once('\n') {
        Some((first, rest)) if first.starts_with("# Written by replica-lab") => rest,
        _ => &cfg,
    };
    format!("{}{body}", generated_header())
}

/// What the nodes let in: as the app's Docker runtime does (see `pgconf::hba_conf`).
pub fn hba_rules() -> HbaRules {
    HbaRules {
        socket: SocketLogin::Trust,
        clients: "all".into(),
        check_from: format!("{HAPROXY_ADDR}/32"),
        // compose publishes its endpoints on loopback only.
        exposed: false,
        endpoint_logins: Vec::new(),
    }
}

/// Mirrors `Admin::bootstrap` on a fresh cluster: the learner's superuser and database, the
/// replication login and the no-privilege check login, which logs nothing below FATAL, may
/// hold only a few connections, and can create nothing anywhere.
pub fn bootstrap_sql(creds: &Credentials) -> String {
    format!(
        "CREATE ROLE {user} WITH SUPERUSER LOGIN PASSWORD {password};\n\
         CREATE ROLE {repl} WITH REPLICATION LOGIN PASSWORD {repl_password};\n\
         CREATE ROLE {check} WITH {check_attrs};\n\
         ALTER ROLE {check} SET log_min_messages = fatal;\n\
         ALTER ROLE {check} SET default_transaction_read_only = on;\n\
         CREATE DATABASE {db} OWNER {user};\n\
         REVOKE TEMPORARY, CREATE ON DATABASE postgres, template1, {db} FROM PUBLIC, {check};\n\
         REVOKE CREATE ON SCHEMA public FROM PUBLIC, {check};\n",
        check_attrs = check_role_attrs(),
        user = quote_ident(&creds.user),
        password = quote_literal(&creds.password),
        repl = quote_ident(&creds.replication_user),
        repl_password = quote_literal(&creds.replication_password),
        check = quote_ident(&creds.check_user),
        db = quote_ident(&creds.database),
    )
}

/// The primary's node settings: listens everywhere in its container, no upstream.
pub fn primary_node_conf(creds: &Credentials) -> String {
    node_conf(PRIMARY_HOST).render(creds)
}

/// A replica's node settings with [`NODE_PLACEHOLDER`] for its name (slot, `cluster_name`,
/// `application_name`), streaming from the primary.
pub fn replica_node_conf(creds: &Credentials) -> String {
    node_conf(NODE_PLACEHOLDER)
        .streaming_from(PRIMARY_HOST.into(), PG_PORT)
        .render(creds)
}

fn node_conf(name: &str) -> NodeConf {
    NodeConf {
        listen: "*".into(),
        port: PG_PORT,
        socket_dir: SOCKET_DIR.into(),
        cluster_name: name.into(),
        upstream: None,
    }
}

/// Sets `NODE` to `replica_<host name>`, made a valid replication slot name: lowercase
/// letters, digits and underscores, at most 63 bytes. Compose gives every scaled container
/// its own host name (its short id).
pub const REPLICA_NAME_SH: &str = "NODE=$(printf 'replica_%s' \"$(uname -n)\" |\n  \
    LC_ALL=C tr '[:upper:]' '[:lower:]' | LC_ALL=C tr -c 'a-z0-9_' '_' | cut -c1-63)\n";

fn generated_header() -> String {
    format!(
        "# Generated by src/compose/ from the code replica-lab itself uses; do not edit.\n\
         # Regenerate: {BLESS_ENV}=1 cargo test --lib compose\n"
    )
}
