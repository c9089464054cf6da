//! The SQL replica-lab itself runs against nodes: bootstrap, slots, roles, promotion.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, NoTls, Socket};

use super::fencing::{Lsn, history_switchpoint};
use super::pgconf::CHECK_CONNECTION_LIMIT;
use crate::settings::Credentials;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("cannot connect to {target}: {}", reason(source))]
    Connect {
        target: String,
        source: tokio_postgres::Error,
    },
    #[error("{target} did not answer within {secs} s")]
    Timeout { target: String, secs: u64 },
    #[error("{what} failed on {target}: {}", reason(source))]
    Query {
        what: &'static str,
        target: String,
        source: tokio_postgres::Error,
    },
}

/// The server's own message where there is one: tokio-postgres prints only "db error".
fn reason(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

impl From<AdminError> for crate::error::Error {
    fn from(e: AdminError) -> Self {
        crate::error::Error::new(e.to_string())
    }
}

/// The health-check login: no privilege worth having, a few connections at most.
pub fn check_role_attrs() -> String {
    format!(
        "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT \
         PASSWORD NULL CONNECTION LIMIT {CHECK_CONNECTION_LIMIT}"
    )
}

fn login_config(addr: SocketAddr, user: &str, password: &str, dbname: &str) -> Config {
    let mut config = Config::new();
    config
        .host(addr.ip().to_string())
        .port(addr.port())
        .user(user)
        .password(password)
        .dbname(dbname)
        .application_name("replica-lab")
        .connect_timeout(CONNECT_TIMEOUT);
    config
}

/// A connection to one node, labelled for error messages.
pub struct Admin {
    client: Client,
    target: String,
}

async fn open(config: Config, target: String) -> Result<Admin, AdminError> {
    open_with(config, target, NoTls).await
}

async fn open_with<T>(config: Config, target: String, tls: T) -> Result<Admin, AdminError>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let connect = config.connect(tls);
    let (client, connection) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| AdminError::Timeout {
            target: target.clone(),
            secs: CONNECT_TIMEOUT.as_secs(),
        })?
        .map_err(|source| AdminError::Connect {
            target: target.clone(),
            source,
        })?;
    tokio::spawn(async move {
        // The connection ends with the client; its error, if any, surfaces on the next query.
        let _ = connection.await;
    });
    Ok(Admin { client, target })
}

impl Admin {
    /// As the learner's superuser over TCP.
    pub async fn tcp(
        addr: SocketAddr,
        creds: &Credentials,
        dbname: &str,
    ) -> Result<Admin, AdminError> {
        Self::tcp_login(addr, &creds.user, &creds.password, dbname).await
    }

    /// As the learner's superuser over TCP and `tls`: through HAProxy's endpoints beyond
    /// loopback, where the superuser needs the app's client certificate.
    pub async fn tcp_tls<T>(
        addr: SocketAddr,
        creds: &Credentials,
        tls: T,
    ) -> Result<Admin, AdminError>
    where
        T: MakeTlsConnect<Socket>,
        T::Stream: Send + 'static,
    {
        let config = login_config(addr, &creds.user, &creds.password, &creds.database);
        open_with(config, addr.to_string(), tls).await
    }

    pub async fn tcp_login(
        addr: SocketAddr,
        user: &str,
        password: &str,
        dbname: &str,
    ) -> Result<Admin, AdminError> {
        open(login_config(addr, user, password, dbname), addr.to_string()).await
    }

    /// As the bootstrap superuser `postgres` over the node's private unix socket.
    pub async fn socket(dir: &Path, port: u16) -> Result<Admin, AdminError> {
        let mut config = Config::new();
        config
            .host_path(dir)
            .port(port)
            .user("postgres")
            .dbname("postgres")
            .application_name("replica-lab")
            .connect_timeout(CONNECT_TIMEOUT);
        open(config, dir.display().to_string()).await
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn exec(&self, what: &'static str, sql: &str) -> Result<(), AdminError> {
        self.client
            .batch_execute(sql)
            .await
            .map_err(|source| self.query_err(what, source))
    }

    /// Runs the statement that `builder`, a `SELECT format(…)` with `%I`/`%L`, makes of
    /// `params`: the server quotes the names and values, whatever they hold.
    async fn exec_built(
        &self,
        what: &'static str,
        builder: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<(), AdminError> {
        let row = self
            .client
            .query_one(builder, params)
            .await
            .map_err(|e| self.query_err(what, e))?;
        let sql: String = row.get(0);
        self.exec(what, &sql).await
    }

    fn query_err(&self, what: &'static str, source: tokio_postgres::Error) -> AdminError {
        AdminError::Query {
            what,
            target: self.target.clone(),
            source,
        }
    }

    /// Creates the learner's superuser and database, the replication login and the check login.
    /// Safe to repeat. Identifiers and passwords are quoted by the server (`format` with %I/%L).
    pub async fn bootstrap(&self, creds: &Credentials) -> Result<(), AdminError> {
        let roles = [
            (
                creds.user.as_str(),
                "SUPERUSER LOGIN".to_string(),
                Some(creds.password.as_str()),
            ),
            (
                creds.replication_user.as_str(),
                "REPLICATION LOGIN".to_string(),
                Some(creds.replication_password.as_str()),
            ),
            (creds.check_user.as_str(), check_role_attrs(), None),
        ];
        for (name, attrs, password) in roles {
            self.exec_built(
                "creating roles",
                "SELECT format('%s ROLE %I WITH %s%s',
                    CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)
                         THEN 'ALTER' ELSE 'CREATE' END,
                    $1::text, $2::text,
                    coalesce(' PASSWORD ' || quote_literal($3::text), ''))",
                &[&name, &attrs, &password],
            )
            .await?;
        }
        let exists = self
            .client
            .query_opt(
                "SELECT 1 FROM pg_database WHERE datname = $1",
                &[&creds.database],
            )
            .await
            .map_err(|e| self.query_err("looking up the database", e))?
            .is_some();
        if !exists {
            self.exec_built(
                "creating the database",
                "SELECT format('CREATE DATABASE %I OWNER %I', $1::text, $2::text)",
                &[&creds.database, &creds.user],
            )
            .await?;
        }
        // After the database exists, so it loses PUBLIC's TEMP too.
        self.restrict_check_role(creds).await
    }

    /// Takes from the health-check login all PostgreSQL lets one take: it logs in to
    /// `postgres` (pg_hba.conf allows nothing else), at most [`CHECK_CONNECTION_LIMIT`] times at
    /// once, and can neither create anything nor write. Safe to repeat; brings a cluster made
    /// by an older version to these rules. Run on the primary: roles and database privileges
    /// live in shared catalogs, which reach the standbys by replication.
    ///
    /// What PostgreSQL cannot take from one role: what is granted to PUBLIC and needed by
    /// every login — reading most system catalogs (`pg_roles` without passwords,
    /// `pg_database`, `pg_stat_activity` without other users' queries, the settings any user
    /// may see) and calling the functions everyone may call. `default_transaction_read_only`
    /// is a default the session itself may turn off; the revoked privileges are what stop
    /// writes.
    pub async fn restrict_check_role(&self, creds: &Credentials) -> Result<(), AdminError> {
        self.exec_built(
            "restricting the check role",
            "SELECT format('ALTER ROLE %I WITH %s', $1::text, $2::text)",
            &[&creds.check_user, &check_role_attrs()],
        )
        .await?;
        for setting in [
            // HAProxy ends each check with a reset; without this every check logs a line.
            "log_min_messages = fatal",
            "default_transaction_read_only = on",
        ] {
            self.exec_built(
                "restricting the check role",
                "SELECT format('ALTER ROLE %I SET %s', $1::text, $2::text)",
                &[&creds.check_user, &setting],
            )
            .await?;
        }
        // Temporary tables are PUBLIC's by default on every database; no login here needs
        // them but superusers, who keep every privilege. A database made later gets PUBLIC's
        // defaults again, but the check login cannot reach it (pg_hba.conf).
        self.exec_built(
            "revoking TEMP and CREATE",
            "SELECT coalesce(string_agg(format('REVOKE TEMPORARY, CREATE ON DATABASE %I FROM PUBLIC, %I', \
                 datname, $1::text), '; '), 'SELECT 1') \
             FROM pg_database WHERE datallowconn",
            &[&creds.check_user],
        )
        .await?;
        // The `postgres` database, the only one it may log in to (PostgreSQL 15 already
        // takes CREATE on `public` from PUBLIC; older servers and old clusters did not).
        self.exec_built(
            "revoking CREATE on schema public",
            "SELECT format('REVOKE CREATE ON SCHEMA public FROM PUBLIC, %I', $1::text)",
            &[&creds.check_user],
        )
        .await
    }

    pub async fn ensure_slot(&self, slot: &str) -> Result<(), AdminError> {
        self.client
            .execute(
                "SELECT pg_create_physical_replication_slot($1)
                 WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)",
                &[&slot],
            )
            .await
            .map_err(|e| self.query_err("creating a replication slot", e))?;
        Ok(())
    }

    pub async fn drop_slot(&self, slot: &str) -> Result<(), AdminError> {
        self.client
            .execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                 WHERE slot_name = $1 AND NOT active",
                &[&slot],
            )
            .await
            .map_err(|e| self.query_err("dropping a replication slot", e))?;
        Ok(())
    }

    /// Whether the server is a standby, and the address it answers on.
    pub async fn role_and_address(&self) -> Result<(bool, Option<String>), AdminError> {
        let row = self
            .client
            .query_one("SELECT pg_is_in_recovery(), host(inet_server_addr())", &[])
            .await
            .map_err(|e| self.query_err("asking the role", e))?;
        Ok((row.get(0), row.get(1)))
    }

    /// `application_name`s of the standbys currently streaming from this node.
    pub async fn streaming_standbys(&self) -> Result<Vec<String>, AdminError> {
        let rows = self
            .client
            .query(
                "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'",
                &[],
            )
            .await
            .map_err(|e| self.query_err("reading pg_stat_replication", e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    pub async fn checkpoint(&self) -> Result<(), AdminError> {
        self.exec("checkpoint", "CHECKPOINT").await
    }

    /// Promotes a standby and waits until it accepts writes.
    pub async fn promote(&self) -> Result<bool, AdminError> {
        let row = self
            .client
            .query_one("SELECT pg_promote(true, 30)", &[])
            .await
            .map_err(|e| self.query_err("promoting", e))?;
        Ok(row.get(0))
    }

    /// How far this node's WAL goes: on a standby what it received (what it replayed when it
    /// receives nothing), on a primary what it wrote.
    pub async fn wal_position(&self) -> Result<Option<Lsn>, AdminError> {
        let row = self
            .client
            .query_one(
                "SELECT CASE WHEN pg_is_in_recovery() \
                   THEN greatest(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text \
                   ELSE pg_current_wal_lsn()::text END",
                &[],
            )
            .await
            .map_err(|e| self.query_err("reading the WAL position", e))?;
        let text: Option<String> = row.get(0);
        Ok(text.as_deref().and_then(Lsn::parse))
    }

    /// The timeline a primary writes on: the first eight hex digits of its WAL file name.
    pub async fn primary_timeline(&self) -> Result<Option<u32>, AdminError> {
        let row = self
            .client
            .query_one(
                "SELECT CASE WHEN pg_is_in_recovery() THEN NULL \
                   ELSE pg_walfile_name(pg_current_wal_lsn()) END",
                &[],
            )
            .await
            .map_err(|e| self.query_err("reading the timeline", e))?;
        let name: Option<String> = row.get(0);
        Ok(name
            .as_deref()
            .and_then(|n| n.get(..8))
            .and_then(|t| u32::from_str_radix(t, 16).ok()))
    }

    /// Where `timeline` forked off its parent, from its history file.
    pub async fn fork_point(&self, timeline: u32) -> Result<Option<Lsn>, AdminError> {
        let row = self
            .client
            .query_one(
                "SELECT pg_read_file(format('pg_wal/%s.history', lpad(upper(to_hex($1::int)), 8, '0')), 0, 1048576, true)",
                &[&i32::try_from(timeline).unwrap_or(i32::MAX)],
            )
            .await
            .map_err(|e| self.query_err("reading the timeline history", e))?;
        let text: Option<String> = row.get(0);
        Ok(text.as_deref().and_then(history_switchpoint))
    }
}
