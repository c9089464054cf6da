//! Opening the session's connections: the client configuration for a socket address or a
//! URL, the setup every connection gets (statement timeout, who serves it), and the task that
//! drives each connection and forwards what the server says on its own.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client, Connection, NoTls, SimpleQueryMessage, Socket};

use super::{APPLICATION_NAME, Actor, Shared};
use crate::sql::errors::{chain, connect_error};
use crate::sql::tls::dialable;
use crate::sql::{Address, Endpoint, Notice, SqlError, SqlEvent, Target, url};

pub(super) struct Conn {
    pub(super) client: Client,
    pub(super) endpoint: Endpoint,
    /// `host(inet_server_addr())` of this session.
    pub(super) served_by: Option<String>,
    /// Why the connection ended, when it ended on its own (the server's FATAL message).
    ended: Arc<Mutex<Option<String>>>,
}

impl Conn {
    pub(super) fn ended(&self) -> Option<String> {
        self.ended
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl Actor {
    pub(super) async fn connect(&self, endpoint: &Endpoint) -> Result<Conn, SqlError> {
        let (config, deadline) = self.client_config(endpoint).map_err(SqlError::client)?;
        match tokio::time::timeout(deadline, self.connect_inner(endpoint, &config)).await {
            Ok(result) => result,
            Err(_) => Err(SqlError::client(format!(
                "could not connect to {}: no answer within {}",
                endpoint.describe(),
                human_duration(deadline)
            ))),
        }
    }

    /// How to connect to `endpoint`, and how long connecting may take in all; the error says
    /// why a URL cannot be used.
    fn client_config(
        &self,
        endpoint: &Endpoint,
    ) -> Result<(tokio_postgres::Config, Duration), String> {
        match &endpoint.address {
            Address::Socket(addr) => {
                let addr = dialable(*addr);
                let mut config = tokio_postgres::Config::new();
                config
                    .host(addr.ip().to_string())
                    .port(addr.port())
                    .user(&self.creds.user)
                    .password(&self.creds.password)
                    .dbname(&self.creds.database)
                    .application_name(APPLICATION_NAME)
                    .connect_timeout(self.config.connect_timeout);
                Ok((config, self.config.connect_timeout))
            }
            Address::Url(text) => {
                let mut config = url::parse(text)
                    .map_err(|e| format!("cannot connect to {}: {e}", endpoint.describe()))?;
                url::complete(
                    &mut config,
                    &self.creds,
                    APPLICATION_NAME,
                    self.config.connect_timeout,
                );
                let deadline = url::deadline(&config, self.config.connect_timeout);
                Ok((config, deadline))
            }
        }
    }

    async fn connect_inner(
        &self,
        endpoint: &Endpoint,
        config: &tokio_postgres::Config,
    ) -> Result<Conn, SqlError> {
        let failed = |e: tokio_postgres::Error| connect_error(endpoint, &e);
        let refused = |e: tokio_postgres::Error| {
            let mut error = connect_error(endpoint, &e);
            if matches!(endpoint.address, Address::Url(_)) && error.hint.is_none() {
                error.hint = url::failure_hint(config, &e);
            }
            error
        };
        let ended = Arc::new(Mutex::new(None));
        let (shared, events) = (self.shared.clone(), self.events.clone());
        // Through HAProxy's endpoints beyond loopback the superuser is let in with the app's
        // certificate only; nodes are reached on this machine, where the password does.
        let tls = match endpoint.target {
            Target::Write | Target::Read => self.tls.as_ref(),
            Target::Node(_) | Target::Url(_) => None,
        };
        let client = match tls {
            Some(tls) => {
                let (client, connection) =
                    config.connect(tls.connector()).await.map_err(refused)?;
                tokio::spawn(pump(connection, shared, events, ended.clone()));
                client
            }
            None => {
                let (client, connection) = config.connect(NoTls).await.map_err(refused)?;
                tokio::spawn(pump(connection, shared, events, ended.clone()));
                client
            }
        };

        // A connection is served by one server for its whole life, so asking who serves it
        // once, here, answers for every run on it; asking after each run would fail inside an
        // aborted transaction (25P02) and cost a round trip per run.
        let mut setup = String::new();
        if let Some(timeout) = self.config.statement_timeout {
            setup.push_str(&format!("SET statement_timeout = {};", timeout.as_millis()));
        }
        setup.push_str("SELECT host(inet_server_addr())");
        let messages = client.simple_query(&setup).await.map_err(failed)?;
        let served_by = messages.iter().find_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.try_get(0).ok().flatten().map(str::to_owned),
            _ => None,
        });
        Ok(Conn {
            client,
            endpoint: endpoint.clone(),
            served_by,
            ended,
        })
    }
}

/// Drives one connection and forwards what the server says on its own (NOTICE, WARNING,
/// NOTIFY) as notices of the run in progress.
async fn pump<T: AsyncRead + AsyncWrite + Unpin>(
    mut connection: Connection<Socket, T>,
    shared: Arc<Shared>,
    events: mpsc::Sender<SqlEvent>,
    ended: Arc<Mutex<Option<String>>>,
) {
    let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
    let mut listening = true;
    while let Some(message) = messages.next().await {
        let notice = match message {
            Ok(AsyncMessage::Notice(db)) => Notice {
                severity: db.severity().to_owned(),
                message: db.message().to_owned(),
            },
            Ok(AsyncMessage::Notification(n)) => Notice {
                severity: "NOTIFY".into(),
                message: if n.payload().is_empty() {
                    format!(
                        "Asynchronous notification \"{}\" received from server process with PID {}.",
                        n.channel(),
                        n.process_id()
                    )
                } else {
                    format!(
                        "Asynchronous notification \"{}\" with payload \"{}\" received from server process with PID {}.",
                        n.channel(),
                        n.payload(),
                        n.process_id()
                    )
                },
            },
            Ok(_) => continue,
            // The client sees the failure on its next request; nothing more will come.
            Err(e) => {
                let reason = match e.as_db_error() {
                    Some(db) => db.message().to_owned(),
                    None => chain(&e),
                };
                *ended
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(reason);
                break;
            }
        };
        if listening {
            let id = shared.current.load(Ordering::SeqCst);
            // Keep driving the connection even when nobody listens: the actor may be waiting
            // for the end of a statement on it.
            listening = events.send(SqlEvent::Notice { id, notice }).await.is_ok();
        }
    }
}

fn human_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_whole_seconds_or_milliseconds() {
        assert_eq!(human_duration(Duration::from_secs(3)), "3s");
        assert_eq!(human_duration(Duration::from_millis(1500)), "1500ms");
    }
}
