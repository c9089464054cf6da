//! Thin helpers over the Docker Engine API: connect, images, one-shot containers, exec.

use std::collections::HashMap;
use std::time::Duration;

use crate::error::{Error, Result};
use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures::StreamExt;

pub const LABEL_CLUSTER: &str = "io.replica-lab.cluster";
pub const LABEL_NODE: &str = "io.replica-lab.node";
pub const BUILDER: &str = "docker/build-images.sh";

/// Connects to the engine `DOCKER_HOST` names (or the local socket) and agrees on an API
/// version, since older engines reject the client's default.
pub async fn connect() -> Result<Docker> {
    let docker = Docker::connect_with_defaults().map_err(|e| no_engine(&e.to_string()))?;
    let ask = async {
        let docker = docker.negotiate_version().await?;
        docker.ping().await?;
        Ok::<_, bollard::errors::Error>(docker)
    };
    match tokio::time::timeout(Duration::from_secs(5), ask).await {
        Ok(Ok(d)) => Ok(d),
        Ok(Err(e)) => Err(no_engine(&e.to_string())),
        Err(_) => Err(no_engine("no answer within 5 s")),
    }
}

fn no_engine(cause: &str) -> Error {
    Error::new(format!(
        "the Docker engine does not answer ({cause}): start Docker (or set DOCKER_HOST), or use --runtime local"
    ))
}

pub fn api_error(what: &str, e: bollard::errors::Error) -> Error {
    Error::new(format!("{what}: {}", describe(&e)))
}

/// The engine's own message where there is one, without the HTTP wrapping.
pub fn describe(e: &bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

pub fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

pub async fn image_present(docker: &Docker, image: &str) -> bool {
    docker.inspect_image(image).await.is_ok()
}

/// How far a pull has come: typed, so a headless bar and the TUI draw the same figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PullProgress {
    pub image: String,
    pub layers_done: usize,
    pub layers: usize,
    pub bytes_done: u64,
    pub bytes_total: u64,
}

pub type PullReporter = dyn Fn(&PullProgress) + Send + Sync;

/// Pulls `image` unless present, reporting progress; says how to build it when it cannot be
/// pulled (an engine with no registry).
pub async fn ensure_image(docker: &Docker, image: &str, report: &PullReporter) -> Result<()> {
    if image_present(docker, image).await {
        return Ok(());
    }
    let (name, tag) = match image.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, t),
        _ => (image, "latest"),
    };
    let options = CreateImageOptionsBuilder::default()
        .from_image(name)
        .tag(tag)
        .build();
    let mut stream = docker.create_image(Some(options), None, None);
    // Per layer: (bytes done, bytes total, finished).
    let mut layers: HashMap<String, (u64, u64, bool)> = HashMap::new();
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| {
            Error::new(format!(
                "image {image} is not here and cannot be pulled ({}): build images offline with {BUILDER} \
                 and point replica-lab at them (REPLICA_LAB_POSTGRES_IMAGE, REPLICA_LAB_HAPROXY_IMAGE)",
                describe(&e)
            ))
        })?;
        let (Some(id), Some(status)) = (info.id, info.status) else {
            continue;
        };
        let entry = layers.entry(id).or_default();
        if let Some(detail) = info.progress_detail {
            if status.starts_with("Downloading") {
                entry.0 = detail
                    .current
                    .and_then(|c| u64::try_from(c).ok())
                    .unwrap_or(entry.0);
                entry.1 = detail
                    .total
                    .and_then(|t| u64::try_from(t).ok())
                    .unwrap_or(entry.1);
            }
        }
        entry.2 = status.starts_with("Pull complete") || status.starts_with("Already exists");
        report(&PullProgress {
            image: image.to_string(),
            layers_done: layers.values().filter(|l| l.2).count(),
            layers: layers.len(),
            bytes_done: layers.values().map(|l| l.0).sum(),
            bytes_total: layers.values().map(|l| l.1).sum(),
        });
    }
    Ok(())
}

/// The output and exit code of a command.
pub struct Ran {
    pub code: i64,
    pub output: String,
}

impl Ran {
    pub fn ok(self, what: &str) -> Result<String> {
        if self.code == 0 {
            Ok(self.output)
        } else {
            Err(Error::new(format!("{what} failed: {}", tail(&self.output))))
        }
    }
}

pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let t = lines[lines.len().saturating_sub(3)..].join(" | ");
    if t.is_empty() { "no output".into() } else { t }
}

/// Runs `script` with `sh -c` in a running container.
pub async fn exec(
    docker: &Docker,
    container: &str,
    user: Option<&str>,
    script: &str,
    env: &[(String, String)],
) -> Result<Ran> {
    let env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let created = docker
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(vec!["sh".to_string(), "-c".to_string(), script.to_string()]),
                env: Some(env),
                user: user.map(str::to_string),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| api_error(&format!("exec in {container}"), e))?;
    let mut output = String::new();
    if let StartExecResults::Attached {
        output: mut stream, ..
    } = docker
        .start_exec(&created.id, None)
        .await
        .map_err(|e| api_error(&format!("exec in {container}"), e))?
    {
        while let Some(Ok(chunk)) = stream.next().await {
            output.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
    }
    let inspect = docker
        .inspect_exec(&created.id)
        .await
        .map_err(|e| api_error(&format!("exec in {container}"), e))?;
    Ok(Ran {
        code: inspect.exit_code.unwrap_or(-1),
        output,
    })
}

/// A one-shot container: runs `script` with the given volume and network, then is removed.
pub struct OneShot<'a> {
    pub image: &'a str,
    pub name: String,
    pub user: &'a str,
    pub volume: &'a str,
    pub mount_at: &'a str,
    pub network: String,
    pub labels: HashMap<String, String>,
}

impl OneShot<'_> {
    pub async fn run(
        &self,
        docker: &Docker,
        script: &str,
        env: &[(String, String)],
    ) -> Result<Ran> {
        // A leftover of an interrupted run would block the name.
        let _ = force_remove(docker, &self.name).await;
        let body = ContainerCreateBody {
            image: Some(self.image.to_string()),
            user: Some(self.user.to_string()),
            entrypoint: Some(vec!["sh".into(), "-c".into(), script.to_string()]),
            cmd: Some(vec![]),
            env: Some(env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(self.labels.clone()),
            host_config: Some(HostConfig {
                mounts: Some(vec![Mount {
                    target: Some(self.mount_at.to_string()),
                    source: Some(self.volume.to_string()),
                    typ: Some(MountType::VOLUME),
                    ..Default::default()
                }]),
                network_mode: Some(self.network.clone()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let what = format!("container {}", self.name);
        docker
            .create_container(
                Some(
                    CreateContainerOptionsBuilder::default()
                        .name(&self.name)
                        .build(),
                ),
                body,
            )
            .await
            .map_err(|e| api_error(&what, e))?;
        let result = self.start_and_wait(docker).await;
        let _ = force_remove(docker, &self.name).await;
        result
    }

    async fn start_and_wait(&self, docker: &Docker) -> Result<Ran> {
        let what = format!("container {}", self.name);
        docker
            .start_container(&self.name, None)
            .await
            .map_err(|e| api_error(&what, e))?;
        let mut wait = docker.wait_container(
            &self.name,
            Some(
                WaitContainerOptionsBuilder::default()
                    .condition("not-running")
                    .build(),
            ),
        );
        let code = match wait.next().await {
            Some(Ok(r)) => r.status_code,
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
            Some(Err(e)) => return Err(api_error(&what, e)),
            None => -1,
        };
        let mut logs = docker.logs(
            &self.name,
            Some(
                LogsOptionsBuilder::default()
                    .stdout(true)
                    .stderr(true)
                    .build(),
            ),
        );
        let mut output = String::new();
        while let Some(Ok(chunk)) = logs.next().await {
            output.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        Ok(Ran { code, output })
    }
}

/// Waits for one of `actions` on `container` in the engine's event stream. Events since
/// `since` are replayed, so one that happened before the subscription is not missed.
pub async fn wait_event(
    docker: &Docker,
    container: &str,
    actions: &[&str],
    since: std::time::SystemTime,
    limit: Duration,
) -> Result<String> {
    let since = since
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| format!("{}.{:09}", d.as_secs(), d.subsec_nanos()))
        .unwrap_or_else(|_| "0".into());
    let filters = HashMap::from([
        ("type".to_string(), vec!["container".to_string()]),
        ("container".to_string(), vec![container.to_string()]),
        (
            "event".to_string(),
            actions.iter().map(|a| a.to_string()).collect(),
        ),
    ]);
    let options = bollard::query_parameters::EventsOptionsBuilder::default()
        .since(&since)
        .filters(&filters)
        .build();
    let mut events = docker.events(Some(options));
    let first = tokio::time::timeout(limit, events.next()).await;
    match first {
        Ok(Some(Ok(event))) => Ok(event.action.unwrap_or_default()),
        Ok(Some(Err(e))) => Err(api_error(&format!("watching {container}"), e)),
        Ok(None) => Err(Error::new(format!(
            "the engine closed the event stream of {container}"
        ))),
        Err(_) => Err(Error::new(format!(
            "{container} did not report {} within {} s",
            actions.join("/"),
            limit.as_secs()
        ))),
    }
}

/// Removes a container whatever its state, with its anonymous volumes; a missing one is fine.
pub async fn force_remove(
    docker: &Docker,
    container: &str,
) -> std::result::Result<(), bollard::errors::Error> {
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    match docker.remove_container(container, Some(options)).await {
        Err(e) if is_not_found(&e) => Ok(()),
        other => other,
    }
}

/// Shell-safe single quoting for scripts.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\n\nb\nc\nd\n"), "b | c | d");
        assert_eq!(tail(""), "no output");
    }
}
