//! Connections to the hub: a URL or `key=value` string as libpq takes it, TLS when its
//! `sslmode` asks for it, and the server's notifications handed over on a channel.
//!
//! Messages name the hub with its password masked, and say what to do.

mod conninfo;
mod tls;

use std::time::Duration;

use futures::StreamExt as _;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::TlsStream;
use tokio_postgres::{AsyncMessage, Config, Connection, NoTls, Notification};

use crate::error::Error;
pub use conninfo::{Conninfo, encode as percent_encode};
use tls::{Roots, TlsMode};

/// How long reaching the hub may take when the URL does not say (`connect_timeout`).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to the hub, and what the server pushes on it (`LISTEN` channels).
pub struct Hub {
    pub client: tokio_postgres::Client,
    pub notifications: mpsc::UnboundedReceiver<Notification>,
}

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The URL cannot be used as written.
    #[error("the hub URL {hub} is not usable: {reason}")]
    Url { hub: String, reason: String },
    /// Nothing answered, or not in time.
    #[error("cannot reach the hub at {hub}: {cause}; {fix}")]
    Unreachable {
        hub: String,
        cause: String,
        fix: String,
    },
    /// The server answered and refused the login or the database.
    #[error("the hub at {hub} refused the connection: {cause}; {fix}")]
    Refused {
        hub: String,
        cause: String,
        fix: String,
        code: Option<SqlState>,
    },
    #[error("TLS to the hub at {hub} failed: {cause}; {fix}")]
    Tls {
        hub: String,
        cause: String,
        fix: String,
    },
    /// A statement failed; `code` is the server's SQLSTATE when it gave one.
    #[error("{what}: {cause}")]
    Sql {
        what: String,
        cause: String,
        code: Option<SqlState>,
    },
    #[error(
        "the hub's schema is at version {found}, newer than this replica-lab knows (up to {known}): \
         install the replica-lab the instructor uses"
    )]
    NewerSchema { found: u32, known: u32 },
    /// Anything else, already worded with its fix.
    #[error("{0}")]
    Other(String),
}

impl HubError {
    /// The statement that failed, with the server's message, detail and hint.
    pub fn sql(what: impl Into<String>, error: &tokio_postgres::Error) -> HubError {
        HubError::Sql {
            what: what.into(),
            cause: server_message(error),
            code: error.code().cloned(),
        }
    }

    /// The server's SQLSTATE, for callers that tell a taken name from an expired code.
    pub fn code(&self) -> Option<&SqlState> {
        match self {
            HubError::Sql { code, .. } | HubError::Refused { code, .. } => code.as_ref(),
            _ => None,
        }
    }
}

impl From<tokio_postgres::Error> for HubError {
    fn from(e: tokio_postgres::Error) -> Self {
        HubError::sql("the hub", &e)
    }
}

impl From<HubError> for Error {
    fn from(e: HubError) -> Self {
        Error::new(e.to_string())
    }
}

/// The server's words: message, then detail and hint when it gave them; else the client's.
pub fn server_message(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let mut text = db.message().to_string();
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" ({detail})"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; {hint}"));
            }
            text
        }
        None => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                let line = cause.to_string();
                if !text.contains(&line) {
                    text.push_str(&format!(": {line}"));
                }
                source = cause.source();
            }
            text
        }
    }
}

/// `url` with its password, wherever it is written, as `***`.
pub fn mask(url: &str) -> String {
    crate::sql::url::mask_password(url)
}

/// The same server, database and parameters as `url` (a URL or `key=value` pairs), logging in
/// as `user`; always a URL.
pub fn with_login(url: &str, user: &str, password: &str) -> Result<String, HubError> {
    let info = Conninfo::parse(url).map_err(|reason| HubError::Url {
        hub: mask(url),
        reason,
    })?;
    Ok(info.to_url_with_login(user, password))
}

/// What tokio-postgres is given, and the TLS it needs: `sslmode` and `sslrootcert` are read
/// here, since tokio-postgres knows neither the verifying modes nor root files.
fn prepare(url: &str) -> Result<(Config, TlsMode, Roots), HubError> {
    let bad = |reason: String| HubError::Url {
        hub: mask(url),
        reason,
    };
    let mut info = Conninfo::parse(url).map_err(bad)?;
    let mode = match info.take("sslmode") {
        Some(m) => TlsMode::parse(&m).map_err(bad)?,
        None => TlsMode::Prefer,
    };
    let root_param = info.take("sslrootcert");
    // As libpq: a root file given with `require` makes it check the chain.
    let mode = match (mode, &root_param) {
        (TlsMode::Require, Some(r)) if r != "system" => TlsMode::VerifyCa,
        _ => mode,
    };
    let mut config: Config = info.render().parse().map_err(|e: tokio_postgres::Error| {
        let cause = std::error::Error::source(&e).map_or_else(String::new, |c| format!(": {c}"));
        bad(format!(
            "{e}{cause}; write postgresql://user:password@host:port/database?sslmode=require"
        ))
    })?;
    if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
        return Err(bad(
            "it names no host: write postgresql://user:password@host:port/database".into(),
        ));
    }
    config.ssl_mode(mode.wire());
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    Ok((config, mode, Roots::from_param(root_param.as_deref())))
}

/// Connects to the hub at `url`, named `application_name` in `pg_stat_activity` unless the URL
/// names it; notifications arrive on [`Hub::notifications`] for as long as the connection lives.
pub async fn connect(url: &str, application_name: &str) -> Result<Hub, HubError> {
    let (mut config, mode, roots) = prepare(url)?;
    if config.get_application_name().is_none() {
        config.application_name(application_name);
    }
    let hub = mask(url);
    let connector = tls::connector(mode, &roots).map_err(|cause| HubError::Tls {
        hub: hub.clone(),
        cause,
        fix: "or use sslmode=require to encrypt without verifying the hub".into(),
    })?;
    let (tx, rx) = mpsc::unbounded_channel();
    let client = match connector {
        None => {
            let (client, conn) = config
                .connect(NoTls)
                .await
                .map_err(|e| connect_error(&hub, &config, mode, &e))?;
            tokio::spawn(drive(conn, tx, hub));
            client
        }
        Some(tls) => {
            let (client, conn) = config
                .connect(tls)
                .await
                .map_err(|e| connect_error(&hub, &config, mode, &e))?;
            tokio::spawn(drive(conn, tx, hub));
            client
        }
    };
    Ok(Hub {
        client,
        notifications: rx,
    })
}

/// Runs the connection: hands on notifications, logs notices, ends with the connection.
async fn drive<S, T>(
    mut conn: Connection<S, T>,
    tx: mpsc::UnboundedSender<Notification>,
    hub: String,
) where
    S: AsyncRead + AsyncWrite + Unpin,
    T: TlsStream + Unpin,
{
    let mut messages = futures::stream::poll_fn(move |cx| conn.poll_message(cx));
    while let Some(message) = messages.next().await {
        match message {
            // A receiver that went away only means nobody listens any more.
            Ok(AsyncMessage::Notification(n)) => drop(tx.send(n)),
            Ok(AsyncMessage::Notice(n)) => {
                tracing::info!(hub = %hub, "hub notice: {}", n.message());
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(hub = %hub, "hub connection ended: {e}");
                break;
            }
        }
    }
}

fn connect_error(
    hub: &str,
    config: &Config,
    mode: TlsMode,
    error: &tokio_postgres::Error,
) -> HubError {
    let hub = hub.to_string();
    if let Some(rustls_error) = find_rustls_error(error) {
        return HubError::Tls {
            hub,
            cause: rustls_error.to_string(),
            fix: tls::failure_fix(rustls_error, mode),
        };
    }
    let cause = server_message(error);
    if let Some(db) = error.as_db_error() {
        let user = config.get_user().unwrap_or("(none)");
        let fix = match *db.code() {
            SqlState::INVALID_PASSWORD | SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
                format!(
                    "check the user ({user}) and password in the hub URL, and that the hub's \
                     pg_hba.conf lets this machine in; a learner whose login was removed joins \
                     again (replica-lab classroom join)"
                )
            }
            SqlState::INVALID_CATALOG_NAME => {
                "check the database name in the hub URL (the part after the last /)".into()
            }
            SqlState::TOO_MANY_CONNECTIONS => {
                "the hub has no connection slots left: raise max_connections on it".into()
            }
            _ => "check the hub URL and that the hub is up".into(),
        };
        return HubError::Refused {
            hub,
            cause,
            fix,
            code: Some(db.code().clone()),
        };
    }
    if cause.contains("server does not support TLS") {
        return HubError::Tls {
            hub,
            cause,
            fix: format!(
                "turn ssl on at the hub, or connect with sslmode=prefer or disable instead of {}",
                mode.name()
            ),
        };
    }
    let fix = "check the host and port in the hub URL, that the hub is running \
               (replica-lab classroom host starts one) and that this machine can reach it"
        .into();
    HubError::Unreachable { hub, cause, fix }
}

fn find_rustls_error(error: &tokio_postgres::Error) -> Option<&rustls::Error> {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(e) = cause.downcast_ref::<rustls::Error>() {
            return Some(e);
        }
        // io::Error's `source` skips the error it wraps, and that is where rustls's is.
        if let Some(inner) = cause
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(inner);
        }
        source = cause.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guarded_hubs_instructor_url_reaches_whichever_node_is_primary() {
        let (c, mode, _) = prepare(
            "postgresql://u:p%40w@127.0.0.1:15431,127.0.0.1:15432/db?sslmode=disable\
             &target_session_attrs=read-write",
        )
        .unwrap();
        assert_eq!(mode, TlsMode::Disable);
        assert_eq!(c.get_ports(), [15431, 15432]);
        assert_eq!(c.get_hosts().len(), 2);
        assert_eq!(
            c.get_target_session_attrs(),
            tokio_postgres::config::TargetSessionAttrs::ReadWrite
        );
        assert_eq!(c.get_password(), Some(&b"p@w"[..]));
    }

    #[test]
    fn tls_parameters_are_read_and_the_rest_passed_on() {
        let (c, mode, roots) =
            prepare("postgresql://u:pw@h:6000/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem")
                .unwrap();
        assert_eq!(mode, TlsMode::VerifyFull);
        assert_eq!(roots, Roots::File("/etc/ca.pem".into()));
        assert_eq!(c.get_ssl_mode(), tokio_postgres::config::SslMode::Require);
        assert_eq!(c.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        assert_eq!(c.get_dbname(), Some("db"));

        let (_, mode, _) = prepare("host=h sslmode=require sslrootcert=/ca.pem").unwrap();
        assert_eq!(mode, TlsMode::VerifyCa);
        let (c, mode, _) = prepare("postgresql://h/db?connect_timeout=2").unwrap();
        assert_eq!(mode, TlsMode::Prefer);
        assert_eq!(c.get_connect_timeout(), Some(&Duration::from_secs(2)));
        let (c, mode, _) = prepare("postgresql://h/db?sslmode=disable").unwrap();
        assert_eq!(mode, TlsMode::Disable);
        assert_eq!(c.get_ssl_mode(), tokio_postgres::config::SslMode::Disable);
    }

    #[test]
    fn bad_urls_name_the_hub_masked_and_the_fix() {
        let e = prepare("postgresql://u:secret@h/db?sslmode=maybe")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("u:***@h"), "{e}");
        assert!(!e.contains("secret"), "{e}");
        assert!(e.contains("verify-full"), "{e}");
        let e = prepare("postgresql://u:secret@h/db?colour=red")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("colour"), "{e}");
        let e = prepare("postgresql:///db").err().unwrap().to_string();
        assert!(e.contains("no host"), "{e}");
    }

    #[test]
    fn masking_and_other_logins() {
        assert_eq!(mask("postgresql://me:pw@h/db"), "postgresql://me:***@h/db");
        assert_eq!(
            with_login("postgresql://me:pw@h:5439/db?sslmode=require", "g", "g").unwrap(),
            "postgresql://g:g@h:5439/db?sslmode=require"
        );
        assert!(with_login("nonsense", "g", "g").is_err());
    }

    #[tokio::test]
    async fn an_unreachable_hub_says_so_and_how_to_fix_it() {
        // Port 1 on loopback: nothing listens there.
        let e = connect("postgresql://u:pw@127.0.0.1:1/db?sslmode=disable", "t")
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.starts_with("cannot reach the hub at postgresql://u:***@127.0.0.1:1/db"),
            "{e}"
        );
        assert!(e.contains("classroom host"), "{e}");
    }
}
