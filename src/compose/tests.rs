//! The committed compose files against what the code renders, and what the renderer promises.

use std::path::PathBuf;
use std::process::Command;

use super::scripts;
use super::*;
use crate::cluster::pgconf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The committed files are what the renderer gives today; with `REPLICA_LAB_BLESS=1`,
/// they are rewritten instead.
#[test]
fn committed_assets_match_the_renderer() {
    let dir = repo().join(ASSETS_DIR);
    let bless = std::env::var(BLESS_ENV).is_ok_and(|v| v == "1");
    let rendered = assets();
    if bless {
        std::fs::create_dir_all(&dir).expect("create the assets folder");
    }
    let mut stale = Vec::new();
    for (name, text) in &rendered {
        let path = dir.join(name);
        if bless {
            std::fs::write(&path, text).expect("write an asset");
            continue;
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        if on_disk != *text {
            let first = on_disk
                .lines()
                .zip(text.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(on_disk.lines().count().min(text.lines().count()));
            stale.push(format!("{} (first difference at line {})", name, first + 1));
        }
    }
    assert!(
        stale.is_empty(),
        "{ASSETS_DIR} is out of date with the code: {}. Regenerate with \
         `{BLESS_ENV}=1 cargo test --lib compose` and commit the result",
        stale.join(", ")
    );
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("the assets folder")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let expected: Vec<&str> = rendered.iter().map(|(n, _)| *n).collect();
    assert_eq!(on_disk, expected, "files in {ASSETS_DIR} nothing renders");
}

/// What `compose.yaml` takes from the app by hand agrees with the app.
#[test]
fn compose_file_agrees_with_the_settings() {
    let yaml = std::fs::read_to_string(repo().join("compose.yaml")).expect("compose.yaml");
    let d = Settings::default();
    for wanted in [
        format!("${{REPLICA_LAB_POSTGRES_IMAGE:-{}}}", d.postgres_image),
        format!("${{REPLICA_LAB_HAPROXY_IMAGE:-{}}}", d.haproxy_image),
        format!(
            "\"127.0.0.1:${{REPLICA_LAB_WRITE_PORT:-{0}}}:{0}\"",
            d.write_port
        ),
        format!(
            "\"127.0.0.1:${{REPLICA_LAB_READ_PORT:-{0}}}:{0}\"",
            d.read_port
        ),
        format!(
            "\"127.0.0.1:${{REPLICA_LAB_STATS_PORT:-{0}}}:{0}\"",
            d.stats_port
        ),
        format!("PGDATA: {PGDATA}"),
        format!("./{ASSETS_DIR}:{MOUNTED_AT}:ro"),
        format!("aliases: [{PRIMARY_HOST}]"),
        format!("aliases: [{REPLICA_HOST}]"),
        format!("subnet: {SUBNET}"),
        format!("ip_range: {DYNAMIC_RANGE}"),
        format!("ipv4_address: {HAPROXY_ADDR}"),
    ] {
        assert!(yaml.contains(&wanted), "compose.yaml lacks {wanted}");
    }
    for (name, _) in assets() {
        assert!(
            yaml.contains(&format!("{MOUNTED_AT}/{name}")),
            "compose.yaml does not use {name}"
        );
    }
    for role in ["primary", "replica", "haproxy"] {
        assert!(
            yaml.contains(&format!(
                "[\"CMD\", \"sh\", \"{MOUNTED_AT}/healthcheck.sh\", \"{role}\"]"
            )),
            "no {role} health check"
        );
    }
    // Nothing is published beyond loopback.
    for line in yaml.lines().map(str::trim) {
        if line.starts_with("- \"") && line.matches(':').count() >= 2 {
            assert!(line.starts_with("- \"127.0.0.1:"), "{line}");
        }
    }
}

#[test]
fn haproxy_lists_the_primary_and_replica_slots_in_both_backends() {
    let cfg = haproxy_cfg(&Settings::default().credentials());
    for backend in ["listen write", "listen read"] {
        let body = cfg.split(backend).nth(1).expect("backend");
        let body = body.split("\nlisten ").next().expect("body");
        assert!(body.contains("server primary primary:5432 check"), "{body}");
        assert!(
            body.contains(&format!(
                "server-template replica {MAX_REPLICAS} replica:5432 check"
            )),
            "{body}"
        );
    }
    assert!(cfg.contains("nameserver dns 127.0.0.11:53"));
    assert!(cfg.contains("init-addr last,libc,none"));
    assert!(cfg.contains("bind 0.0.0.0:5435") && cfg.contains("bind 0.0.0.0:5436"));
    assert!(cfg.contains("bind 0.0.0.0:8404"));
}

#[test]
fn scripts_embed_the_shared_configuration() {
    let creds = Settings::default().credentials();
    let primary = scripts::primary(&creds);
    assert!(primary.contains(&pgconf::shared_conf()));
    assert!(primary.contains(&pgconf::hba_conf(&creds, &hba_rules())));
    assert!(primary.contains(&format!("\"haproxy_check\"  {HAPROXY_ADDR}/32  trust")));
    assert!(primary.contains(&bootstrap_sql(&creds)));
    assert!(primary.contains("cluster_name = 'primary'"));
    let replica = scripts::replica(&creds);
    let conf = replica_node_conf(&creds);
    assert!(replica.contains(&conf));
    for wanted in [
        "cluster_name = '@NODE@'",
        "primary_slot_name = '@NODE@'",
        "application_name=''@NODE@''",
        "host=''primary''",
    ] {
        assert!(conf.contains(wanted), "{wanted} missing:\n{conf}");
    }
}

#[test]
fn bootstrap_sql_quotes_names_and_passwords() {
    let mut creds = Settings::default().credentials();
    creds.user = "my\"user".into();
    creds.password = "it's".into();
    let sql = bootstrap_sql(&creds);
    assert!(sql.contains("CREATE ROLE \"my\"\"user\" WITH SUPERUSER LOGIN PASSWORD 'it''s';"));
    assert!(sql.contains("CREATE DATABASE \"mydatabase\" OWNER \"my\"\"user\";"));
    assert!(sql.contains("CREATE ROLE \"haproxy_check\" WITH LOGIN NOSUPERUSER"));
    assert!(sql.contains("CONNECTION LIMIT 10;"), "{sql}");
    assert!(sql.contains("ALTER ROLE \"haproxy_check\" SET default_transaction_read_only = on;"));
    assert!(sql.contains("FROM PUBLIC, \"haproxy_check\";"), "{sql}");
}

/// The name snippet, run by the shell, gives valid and distinct slot names.
#[test]
fn replica_names_are_valid_slot_names() {
    let name = |host: &str| {
        let out = Command::new("sh")
            .arg("-c")
            // A stand-in for `uname -n`, which the snippet asks for the host name.
            .arg(format!(
                "uname() {{ printf '%s\\n' \"$FAKE_HOST\"; }}\n{REPLICA_NAME_SH}printf '%s' \"$NODE\""
            ))
            .env("FAKE_HOST", host)
            .output()
            .expect("run sh");
        assert!(out.status.success());
        String::from_utf8(out.stdout).expect("utf-8")
    };
    assert_eq!(
        name("3f2a9c1b7d4e"),
        format!("{REPLICA_PREFIX}3f2a9c1b7d4e")
    );
    assert_eq!(name("Web-2.example"), "replica_web_2_example");
    let long = name(&"a".repeat(80));
    assert_eq!(long.len(), 63);
    for n in [long, name("x y\tz")] {
        assert!(
            n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{n}"
        );
    }
}
