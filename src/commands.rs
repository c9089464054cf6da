//! The headless commands: settings in, one runtime chosen, one cluster operation, a report out.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::error::Error;
use crate::cli::{AppFlags, Command, NameFlag, UpFlags};
use crate::cluster::node_ops::NodeOp;
use crate::cluster::ops::{Cluster, Progress, Reporter};
use crate::cluster::state::{ClusterLock, ClusterRecord, cluster_dir};
use crate::cluster::topology::{MAX_REPLICAS, MIN_REPLICAS, NodeAddressing, Topology};
use crate::runtime::binaries::Binaries;
use crate::runtime::docker::DockerRuntime;
use crate::runtime::docker::engine::PullReporter;
use crate::runtime::local::{
    LocalRuntime, ServiceUser, detect_addressing, port_holder, port_in_use,
};
use crate::runtime::{ClusterRuntime, RuntimeKind};
use crate::settings::{RuntimeChoice, Settings, config_file, data_root};

pub type Result<T> = std::result::Result<T, Error>;

/// Runs one headless command; the error is the one line to print.
pub async fn run(command: Command) -> Result<()> {
    match command {
        Command::Up(flags) => up(&flags).await,
        Command::Down { name, keep_data } => down(&name, keep_data).await,
        Command::Status {
            name,
            json,
            watch,
            rate,
        } => crate::watch::status(&name, json, watch, rate).await,
        Command::ServedBy {
            name,
            connections,
            json,
        } => crate::watch::served_by(&name, connections, json).await,
        Command::Scale { replicas, name } => scale(&name, replicas).await,
        Command::Node { op, node, name } => node_op(&name, op, &node).await,
        Command::Doctor => crate::doctor::run().await,
        Command::Lessons { command } => crate::lesson_commands::run(command).await,
        Command::Classroom { command, db } => crate::classroom::commands::run(command, db).await,
    }
}

pub(crate) fn load_settings(flags: &impl Serialize) -> Result<Settings> {
    Settings::load(config_file().as_deref(), std::env::vars(), flags)
        .map_err(|e| Error::new(e.to_string()))
}

pub(crate) fn print_progress(p: Progress) {
    let mut err = std::io::stderr().lock();
    let _ = match p {
        Progress::Phase { name, took } => {
            writeln!(err, "  {name:<40} {:>7.2} s", took.as_secs_f64())
        }
        Progress::Note(text) => writeln!(err, "  {text}"),
    };
}

fn local_runtime(settings: &Settings, dir: PathBuf) -> Result<LocalRuntime> {
    let bins = Binaries::find(
        settings.pg_bindir.as_deref(),
        settings.haproxy_bin.as_deref(),
    )?;
    let user = ServiceUser::resolve(&settings.os_user)?;
    Ok(LocalRuntime::new(dir, bins, user))
}

async fn runtime_for(
    kind: RuntimeKind,
    settings: &Settings,
    dir: PathBuf,
    pull: Option<Arc<PullReporter>>,
) -> Result<Box<dyn ClusterRuntime>> {
    match kind {
        RuntimeKind::Local => Ok(Box::new(local_runtime(settings, dir)?)),
        RuntimeKind::Docker => Ok(Box::new(docker_runtime(settings, dir, pull).await?)),
    }
}

async fn docker_runtime(
    settings: &Settings,
    dir: PathBuf,
    pull: Option<Arc<PullReporter>>,
) -> Result<DockerRuntime> {
    let docker = DockerRuntime::connect(settings, dir).await?;
    Ok(match pull {
        Some(p) => docker.with_pull_reporter(p),
        None => docker,
    })
}

/// The runtime a new cluster gets. `auto` takes Docker when an engine answers and already
/// has the images, local processes when this machine can run them, and otherwise Docker
/// (which then pulls the images).
async fn choose_runtime(
    settings: &Settings,
    dir: PathBuf,
    pull: Option<Arc<PullReporter>>,
) -> Result<Box<dyn ClusterRuntime>> {
    match settings.runtime {
        RuntimeChoice::Local => runtime_for(RuntimeKind::Local, settings, dir, pull).await,
        RuntimeChoice::Docker => runtime_for(RuntimeKind::Docker, settings, dir, pull).await,
        RuntimeChoice::Auto => match docker_runtime(settings, dir.clone(), pull).await {
            Ok(docker) if docker.images_present().await => Ok(Box::new(docker)),
            Ok(docker) => match local_runtime(settings, dir) {
                Ok(local) => Ok(Box::new(local)),
                Err(_) => Ok(Box::new(docker)),
            },
            Err(no_docker) => match local_runtime(settings, dir) {
                Ok(local) => Ok(Box::new(local)),
                Err(no_local) => Err(Error::new(format!("{no_local}; {no_docker}"))),
            },
        },
    }
}

/// Loads an existing cluster's record with its runtime, or says how to make one.
pub(crate) async fn open(
    name: &NameFlag,
) -> Result<(Settings, PathBuf, ClusterRecord, Box<dyn ClusterRuntime>)> {
    let settings = load_settings(name)?;
    let dir = cluster_dir(&data_root(&settings), &settings.name);
    let record = ClusterRecord::load(&dir)?.ok_or_else(|| {
        Error::new(format!(
            "no cluster named {:?}: start one with `replica-lab up{}`",
            settings.name,
            if settings.name == "default" {
                String::new()
            } else {
                format!(" --name {}", settings.name)
            }
        ))
    })?;
    let rt = runtime_for(record.runtime, &record.settings, dir.clone(), None).await?;
    Ok((settings, dir, record, rt))
}

/// Every address a new local cluster will bind must be free, checked before anything starts.
fn check_ports(topo: &Topology) -> Result<()> {
    let mut wanted = vec![
        (topo.endpoints.write, "write endpoint", "--write-port"),
        (topo.endpoints.read, "read endpoint", "--read-port"),
        (topo.endpoints.stats, "stats page", "--stats-port"),
    ];
    {
        wanted.extend(
            topo.nodes
                .iter()
                .map(|n| (n.socket_addr(), "node", "--node-port")),
        );
    }
    for (addr, what, flag) in wanted {
        if port_in_use(addr) {
            let holder = port_holder(addr.port())
                .map(|h| format!(" by {h}"))
                .unwrap_or_default();
            return Err(Error::new(format!(
                "port {} ({what} {addr}) is in use{holder}: free it, or choose another with {flag}",
                addr.port()
            )));
        }
    }
    Ok(())
}

/// The interactive app. It needs a terminal; scripts use the commands.
pub async fn app(flags: &AppFlags) -> Result<()> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(Error::new(
            "the interactive app needs a terminal: run it in one, or use the commands (replica-lab --help)",
        ));
    }
    let settings = load_settings(flags)?;
    if let (Some(code), Some(hub)) = (&flags.class.join, &flags.class.hub) {
        let learner = settings.learner_name();
        crate::classroom::membership::join_for_app(
            &settings,
            hub,
            code,
            &learner,
            flags.class.allow_drills,
        )
        .await?;
    }
    let name = settings.name.clone();
    if crate::tui::run::run(settings).await? {
        println!(
            "cluster {name} keeps running: `replica-lab status` shows it, `replica-lab down` removes it"
        );
    }
    Ok(())
}

/// A cluster that is up, with the runtime it lives in.
pub struct Running {
    pub rt: Box<dyn ClusterRuntime>,
    pub record: ClusterRecord,
    pub dir: PathBuf,
}

/// Starts the cluster `settings` names, or brings back what of it is not running; returns
/// once it is ready. Shared by `up` and the interactive app, which differ only in how they
/// show progress.
pub async fn bring_up(
    settings: &Settings,
    report: Reporter<'_>,
    pull: Option<Arc<PullReporter>>,
) -> Result<Running> {
    let root = data_root(settings);
    let lock_root = root.clone();
    let name = settings.name.clone();
    // flock blocks; keep it off the async workers.
    let _lock = tokio::task::spawn_blocking(move || ClusterLock::acquire(&lock_root, &name))
        .await
        .map_err(|e| Error::new(format!("cannot lock the cluster: {e}")))??;
    let dir = cluster_dir(&root, &settings.name);
    if let Some(record) = ClusterRecord::load(&dir)? {
        let rt = runtime_for(record.runtime, &record.settings, dir.clone(), pull).await?;
        let cluster = Cluster {
            rt: rt.as_ref(),
            dir: dir.clone(),
            record,
            report,
        };
        let restarted = cluster.recover().await?;
        if !restarted.is_empty() {
            report(Progress::Note(format!(
                "cluster {} was not fully running; restarted {}",
                settings.name,
                restarted.join(", ")
            )));
        }
        let record = cluster.record;
        return Ok(Running { rt, record, dir });
    }
    let rt = choose_runtime(settings, dir.clone(), pull).await?;
    let kind = rt.kind();
    // Containers publish each node on its own port of 127.0.0.1.
    let addressing = match kind {
        RuntimeKind::Local => detect_addressing(settings.node_base),
        RuntimeKind::Docker => NodeAddressing::DistinctPorts,
    };
    let record = ClusterRecord {
        runtime: kind,
        addressing,
        nodes: (1..=settings.replicas + 1).collect(),
        settings: settings.clone(),
    };
    check_ports(&record.topology())?;
    report(Progress::Note(format!(
        "starting cluster {} ({kind} runtime, {} replicas)",
        settings.name, settings.replicas
    )));
    let cluster = Cluster {
        rt: rt.as_ref(),
        dir: dir.clone(),
        record,
        report,
    };
    if let Err(e) = cluster.create().await {
        // Leave nothing running and no half-made cluster for the next `up` to trip over.
        let _ = rt.destroy(false).await;
        return Err(Error::new(format!("{e} (nothing was left running)")));
    }
    let record = cluster.record;
    Ok(Running { rt, record, dir })
}

async fn up(flags: &UpFlags) -> Result<()> {
    let settings = load_settings(flags)?;
    let started = Instant::now();
    let running = bring_up(&settings, &print_progress, None).await?;
    print_ready(&running.record.topology(), running.rt.kind(), started);
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

async fn down(name: &NameFlag, keep_data: bool) -> Result<()> {
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

/// Stops the cluster `settings` names and removes what it made (all but the data with
/// `keep_data`); false when there was nothing to remove.
pub async fn remove(settings: &Settings, keep_data: bool) -> Result<bool> {
    let root = data_root(settings);
    let (lock_root, name) = (root.clone(), settings.name.clone());
    let _lock = tokio::task::spawn_blocking(move || ClusterLock::acquire(&lock_root, &name))
        .await
        .map_err(|e| Error::new(format!("cannot lock the cluster: {e}")))??;
    let dir = cluster_dir(&root, &settings.name);
    if let Ok(Some(record)) = ClusterRecord::load(&dir) {
        let rt = runtime_for(record.runtime, &record.settings, dir.clone(), None).await?;
        rt.destroy(keep_data).await?;
        Ok(true)
    } else {
        sweep(settings, &dir).await
    }
}

/// Without a usable record (a run that died early, a damaged file), removes whatever carries
/// the cluster's name: its folder and processes here, its labelled objects on the engine.
async fn sweep(settings: &Settings, dir: &std::path::Path) -> Result<bool> {
    let mut swept = false;
    if dir.exists() {
        local_runtime(settings, dir.to_path_buf())?
            .destroy(false)
            .await?;
        swept = true;
    }
    if let Ok(docker) = DockerRuntime::connect(settings, dir.to_path_buf()).await {
        if docker.has_leftovers().await? {
            docker.destroy(false).await?;
            swept = true;
        }
    }
    Ok(swept)
}

async fn scale(name: &NameFlag, replicas: u8) -> Result<()> {
    if !(MIN_REPLICAS..=MAX_REPLICAS).contains(&replicas) {
        return Err(Error::new(format!(
            "replica count {replicas} is out of range: choose {MIN_REPLICAS} to {MAX_REPLICAS}"
        )));
    }
    let (settings, dir, record, rt) = open(name).await?;
    let _lock = ClusterLock::acquire(&data_root(&settings), &settings.name)?;
    // Re-read under the lock: another command may have changed the cluster meanwhile.
    let record = ClusterRecord::load(&dir)?.unwrap_or(record);
    if rt.kind() == RuntimeKind::Local {
        check_new_node_ports(&record, replicas)?;
    }
    let mut cluster = Cluster {
        rt: rt.as_ref(),
        dir,
        record,
        report: &print_progress,
    };
    cluster.scale(replicas).await?;
    println!("cluster {} has {replicas} replicas", settings.name);
    Ok(())
}

/// New local nodes need their addresses free, checked before anything is cloned.
pub(crate) fn check_new_node_ports(record: &ClusterRecord, replicas: u8) -> Result<()> {
    let mut topo = record.topology();
    let wanted = usize::from(replicas) + 1;
    while topo.nodes.len() < wanted {
        let i = topo.free_index();
        topo.nodes.push(crate::cluster::topology::node_spec(
            &record.settings,
            record.addressing,
            i,
        ));
    }
    for n in topo
        .nodes
        .iter()
        .filter(|n| !record.nodes.contains(&n.index))
    {
        if port_in_use(n.socket_addr()) {
            return Err(Error::new(format!(
                "address {} for the new node {} is in use: free it first",
                n.socket_addr(),
                n.name
            )));
        }
    }
    Ok(())
}

async fn node_op(name: &NameFlag, op: NodeOp, node: &str) -> Result<()> {
    let (settings, dir, record, rt) = open(name).await?;
    let _lock = ClusterLock::acquire(&data_root(&settings), &settings.name)?;
    let cluster = Cluster {
        rt: rt.as_ref(),
        dir,
        record,
        report: &print_progress,
    };
    cluster.node_op(op, node).await?;
    println!("{node}: {} done", op.name());
    Ok(())
}
