//! `up`, `down`, `scale` and `node`: settings in, one cluster operation, a report out.

use std::time::Instant;

use super::out::outln;
use super::pull_bar::pull_bar;
use super::report_to_stderr;
use crate::cli::args::{NameFlag, UpFlags};
use crate::cli::load_settings;
use crate::cluster::node_op::NodeOp;
use crate::cluster::state::{RuntimeKind, cluster_dir};
use crate::cluster::topology::Topology;
use crate::error::{Error, Result};
use crate::lifecycle::{bring_up, open, remove};
use crate::settings::{MAX_REPLICAS, MIN_REPLICAS, data_root};

pub async fn up(flags: &UpFlags) -> Result<()> {
    let settings = load_settings(flags)?;
    let started = Instant::now();
    let cluster = bring_up(&settings, report_to_stderr(), Some(pull_bar())).await?;
    print_ready(&cluster.topology(), cluster.kind(), started)
}

fn print_ready(topo: &Topology, kind: RuntimeKind, started: Instant) -> Result<()> {
    let c = &topo.credentials;
    let url = |addr: std::net::SocketAddr| {
        format!(
            "postgresql://{}:{}@{addr}/{}",
            c.user, c.password, c.database
        )
    };
    outln!(
        "cluster {} is ready ({kind} runtime, {} nodes) in {:.1} s\n  write  {}\n  read   {}\n  stats  http://{}/",
        topo.cluster,
        topo.nodes.len(),
        started.elapsed().as_secs_f64(),
        url(topo.endpoints.write),
        url(topo.endpoints.read),
        topo.endpoints.stats
    )
}

pub async fn down(name: &NameFlag, keep_data: bool) -> Result<()> {
    let settings = load_settings(name)?;
    if !remove(&settings, keep_data).await? {
        return outln!("no cluster named {:?}: nothing to do", settings.name);
    }
    if keep_data {
        outln!(
            "cluster {} stopped; its data stays in {}",
            settings.name,
            cluster_dir(&data_root(&settings), &settings.name).display()
        )
    } else {
        outln!("cluster {} removed", settings.name)
    }
}

pub async fn reset(name: &NameFlag) -> Result<()> {
    // The cluster comes back with the settings it was made with, not today's defaults.
    let settings = open(&load_settings(name)?).await?.record.settings;
    let started = Instant::now();
    remove(&settings, false).await?;
    let cluster = bring_up(&settings, report_to_stderr(), Some(pull_bar())).await?;
    print_ready(&cluster.topology(), cluster.kind(), started)
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
    outln!("cluster {} has {replicas} replicas", settings.name)
}

pub async fn node_op(name: &NameFlag, op: NodeOp, node: &str, force: bool) -> Result<()> {
    let settings = load_settings(name)?;
    let cluster = open(&settings).await?.reporting(report_to_stderr());
    cluster.node_op_forced(op, node, force).await?;
    outln!("{node}: {} done", op.name())
}
