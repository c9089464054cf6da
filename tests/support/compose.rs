//! Drives Docker Compose for the tests and benches that run `compose.yaml`, with either the
//! Compose plugin (`docker compose`) or the older standalone `docker-compose`, which has no
//! `up --wait`. Included by path (`#[path = ...] mod compose_driver;`) from `tests/compose.rs`
//! and `benches/docker_up.rs`.

// Each includer uses its own part of the driver.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

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
        let out = self.inspect(
            "{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
        )?;
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
        let mut names: Vec<String> = self
            .inspect("{{range .Mounts}}{{if eq .Type \"volume\"}}{{.Name}} {{end}}{{end}}")?
            .split_whitespace()
            .map(String::from)
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// `docker inspect --format FORMAT` over the project's containers; empty without any.
    fn inspect(&self, format: &str) -> Result<String, CliError> {
        let ids = self.container_ids()?;
        if ids.is_empty() {
            return Ok(String::new());
        }
        let mut args = vec!["inspect", "--format", format];
        args.extend(ids.iter().map(String::as_str));
        docker(&args)
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
    // Named in full: the benches that include this file build it without running its tests,
    // and an import would stand unused there.
    #[test]
    fn wait_support_follows_the_version() {
        let cli = |v: &str| super::Cli {
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
