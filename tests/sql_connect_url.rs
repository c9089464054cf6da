//! `\connect URL` in the SQL console's session against a real local cluster (a primary and two
//! replicas): libpq-style client-side routing with several hosts, `target_session_attrs` and
//! `load_balance_hosts`, and the cluster's credentials filling in what a URL leaves out.

mod support;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use replica_lab::cluster::state::ClusterRecord;
use replica_lab::settings::Credentials;
use replica_lab::sql::meta::connect_probe_sql;
use replica_lab::sql::session::{APPLICATION_NAME, SessionConfig, SqlSession};
use replica_lab::sql::{Endpoint, ResultSet, SqlError, SqlEvent, Target};
use support::{Rt, TestCluster};
use tokio::sync::mpsc;

/// How long one run may take before the test gives up on it.
const RUN_LIMIT: Duration = Duration::from_secs(60);
/// Fresh connections within which random balancing over two replicas reaches both: the
/// chance of missing one is 2·2⁻⁴⁰.
const TRIES: usize = 40;

#[derive(Debug)]
struct Run {
    started: Option<Target>,
    results: Vec<ResultSet>,
    served_by: Option<String>,
    error: Option<SqlError>,
}

impl Run {
    fn ok(self) -> Run {
        assert!(self.error.is_none(), "the run failed: {:#?}", self.error);
        self
    }

    fn error(&self) -> &SqlError {
        self.error
            .as_ref()
            .unwrap_or_else(|| panic!("the run should have failed: {self:#?}"))
    }

    /// The only row of the last result.
    fn row(&self) -> Vec<String> {
        let last = self.results.last().expect("a result");
        assert_eq!(last.rows.len(), 1, "{last:?}");
        last.rows[0]
            .iter()
            .map(|v| v.clone().unwrap_or_default())
            .collect()
    }
}

struct Console {
    session: SqlSession,
    events: mpsc::Receiver<SqlEvent>,
    next_id: u64,
}

impl Console {
    fn new(creds: Credentials) -> Console {
        let (tx, events) = mpsc::channel(16);
        let session = SqlSession::spawn(creds, SessionConfig::default(), tx);
        Console {
            session,
            events,
            next_id: 1,
        }
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id - 1
    }

    async fn next_event(&mut self) -> SqlEvent {
        tokio::time::timeout(RUN_LIMIT, self.events.recv())
            .await
            .expect("an event in time")
            .expect("the session is alive")
    }

    async fn collect(&mut self, id: u64) -> Run {
        let mut run = Run {
            started: None,
            results: Vec::new(),
            served_by: None,
            error: None,
        };
        loop {
            match self.next_event().await {
                SqlEvent::Started { id: i, target } if i == id => run.started = Some(target),
                SqlEvent::Result { id: i, result } if i == id => run.results.push(result),
                SqlEvent::Notice { .. } | SqlEvent::Preview { .. } => {}
                SqlEvent::Finished {
                    id: i,
                    served_by,
                    error,
                    ..
                } if i == id => {
                    run.served_by = served_by;
                    run.error = error;
                    return run;
                }
                other => panic!("an event of another run while waiting for {id}: {other:?}"),
            }
        }
    }

    /// What the console does for `\connect URL`: a new sticky session, asked where it landed.
    async fn connect(&mut self, url: &str) -> Run {
        let id = self.id();
        self.session
            .reconnect(id, Endpoint::url(url), connect_probe_sql().into())
            .await;
        self.collect(id).await
    }

    async fn run(&mut self, url: &str, text: &str, fresh: bool) -> Run {
        let id = self.id();
        self.session
            .run(id, Endpoint::url(url), text.into(), fresh)
            .await;
        self.collect(id).await
    }
}

fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a port");
    listener.local_addr().expect("its address")
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_urls_route_like_libpq() {
    let c = TestCluster::new("t-sql-url", 43, Rt::Local);
    c.up(2);
    let [pg1, pg2, pg3] = ["pg1", "pg2", "pg3"].map(|n| c.node_connect(n));
    let [a1, a2, a3] = ["pg1", "pg2", "pg3"].map(|n| c.node_address(n));
    let creds = ClusterRecord::load(&c.cluster_dir())
        .expect("the cluster's record")
        .expect("a record")
        .topology()
        .credentials;
    let mut s = Console::new(creds.clone());

    // read-write skips the replica listed first and lands on the primary.
    let url = format!("postgresql://{pg2},{pg1}/?target_session_attrs=read-write");
    let run = s.connect(&url).await.ok();
    assert_eq!(run.started, Some(Target::Url(url.clone())));
    assert_eq!(run.served_by.as_deref(), Some(a1.as_str()));
    let row = run.row();
    assert_eq!(
        (row[0].as_str(), row[1].as_str(), row[2].as_str()),
        (a1.as_str(), pg1.port().to_string().as_str(), "f"),
        "{row:?}"
    );
    // The session is set up like any other, and the runs after it stay on it.
    let first = s
        .run(
            &url,
            "SELECT pg_backend_pid(), current_setting('statement_timeout'), \
             current_setting('application_name'), current_user, current_database()",
            false,
        )
        .await
        .ok()
        .row();
    assert_eq!(
        first[1..],
        [
            "5min".to_string(),
            APPLICATION_NAME.into(),
            creds.user.clone(),
            creds.database.clone()
        ]
    );
    let again = s.run(&url, "SELECT pg_backend_pid()", false).await.ok();
    assert_eq!(again.row()[0], first[0]);
    // \connect again opens a new session, to the same primary.
    let run = s.connect(&url).await.ok();
    assert_eq!(run.served_by.as_deref(), Some(a1.as_str()));
    let after = s.run(&url, "SELECT pg_backend_pid()", false).await.ok();
    assert_ne!(after.row()[0], first[0]);

    // The key=value form routes alike.
    let conninfo = format!(
        "host={},{} port={},{} target_session_attrs=read-write connect_timeout=2",
        pg3.ip(),
        pg1.ip(),
        pg3.port(),
        pg1.port()
    );
    let run = s.connect(&conninfo).await.ok();
    assert_eq!(run.served_by.as_deref(), Some(a1.as_str()));

    // read-only skips the primary listed first and lands on a replica.
    let url = format!("postgresql://{pg1},{pg2}/?target_session_attrs=read-only");
    let run = s.connect(&url).await.ok();
    assert_eq!(run.served_by.as_deref(), Some(a2.as_str()));
    assert_eq!(run.row()[2], "t");

    // read-write with only replicas listed: a clear error, and the session goes on.
    let url = format!("postgresql://{pg2}/?target_session_attrs=read-write");
    let run = s.connect(&url).await;
    assert!(run.started.is_none(), "{run:?}");
    let e = run.error();
    assert_eq!(e.sqlstate, None);
    assert_eq!(
        e.message,
        format!("could not connect to {url}: database does not allow writes")
    );
    let hint = e.hint.as_deref().unwrap_or_default();
    assert!(
        hint.contains(&format!(
            "no server in the list ({pg2}) accepted target_session_attrs=read-write"
        )),
        "{e:?}"
    );
    let url = format!("postgresql://{pg2},{pg3}/?target_session_attrs=read-write");
    let e = s.connect(&url).await.error().clone();
    assert!(
        e.hint
            .as_deref()
            .unwrap_or_default()
            .contains(&format!("({pg2}, {pg3})")),
        "{e:?}"
    );
    eprintln!("{}\nHINT: {}", e.message, e.hint.unwrap_or_default());

    // Every host down: the last one's error, and a hint that all were tried.
    let (down1, down2) = (closed_port(), closed_port());
    let url = format!("postgresql://{down1},{down2}/");
    let e = s.connect(&url).await.error().clone();
    assert!(e.message.to_lowercase().contains("refused"), "{e:?}");
    assert!(
        e.hint
            .as_deref()
            .unwrap_or_default()
            .contains("no server in the list"),
        "{e:?}"
    );
    // A host down before a good one costs only a refused connection.
    let url = format!("postgresql://{down1},{pg1}/?target_session_attrs=read-write");
    let run = s.connect(&url).await.ok();
    assert_eq!(run.served_by.as_deref(), Some(a1.as_str()));

    // load_balance_hosts=random spreads fresh connections, and \connect, over both replicas.
    let url = format!("postgresql://{pg2},{pg3}/?load_balance_hosts=random");
    let both: BTreeSet<String> = [a2.clone(), a3.clone()].into();
    let mut seen = BTreeSet::new();
    for _ in 0..TRIES {
        let run = s.run(&url, "SELECT 1", true).await.ok();
        seen.extend(run.served_by);
        if seen == both {
            break;
        }
    }
    assert_eq!(seen, both, "fresh connections");
    let mut seen = BTreeSet::new();
    for _ in 0..TRIES {
        seen.extend(s.connect(&url).await.ok().served_by);
        if seen == both {
            break;
        }
    }
    assert_eq!(seen, both, "\\connect");
    // Without it, the first host that answers takes every connection.
    let url = format!("postgresql://{pg2},{pg3}/");
    for _ in 0..5 {
        let run = s.run(&url, "SELECT 1", true).await.ok();
        assert_eq!(run.served_by.as_deref(), Some(a2.as_str()));
    }

    // What a URL leaves out is the cluster's; what it says stays.
    let url = format!("postgresql://{pg1}/?application_name=routing-test");
    s.connect(&url).await.ok();
    let row = s
        .run(
            &url,
            "SELECT current_user, current_database(), current_setting('application_name')",
            false,
        )
        .await
        .ok()
        .row();
    assert_eq!(
        row,
        [
            creds.user.clone(),
            creds.database.clone(),
            "routing-test".into()
        ]
    );
    let url = format!("postgresql://{}@{pg1}/{}", creds.user, creds.database);
    s.connect(&url).await.ok();
    let url = format!("postgresql://{}:wrong@{pg1}/", creds.user);
    let e = s.connect(&url).await.error().clone();
    assert_eq!(e.sqlstate.as_deref(), Some("28P01"), "{e:?}");
    assert!(
        e.message.starts_with(&format!(
            "could not connect to postgresql://{}:***@{pg1}/: ",
            creds.user
        )),
        "{e:?}"
    );

    // Cancel reaches the statement on the host the URL chose.
    let url = format!("postgresql://{pg2},{pg1}/?target_session_attrs=read-write");
    s.connect(&url).await.ok();
    let id = s.id();
    s.session
        .run(id, Endpoint::url(&url), "SELECT pg_sleep(30)".into(), false)
        .await;
    match s.next_event().await {
        SqlEvent::Started { id: i, .. } => assert_eq!(i, id),
        other => panic!("expected the start, got {other:?}"),
    }
    let begun = std::time::Instant::now();
    s.session.cancel();
    let run = s.collect(id).await;
    assert_eq!(run.error().sqlstate.as_deref(), Some("57014"));
    assert!(
        begun.elapsed() < Duration::from_secs(5),
        "{:?}",
        begun.elapsed()
    );
}
