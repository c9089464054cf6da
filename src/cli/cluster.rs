//! `up`, `down`, `scale` and `node`: settings in, one cluster operation, a report out.

use std::time::Instant;

use super::pull_bar::pull_bar;
use super::report_to_stderr;
use crate::cli::args::{NameFlag, UpFlags};
use crate::cluster::node_op::NodeOp;
use crate::cluster::state::{RuntimeKind, cluster_dir};
use crate::cluster::topology::Topology;
use crate::error::{Error, Result};
use crate::lifecycle::{bring_up, open, remove};
use crate::settings::{MAX_REPLICAS, MIN_REPLICAS, data_root, load_settings};

pub async fn up(flags: &UpFlags) -> Result<()> {
    let settings = load_settings(flags)?;
    let started = Instant::now();
    let cluster = bring_up(&settings, report_to_stderr(), Some(pull_bar())).await?;
    print_ready(&cluster.topology(), cluster.kind(), started);
    Ok(())
}

fn print_ready(topo: &Topology, kind: RuntimeKind, started: Instant) {
    let c = &topo.credentials;
    let url = |addr: std::net::SocketAddr| {
        format!(
            "postgresql://{}:{}@{addr}/{}",
            c.user, c.password, c.database
        )
    };
    println!(
        "cluster {} is ready ({kind} runtime, {} nodes) in {:.1} s\n  write  {}\n  read   {}\n  stats  http://{}/",
        topo.cluster,
        topo.nodes.len(),
        started.elapsed().as_secs_f64(),
        url(topo.endpoints.write),
        url(topo.endpoints.read),
        topo.endpoints.stats
    );
}

pub async fn down(name: &NameFlag, keep_data: bool) -> Result<()> {
    let settings = load_settings(name)?;
    if !remove(&settings, keep_data).await? {
        println!("no cluster named {:?}: nothing to do", settings.name);
        return Ok(());
    }
    if keep_data {
        println!(
            "cluster {} stopped; its data stays in {}",
            settings.name,
            cluster_dir(&data_root(&settings), &settings.name).display()
        );
    } else {
        println!("cluster {} removed", settings.name);
    }
    Ok(())
}

pub async fn scale(name: &NameFlag, replicas: u8) -> Result<()> {
    if !(MIN_REPLICAS..=MAX_REPLICAS).contains(&replicas) {
        return Err(Error::new(format!(
            "replica count {replicas} is out of range: choose {MIN_REPLICAS} to {MAX_REPLICAS}"
        )));
    }
    let settings = load_settings(name)?;
    let cluster = open(&settings).await?.reporting(report_to_stderr());
    cluster.scale(replicas).await?;
    println!("cluster {} has {replicas} replicas", settings.name);
    Ok(())
}

pub async fn node_op(name: &NameFlag, op: NodeOp, node: &str, force: bool) -> Result<()> {
    let settings = load_settings(name)?;
    let cluster = open(&settings).await?.reporting(report_to_stderr());
    cluster.node_op_forced(op, node, force).await?;
    println!("{node}: {} done", op.name());
    Ok(())
}
