//! Templates: the first cluster of a shape keeps one, and the next clusters of that shape
//! (a `reset` included) are copied from it. A copied cluster is a new cluster where it
//! matters: nothing a learner did is left (rows, settings, roles, slots, a failover, a frozen
//! node), roles and slots are as `up` makes them, timeline 1, every replica streams
//! from pg1, and HAProxy routes by role. Clusters of other credentials get a template of
//! their own; a damaged template is replaced; Docker keeps none.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::{Rt, TestCluster, connect, eventually, haproxy_status, node};

/// What a learner could change and a new cluster does not have, as one comparable value.
#[derive(Clone, Debug, PartialEq)]
struct Facts {
    system_identifier: i64,
    roles: Vec<String>,
    slots: Vec<String>,
    settings: Vec<String>,
    tables: Vec<String>,
}

impl Facts {
    /// Without the system identifier: a cluster made from scratch has a new one.
    fn apart_from_identity(mut self) -> Facts {
        self.system_identifier = 0;
        self
    }

    /// Without the settings that say where a cluster listens, which are each cluster's own.
    fn apart_from_where(mut self) -> Facts {
        self.settings.retain(|s| {
            !["listen_addresses=", "port=", "unix_socket_directories="]
                .iter()
                .any(|own| s.starts_with(own))
        });
        self
    }
}

async fn facts(c: &TestCluster) -> Facts {
    let db = c.connect(c.write_port()).await.expect("connect to write");
    let strings = |rows: Vec<tokio_postgres::Row>| -> Vec<String> {
        rows.iter().map(|r| r.get::<_, String>(0)).collect()
    };
    Facts {
        system_identifier: db
            .query_one("SELECT system_identifier FROM pg_control_system()", &[])
            .await
            .expect("system identifier")
            .get(0),
        roles: strings(
            db.query(
                "SELECT format('%s super=%s repl=%s login=%s', rolname, rolsuper, \
                 rolreplication, rolcanlogin) FROM pg_roles ORDER BY rolname",
                &[],
            )
            .await
            .expect("roles"),
        ),
        slots: strings(
            db.query(
                "SELECT format('%s %s', slot_name, slot_type) FROM pg_replication_slots \
                 ORDER BY slot_name",
                &[],
            )
            .await
            .expect("slots"),
        ),
        // What the server was configured with, not what this session set.
        settings: strings(
            db.query(
                "SELECT format('%s=%s', name, setting) FROM pg_settings \
                 WHERE source NOT IN ('default', 'client', 'session', 'override') \
                 ORDER BY name",
                &[],
            )
            .await
            .expect("settings"),
        ),
        tables: strings(
            db.query(
                "SELECT relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = relnamespace \
                 WHERE nspname = 'public' ORDER BY relname",
                &[],
            )
            .await
            .expect("tables"),
        ),
    }
}

fn stderr_of(c: &TestCluster, args: &[&str]) -> String {
    let out = c.cmd(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "replica-lab {args:?} failed:\nstdout: {}\nstderr: {stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// The whole templates in a data folder.
fn templates(data_dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(data_dir.join("templates"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.join("made-by").is_file())
                .collect()
        })
        .unwrap_or_default()
}

async fn setting(c: &TestCluster, port: u16, name: &str) -> String {
    let db = c.connect(port).await.expect("connect");
    db.query_one(&format!("SELECT current_setting('{name}')"), &[])
        .await
        .expect("current_setting")
        .get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn clusters_copied_from_a_template_are_new_ones_local() {
    let Some(rt) = Rt::local("clusters_copied_from_a_template_are_new_ones_local") else {
        return;
    };
    let c = TestCluster::new("template-local", 117, rt);
    let none = c.fails(&["reset"]);
    assert!(none.contains("replica-lab up"), "{none}");

    // The first cluster of its shape is made from scratch and keeps a template.
    let first = stderr_of(&c, &["up", "--replicas", "3"]);
    assert!(first.contains("initdb pg1"), "{first}");
    assert!(first.contains("keep a template"), "{first}");
    assert_eq!(templates(&c.data_dir).len(), 1, "{first}");
    let made = facts(&c).await;
    assert!(made.slots.contains(&"pg2 physical".to_string()), "{made:?}");

    // What a learner does, all of it.
    let db = c.connect(c.write_port()).await.expect("connect to write");
    // One by one: ALTER SYSTEM cannot run in the transaction a multi-statement string is.
    for statement in [
        "CREATE TABLE learner_rows AS SELECT g FROM generate_series(1, 1000) g",
        "CREATE ROLE intruder LOGIN",
        "SELECT pg_create_physical_replication_slot('extra')",
        "ALTER SYSTEM SET work_mem = '7MB'",
        "SELECT pg_reload_conf()",
    ] {
        db.batch_execute(statement)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    drop(db);
    c.ok(&["node", "kill", "pg1"]);
    c.ok(&["node", "promote", "pg2"]);
    c.ok(&["node", "pause", "pg3"]);
    assert_ne!(facts(&c).await, made, "the learner's changes did not take");

    let started = Instant::now();
    let second = stderr_of(&c, &["reset"]);
    let took = started.elapsed();
    assert!(second.contains("copy the template"), "{second}");
    assert!(!second.contains("initdb"), "made from scratch:\n{second}");
    eprintln!(
        "reset copied from the template: {:.2} s\n{second}",
        took.as_secs_f64()
    );
    assert_is_new(&c, &made, true).await;

    // Another cluster of the same shape beside it is copied from the same template: it has
    // the same system identifier, and nothing else in common.
    let other = c.beside("template-local-2", 118);
    let out = stderr_of(&other, &["up", "--replicas", "3"]);
    assert!(out.contains("copy the template"), "{out}");
    assert_eq!(templates(&c.data_dir).len(), 1);
    assert_eq!(
        facts(&other).await.apart_from_where(),
        made.clone().apart_from_where()
    );
    let here = c.connect(c.write_port()).await.expect("connect to write");
    here.batch_execute("CREATE TABLE only_here AS SELECT 1 AS one")
        .await
        .expect("a table on the first cluster");
    let there = other.connect(other.write_port()).await.expect("connect");
    let seen: Option<String> = there
        .query_one("SELECT to_regclass('only_here')::text", &[])
        .await
        .expect("to_regclass")
        .get(0);
    assert_eq!(seen, None, "a table of one cluster showed on the other");
    for cluster in [&c, &other] {
        assert_eq!(
            setting(cluster, cluster.write_port(), "archive_mode").await,
            "off"
        );
    }
    other.ok(&["down"]);

    // Other credentials, another template: the passwords are part of what it holds.
    let third = c.beside("template-local-3", 120);
    let out = third
        .command(&["up", "--replicas", "3"])
        .env("REPLICA_LAB_PASSWORD", "another-secret")
        .output()
        .expect("run replica-lab");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("initdb pg1"), "{stderr}");
    assert_eq!(templates(&c.data_dir).len(), 2, "{stderr}");
    third.ok(&["down"]);

    // A damaged template is said, removed and made again; the cluster comes up whole.
    let template = templates(&c.data_dir).pop().expect("a template");
    std::fs::remove_file(template.join("primary/data/global/pg_control")).expect("damage it");
    let out = stderr_of(&c, &["reset"]);
    assert!(out.contains("could not be made from its template"), "{out}");
    assert!(out.contains("initdb pg1"), "{out}");
    assert!(
        template.join("primary/data/global/pg_control").exists(),
        "{out}"
    );
    assert_is_new(&c, &made, false).await;

    c.ok(&["down"]);
    assert!(!c.cluster_dir().exists(), "down left the cluster's folder");
}

/// The cluster is the one `up` made, as `made` describes it (the system identifier apart,
/// unless `same_identity`), and works as one.
async fn assert_is_new(c: &TestCluster, made: &Facts, same_identity: bool) {
    let status = c.status();
    let names: BTreeSet<String> = status["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["name"].as_str().map(String::from))
        .collect();
    assert_eq!(names, ["pg1", "pg2", "pg3", "pg4"].map(String::from).into());
    assert_eq!(node(&status, "pg1")["role"], "primary", "{status:#}");
    let now = facts(c).await;
    if same_identity {
        assert_eq!(&now, made);
    } else {
        assert_eq!(
            now.apart_from_identity(),
            made.clone().apart_from_identity()
        );
    }

    let primary = connect(c.node_connect("pg1"), "postgres")
        .await
        .expect("connect to pg1");
    let timeline: i32 = primary
        .query_one("SELECT timeline_id FROM pg_control_checkpoint()", &[])
        .await
        .expect("timeline")
        .get(0);
    assert_eq!(timeline, 1);
    let streaming = c.streaming_from("pg1").await;
    assert_eq!(streaming, ["pg2", "pg3", "pg4"].map(String::from).into());

    // Writes go to pg1 and reach every replica.
    let writer = c.connect(c.write_port()).await.expect("connect to write");
    let answered: String = writer
        .query_one("SELECT host(inet_server_addr())", &[])
        .await
        .expect("who answers writes")
        .get(0);
    assert_eq!(answered, c.node_address("pg1"));
    writer
        .batch_execute(
            "DROP TABLE IF EXISTS after_reset; CREATE TABLE after_reset AS SELECT 1 AS one",
        )
        .await
        .expect("a write after the reset");
    for replica in ["pg2", "pg3", "pg4"] {
        let db = connect(c.node_connect(replica), "mydatabase")
            .await
            .expect("connect to a replica");
        eventually(
            Duration::from_secs(10),
            "the new table on the replica",
            || {
                let db = &db;
                async move {
                    let row = db
                        .query_one("SELECT to_regclass('after_reset') IS NOT NULL", &[])
                        .await
                        .ok()?;
                    row.get::<_, bool>(0).then_some(())
                }
            },
        )
        .await;
    }
    let status = c.wait_status(Duration::from_secs(10), "HAProxy by role", |s| {
        haproxy_status(s, "write", "pg1") == "UP"
            && ["pg2", "pg3", "pg4"]
                .iter()
                .all(|r| haproxy_status(s, "read", r) == "UP")
    });
    for replica in ["pg2", "pg3", "pg4"] {
        assert_ne!(
            haproxy_status(&status, "write", replica),
            "UP",
            "{status:#}"
        );
    }
    assert_ne!(haproxy_status(&status, "read", "pg1"), "UP", "{status:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_on_docker_makes_the_cluster_anew() {
    let Some(rt) = Rt::docker("a_reset_on_docker_makes_the_cluster_anew") else {
        return;
    };
    let c = TestCluster::new("template-docker", 119, rt);
    c.up(1);
    assert!(templates(&c.data_dir).is_empty(), "Docker kept a template");
    let db = c.connect(c.write_port()).await.expect("connect to write");
    db.batch_execute("CREATE TABLE learner_rows AS SELECT 1 AS one")
        .await
        .expect("a learner's table");
    drop(db);
    c.ok(&["reset"]);
    let db = c.connect(c.write_port()).await.expect("connect to write");
    let left: Option<String> = db
        .query_one("SELECT to_regclass('learner_rows')::text", &[])
        .await
        .expect("to_regclass")
        .get(0);
    assert_eq!(left, None, "the reset kept the learner's table");
}
