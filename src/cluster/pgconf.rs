//! PostgreSQL configuration files every runtime writes the same way.
//!
//! `pg_basebackup` and `pg_rewind` copy the primary's configuration, so the settings every node
//! shares go into `postgresql.conf` once, and what differs per node (addresses, name, upstream)
//! goes into [`NODE_CONF`], which is rewritten after every copy.

use crate::settings::Credentials;

use crate::cluster::topology::NodeSpec;

/// Included from `postgresql.conf`, relative to the data directory.
pub const NODE_CONF: &str = "replica-lab-node.conf";
/// The presence of this file makes a server start as a hot standby.
pub const STANDBY_SIGNAL: &str = "standby.signal";

/// Appended to the `postgresql.conf` that `initdb` wrote.
pub fn shared_conf() -> String {
    format!(
        "\n# --- replica-lab: settings every node shares ---\n\
         wal_level = replica\n\
         max_wal_senders = 16\n\
         max_replication_slots = 16\n\
         # pg_rewind needs either checksums or hint-bit logging\n\
         wal_log_hints = on\n\
         hot_standby = on\n\
         # a slot of a replica that is gone must not fill the disk\n\
         max_slot_wal_keep_size = '1GB'\n\
         # pg_rewind reads the old primary's WAL back to the last common checkpoint; keep it\n\
         # even after crash recovery's checkpoint would recycle it\n\
         wal_keep_size = '128MB'\n\
         # replicas report every second, so reply_time shows a frozen receiver quickly\n\
         wal_receiver_status_interval = '1s'\n\
         shared_buffers = '32MB'\n\
         log_line_prefix = '%m [%p] %q%u@%d '\n\
         include_if_exists = '{NODE_CONF}'\n"
    )
}

/// Where the server listens and who it is; for a standby, whom it streams from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeConf {
    pub listen: String,
    pub port: u16,
    pub socket_dir: String,
    pub cluster_name: String,
    pub upstream: Option<Upstream>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    pub host: String,
    pub port: u16,
    pub slot: String,
}

impl NodeConf {
    pub fn for_node(node: &NodeSpec, listen: String, socket_dir: String) -> Self {
        NodeConf {
            listen,
            port: node.port,
            socket_dir,
            cluster_name: node.name.clone(),
            upstream: None,
        }
    }

    /// Streams from the primary at `host:port` (as the nodes reach each other) through
    /// the slot named after this node.
    pub fn streaming_from(mut self, host: String, port: u16) -> Self {
        self.upstream = Some(Upstream {
            host,
            port,
            slot: self.cluster_name.clone(),
        });
        self
    }

    pub fn render(&self, creds: &Credentials) -> String {
        let mut out = format!(
            "# Written by replica-lab for {name}; rewritten after every clone or rewind.\n\
             listen_addresses = {listen}\n\
             port = {port}\n\
             unix_socket_directories = {socket}\n\
             cluster_name = {name_q}\n",
            name = self.cluster_name,
            listen = conf_quote(&self.listen),
            port = self.port,
            socket = conf_quote(&self.socket_dir),
            name_q = conf_quote(&self.cluster_name),
        );
        if let Some(up) = &self.upstream {
            let conninfo = [
                ("host", up.host.clone()),
                ("port", up.port.to_string()),
                ("user", creds.replication_user.clone()),
                ("password", creds.replication_password.clone()),
                ("application_name", self.cluster_name.clone()),
            ]
            .iter()
            .map(|(k, v)| format!("{k}={}", conninfo_quote(v)))
            .collect::<Vec<_>>()
            .join(" ");
            out.push_str(&format!(
                "primary_conninfo = {}\nprimary_slot_name = {}\n",
                conf_quote(&conninfo),
                conf_quote(&up.slot)
            ));
        }
        out
    }
}

/// `pg_hba.conf`: the health-check login is trusted for one database only; everything
/// else over TCP needs a password. `client_net` is where clients may come from.
pub fn hba_conf(creds: &Credentials, client_net: &str) -> String {
    format!(
        "# Written by replica-lab.\n\
         # TYPE  DATABASE     USER  ADDRESS  METHOD\n\
         local   all          all            trust\n\
         host    postgres     {check}  {net}  trust\n\
         host    replication  {repl}  {net}  scram-sha-256\n\
         host    all          all  {net}  scram-sha-256\n",
        check = quote_ident(&creds.check_user),
        repl = quote_ident(&creds.replication_user),
        net = client_net,
    )
}

/// A name in double quotes with its quotes doubled, as SQL and `pg_hba.conf` both read it.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A string literal in postgresql.conf.
pub fn conf_quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

/// A value in a libpq connection string.
pub fn conninfo_quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::topology::{NodeAddressing, Topology};
    use crate::settings::Settings;

    fn topo() -> Topology {
        Topology::initial(&Settings::default(), NodeAddressing::LoopbackAliases)
    }

    #[test]
    fn a_standby_streams_from_the_primary_through_its_own_slot() {
        let t = topo();
        let conf = NodeConf::for_node(&t.nodes[2], "127.0.0.13".into(), "/run/pg3".into())
            .streaming_from("127.0.0.11".into(), 5432)
            .render(&t.credentials);
        assert!(conf.contains("listen_addresses = '127.0.0.13'\n"), "{conf}");
        assert!(conf.contains("cluster_name = 'pg3'\n"), "{conf}");
        assert!(conf.contains("primary_slot_name = 'pg3'\n"), "{conf}");
        assert!(
            conf.contains(
                "primary_conninfo = 'host=''127.0.0.11'' port=''5432'' user=''replicator'' \
                 password=''replicator-secret'' application_name=''pg3'''"
            ),
            "{conf}"
        );
    }

    #[test]
    fn a_primary_has_no_upstream() {
        let t = topo();
        let conf =
            NodeConf::for_node(&t.nodes[0], "*".into(), "/run".into()).render(&t.credentials);
        assert!(!conf.contains("primary_conninfo"), "{conf}");
        assert!(conf.contains("port = 5432"), "{conf}");
    }

    #[test]
    fn quotes_survive_both_layers() {
        assert_eq!(conf_quote("it's"), "'it''s'");
        assert_eq!(conninfo_quote(r"a'b\c"), r"'a\'b\\c'");
        let mut creds = topo().credentials;
        creds.replication_password = "p'w".into();
        let mut conf = NodeConf::for_node(&topo().nodes[1], "x".into(), "y".into());
        conf = conf.streaming_from("pg1".into(), 5432);
        // conninfo escapes the quote with a backslash; postgresql.conf then doubles both.
        let rendered = conf.render(&creds);
        assert!(rendered.contains(r"password=''p\\''w''"), "{rendered}");
    }

    #[test]
    fn hba_trusts_only_the_check_role_and_only_for_postgres() {
        let hba = hba_conf(&topo().credentials, "127.0.0.0/8");
        let trusted: Vec<&str> = hba
            .lines()
            .filter(|l| l.starts_with("host") && l.ends_with("trust"))
            .collect();
        assert_eq!(trusted.len(), 1, "{hba}");
        assert!(trusted[0].contains("postgres") && trusted[0].contains("\"haproxy_check\""));
        assert!(shared_conf().contains("wal_log_hints = on"));
        assert!(shared_conf().contains(&format!("include_if_exists = '{NODE_CONF}'")));
    }
}
