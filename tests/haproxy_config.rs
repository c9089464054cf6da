//! The rendered HAProxy configuration is accepted by the real HAProxy.

use replica_lab::cluster::haproxy::{ProxyEnv, ProxyServer, render};
use replica_lab::cluster::topology::{NodeAddressing, Topology};
use replica_lab::runtime::binaries::find_haproxy;
use replica_lab::settings::Settings;

fn check(config: &str) {
    let haproxy = find_haproxy(None).expect("haproxy is installed (apt-get install haproxy)");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("haproxy.cfg");
    std::fs::write(&path, config).expect("write config");
    let out = std::process::Command::new(haproxy)
        .arg("-c")
        .arg("-f")
        .arg(&path)
        .output()
        .expect("run haproxy -c");
    assert!(
        out.status.success(),
        "haproxy -c rejected:\n{config}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn env(dir: &str, dns: Option<&str>) -> ProxyEnv {
    ProxyEnv {
        api_socket: format!("{dir}/haproxy.sock"),
        state_file: format!("{dir}/server-state"),
        dns: dns.map(String::from),
        // As the local runtime pins it.
        source: dns.is_none().then(|| "127.0.0.10".into()),
        // A password with quotes, `$` and spaces must reach HAProxy as written.
        stats_login: dns.is_none().then(|| "myuser:it's a \"$pw\" #1".into()),
    }
}

#[test]
fn static_servers_pass_haproxy_check() {
    for replicas in [1, 3, 9] {
        let s = Settings {
            replicas,
            ..Settings::default()
        };
        let t = Topology::initial(&s, NodeAddressing::LoopbackAliases);
        let servers: Vec<ProxyServer> = t
            .nodes
            .iter()
            .map(|n| ProxyServer {
                name: n.name.clone(),
                target: n.socket_addr().to_string(),
            })
            .collect();
        check(&render(
            &t.endpoints,
            &servers,
            &t.credentials.check_user,
            &env("/tmp", None),
        ));
    }
}

#[test]
fn dns_resolved_servers_pass_haproxy_check() {
    let t = Topology::initial(&Settings::default(), NodeAddressing::LoopbackAliases);
    let servers: Vec<ProxyServer> = t
        .nodes
        .iter()
        .map(|n| ProxyServer {
            name: n.name.clone(),
            target: format!("{}:5432", n.name),
        })
        .collect();
    check(&render(
        &t.endpoints,
        &servers,
        &t.credentials.check_user,
        &env("/tmp", Some("127.0.0.11:53")),
    ));
}
