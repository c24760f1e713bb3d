//! Versioned schema migrations, embedded as SQL files and applied under an advisory lock.
//!
//! `schema_migrations` records every applied version. [`migrate_client`] runs in one
//! transaction that first takes `pg_advisory_xact_lock(MIGRATION_LOCK)`: two servers starting
//! together queue on the lock, the second finds everything applied and does nothing. Because
//! PostgreSQL DDL is transactional, a failing migration leaves the previous version intact.

use crate::error::{pg_error, PgStoreError};
use tokio_postgres::Client;

/// One embedded migration.
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order; versions are 1, 2, … without gaps.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "search_indexes",
        sql: include_str!("../migrations/0002_search_indexes.sql"),
    },
    Migration {
        version: 3,
        name: "search_statistics",
        sql: include_str!("../migrations/0003_search_statistics.sql"),
    },
    Migration {
        version: 4,
        name: "ordered_search_indexes",
        sql: include_str!("../migrations/0004_ordered_search_indexes.sql"),
    },
    Migration {
        version: 5,
        name: "setting",
        sql: include_str!("../migrations/0005_setting.sql"),
    },
    Migration {
        version: 6,
        name: "byte_order_text",
        sql: include_str!("../migrations/0006_byte_order_text.sql"),
    },
];

/// Tables that Citus replicates to every node (`create_reference_table`, see
/// `docs/design/scale-out.md`) instead of distributing by `part`: small, server-wide, written
/// rarely. Every other table is keyed by `part` first.
pub const REFERENCE_TABLES: &[&str] = &["setting"];

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// The advisory lock key of migrations (the ASCII bytes of "CCMIGRAT").
pub const MIGRATION_LOCK: i64 = 0x4343_4d49_4752_4154;

/// What a migration run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// The schema version found before the run (0 for an empty database).
    pub from: i32,
    /// The schema version after the run.
    pub to: i32,
}

/// Brings the database behind `client` up to [`SCHEMA_VERSION`].
pub async fn migrate_client(client: &mut Client) -> Result<MigrationReport, PgStoreError> {
    let tx = client.transaction().await.map_err(pg_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg_error)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    integer PRIMARY KEY,
             name       text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await
    .map_err(pg_error)?;
    let row = tx
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .map_err(pg_error)?;
    let from: i32 = row.get(0);
    if from > SCHEMA_VERSION {
        return Err(PgStoreError::SchemaTooNew {
            found: from,
            supported: SCHEMA_VERSION,
        });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > from) {
        // Some migrations rebuild indexes (version 6: about a minute and a half at 1 M
        // resources on two cores), so the operator sees what the start-up is waiting for.
        tracing::info!(
            version = m.version,
            name = m.name,
            "applying PostgreSQL schema migration"
        );
        let started = std::time::Instant::now();
        tx.batch_execute(m.sql)
            .await
            .map_err(|e| PgStoreError::Migration {
                version: m.version,
                detail: crate::error::describe(&e),
            })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[&m.version, &m.name],
        )
        .await
        .map_err(pg_error)?;
        tracing::info!(
            version = m.version,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "applied PostgreSQL schema migration"
        );
    }
    tx.commit().await.map_err(pg_error)?;
    Ok(MigrationReport {
        from,
        to: SCHEMA_VERSION,
    })
}

/// The schema version of the database behind `client` (0 when never migrated).
pub async fn schema_version(client: &Client) -> Result<i32, PgStoreError> {
    let exists = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await
        .map_err(pg_error)?;
    if !exists.get::<_, bool>(0) {
        return Ok(0);
    }
    let row = client
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .map_err(pg_error)?;
    Ok(row.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{}", m.name);
        }
    }

    #[test]
    fn every_table_is_keyed_by_partition_first() {
        // Citus distributes by `part`: every table must carry it as its first column.
        for m in MIGRATIONS {
            for stmt in m.sql.split(';') {
                let s = stmt
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("--"))
                    .collect::<Vec<_>>()
                    .join(" ");
                let s = s.trim();
                if let Some(rest) = s.strip_prefix("CREATE TABLE ") {
                    let name = rest.split_whitespace().next().unwrap_or_default();
                    if REFERENCE_TABLES.contains(&name) {
                        continue;
                    }
                    let cols = rest.split_once('(').map(|(_, c)| c.trim_start());
                    assert!(
                        cols.is_some_and(|c| c.starts_with("part ")),
                        "table without leading part column: {s}"
                    );
                }
                if s.starts_with("CREATE INDEX") || s.starts_with("CREATE UNIQUE INDEX") {
                    let cols = s.split_once('(').map(|(_, c)| c.trim_start());
                    assert!(
                        cols.is_some_and(|c| c.starts_with("part")),
                        "index not led by part: {s}"
                    );
                }
            }
        }
    }
}
