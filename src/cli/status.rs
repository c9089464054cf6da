//! `status` and `served-by` for terminals and scripts: a table, or JSON, once or refreshing.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use crate::cli::args::NameFlag;
use crate::error::{Error, Result};
use crate::lifecycle::open;
use crate::settings::load_settings;
use crate::telemetry::model::{NodeTelemetry, Snapshot};
use crate::telemetry::served_by::served_by as tally;
use crate::telemetry::{Telemetry, TelemetryConfig, snapshot_once};

pub async fn status(name: &NameFlag, json: bool, watch: bool, rate: f64) -> Result<()> {
    let cluster = open(&load_settings(name)?).await?;
    let topo = cluster.topology();
    if !watch {
        let snap = snapshot_once(cluster.rt.as_ref(), &topo).await;
        return print(&snap, json, false);
    }
    let telemetry = Telemetry::spawn(cluster.rt.clone(), topo, TelemetryConfig::per_second(rate));
    let mut rx = telemetry.snapshots.clone();
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
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

fn print(snap: &Snapshot, json: bool, redraw: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
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
    // A closed pipe (`| head`) ends the command quietly.
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Error::new(format!("cannot write: {e}")))
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

fn lag_columns(n: &NodeTelemetry) -> String {
    let Some(l) = &n.lag else {
        return String::new();
    };
    let flags: Vec<String> = n
        .flags
        .iter()
        .filter_map(|f| serde_json::to_value(f).ok()?.as_str().map(String::from))
        .collect();
    format!(
        "{:>10} {:>10} {:>8} {:>8}  {}",
        bytes(l.flush_bytes),
        bytes(l.replay_bytes),
        ms(l.replay_ms),
        ms(l.reply_age_ms),
        flags.join(",")
    )
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
    if !s.haproxy.is_empty() {
        out.push_str(&format!(
            "\n{:<8} {:<6} {:<20} {:>8} {:>8}\n",
            "BACKEND", "SERVER", "STATUS", "SESSIONS", "TOTAL"
        ));
        for h in &s.haproxy {
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
    let t = tally(topo.endpoints.read, &topo.credentials, connections).await;
    let snap = snapshot_once(cluster.rt.as_ref(), &topo).await;
    let by_node = t.by_node(&snap);
    if json {
        let v = serde_json::json!({ "by_node": by_node, "by_address": t.by_address, "failures": t.failures });
        println!("{v}");
    } else {
        for (node, n) in &by_node {
            println!("{node:<6} {n:>4} {}", "#".repeat(*n));
        }
        for f in &t.failures {
            println!("failed: {f}");
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
