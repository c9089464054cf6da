//! The HAProxy configuration, rendered from the topology, and its stats CSV, parsed.
//!
//! Both backends list every node: which one takes writes and which take reads is decided by a
//! health check that reads `in_hot_standby` from the server's login handshake, so a promotion
//! moves traffic with no config change and no node is hard-coded as primary.

use std::fmt::Write as _;
use std::net::SocketAddr;

use serde::Serialize;

use super::topology::Endpoints;
use crate::settings::Credentials;

pub mod state_file;

pub const WRITE_BACKEND: &str = "write";
pub const READ_BACKEND: &str = "read";

/// How HAProxy reaches one PostgreSQL server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyServer {
    pub name: String,
    /// `host:port`; a host name is resolved through the `dns` resolver when one is given.
    pub target: String,
}

/// A run of server slots HAProxy fills at run time from every address a name resolves to:
/// `server-template PREFIX COUNT TARGET check`, named `PREFIX1` to `PREFIXCOUNT`. Slots without
/// an address wait in maintenance, so one line covers a service scaled to any size up to
/// `count`. Needs a resolver ([`ProxyEnv::dns`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyTemplate {
    pub prefix: String,
    pub count: u8,
    /// `host:port`; `host` is resolved through the `dns` resolver.
    pub target: String,
}

/// `host:port` for a server line.
pub fn node_target((host, port): (String, u16)) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// What differs between runtimes: file locations and name resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyEnv {
    /// Where the runtime API listens: a unix socket path, or `ipv4@ADDR:PORT`.
    pub api_socket: String,
    pub state_file: String,
    /// A DNS server (`ip:port`) to resolve server names through at run time, so HAProxy starts
    /// even while a name does not resolve yet (Docker's embedded DNS).
    pub dns: Option<String>,
    /// The address HAProxy connects to servers from, checks included, where it must be
    /// pinned: the nodes let the health-check login in from that address only.
    pub source: Option<String>,
    /// `user:password` the stats page asks for: see [`stats_login`].
    pub stats_login: Option<String>,
}

/// The stats page answers anyone who reaches it; beyond loopback it asks for the cluster's
/// login (`user:password`), which is then never a built-in default.
pub fn stats_login(stats: SocketAddr, creds: &Credentials) -> Option<String> {
    (!stats.ip().is_loopback()).then(|| format!("{}:{}", creds.user, creds.password))
}

/// A word of HAProxy's configuration taken literally: single quotes, as in a shell.
fn config_word(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The login HAProxy's health check uses: a StartupMessage for `check_user` on `postgres`.
pub fn startup_message_hex(check_user: &str) -> String {
    let mut body: Vec<u8> = Vec::new();
    body.extend_from_slice(&196_608u32.to_be_bytes()); // protocol 3.0
    for (k, v) in [
        ("user", check_user),
        ("database", "postgres"),
        ("application_name", "haproxy-check"),
    ] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let len = u32::try_from(body.len() + 4).unwrap_or(u32::MAX);
    let mut msg = len.to_be_bytes().to_vec();
    msg.extend_from_slice(&body);
    hex(&msg)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// ReadyForQuery, idle: every ParameterStatus has arrived before it.
const READY_FOR_QUERY: &str = "5a0000000549";
/// Terminate, so the server does not log an unexpected EOF for every check.
const TERMINATE: &str = "5800000004";

fn role_check(check_user: &str, standby: bool) -> String {
    let want = hex(format!("in_hot_standby\0{}\0", if standby { "on" } else { "off" }).as_bytes());
    format!(
        "    option tcp-check\n\
         \x20   tcp-check connect\n\
         \x20   tcp-check send-binary {startup}\n\
         \x20   tcp-check expect binary {READY_FOR_QUERY}\n\
         \x20   # a wrong role fails at once instead of waiting for the check timeout\n\
         \x20   tcp-check expect min-recv 0 binary {want}\n\
         \x20   tcp-check send-binary {TERMINATE}\n",
        startup = startup_message_hex(check_user),
    )
}

pub fn render(
    endpoints: &Endpoints,
    servers: &[ProxyServer],
    check_user: &str,
    env: &ProxyEnv,
) -> String {
    render_with_templates(endpoints, servers, &[], check_user, env)
}

/// [`render`], with `templates` listed in both backends after `servers`.
pub fn render_with_templates(
    endpoints: &Endpoints,
    servers: &[ProxyServer],
    templates: &[ProxyTemplate],
    check_user: &str,
    env: &ProxyEnv,
) -> String {
    let mut cfg = format!(
        "# Written by replica-lab; rewritten when the cluster changes.\n\
         global\n\
         \x20   stats socket {sock}\n\
         \x20   server-state-file {state}\n\
         \x20   # a reload keeps old sessions until they end, but not forever\n\
         \x20   hard-stop-after 1h\n\
         \n\
         defaults\n\
         \x20   mode tcp\n\
         \x20   # a dead container's address swallows packets: give up quickly and redispatch\n\
         \x20   timeout connect 1s\n\
         \x20   # interactive SQL sessions sit idle for long stretches\n\
         \x20   timeout client 30m\n\
         \x20   timeout server 30m\n\
         \x20   timeout check 1s\n\
         \x20   option tcpka\n\
         \x20   # a connection refused by a dead server is retried on another one\n\
         \x20   retries 2\n\
         \x20   option redispatch\n\
         \x20   load-server-state-from-file global\n\
         \x20   default-server inter 1s fastinter 250ms downinter 500ms rise 2 fall 2 on-marked-down shutdown-sessions{dns_default}\n\
         {source}\
         \n",
        sock = if env.api_socket.starts_with("ipv4@") {
            // Inside a container the runtime API is reached over TCP.
            format!("{} level admin", env.api_socket)
        } else {
            // Only the owner may steer HAProxy; a reload takes the listeners over this socket.
            format!(
                "{} mode 600 level admin expose-fd listeners",
                env.api_socket
            )
        },
        state = env.state_file,
        // After a reload a server takes its address from the saved state, else from the
        // system resolver, and only then waits for DNS: no window without addresses.
        source = match &env.source {
            Some(addr) => format!(
                "\x20   # the nodes let the check login in from this address only\n\
                 \x20   source {addr}\n"
            ),
            None => String::new(),
        },
        dns_default = if env.dns.is_some() {
            " resolvers cluster init-addr last,libc,none"
        } else {
            ""
        },
    );
    if let Some(dns) = &env.dns {
        let _ = write!(
            cfg,
            "resolvers cluster\n\
             \x20   nameserver dns {dns}\n\
             \x20   hold valid 1s\n\
             \x20   hold nx 1s\n\
             \x20   hold obsolete 1s\n\n"
        );
    }
    for (name, bind, balance, standby, purpose) in [
        (
            WRITE_BACKEND,
            endpoints.write,
            "first",
            false,
            "whichever node is primary now",
        ),
        (
            READ_BACKEND,
            endpoints.read,
            "roundrobin",
            true,
            "hot standbys, per connection",
        ),
    ] {
        let _ = write!(
            cfg,
            "# {purpose}\nlisten {name}\n    bind {bind}\n    balance {balance}\n{check}",
            bind = bind_addr(bind),
            check = role_check(check_user, standby),
        );
        for s in servers {
            let _ = writeln!(cfg, "    server {} {} check", s.name, s.target);
        }
        for t in templates {
            let _ = writeln!(
                cfg,
                "    server-template {} {} {} check",
                t.prefix, t.count, t.target
            );
        }
        cfg.push('\n');
    }
    let _ = write!(
        cfg,
        "listen stats\n\
         \x20   mode http\n\
         \x20   bind {stats}\n\
         \x20   timeout client 30s\n\
         \x20   stats enable\n\
         \x20   stats uri /\n\
         \x20   stats refresh 2s\n\
         \x20   stats show-legends\n",
        stats = bind_addr(endpoints.stats),
    );
    if let Some(login) = &env.stats_login {
        let _ = writeln!(cfg, "    stats auth {}", config_word(login));
    }
    cfg
}

fn bind_addr(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

/// One server line of `show stat`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServerStat {
    pub backend: String,
    #[serde(rename = "name")]
    pub server: String,
    /// UP, DOWN, MAINT, NOLB, DRAIN, or a transition such as `UP 1/2`.
    pub status: String,
    pub check_status: String,
    pub check_duration_ms: Option<u64>,
    pub current_sessions: u64,
    pub total_sessions: u64,
    pub last_change_s: Option<u64>,
}

impl ServerStat {
    pub fn is_up(&self) -> bool {
        self.status == "UP"
    }

    /// Still taking new connections, including while checks count it down (`UP 1/2`).
    pub fn routable(&self) -> bool {
        self.status.starts_with("UP")
    }

    /// At least one health check has finished since HAProxy started.
    pub fn checked(&self) -> bool {
        !self.check_status.is_empty() && !self.check_status.contains("INI")
    }
}

/// Parses `show stat` (or the stats page's `;csv`) into server rows; frontend and backend
/// summary rows are dropped.
pub fn parse_stat_csv(csv: &str) -> Vec<ServerStat> {
    let mut lines = csv.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let cols: Vec<&str> = header.trim_start_matches("# ").split(',').collect();
    let idx = |name: &str| cols.iter().position(|c| *c == name);
    let (Some(px), Some(sv), Some(st)) = (idx("pxname"), idx("svname"), idx("status")) else {
        return Vec::new();
    };
    let get = |f: &[&str], i: Option<usize>| i.and_then(|i| f.get(i)).map(|s| s.to_string());
    let num = |f: &[&str], i: Option<usize>| get(f, i).and_then(|s| s.parse::<u64>().ok());
    lines
        .filter(|l| !l.trim().is_empty())
        .filter_map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let server = f.get(sv)?.to_string();
            if server == "FRONTEND" || server == "BACKEND" {
                return None;
            }
            Some(ServerStat {
                backend: f.get(px)?.to_string(),
                server,
                status: f.get(st)?.to_string(),
                check_status: get(&f, idx("check_status")).unwrap_or_default(),
                check_duration_ms: num(&f, idx("check_duration")),
                current_sessions: num(&f, idx("scur")).unwrap_or(0),
                total_sessions: num(&f, idx("stot")).unwrap_or(0),
                last_change_s: num(&f, idx("lastchg")),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::topology::{NodeAddressing, Topology};
    use crate::settings::Settings;

    fn sample() -> String {
        let t = Topology::initial(&Settings::default(), NodeAddressing::LoopbackAliases);
        let servers: Vec<ProxyServer> = t
            .nodes
            .iter()
            .map(|n| ProxyServer {
                name: n.name.clone(),
                target: n.socket_addr().to_string(),
            })
            .collect();
        let env = ProxyEnv {
            api_socket: "/run/x/haproxy.sock".into(),
            state_file: "/run/x/state".into(),
            dns: None,
            source: Some("127.0.0.10".into()),
            stats_login: None,
        };
        render(&t.endpoints, &servers, &t.credentials.check_user, &env)
    }

    #[test]
    fn startup_message_is_a_protocol_3_login_for_the_check_role() {
        let hex = startup_message_hex("haproxy_check");
        // int32 length, then 00030000 (protocol 3.0), then "user\0haproxy_check\0"
        // 8 header bytes, three key/value pairs, one terminating zero: 77 bytes.
        assert!(hex.starts_with("0000004d"), "{hex}");
        assert_eq!(&hex[8..16], "00030000");
        assert!(hex.contains(&super::hex(b"user\0haproxy_check\0database\0postgres\0")));
        assert!(hex.ends_with("0000"));
        assert_eq!(hex.len() / 2, 0x4d);
    }

    #[test]
    fn both_backends_list_every_node_and_check_the_role() {
        let cfg = sample();
        let write = cfg.split("listen write").nth(1).expect("write section");
        let write = write.split("listen read").next().expect("write body");
        let read = cfg.split("listen read").nth(1).expect("read section");
        for section in [write, read] {
            for n in 1..=4 {
                assert!(
                    section.contains(&format!("server pg{n} 127.0.0.1{n}:5432 check")),
                    "pg{n} missing:\n{section}"
                );
            }
        }
        assert!(write.contains("balance first"));
        assert!(write.contains("bind 127.0.0.1:5435"));
        assert!(write.contains(&hex(b"in_hot_standby\0off\0")));
        assert!(read.contains("balance roundrobin"));
        assert!(read.contains("bind 127.0.0.1:5436"));
        assert!(read.contains(&hex(b"in_hot_standby\0on\0")));
        assert!(cfg.contains("bind 127.0.0.1:8404"));
        assert!(cfg.contains("timeout client 30m") && cfg.contains("timeout server 30m"));
        assert!(cfg.contains("on-marked-down shutdown-sessions"));
        assert!(cfg.contains("stats socket /run/x/haproxy.sock"));
        assert!(!cfg.contains("resolvers"));
        let defaults = cfg.split("defaults").nth(1).expect("defaults section");
        let defaults = defaults.split("listen").next().expect("defaults body");
        assert!(defaults.contains("    source 127.0.0.10\n"), "{defaults}");
    }

    #[test]
    fn dns_mode_resolves_names_late() {
        let env = ProxyEnv {
            api_socket: "/s".into(),
            state_file: "/f".into(),
            dns: Some("127.0.0.11:53".into()),
            source: None,
            stats_login: None,
        };
        let t = Topology::initial(&Settings::default(), NodeAddressing::LoopbackAliases);
        let servers = [ProxyServer {
            name: "pg1".into(),
            target: "pg1:5432".into(),
        }];
        let cfg = render(&t.endpoints, &servers, "c", &env);
        assert!(cfg.contains("nameserver dns 127.0.0.11:53"));
        assert!(cfg.contains("stats socket /s mode 600 level admin"));
        assert!(cfg.contains("resolvers cluster init-addr last,libc,none"));
        assert!(cfg.contains("server pg1 pg1:5432 check"));
    }

    #[test]
    fn templates_follow_the_servers_in_both_backends() {
        let env = ProxyEnv {
            api_socket: "/s".into(),
            state_file: "/f".into(),
            dns: Some("127.0.0.11:53".into()),
            source: None,
            stats_login: None,
        };
        let t = Topology::initial(&Settings::default(), NodeAddressing::LoopbackAliases);
        let servers = [ProxyServer {
            name: "primary".into(),
            target: "primary:5432".into(),
        }];
        let templates = [ProxyTemplate {
            prefix: "replica".into(),
            count: 9,
            target: "replica:5432".into(),
        }];
        let cfg = render_with_templates(&t.endpoints, &servers, &templates, "c", &env);
        let write = cfg.split("listen write").nth(1).expect("write section");
        let write = write.split("listen read").next().expect("write body");
        let read = cfg.split("listen read").nth(1).expect("read section");
        let read = read.split("listen stats").next().expect("read body");
        for section in [write, read] {
            let lines: Vec<&str> = section
                .lines()
                .map(str::trim)
                .filter(|l| l.starts_with("server"))
                .collect();
            assert_eq!(
                lines,
                [
                    "server primary primary:5432 check",
                    "server-template replica 9 replica:5432 check"
                ],
                "{section}"
            );
        }
        assert!(cfg.contains("resolvers cluster init-addr last,libc,none"));
        // Without templates the output is exactly what `render` gives.
        assert_eq!(
            render_with_templates(&t.endpoints, &servers, &[], "c", &env),
            render(&t.endpoints, &servers, "c", &env)
        );
    }

    #[test]
    fn stat_csv_keeps_server_rows_only() {
        let csv = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,\n\
write,FRONTEND,,,0,1,1000,3,,,,,,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,1,,,,\n\
write,pg1,0,0,1,1,,7,0,0,,0,,0,0,0,0,UP,1,1,0,0,0,12,0,,1,2,1,,7,,2,0,,1,L7OK,,3,\n\
write,pg2,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,1,1,0,1,1,11,11,,1,2,2,,0,,2,0,,0,L7RSP,,1,\n\
write,BACKEND,0,0,1,1,100,7,0,0,0,0,,0,0,0,0,UP,1,1,0,,0,12,0,,1,2,0,,7,,1,0,,1,,,,\n";
        let rows = parse_stat_csv(csv);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].server, "pg1");
        assert!(rows[0].is_up() && rows[0].checked());
        assert_eq!(rows[0].total_sessions, 7);
        assert_eq!(rows[0].current_sessions, 1);
        assert_eq!(rows[0].check_duration_ms, Some(3));
        assert_eq!(rows[1].status, "DOWN");
        assert_eq!(rows[1].check_status, "L7RSP");
        assert_eq!(rows[1].last_change_s, Some(11));
        assert!(parse_stat_csv("").is_empty());
        assert!(parse_stat_csv("garbage\n1,2,3").is_empty());
    }

    #[test]
    fn the_stats_page_asks_for_a_login_only_beyond_loopback() {
        let creds = Settings::default().credentials();
        let on = |a: &str| stats_login(a.parse().expect("address"), &creds);
        assert_eq!(on("127.0.0.1:8404"), None);
        assert_eq!(on("0.0.0.0:8404").as_deref(), Some("myuser:mypassword"));
        assert_eq!(config_word("a'b c"), "'a'\\''b c'");
    }
}
