//! `status` and `served-by` for terminals and scripts: a table, or JSON, once or refreshing.

use std::io::IsTerminal;
use std::time::Duration;

use crate::cli::args::NameFlag;
use crate::cli::load_settings;
use crate::cli::out::{self, errln, outln};
use crate::error::{Error, Result};
use crate::lifecycle::open;
use crate::lifecycle::supervise::{SuperviseConfig, supervise};
use crate::sql::tls::ClusterTls;
use crate::telemetry::model::{NodeTelemetry, Snapshot, fence_flag};
use crate::telemetry::served_by::served_by as tally;
use crate::telemetry::{Telemetry, TelemetryConfig, snapshot_once};

pub async fn status(
    name: &NameFlag,
    json: bool,
    watch: bool,
    rate: f64,
    repair: bool,
) -> Result<()> {
    let cluster = open(&load_settings(name)?).await?;
    let topo = cluster.topology();
    if !watch {
        let snap = snapshot_once(cluster.rt.as_ref(), &topo).await;
        print(&snap, json, false)?;
        // Everything is printed first: scripts still get the nodes' state.
        return match proxy_down(&snap) {
            Some(e) => Err(e),
            None => Ok(()),
        };
    }
    let telemetry = Telemetry::spawn(cluster.rt.clone(), topo, TelemetryConfig::per_second(rate));
    let mut rx = telemetry.snapshots.clone();
    // Watching holds the cluster: HAProxy is restarted and split brains settled meanwhile.
    let (duty_tx, mut duties) = tokio::sync::mpsc::channel(16);
    let _supervisor = repair.then(|| {
        supervise(
            cluster.rt.clone(),
            cluster.root.clone(),
            cluster.name().to_string(),
            SuperviseConfig::default(),
            duty_tx,
        )
    });
    let tty = std::io::stdout().is_terminal();
    let started = std::time::Instant::now();
    loop {
        tokio::select! {
            changed = rx.changed() => {
                if changed.is_err() {
                    return Err(Error::new("telemetry stopped"));
                }
                let snap = rx.borrow_and_update().clone();
                // Snapshots taken before every poller's first answer would show gaps.
                if snap.complete() || started.elapsed() > Duration::from_secs(3) {
                    print(&snap, json, tty)?;
                }
            }
            Some(done) = duties.recv() => errln!("{}", done.describe()),
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// The failure a one-shot `status` ends with while HAProxy is down.
fn proxy_down(snap: &Snapshot) -> Option<Error> {
    snap.haproxy.is_down().then(|| {
        Error::new(
            snap.haproxy
                .error
                .clone()
                .unwrap_or_else(|| "HAProxy is down: `replica-lab up` repairs it".into()),
        )
    })
}

fn print(snap: &Snapshot, json: bool, redraw: bool) -> Result<()> {
    let text = if json {
        let mut line = serde_json::to_string(snap).map_err(|e| Error::new(e.to_string()))?;
        line.push('\n');
        line
    } else if redraw {
        // Home the cursor and clear, so the table refreshes in place.
        format!("\x1b[H\x1b[2J{}", table(snap))
    } else {
        format!("{}\n", table(snap))
    };
    // A closed pipe (`| head`) ends the command quietly, a watch too.
    out::text(&text)
}

fn bytes(b: i64) -> String {
    match b {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
    }
}

fn ms(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0} ms"))
        .unwrap_or_else(|| "-".into())
}

/// The fence first: it says why a node is kept out, which its lag flags do not.
fn flags(n: &NodeTelemetry) -> String {
    let mut flags: Vec<String> = n
        .fence
        .map(|f| fence_flag(f).to_string())
        .into_iter()
        .collect();
    flags.extend(
        n.flags
            .iter()
            .filter_map(|f| serde_json::to_value(f).ok()?.as_str().map(String::from)),
    );
    flags.join(",")
}

/// Lag and flags; a node without lag figures (a primary, a node cut off) still shows its
/// flags, under the FLAGS heading.
fn lag_columns(n: &NodeTelemetry) -> String {
    let columns = match &n.lag {
        Some(l) => format!(
            "{:>10} {:>10} {:>8} {:>8}",
            bytes(l.flush_bytes),
            bytes(l.replay_bytes),
            ms(l.replay_ms),
            ms(l.reply_age_ms),
        ),
        None => format!("{:>10} {:>10} {:>8} {:>8}", "", "", "", ""),
    };
    let flags = flags(n);
    if flags.is_empty() && n.lag.is_none() {
        return String::new();
    }
    format!("{columns}  {flags}").trim_end().to_string()
}

pub fn table(s: &Snapshot) -> String {
    let mut out = format!(
        "cluster {} ({} runtime)  write {}  read {}  stats http://{}/\n\n",
        s.name, s.runtime, s.endpoints.write, s.endpoints.read, s.endpoints.stats,
    );
    out.push_str(&format!(
        "{:<6} {:<8} {:<12} {:<16} {:<16} {:>10} {:>10} {:>8} {:>8}  {}\n",
        "NODE", "ROLE", "STATE", "ADDRESS", "CONNECT", "FLUSH", "REPLAY", "LAG", "REPLY", "FLAGS"
    ));
    for n in &s.nodes {
        out.push_str(&format!(
            "{:<6} {:<8} {:<12} {:<16} {:<16} {}\n",
            n.name,
            n.role.as_str(),
            n.state.as_str(),
            n.address,
            n.connect,
            lag_columns(n)
        ));
    }
    if s.haproxy.is_down() {
        out.push_str(&format!(
            "\nHAProxy: down\n  {}\n",
            s.haproxy.error.as_deref().unwrap_or("it does not answer")
        ));
    } else if !s.haproxy.servers.is_empty() {
        out.push_str(&format!(
            "\n{:<8} {:<6} {:<20} {:>8} {:>8}\n",
            "BACKEND", "SERVER", "STATUS", "SESSIONS", "TOTAL"
        ));
        for h in &s.haproxy.servers {
            out.push_str(&format!(
                "{:<8} {:<6} {:<20} {:>8} {:>8}\n",
                h.backend, h.server, h.status, h.current_sessions, h.total_sessions
            ));
        }
    }
    out
}

pub async fn served_by(name: &NameFlag, connections: usize, json: bool) -> Result<()> {
    let cluster = open(&load_settings(name)?).await?;
    let topo = cluster.topology();
    let tls = ClusterTls::for_cluster(&cluster.dir, &topo)?;
    let t = tally(
        topo.endpoints.read,
        &topo.credentials,
        tls.as_ref(),
        connections,
    )
    .await;
    let snap = snapshot_once(cluster.rt.as_ref(), &topo).await;
    let by_node = t.by_node(&snap);
    if json {
        let v = serde_json::json!({ "by_node": by_node, "by_address": t.by_address, "failures": t.failures });
        outln!("{v}")?;
    } else {
        for (node, n) in &by_node {
            outln!("{node:<6} {n:>4} {}", "#".repeat(*n))?;
        }
        for f in &t.failures {
            outln!("failed: {f}")?;
        }
    }
    if t.failures.len() == connections && connections > 0 {
        return Err(Error::new(format!(
            "no connection to the read endpoint {} succeeded: is a replica up? (replica-lab status)",
            topo.endpoints.read
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::fencing::FenceKind;
    use crate::cluster::state::RuntimeKind;
    use crate::cluster::status::{EndpointsView, NodeState, Role};
    use crate::telemetry::model::{LagFlag, ProxyView};

    fn node(name: &str, role: Role, state: NodeState) -> NodeTelemetry {
        NodeTelemetry {
            name: name.into(),
            role,
            state,
            address: String::new(),
            port: 5432,
            connect: String::new(),
            reachable: state == NodeState::Running,
            timeline: None,
            current_lsn: None,
            receive_lsn: None,
            replay_lsn: None,
            lag: None,
            slot: None,
            sync_state: None,
            flags: vec![],
            fence: None,
            poll_ms: Some(1.0),
            error: None,
        }
    }

    fn snap(nodes: Vec<NodeTelemetry>, haproxy: ProxyView) -> Snapshot {
        Snapshot {
            name: "lab".into(),
            runtime: RuntimeKind::Local,
            endpoints: EndpointsView {
                write: "127.0.0.1:5435".into(),
                read: "127.0.0.1:5436".into(),
                stats: "127.0.0.1:8404".into(),
            },
            taken_at_ms: 0,
            seq: 1,
            nodes,
            haproxy,
            events: vec![],
        }
    }

    fn row<'a>(table: &'a str, name: &str) -> &'a str {
        table
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row for {name} in\n{table}"))
    }

    #[test]
    fn fences_show_among_the_flags_also_without_lag_figures() {
        let mut old = node("pg1", Role::Unknown, NodeState::Stopped);
        old.fence = Some(FenceKind::FormerPrimary);
        let mut gone = node("pg3", Role::Unknown, NodeState::Stopped);
        gone.fence = Some(FenceKind::Diverged);
        let mut twin = node("pg2", Role::Primary, NodeState::Running);
        twin.flags = vec![LagFlag::SplitBrain];
        let s = snap(vec![old, twin, gone], ProxyView::up(vec![]));
        let json = serde_json::to_value(&s).map(|v| {
            v["nodes"]
                .as_array()
                .map(|ns| ns.iter().map(|n| n["fence"].clone()).collect::<Vec<_>>())
        });
        assert_eq!(
            json.ok().flatten(),
            Some(vec![
                serde_json::json!("former-primary"),
                serde_json::Value::Null,
                serde_json::json!("diverged")
            ])
        );
        let t = table(&s);
        assert!(
            row(&t, "pg1")
                .trim_end()
                .ends_with("fenced: former primary"),
            "{t}"
        );
        assert!(row(&t, "pg3").trim_end().ends_with("diverged"), "{t}");
        assert!(row(&t, "pg2").trim_end().ends_with("split_brain"), "{t}");
        // Flags sit under their heading, past the lag columns.
        let at = t.lines().nth(2).and_then(|h| h.find("FLAGS"));
        assert_eq!(at, row(&t, "pg3").find("diverged"), "{t}");
    }

    #[test]
    fn a_down_haproxy_is_said_with_its_cause_and_ends_a_one_shot_status() {
        let why = "HAProxy is not running: `replica-lab up` starts it again";
        let s = snap(
            vec![node("pg1", Role::Primary, NodeState::Running)],
            ProxyView::down(why.into()),
        );
        let t = table(&s);
        assert!(t.contains("HAProxy: down"), "{t}");
        assert!(t.contains(why), "{t}");
        assert!(!t.contains("BACKEND"), "no empty table: {t}");
        let err = proxy_down(&s).map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some(why));

        let json = serde_json::to_value(&s).map(|v| v["haproxy"].clone());
        assert_eq!(
            json.ok(),
            Some(serde_json::json!({"state": "down", "servers": [], "error": why}))
        );
        assert!(proxy_down(&snap(vec![], ProxyView::up(vec![]))).is_none());
    }
}
