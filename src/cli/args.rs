//! The command line. Flags that are settings serialise into the top settings layer.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::cluster::node_op::NodeOp;
use crate::settings::RuntimeChoice;

#[derive(Debug, Parser)]
#[command(
    name = "replica-lab",
    version,
    about = "Learn PostgreSQL streaming replication on a real cluster",
    after_help = "With no command, replica-lab opens the interactive app (starting the cluster if needed).\n\n\
                  Start a cluster headless with `replica-lab up`, then connect:\n  \
                  psql postgresql://myuser:mypassword@127.0.0.1:5435/mydatabase   (writes, the primary)\n  \
                  psql postgresql://myuser:mypassword@127.0.0.1:5436/mydatabase   (reads, the replicas)"
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// With no command: the interactive app, on the cluster these flags describe.
    #[command(flatten)]
    pub app: AppFlags,
}

/// The interactive app's flags: the cluster's, and which lessons for whom.
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct AppFlags {
    #[command(flatten)]
    #[serde(flatten)]
    pub up: UpFlags,
    #[command(flatten)]
    #[serde(flatten)]
    pub lessons: LessonFlags,
    #[command(flatten)]
    #[serde(skip)]
    pub class: JoinFlags,
}

/// Which lessons, and whose progress.
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct LessonFlags {
    /// A folder of lesson files to use instead of the shipped lessons.
    #[arg(long, value_name = "DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lessons: Option<PathBuf>,
    /// Whose progress to use (default: your login name).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learner: Option<String>,
}

/// Joining a class as the app starts (`replica-lab --join CODE --hub URL`); the name the
/// instructor sees is `--learner` (default: your login name).
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct JoinFlags {
    /// A class's join code: join it before the app opens.
    #[arg(long, value_name = "CODE", requires = "hub")]
    #[serde(skip)]
    pub join: Option<String>,
    /// The class's hub (with --join).
    #[arg(long, value_name = "URL")]
    #[serde(skip)]
    pub hub: Option<String>,
    /// Let the instructor's drills act on your own cluster (with --join).
    #[arg(long, requires = "join")]
    #[serde(skip)]
    pub allow_drills: bool,
}

/// Selects the cluster; every command takes it.
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct NameFlag {
    /// Which cluster (several can run side by side with different ports).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Settings a new cluster is made with.
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct UpFlags {
    #[command(flatten)]
    #[serde(flatten)]
    pub name: NameFlag,
    /// Where the nodes run: Docker when an engine answers, else local processes.
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<RuntimeChoice>,
    /// Number of hot-standby replicas (1 to 9).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u8>,
    /// Write endpoint port (the primary).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_port: Option<u16>,
    /// Read endpoint port (round-robin over replicas).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_port: Option<u16>,
    /// HAProxy stats page port.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats_port: Option<u16>,
    /// The port every node listens on (on its own loopback address).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_port: Option<u16>,
    /// Where each node needs a port of its own (Docker, or no loopback aliases): pgN is on
    /// this + N - 1, a block of 10 ports apart from the endpoints.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_ports_from: Option<u16>,
    /// Address the endpoints listen on.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_host: Option<IpAddr>,
    /// Folder for cluster state.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// The learner's login (a superuser).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// The account servers run as when started by root.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_user: Option<String>,
    /// Folder holding the PostgreSQL server programs.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pg_bindir: Option<PathBuf>,
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub haproxy_bin: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a cluster (or bring a stopped one back); returns when it is ready.
    Up(UpFlags),
    /// Stop the cluster and remove everything it made.
    Down {
        #[command(flatten)]
        name: NameFlag,
        /// Keep the data so a later `up` resumes it.
        #[arg(long)]
        keep_data: bool,
    },
    /// Make the cluster anew with the settings it has (the replica count of a `scale`
    /// included): every row, setting, slot and failover since is gone. Copied from the
    /// template of its shape where there is one.
    Reset {
        #[command(flatten)]
        name: NameFlag,
    },
    /// Show nodes, roles, replication lag and HAProxy's view.
    Status {
        #[command(flatten)]
        name: NameFlag,
        /// One JSON object (with --watch: one per line).
        #[arg(long)]
        json: bool,
        /// Keep refreshing until interrupted.
        #[arg(long)]
        watch: bool,
        /// Snapshots per second with --watch.
        #[arg(long, default_value_t = 4.0)]
        rate: f64,
        /// With --watch, only watch: a HAProxy that dies stays dead and a second primary
        /// stays writable, so a fault can be studied as it is.
        #[arg(long, requires = "watch")]
        no_repair: bool,
    },
    /// Open fresh connections to the read endpoint and count who answers each.
    ServedBy {
        #[command(flatten)]
        name: NameFlag,
        /// How many connections.
        #[arg(long, default_value_t = 6)]
        connections: usize,
        #[arg(long)]
        json: bool,
    },
    /// Change the number of replicas while the cluster runs.
    Scale {
        /// The new number of replicas (1 to 9).
        replicas: u8,
        #[command(flatten)]
        name: NameFlag,
    },
    /// Act on one node: stop, start, kill, pause, resume, promote, rewind.
    Node {
        #[arg(value_enum)]
        op: NodeOp,
        /// pg1, pg2, …
        node: String,
        /// start: start a fenced node as it is; promote: stop a running primary first, or
        /// promote a standby behind another and lose what it lacks.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        name: NameFlag,
    },
    /// Check this machine: programs, ports, Docker.
    Doctor,
    /// Lessons: validate the shipped ones or an instructor's own.
    Lessons {
        #[command(subcommand)]
        command: LessonsCommand,
    },
    /// A class: the instructor's hub on PostgreSQL, learners who join it, a live roster.
    /// Without a subcommand: the instructor's live view.
    Classroom {
        #[command(subcommand)]
        command: Option<ClassroomCommand>,
        /// The hub (default: the one `classroom host` started or last used on this machine).
        #[arg(long, value_name = "URL")]
        db: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClassroomCommand {
    /// Start a class: use the PostgreSQL at --db, or start one; prints the command learners run.
    Host {
        /// The hub database (postgresql://…; `sslmode=require` or `verify-full` for TLS).
        /// Without it, a hub server is started on this machine.
        #[arg(long, value_name = "URL")]
        db: Option<String>,
        /// The class's name.
        #[arg(long, default_value = "replica-lab class")]
        title: String,
        /// How long the join code is accepted (e.g. 90m, 4h).
        #[arg(long, default_value = "4h")]
        code_valid: String,
        /// Where a started hub listens for learners (default: loopback only).
        #[arg(long)]
        bind_host: Option<IpAddr>,
        /// The port a started hub listens on.
        #[arg(long, default_value_t = 5439)]
        port: u16,
    },
    /// Join a class with the code the instructor gave.
    Join {
        code: String,
        /// Your name as the instructor sees it.
        #[arg(long)]
        name: String,
        /// The hub, as printed by `classroom host`.
        #[arg(long, value_name = "URL")]
        hub: String,
        /// Let the instructor's drills act on your own cluster.
        #[arg(long)]
        allow_drills: bool,
    },
    /// Leave the class: stop reporting progress (events not yet delivered are kept).
    Leave,
    /// The roster once, as a table or JSON.
    Roster {
        #[arg(long)]
        json: bool,
    },
    /// Send a message to every learner's app.
    Broadcast { message: String },
    /// Unlock lessons up to N (or `all`).
    Pace { upto: String },
    /// Run a fault on every learner's cluster (where they allowed drills):
    /// kill-primary, stop-replica, pause-replay.
    Drill {
        action: String,
        /// Shown to the learners with the drill.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Write the results: a CSV of every learner and step, and a Markdown summary.
    Export {
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
        #[arg(long, value_name = "FILE")]
        md: Option<PathBuf>,
    },
    /// Stop the hub server `classroom host` started (its data is kept unless --purge).
    Down {
        #[arg(long)]
        purge: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum LessonsCommand {
    /// Write a new lesson file with one working step, to edit into a lesson of your own.
    New {
        /// The lesson's id, also its file name (e.g. 15-my-topic).
        id: String,
        /// The folder to write it in (default: the current one).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Validate lesson files; errors name file, line, column and field.
    Check {
        /// A lesson file or a folder of them (default: the lessons shipped in the binary).
        path: Option<PathBuf>,
    },
    /// The lessons in order, with your progress in each.
    List {
        #[command(flatten)]
        lessons: LessonFlags,
        /// One JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Forget your progress in one lesson, or in all of them.
    Reset {
        /// The lesson's id (e.g. 02-write-read); without it, every lesson.
        id: Option<String>,
        #[command(flatten)]
        lessons: LessonFlags,
    },
    /// Run every step on a fresh cluster: each check must fail before the step's solution
    /// and pass after it, still pass when the solution's SQL runs twice, stay red when it runs
    /// on the wrong target, and pass with the console in fresh mode too (the lesson again, on
    /// a fresh cluster). The cluster is removed afterwards.
    Verify {
        /// A lesson file or a folder of them (default: the shipped lessons).
        path: Option<PathBuf>,
        /// The cluster to verify on (default name: lessons-verify).
        #[command(flatten)]
        up: UpFlags,
        /// Leave the cluster running after the last lesson.
        #[arg(long)]
        keep: bool,
        /// Run each lesson this many times, each on a fresh cluster, and report every step
        /// whose verdict was not the same each time.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
        repeat: u32,
        /// Only that each check fails before the step's solution and passes after it, with
        /// one sticky session: fast, while writing a lesson. Without it verify also runs each
        /// solution twice and on a wrong target, and every lesson again in fresh mode.
        #[arg(long)]
        quick: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_serialise_only_when_given() {
        let cli = Cli::try_parse_from(["replica-lab", "up", "--replicas", "2", "--name", "b"])
            .expect("parse");
        let Some(Command::Up(flags)) = cli.command else {
            panic!("not up");
        };
        let v = serde_json::to_value(&flags).expect("serialise");
        assert_eq!(v, serde_json::json!({"name": "b", "replicas": 2}));
    }

    #[test]
    fn node_ops_parse() {
        let cli = Cli::try_parse_from(["replica-lab", "node", "promote", "pg2"]).expect("parse");
        assert!(
            matches!(cli.command, Some(Command::Node { op: NodeOp::Promote, ref node, .. }) if node == "pg2")
        );
        assert!(Cli::try_parse_from(["replica-lab", "node", "explode", "pg2"]).is_err());
    }
}
