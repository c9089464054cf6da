//! PostgreSQL configuration files every runtime writes the same way.
//!
//! `pg_basebackup` and `pg_rewind` copy the primary's configuration, so the settings every node
//! shares go into `postgresql.conf` once, and what differs per node (addresses, name, upstream)
//! goes into [`NODE_CONF`], which is rewritten after every copy.

use crate::settings::Credentials;

use crate::cluster::topology::NodeSpec;

/// Connections the health-check login may hold at once on one node. HAProxy needs one per
/// backend (two) per check round, a few more while a slow round overlaps the next.
pub const CHECK_CONNECTION_LIMIT: u32 = 10;
/// `max_connections` of every node (the classroom hub raises it with `ALTER SYSTEM`).
pub const MAX_CONNECTIONS: u32 = 100;
/// Slots only superusers (the app, the learner) may take, whoever holds the rest.
pub const SUPERUSER_RESERVED_CONNECTIONS: u32 = 5;
/// The `pg_ident.conf` map that lets the app's and the servers' OS accounts log in as
/// `postgres` over a node's unix socket.
pub const IDENT_MAP: &str = "replica-lab";

/// Included from `postgresql.conf`, relative to the data directory.
pub const NODE_CONF: &str = "replica-lab-node.conf";
/// The presence of this file makes a server start as a hot standby.
pub const STANDBY_SIGNAL: &str = "standby.signal";
/// Included from `postgresql.conf`: whether the server speaks TLS, rewritten with the login
/// rules.
pub const TLS_CONF: &str = "replica-lab-tls.conf";
/// The server's certificate and key in the data directory, where `ssl_cert_file` and
/// `ssl_key_file` find them by their default names.
pub const SERVER_CERT: &str = "server.crt";
pub const SERVER_KEY: &str = "server.key";
/// The cluster's authority in the data directory, which client certificates must chain to.
pub const SERVER_CA: &str = "replica-lab-ca.crt";

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
         # the health-check login can hold at most {CHECK_CONNECTION_LIMIT} of these (its role's\n\
         # CONNECTION LIMIT); the reserved ones stay for superusers whoever holds the rest\n\
         max_connections = {MAX_CONNECTIONS}\n\
         superuser_reserved_connections = {SUPERUSER_RESERVED_CONNECTIONS}\n\
         # a client that connects and never finishes logging in holds a slot this long\n\
         authentication_timeout = '10s'\n\
         log_line_prefix = '%m [%p] %q%u@%d '\n\
         include_if_exists = '{NODE_CONF}'\n\
         include_if_exists = '{TLS_CONF}'\n"
    )
}

/// [`TLS_CONF`]: TLS with the certificate beside it in the data directory, or none.
pub fn tls_conf(on: bool) -> String {
    if on {
        format!(
            "# Written by replica-lab: the endpoints listen beyond loopback.\n\
             ssl = on\n\
             ssl_cert_file = '{SERVER_CERT}'\n\
             ssl_key_file = '{SERVER_KEY}'\n\
             ssl_ca_file = '{SERVER_CA}'\n\
             ssl_min_protocol_version = 'TLSv1.2'\n"
        )
    } else {
        "# Written by replica-lab: the endpoints listen on loopback only.\nssl = off\n".into()
    }
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
             unix_socket_permissions = 0700\n\
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

/// Who may log in over a node's unix socket without a password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SocketLogin {
    /// Anyone who reaches the socket: inside a container only its own accounts do (and
    /// whoever may `docker exec`, who owns the host's Docker anyway).
    Trust,
    /// `postgres` for the OS accounts [`ident_conf`] maps to it (the app's and the servers'),
    /// checked by the kernel (`peer`); every other login needs its password.
    Peer,
}

/// Where `pg_hba.conf` lets whom in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HbaRules {
    pub socket: SocketLogin,
    /// Where clients (HAProxy, the app, the learner, the replicas) may come from, with a
    /// password: a CIDR or `all`.
    pub clients: String,
    /// Where the passwordless health-check login may come from: HAProxy's own address as a
    /// /32, or `all` where HAProxy has no fixed address (a Docker network made before fixed
    /// addresses).
    pub check_from: String,
    /// The endpoints listen beyond loopback: whatever comes through HAProxy (from
    /// `check_from`) speaks TLS, the superuser logs in there with its client certificate only
    /// (the app's own, see `certs`), and no one streams.
    pub exposed: bool,
    /// Who else may log in through HAProxy's endpoints, over TLS only: `pg_hba.conf` user
    /// names (`+group` for a group's members). Empty lets every login in.
    pub endpoint_logins: Vec<String>,
}

/// `pg_hba.conf`: the health-check login is trusted for database `postgres` from HAProxy's
/// address only and refused everywhere else; everything else over TCP needs a password.
/// Beyond loopback ([`HbaRules::exposed`]) the superuser needs its certificate through HAProxy
/// and everyone needs TLS; with [`HbaRules::endpoint_logins`], whatever else comes through is
/// one of those logins or is refused; all before the replication rule could let anyone stream
/// the whole cluster through the endpoints.
///
/// On loopback the address is a weak proof: any local account may bind 127.0.0.0/8
/// addresses, so the check login's connection limit, not the address, is what keeps a local
/// user from exhausting a node through it.
pub fn hba_conf(creds: &Credentials, rules: &HbaRules) -> String {
    let check = quote_ident(&creds.check_user);
    let socket = match rules.socket {
        SocketLogin::Trust => "local   all          all                 trust\n".to_string(),
        SocketLogin::Peer => format!(
            "local   all          postgres            peer map={IDENT_MAP}\n\
             local   all          all                 scram-sha-256\n"
        ),
    };
    format!(
        "# Written by replica-lab; rewritten by every `up`.\n\
         # TYPE  DATABASE     USER  ADDRESS  METHOD\n\
         {socket}\
         host    postgres     {check}  {from}  trust\n\
         host    all          {check}  all  reject\n\
         {endpoint}\
         host    replication  {repl}  {net}  scram-sha-256\n\
         host    all          all  {net}  scram-sha-256\n",
        repl = quote_ident(&creds.replication_user),
        from = rules.check_from,
        net = rules.clients,
        endpoint = endpoint_rules(creds, rules),
    )
}

fn endpoint_rules(creds: &Credentials, rules: &HbaRules) -> String {
    if !rules.exposed && rules.endpoint_logins.is_empty() {
        return String::new();
    }
    let from = &rules.check_from;
    let mut out = String::new();
    if rules.exposed {
        // The first rule that matches decides: with no certificate the superuser is refused
        // here, however good the password it offers.
        out.push_str(&format!(
            "hostssl all          {user}  {from}  cert\n\
             host    all          {user}  {from}  reject\n\
             hostnossl all        all  {from}  reject\n",
            user = quote_ident(&creds.user),
        ));
    }
    if !rules.endpoint_logins.is_empty() {
        let logins: Vec<String> = rules.endpoint_logins.iter().map(|l| hba_login(l)).collect();
        out.push_str(&format!(
            "hostssl all          {logins}  {from}  scram-sha-256\n\
             host    all          all  {from}  reject\n",
            logins = logins.join(","),
        ));
    }
    // `all` in the database column matches no replication connection.
    out.push_str(&format!("host    replication  all  {from}  reject\n"));
    out
}

/// A user name of `pg_hba.conf`. A leading `+` means a group's members only unquoted, so a
/// group is written bare: settings validation (`settings::valid_endpoint_login`) lets only plain
/// names follow a `+`.
fn hba_login(login: &str) -> String {
    if login.starts_with('+') {
        login.to_string()
    } else {
        quote_ident(login)
    }
}

/// `pg_ident.conf`: the OS accounts that may log in as `postgres` over the socket.
pub fn ident_conf(os_users: &[&str]) -> String {
    let mut users: Vec<&str> = os_users.to_vec();
    users.sort_unstable();
    users.dedup();
    let mut out = String::from(
        "# Written by replica-lab; rewritten by every `up`.\n# MAP  OS-USER  PG-USER\n",
    );
    for u in users {
        out.push_str(&format!("{IDENT_MAP}  {}  postgres\n", ident_word(u)));
    }
    out
}

/// A word of `pg_ident.conf`, quoted when it needs to be.
fn ident_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    {
        word.to_string()
    } else {
        format!("\"{}\"", word.replace('"', "\"\""))
    }
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

    fn local_rules() -> HbaRules {
        HbaRules {
            socket: SocketLogin::Peer,
            clients: "127.0.0.0/8".into(),
            check_from: "127.0.0.10/32".into(),
            exposed: false,
            endpoint_logins: Vec::new(),
        }
    }

    /// The lines of `hba` that are rules, as whitespace-separated words.
    fn rules(hba: &str) -> Vec<Vec<&str>> {
        hba.lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| l.split_whitespace().collect())
            .collect()
    }

    #[test]
    fn hba_trusts_only_the_check_role_only_for_postgres_only_from_haproxy() {
        let hba = hba_conf(&topo().credentials, &local_rules());
        let trusted: Vec<Vec<&str>> = rules(&hba)
            .into_iter()
            .filter(|r| r.last() == Some(&"trust"))
            .collect();
        assert_eq!(
            trusted,
            [[
                "host",
                "postgres",
                "\"haproxy_check\"",
                "127.0.0.10/32",
                "trust"
            ]],
            "{hba}"
        );
        // Rules are read top-down: the check role is refused everywhere else before any
        // line could let it in, and nothing is trusted over the socket.
        let all = rules(&hba);
        let refuse = all
            .iter()
            .position(|r| r == &["host", "all", "\"haproxy_check\"", "all", "reject"])
            .expect("a reject line for the check role");
        let first_password = all
            .iter()
            .position(|r| r.first() == Some(&"host") && r.last() == Some(&"scram-sha-256"))
            .expect("password lines");
        assert!(refuse < first_password, "{hba}");
        assert_eq!(
            all[0],
            ["local", "all", "postgres", "peer", "map=replica-lab"]
        );
        assert_eq!(all[1], ["local", "all", "all", "scram-sha-256"]);
        assert!(!hba.contains("md5") && !hba.contains(" password"), "{hba}");
    }

    #[test]
    fn containers_trust_their_own_socket_but_nothing_else() {
        let rules = HbaRules {
            socket: SocketLogin::Trust,
            clients: "all".into(),
            check_from: "10.213.7.5/32".into(),
            exposed: false,
            endpoint_logins: Vec::new(),
        };
        let hba = hba_conf(&topo().credentials, &rules);
        assert!(hba.contains("local   all          all                 trust\n"));
        assert!(
            hba.contains("\"haproxy_check\"  10.213.7.5/32  trust\n"),
            "{hba}"
        );
        assert!(!hba.contains("peer"), "{hba}");
    }

    #[test]
    fn ident_maps_each_account_once_to_postgres() {
        let ident = ident_conf(&["root", "postgres", "root", "o'dd \"x\""]);
        let lines: Vec<&str> = ident.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                "replica-lab  \"o'dd \"\"x\"\"\"  postgres",
                "replica-lab  postgres  postgres",
                "replica-lab  root  postgres"
            ]
        );
    }

    #[test]
    fn the_check_role_cannot_crowd_out_superusers() {
        let conf = shared_conf();
        assert!(conf.contains(&format!("max_connections = {MAX_CONNECTIONS}\n")));
        assert!(conf.contains(&format!(
            "superuser_reserved_connections = {SUPERUSER_RESERVED_CONNECTIONS}\n"
        )));
        // HAProxy needs two at a time; whoever holds all the check role may have, the
        // learner's own sessions still find room, reserved slots apart.
        const { assert!(CHECK_CONNECTION_LIMIT >= 4) };
        const { assert!(CHECK_CONNECTION_LIMIT + SUPERUSER_RESERVED_CONNECTIONS < MAX_CONNECTIONS / 2) };
        assert!(shared_conf().contains("wal_log_hints = on"));
        assert!(shared_conf().contains(&format!("include_if_exists = '{NODE_CONF}'")));
        let node = NodeConf::for_node(&topo().nodes[0], "x".into(), "/s".into())
            .render(&topo().credentials);
        assert!(node.contains("unix_socket_permissions = 0700\n"), "{node}");
    }

    #[test]
    fn guarded_endpoints_let_only_the_named_logins_in_and_only_over_tls() {
        let mut r = local_rules();
        assert!(!hba_conf(&topo().credentials, &r).contains("hostssl"));
        r.endpoint_logins = vec!["classroom_gate".into(), "+classroom_learner".into()];
        let hba = hba_conf(&topo().credentials, &r);
        let all = rules(&hba);
        let ssl = all
            .iter()
            .position(|l| {
                l == &[
                    "hostssl",
                    "all",
                    "\"classroom_gate\",+classroom_learner",
                    "127.0.0.10/32",
                    "scram-sha-256",
                ]
            })
            .expect("a TLS-only rule for the endpoint logins");
        let refuse = all
            .iter()
            .position(|l| l == &["host", "all", "all", "127.0.0.10/32", "reject"])
            .expect("everything else from HAProxy refused");
        // `all` matches no replication connection: that one is refused by name.
        let no_streaming = all
            .iter()
            .position(|l| l == &["host", "replication", "all", "127.0.0.10/32", "reject"])
            .expect("streaming through HAProxy refused");
        let replication = all
            .iter()
            .position(|l| l[1] == "replication" && l[2] != "all")
            .expect("the replication rule");
        // Top-down: the check login first, then the endpoint rules, before any rule that
        // would let a superuser or a replication login in through HAProxy.
        assert!(ssl < refuse && refuse < replication, "{hba}");
        assert!(no_streaming < replication, "{hba}");
        assert!(crate::settings::valid_endpoint_login("+classroom_learner"));
        assert!(!crate::settings::valid_endpoint_login("+Learners"));
        assert!(!crate::settings::valid_endpoint_login("+a b"));
        assert!(!crate::settings::valid_endpoint_login(""));
        assert!(tls_conf(true).contains("ssl = on"));
        assert!(tls_conf(false).contains("ssl = off"));
        assert!(shared_conf().contains(&format!("include_if_exists = '{TLS_CONF}'")));
    }

    #[test]
    fn beyond_loopback_the_superuser_needs_its_certificate_through_haproxy() {
        let mut r = local_rules();
        r.exposed = true;
        let hba = hba_conf(&topo().credentials, &r);
        let all = rules(&hba);
        let at = |line: &[&str]| {
            all.iter()
                .position(|l| l == line)
                .unwrap_or_else(|| panic!("{line:?} in {hba}"))
        };
        let cert = at(&["hostssl", "all", "\"myuser\"", "127.0.0.10/32", "cert"]);
        let no_password = at(&["host", "all", "\"myuser\"", "127.0.0.10/32", "reject"]);
        let tls_only = at(&["hostnossl", "all", "all", "127.0.0.10/32", "reject"]);
        let no_streaming = at(&["host", "replication", "all", "127.0.0.10/32", "reject"]);
        let first_password = all
            .iter()
            .position(|l| l[0] == "host" && l.last() == Some(&"scram-sha-256"))
            .expect("password lines");
        assert!(cert < no_password && no_password < first_password, "{hba}");
        assert!(
            tls_only < first_password && no_streaming < first_password,
            "{hba}"
        );
        // Elsewhere (the app's own direct connections to a node) the password still does.
        assert_eq!(
            all[first_password + 1],
            ["host", "all", "all", "127.0.0.0/8", "scram-sha-256"]
        );
        // With endpoint logins too, the superuser's rule still comes first: `all` below it
        // would refuse it.
        r.endpoint_logins = vec!["classroom_gate".into()];
        let guarded = hba_conf(&topo().credentials, &r);
        let guarded = rules(&guarded);
        let cert = guarded.iter().position(|l| l.last() == Some(&"cert"));
        let refuse = guarded
            .iter()
            .position(|l| l == &["host", "all", "all", "127.0.0.10/32", "reject"]);
        assert!(cert.is_some() && cert < refuse, "{guarded:?}");
        assert!(tls_conf(true).contains("ssl_ca_file = 'replica-lab-ca.crt'"));
    }
}
