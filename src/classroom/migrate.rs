//! The hub's schema: numbered migrations built into the binary, applied in order, each once,
//! and recorded in `classroom.migrations`.
//!
//! The login that migrates owns what the migrations create, so it must be able to create roles
//! (`CREATEROLE`, or a superuser): every learner gets a login of their own.

use tokio_postgres::Client;

use super::connect::HubError;

/// (version, name, SQL), in order.
pub const MIGRATIONS: &[(u32, &str, &str)] = &[
    (1, "hub", include_str!("migrations/0001_hub.sql")),
    (2, "security", include_str!("migrations/0002_security.sql")),
    (3, "guard", include_str!("migrations/0003_guard.sql")),
];

/// The version the last built-in migration brings the hub to.
pub fn latest() -> u32 {
    MIGRATIONS.last().map_or(0, |(v, _, _)| *v)
}

/// An arbitrary constant of this schema's: two hosts migrating the same hub at once queue up.
const LOCK_KEY: i64 = 0x636c_6173_7372_6f6f;

/// Brings the hub's schema to [`latest`]; returns the version it is at afterwards. Running it
/// again changes nothing. A hub migrated by a newer replica-lab is refused, not touched.
pub async fn migrate(client: &Client) -> Result<u32, HubError> {
    let step = |what: &'static str| move |e: tokio_postgres::Error| HubError::sql(what, &e);
    client
        .batch_execute("BEGIN")
        .await
        .map_err(step("cannot start migrating the hub"))?;
    let result = apply(client).await;
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let ended = client.batch_execute(end).await;
    let version = result?;
    ended.map_err(step("cannot commit the hub's schema"))?;
    Ok(version)
}

async fn apply(client: &Client) -> Result<u32, HubError> {
    client
        .execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(|e| HubError::sql("cannot lock the hub's schema", &e))?;
    client
        .batch_execute(
            "CREATE SCHEMA IF NOT EXISTS classroom;
             CREATE TABLE IF NOT EXISTS classroom.migrations (
                 version    integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             );",
        )
        .await
        .map_err(|e| {
            HubError::sql(
                "cannot create the hub's schema (the hub login needs CREATE on the database)",
                &e,
            )
        })?;
    let found: i32 = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM classroom.migrations",
            &[],
        )
        .await
        .map_err(|e| HubError::sql("cannot read the hub's schema version", &e))?
        .get(0);
    let found = u32::try_from(found).unwrap_or(0);
    check_known(found)?;
    for (version, name, sql) in pending(found) {
        client.batch_execute(sql).await.map_err(|e| {
            let what = format!("migration {version:04} ({name}) failed on the hub");
            let mut err = HubError::sql(what, &e);
            if e.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) {
                if let HubError::Sql { cause, .. } = &mut err {
                    cause.push_str(
                        "; the hub login needs CREATEROLE (or to be a superuser): \
                         ALTER ROLE <login> CREATEROLE",
                    );
                }
            }
            err
        })?;
        let v = i32::try_from(*version).unwrap_or(i32::MAX);
        client
            .execute(
                "INSERT INTO classroom.migrations (version) VALUES ($1)",
                &[&v],
            )
            .await
            .map_err(|e| HubError::sql("cannot record the hub's schema version", &e))?;
    }
    Ok(found.max(latest()))
}

fn check_known(found: u32) -> Result<(), HubError> {
    if found > latest() {
        return Err(HubError::NewerSchema {
            found,
            known: latest(),
        });
    }
    Ok(())
}

/// The migrations a hub at `found` still needs, in order.
fn pending(found: u32) -> impl Iterator<Item = &'static (u32, &'static str, &'static str)> {
    MIGRATIONS.iter().filter(move |(v, _, _)| *v > found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_one_by_one() {
        for (i, (v, _, sql)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*v as usize, i + 1);
            assert!(!sql.trim().is_empty());
        }
    }

    #[test]
    fn only_what_is_missing_is_applied() {
        assert_eq!(pending(0).count(), MIGRATIONS.len());
        assert_eq!(pending(latest()).count(), 0);
        assert_eq!(pending(1).next().map(|m| m.0), Some(2));
    }

    #[test]
    fn a_newer_hub_is_refused_with_the_fix() {
        assert!(check_known(latest()).is_ok());
        let e = check_known(latest() + 1).unwrap_err().to_string();
        assert!(e.contains("newer than this replica-lab knows"), "{e}");
        assert!(e.contains("install"), "{e}");
    }
}
