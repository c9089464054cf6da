//! HAProxy's server-state file, written by the app before every start and reload, and the
//! runtime-API commands that let a server back in.
//!
//! HAProxy 2.6 treats a server it has no state for as UP until its first check fails, so for
//! a moment a standby takes writes and a primary takes reads. A server listed in the state
//! file as stopped instead starts DOWN and needs `rise` good checks, as any server coming back
//! does. So: a fresh start lists every server as DOWN; a reload keeps what the running process
//! knows (its checks' verdicts, maintenance) and lists the servers new to the config as DOWN.

use std::collections::BTreeSet;

/// The header `show servers state` prints; HAProxy checks the version line and column count.
const HEADER: &str = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state \
srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result \
srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn \
srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n";

/// One `server NAME ADDR:PORT` line of a `listen` section.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ConfigServer {
    backend: String,
    name: String,
    addr: String,
    port: String,
}

/// The servers a rendered config lists, in order. Server templates are skipped: their slots
/// are named at run time and start in maintenance until DNS fills them.
fn config_servers(config: &str) -> Vec<ConfigServer> {
    let mut backend = None;
    let mut out = Vec::new();
    for line in config.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("listen" | "backend") => backend = words.next().map(str::to_string),
            Some("frontend" | "global" | "defaults" | "resolvers") => backend = None,
            Some("server") => {
                let (Some(b), Some(name), Some(target)) = (&backend, words.next(), words.next())
                else {
                    continue;
                };
                let Some((addr, port)) = target.rsplit_once(':') else {
                    continue;
                };
                out.push(ConfigServer {
                    backend: b.clone(),
                    name: name.to_string(),
                    addr: addr
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_string(),
                    port: port.to_string(),
                });
            }
            _ => {}
        }
    }
    out
}

/// A stopped, not-in-maintenance server with no check history. Ids 0: HAProxy then matches
/// the line by backend and server name.
fn down_line(s: &ConfigServer) -> String {
    format!(
        "0 {} 0 {} {} 0 0 1 1 0 1 0 0 6 0 0 0 - {} - 0 0 - - 0\n",
        s.backend, s.name, s.addr, s.port
    )
}

/// The state file for a fresh start of `config`: every server DOWN until its checks pass.
pub fn initial_state(config: &str) -> String {
    let mut out = HEADER.to_string();
    for s in config_servers(config) {
        out.push_str(&down_line(&s));
    }
    out
}

/// The state file for a reload from the running process's `show servers state` (`live`) to
/// `config`: servers the running process knows keep its state; new ones start DOWN.
pub fn merged_state(live: &str, config: &str) -> String {
    let servers = config_servers(config);
    let wanted: BTreeSet<(&str, &str)> = servers
        .iter()
        .map(|s| (s.backend.as_str(), s.name.as_str()))
        .collect();
    let mut out = HEADER.to_string();
    let mut known = BTreeSet::new();
    for line in live.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // Data lines start with a numeric backend id; the version and comment lines do not.
        if cols.len() < 4 || cols[0].parse::<u32>().is_err() {
            continue;
        }
        // A server the new config no longer has would only draw a warning.
        if !wanted.contains(&(cols[1], cols[3])) {
            continue;
        }
        known.insert((cols[1].to_string(), cols[3].to_string()));
        out.push_str(line.trim_end());
        out.push('\n');
    }
    for s in &servers {
        if !known.contains(&(s.backend.clone(), s.name.clone())) {
            out.push_str(&down_line(s));
        }
    }
    out
}

/// Runtime-API commands that take `backend/server` out of maintenance as DOWN, so it takes
/// traffic only after `rise` good checks. Leaving maintenance straight for `ready` would make
/// it UP at once; passing through `drain` (weight 0, no new connections) and a forced
/// `health down` first does not.
pub fn release_commands(backend: &str, server: &str) -> String {
    format!(
        "set server {backend}/{server} state drain; \
         set server {backend}/{server} health down; \
         set server {backend}/{server} state ready"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "global\n    stats socket /s\n\
defaults\n    mode tcp\n\
listen write\n    bind 127.0.0.1:5435\n    balance first\n    server pg1 127.0.0.11:5432 check\n    server pg2 [::1]:15432 check\n\
listen read\n    bind 127.0.0.1:5436\n    server pg1 127.0.0.11:5432 check\n    server-template r 3 r:5432 check\n\
listen stats\n    mode http\n";

    fn data_lines(state: &str) -> Vec<Vec<String>> {
        state
            .lines()
            .skip(2)
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .collect()
    }

    #[test]
    fn a_fresh_start_lists_every_server_down() {
        let state = initial_state(CONFIG);
        assert!(state.starts_with("1\n# be_id be_name"));
        let lines = data_lines(&state);
        let names: Vec<(String, String, String, String, String)> = lines
            .iter()
            .map(|c| {
                (
                    c[1].clone(),
                    c[3].clone(),
                    c[4].clone(),
                    c[5].clone(),
                    c[18].clone(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("write", "pg1", "127.0.0.11", "0", "5432"),
                ("write", "pg2", "::1", "0", "15432"),
                ("read", "pg1", "127.0.0.11", "0", "5432"),
            ]
            .map(|(a, b, c, d, e)| (a.into(), b.into(), c.into(), d.into(), e.into()))
        );
        // Every line has the header's 25 columns, admin state 0 (not in maintenance).
        let columns = HEADER
            .lines()
            .nth(1)
            .map_or(0, |h| h.split(' ').count() - 1);
        assert_eq!(columns, 25);
        assert!(lines.iter().all(|c| c.len() == columns && c[6] == "0"));
    }

    #[test]
    fn a_reload_keeps_known_servers_and_adds_new_ones_down() {
        let live = "1\n# be_id be_name srv_id srv_name ...\n\
3 write 1 pg1 127.0.0.11 2 0 1 1 40 6 3 4 6 0 0 0 - 5432 - 0 0 - - 0\n\
4 read 1 pg1 127.0.0.11 0 1 1 1 40 8 2 0 6 0 0 0 - 5432 - 0 0 - - 0\n\
4 read 9 gone 127.0.0.19 2 0 1 1 40 6 3 4 6 0 0 0 - 5432 - 0 0 - - 0\n";
        let lines = data_lines(&merged_state(live, CONFIG));
        let keyed: Vec<(String, String, String, String)> = lines
            .iter()
            .map(|c| (c[1].clone(), c[3].clone(), c[5].clone(), c[6].clone()))
            .collect();
        let want = [
            // running, as the old process knew it
            ("write", "pg1", "2", "0"),
            // down and in maintenance (a fenced node) stays so
            ("read", "pg1", "0", "1"),
            // new in this config: down until checked
            ("write", "pg2", "0", "0"),
        ]
        .map(|(a, b, c, d)| (a.into(), b.into(), c.into(), d.into()));
        assert_eq!(keyed, want);
    }

    #[test]
    fn release_passes_through_drain_and_down() {
        assert_eq!(
            release_commands("write", "pg2"),
            "set server write/pg2 state drain; set server write/pg2 health down; \
             set server write/pg2 state ready"
        );
    }
}
