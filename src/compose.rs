//! The cluster for plain Docker Compose users (`compose.yaml` at the repository root), kept
//! from drifting away from the app: the files it mounts from `assets/compose/` are rendered
//! here from the same code the app uses (the shared `postgresql.conf` lines, `pg_hba.conf`,
//! the per-node settings, the HAProxy configuration with its role checks), and a unit test
//! fails while the committed files differ from what this module renders. Regenerate them with
//!
//! ```sh
//! REPLICA_LAB_BLESS=1 cargo test --lib compose
//! ```
//!
//! The services are `primary`, `replica` (scalable: `--scale replica=N`, up to
//! [`MAX_REPLICAS`]) and `haproxy`. Each replica names itself after its container's host name
//! (see [`REPLICA_NAME_SH`]), which is unique per scaled container; HAProxy fills its
//! `server-template` slots from every address Docker's DNS gives for the `replica` alias.
//!
//! [`Cli`] drives Compose from the tests and benches, with either the Compose plugin
//! (`docker compose`) or the older standalone `docker-compose`, which has no `up --wait`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::cluster::haproxy::{self, ProxyEnv, ProxyServer, ProxyTemplate};
use crate::cluster::pgconf::{self, NODE_CONF, NodeConf, STANDBY_SIGNAL};
use crate::cluster::topology::Endpoints;
use crate::settings::Settings;
use crate::settings::{Credentials, MAX_REPLICAS};

/// Where the rendered files live, relative to the repository root.
pub const ASSETS_DIR: &str = "assets/compose";
/// Where `compose.yaml` mounts [`ASSETS_DIR`] in every container.
pub const MOUNTED_AT: &str = "/bootstrap";
/// Set to `1` for the unit test to rewrite [`ASSETS_DIR`] instead of comparing.
pub const BLESS_ENV: &str = "REPLICA_LAB_BLESS";

/// The data directory inside a node's container, as in the app's Docker runtime; the volume
/// is mounted at its parent, the `postgres` account's home, so it takes that ownership.
pub const PGDATA: &str = "/var/lib/postgresql/replica-lab";
pub const PG_PORT: u16 = 5432;
/// The network aliases of the two PostgreSQL services.
pub const PRIMARY_HOST: &str = "primary";
pub const REPLICA_HOST: &str = "replica";
/// Replicas name themselves `replica_<host name>`.
pub const REPLICA_PREFIX: &str = "replica_";
/// Stands for a replica's name in [`replica_node_conf`] until the replica knows it.
pub const NODE_PLACEHOLDER: &str = "@NODE@";
/// The unix socket directory, as in the app's Docker runtime.
const SOCKET_DIR: &str = "/tmp";
/// Docker's embedded DNS, as every container on a user-defined network sees it.
const DOCKER_DNS: &str = "127.0.0.11:53";
const EOF_MARK: &str = "REPLICA_LAB_EOF";

/// The files under [`ASSETS_DIR`]: name, contents.
pub fn assets() -> Vec<(&'static str, String)> {
    let creds = Settings::default().credentials();
    vec![
        ("haproxy.cfg", haproxy_cfg(&creds)),
        ("healthcheck.sh", healthcheck_script(&creds)),
        ("primary.sh", primary_script(&creds)),
        ("replica.sh", replica_script(&creds)),
    ]
}

/// Where HAProxy listens inside its container; `compose.yaml` publishes these ports.
pub fn inner_endpoints() -> Endpoints {
    let d = Settings::default();
    let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    Endpoints {
        write: SocketAddr::new(any, d.write_port),
        read: SocketAddr::new(any, d.read_port),
        stats: SocketAddr::new(any, d.stats_port),
    }
}

/// The app's HAProxy configuration with the primary and [`MAX_REPLICAS`] replica slots in
/// both backends, so traffic follows roles (a promoted replica would take writes too).
pub fn haproxy_cfg(creds: &Credentials) -> String {
    let servers = [ProxyServer {
        name: PRIMARY_HOST.into(),
        target: haproxy::node_target((PRIMARY_HOST.into(), PG_PORT)),
    }];
    let templates = [ProxyTemplate {
        prefix: REPLICA_HOST.into(),
        count: MAX_REPLICAS,
        target: haproxy::node_target((REPLICA_HOST.into(), PG_PORT)),
    }];
    let env = ProxyEnv {
        api_socket: "/tmp/haproxy.sock".into(),
        state_file: "/tmp/server-state".into(),
        dns: Some(DOCKER_DNS.into()),
    };
    let cfg = haproxy::render_with_templates(
        &inner_endpoints(),
        &servers,
        &templates,
        &creds.check_user,
        &env,
    );
    // The app's own header says it rewrites the file; this one is static.
    let body = match cfg.split_once('\n') {
        Some((first, rest)) if first.starts_with("# Written by replica-lab") => rest,
        _ => &cfg,
    };
    format!("{}{body}", generated_header())
}

/// Mirrors `Admin::bootstrap` on a fresh cluster: the learner's superuser and database, the
/// replication login and the no-privilege check login, which logs nothing below FATAL.
pub fn bootstrap_sql(creds: &Credentials) -> String {
    format!(
        "CREATE ROLE {user} WITH SUPERUSER LOGIN PASSWORD {password};\n\
         CREATE ROLE {repl} WITH REPLICATION LOGIN PASSWORD {repl_password};\n\
         CREATE ROLE {check} WITH LOGIN;\n\
         ALTER ROLE {check} SET log_min_messages = fatal;\n\
         CREATE DATABASE {db} OWNER {user};\n",
        user = sql_ident(&creds.user),
        password = sql_literal(&creds.password),
        repl = sql_ident(&creds.replication_user),
        repl_password = sql_literal(&creds.replication_password),
        check = sql_ident(&creds.check_user),
        db = sql_ident(&creds.database),
    )
}

/// The primary's node settings: listens everywhere in its container, no upstream.
pub fn primary_node_conf(creds: &Credentials) -> String {
    node_conf(PRIMARY_HOST).render(creds)
}

/// A replica's node settings with [`NODE_PLACEHOLDER`] for its name (slot, `cluster_name`,
/// `application_name`), streaming from the primary.
pub fn replica_node_conf(creds: &Credentials) -> String {
    node_conf(NODE_PLACEHOLDER)
        .streaming_from(PRIMARY_HOST.into(), PG_PORT)
        .render(creds)
}

fn node_conf(name: &str) -> NodeConf {
    NodeConf {
        listen: "*".into(),
        port: PG_PORT,
        socket_dir: SOCKET_DIR.into(),
        cluster_name: name.into(),
        upstream: None,
    }
}

/// Sets `NODE` to `replica_<host name>`, made a valid replication slot name: lowercase
/// letters, digits and underscores, at most 63 bytes. Compose gives every scaled container
/// its own host name (its short id).
pub const REPLICA_NAME_SH: &str = "NODE=$(printf 'replica_%s' \"$(uname -n)\" |\n  \
    LC_ALL=C tr '[:upper:]' '[:lower:]' | LC_ALL=C tr -c 'a-z0-9_' '_' | cut -c1-63)\n";

fn primary_script(creds: &Credentials) -> String {
    let mut s = script_header(
        "The compose cluster's primary. On an empty volume: initdb with the settings every\n\
         # replica-lab node shares, then the roles and database the app creates. Then PostgreSQL\n\
         # itself becomes the container's main process, so stopping the container is a clean\n\
         # shutdown and killing it a crash.",
    );
    s.push_str(&format!(
        r#"set -eu
: "${{PGDATA:?PGDATA must name the data directory}}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  # Built aside and moved into place once complete: a run cut short starts over.
  new="$PGDATA.init"
  rm -rf "$new"
  (umask 077 && printf '%s\n' {superuser_password} > /tmp/superuser-password)
  initdb -D "$new" -U postgres --pwfile=/tmp/superuser-password \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale --no-sync --no-instructions
  rm -f /tmp/superuser-password
  cat >> "$new/postgresql.conf" <<'{EOF_MARK}'
{shared}{EOF_MARK}
  cat > "$new/pg_hba.conf" <<'{EOF_MARK}'
{hba}{EOF_MARK}
  cat > "$new/{NODE_CONF}" <<'{EOF_MARK}'
{node}{EOF_MARK}
  # Roles and database over the unix socket only: no client can connect meanwhile.
  pg_ctl -D "$new" -w -s -o "-c listen_addresses=''" start
  psql -X -q -v ON_ERROR_STOP=1 -h {SOCKET_DIR} -p {PG_PORT} -U postgres -d postgres <<'{EOF_MARK}'
{sql}{EOF_MARK}
  pg_ctl -D "$new" -w -s -m fast stop
  rm -rf "$PGDATA"
  mv "$new" "$PGDATA"
fi
exec postgres -D "$PGDATA"
"#,
        superuser_password = sh_quote(&creds.password),
        shared = heredoc_body(&pgconf::shared_conf()),
        hba = heredoc_body(&pgconf::hba_conf(creds, "all")),
        node = heredoc_body(&primary_node_conf(creds)),
        sql = heredoc_body(&bootstrap_sql(creds)),
    ));
    s
}

fn replica_script(creds: &Credentials) -> String {
    let mut s = script_header(
        "A compose cluster replica (scalable: `--scale replica=N`). On an empty volume: its own\n\
         # physical replication slot on the primary, named after this container's host name, then\n\
         # a clone with pg_basebackup through that slot, marked as a hot standby. Then PostgreSQL\n\
         # itself becomes the container's main process, streaming from the primary.",
    );
    s.push_str(&format!(
        r#"set -eu
: "${{PGDATA:?PGDATA must name the data directory}}"

# The name of this replica's slot, its cluster_name and its application_name on the primary.
{REPLICA_NAME_SH}# For psql and pg_basebackup, as the replication login.
export PGPASSWORD={repl_password}

# As the check login, trusted for database postgres: a probe that logs no failed login.
wait_for_primary() {{
  until pg_isready -q -h {PRIMARY_HOST} -p {PG_PORT} -U {check} -d postgres; do
    # A fraction of a second where sleep takes one (POSIX only promises whole seconds).
    sleep 0.2 2>/dev/null || sleep 1
  done
}}

# As the app does before a clone: the slot keeps the WAL this replica still needs.
ensure_slot() {{
  psql -X -q -A -t -v ON_ERROR_STOP=1 -v slot="$NODE" -h {PRIMARY_HOST} -p {PG_PORT} \
    -U {repl_user} -d postgres >/dev/null <<'{EOF_MARK}'
SELECT pg_create_physical_replication_slot(:'slot')
WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = :'slot');
{EOF_MARK}
}}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  wait_for_primary
  ensure_slot
  # Cloned aside and moved into place once complete: a run cut short starts over.
  new="$PGDATA.clone"
  rm -rf "$new"
  PGAPPNAME="$NODE-clone" pg_basebackup -D "$new" -h {PRIMARY_HOST} -p {PG_PORT} \
    -U {repl_user} -w -X stream -c fast --no-sync -S "$NODE"
  : > "$new/{STANDBY_SIGNAL}"
  rm -rf "$PGDATA"
  mv "$new" "$PGDATA"
elif ! grep -qxF "cluster_name = '$NODE'" "$PGDATA/{NODE_CONF}"; then
  # The volume outlived its container (Compose re-created it): a new host name, a new slot.
  wait_for_primary
  ensure_slot
fi
# Who this node is and whom it streams from (the clone copied the primary's own file).
sed "s/{NODE_PLACEHOLDER}/$NODE/g" > "$PGDATA/{NODE_CONF}" <<'{EOF_MARK}'
{node}{EOF_MARK}
exec postgres -D "$PGDATA"
"#,
        repl_password = sh_quote(&creds.replication_password),
        repl_user = sh_quote(&creds.replication_user),
        check = sh_quote(&creds.check_user),
        node = heredoc_body(&replica_node_conf(creds)),
    ));
    s
}

fn healthcheck_script(creds: &Credentials) -> String {
    let ep = inner_endpoints();
    let mut s = script_header(
        "Docker health checks, so `docker compose up --wait` returns once the cluster serves:\n\
         #   healthcheck.sh primary   accepts connections and is not in recovery\n\
         #   healthcheck.sh replica   accepts read-only connections (a hot standby)\n\
         #   healthcheck.sh haproxy   every endpoint listens, and HAProxy's first round of role\n\
         #                            checks is done\n\
         # The PostgreSQL checks log in as the no-privilege check role, trusted for database\n\
         # postgres only; that the login works also shows the primary's bootstrap finished.",
    );
    s.push_str(&format!(
        r#"set -eu

# Whether something listens on TCP port $1 (IPv4) in this container.
listening() {{
  want=$(printf ':%04X' "$1")
  while read -r _ addr _ state _; do
    case "$addr" in
      *"$want") [ "$state" != 0A ] || return 0 ;;
    esac
  done < /proc/net/tcp
  return 1
}}

# Hundredths of a second since process $1 started.
age() {{
  # Seconds since boot, with two decimals.
  read -r now _ < /proc/uptime
  # Field 22 of /proc/PID/stat: the start time, in clock ticks after boot.
  # shellcheck disable=SC2046 # split on purpose
  set -- $(cat "/proc/$1/stat")
  shift 21
  hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
  echo $((${{now%.*}}${{now#*.}} - $1 * 100 / hz))
}}

in_recovery() {{
  PGCONNECT_TIMEOUT=3 psql -X -A -t -h 127.0.0.1 -p {PG_PORT} -U {check} -d postgres \
    -c 'SELECT pg_is_in_recovery()'
}}

case "${{1:-}}" in
  primary) [ "$(in_recovery)" = f ] ;;
  replica) [ "$(in_recovery)" = t ] ;;
  haproxy)
    for port in {write} {read} {stats}; do
      listening "$port"
    done
    # A fresh HAProxy counts every server up until its first check says otherwise; the
    # first checks are spread over `inter` (1 s) and a wrong role fails at once.
    [ "$(age 1)" -ge 150 ]
    ;;
  *)
    echo "usage: $0 primary|replica|haproxy" >&2
    exit 2
    ;;
esac
"#,
        check = sh_quote(&creds.check_user),
        write = ep.write.port(),
        read = ep.read.port(),
        stats = ep.stats.port(),
    ));
    s
}

fn generated_header() -> String {
    format!(
        "# Generated by src/compose.rs from the code replica-lab itself uses; do not edit.\n\
         # Regenerate: {BLESS_ENV}=1 cargo test --lib compose\n"
    )
}

fn script_header(purpose: &str) -> String {
    format!("#!/bin/sh\n{}#\n# {purpose}\n\n", generated_header())
}

/// Text for a quoted here-document: ends with a newline, and no line ends it early.
fn heredoc_body(text: &str) -> String {
    assert!(
        !text.lines().any(|l| l == EOF_MARK),
        "a line of embedded text equals the here-document delimiter"
    );
    if text.ends_with('\n') {
        text.to_string()
    } else {
        format!("{text}\n")
    }
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn sql_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A string constant; with `standard_conforming_strings` on, only quotes need doubling.
fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

// --- driving Compose ---------------------------------------------------------------------

/// The Compose tool found on this machine.
#[derive(Clone, Debug)]
pub struct Cli {
    program: Vec<String>,
    /// As the tool reports it, e.g. `2.29.1` or `1.29.2`.
    pub version: String,
}

/// What Compose was asked to do and what went wrong.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(pub String);

impl Cli {
    /// `docker compose` (the plugin) if it answers, else the standalone `docker-compose`.
    pub fn detect() -> Option<Cli> {
        [vec!["docker", "compose"], vec!["docker-compose"]]
            .into_iter()
            .find_map(|program| {
                let out = Command::new(program[0])
                    .args(&program[1..])
                    .args(["version", "--short"])
                    .output()
                    .ok()?;
                let version = String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .trim_start_matches('v')
                    .to_string();
                (out.status.success() && !version.is_empty()).then(|| Cli {
                    program: program.iter().map(|s| s.to_string()).collect(),
                    version,
                })
            })
    }

    /// How to call it, for messages: `docker compose` or `docker-compose`.
    pub fn name(&self) -> String {
        self.program.join(" ")
    }

    /// Whether `up --wait` exists (Compose 2.1.1 and later).
    pub fn can_wait(&self) -> bool {
        let mut parts = self
            .version
            .split(|c: char| !c.is_ascii_digit())
            .map(|p| p.parse::<u32>().unwrap_or(0));
        let v = (
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
        );
        v >= (2, 1, 1)
    }

    /// `<compose> -p PROJECT -f FILE`, ready for more arguments.
    pub fn command(&self, project: &str, file: &Path) -> Command {
        let mut cmd = Command::new(&self.program[0]);
        cmd.args(&self.program[1..])
            .arg("-p")
            .arg(project)
            .arg("-f")
            .arg(file);
        cmd
    }
}

/// One Compose project: a name, a file and the environment its variables come from.
#[derive(Clone, Debug)]
pub struct Project {
    pub cli: Cli,
    pub name: String,
    pub file: PathBuf,
    pub env: Vec<(String, String)>,
}

impl Project {
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.cli.command(&self.name, &self.file);
        cmd.args(args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.stdin(std::process::Stdio::null());
        cmd
    }

    /// Runs `args`; the error carries the tail of what Compose printed.
    pub fn run(&self, args: &[&str]) -> Result<Output, CliError> {
        let out = self
            .command(args)
            .output()
            .map_err(|e| CliError(format!("cannot run {}: {e}", self.cli.name())))?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(CliError(format!(
                "`{} {}` failed: {}",
                self.cli.name(),
                args.join(" "),
                tail(&format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ))
            )))
        }
    }

    /// `up --wait` with `extra` arguments (e.g. `--scale replica=3`). Where the tool has no
    /// `--wait`, `up -d` and then the same wait: every container running, and healthy where
    /// it has a health check.
    pub fn up_wait(&self, extra: &[&str], timeout: Duration) -> Result<(), CliError> {
        let mut args = vec!["up", "-d"];
        if self.cli.can_wait() {
            args.push("--wait");
        }
        args.extend_from_slice(extra);
        self.run(&args)?;
        if !self.cli.can_wait() {
            self.wait_healthy(timeout)?;
        }
        Ok(())
    }

    /// Waits until every container of the project runs and passes its health check.
    pub fn wait_healthy(&self, timeout: Duration) -> Result<(), CliError> {
        let deadline = Instant::now() + timeout;
        loop {
            let states = self.container_states()?;
            let failed: Vec<&ContainerState> = states
                .iter()
                .filter(|c| c.status != "running" && c.status != "created")
                .collect();
            if let Some(c) = failed.first() {
                return Err(CliError(format!(
                    "container {} is {}: see `docker logs {}`",
                    c.name, c.status, c.name
                )));
            }
            let waiting: Vec<String> = states
                .iter()
                .filter(|c| !c.ready())
                .map(|c| format!("{} ({})", c.name, c.health_or_status()))
                .collect();
            if !states.is_empty() && waiting.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(CliError(format!(
                    "not healthy after {} s: {}",
                    timeout.as_secs(),
                    if waiting.is_empty() {
                        "no containers".to_string()
                    } else {
                        waiting.join(", ")
                    }
                )));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The project's containers, running or not.
    pub fn container_ids(&self) -> Result<Vec<String>, CliError> {
        let out = docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.name),
        ])?;
        Ok(out.split_whitespace().map(String::from).collect())
    }

    pub fn container_states(&self) -> Result<Vec<ContainerState>, CliError> {
        let ids = self.container_ids()?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec![
            "inspect",
            "--format",
            "{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
        ];
        args.extend(ids.iter().map(String::as_str));
        let out = docker(&args)?;
        Ok(out
            .lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                Some(ContainerState {
                    name: f.next()?.trim_start_matches('/').to_string(),
                    status: f.next()?.to_string(),
                    health: f.next().map(String::from),
                })
            })
            .collect())
    }

    /// The volumes the project's containers mount, named and anonymous.
    pub fn volumes(&self) -> Result<Vec<String>, CliError> {
        let ids = self.container_ids()?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec![
            "inspect",
            "--format",
            "{{range .Mounts}}{{if eq .Type \"volume\"}}{{.Name}} {{end}}{{end}}",
        ];
        args.extend(ids.iter().map(String::as_str));
        let mut names: Vec<String> = docker(&args)?
            .split_whitespace()
            .map(String::from)
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// `down -v`: containers, networks and volumes, named and anonymous.
    pub fn down(&self) -> Result<(), CliError> {
        self.run(&["down", "-v", "--remove-orphans", "-t", "30"])
            .map(|_| ())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerState {
    pub name: String,
    /// `created`, `running`, `exited`, …
    pub status: String,
    /// `starting`, `healthy` or `unhealthy`; `None` without a health check.
    pub health: Option<String>,
}

impl ContainerState {
    pub fn ready(&self) -> bool {
        self.status == "running" && self.health.as_deref().is_none_or(|h| h == "healthy")
    }

    fn health_or_status(&self) -> &str {
        self.health.as_deref().unwrap_or(&self.status)
    }
}

/// Runs the `docker` CLI; its output, or what it said on failure.
pub fn docker(args: &[&str]) -> Result<String, CliError> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .map_err(|e| CliError(format!("cannot run docker: {e}")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(CliError(format!(
            "`docker {}` failed: {}",
            args.join(" "),
            tail(&String::from_utf8_lossy(&out.stderr))
        )))
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let t = lines[lines.len().saturating_sub(5)..].join(" | ");
    if t.is_empty() { "no output".into() } else { t }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let primary = primary_script(&creds);
        assert!(primary.contains(&pgconf::shared_conf()));
        assert!(primary.contains(&pgconf::hba_conf(&creds, "all")));
        assert!(primary.contains(&bootstrap_sql(&creds)));
        assert!(primary.contains("cluster_name = 'primary'"));
        let replica = replica_script(&creds);
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
        assert!(sql.contains("CREATE ROLE \"haproxy_check\" WITH LOGIN;"));
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

    #[test]
    fn wait_support_follows_the_version() {
        let cli = |v: &str| Cli {
            program: vec!["docker".into(), "compose".into()],
            version: v.into(),
        };
        assert!(!cli("1.29.2").can_wait());
        assert!(!cli("2.0.1").can_wait());
        assert!(cli("2.1.1").can_wait());
        assert!(cli("2.29.1-desktop.1").can_wait());
        assert!(!cli("garbage").can_wait());
    }
}
