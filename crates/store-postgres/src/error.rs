//! Errors of the PostgreSQL backend and their mapping onto [`StoreError`].
//!
//! The classification is what the REST layer relies on: serialization failures, deadlocks and
//! unique violations on concurrent creates become [`StoreError::Conflict`] (retry), anything
//! that means "no usable connection" becomes [`StoreError::Unavailable`] (HTTP 503), the rest
//! is [`StoreError::Engine`].

use crosscare_store::StoreError;
use tokio_postgres::error::SqlState;

/// Errors of connecting and migrating, before a [`crate::PostgresStore`] exists.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgStoreError {
    #[error("invalid PostgreSQL URL: {0}")]
    InvalidUrl(String),
    #[error("cannot set up TLS to PostgreSQL: {0}")]
    Tls(String),
    #[error("PostgreSQL is unavailable: {0}")]
    Unavailable(String),
    #[error("conflicting concurrent write")]
    Conflict,
    #[error("database schema version {found} is newer than this build supports ({supported})")]
    SchemaTooNew { found: i32, supported: i32 },
    #[error("migration {version} failed: {detail}")]
    Migration { version: i32, detail: String },
    #[error("PostgreSQL error: {0}")]
    Engine(String),
    #[error("cannot start the PostgreSQL client runtime: {0}")]
    Runtime(String),
}

impl From<PgStoreError> for StoreError {
    fn from(e: PgStoreError) -> Self {
        match e {
            PgStoreError::Unavailable(m) => StoreError::Unavailable(m),
            PgStoreError::Conflict => StoreError::Conflict,
            PgStoreError::Engine(m) => StoreError::Engine(m),
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

/// How an error from the driver should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Conflict,
    Unavailable,
    Engine,
}

pub(crate) fn classify(e: &tokio_postgres::Error) -> Class {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
            || *code == SqlState::UNIQUE_VIOLATION
            || *code == SqlState::LOCK_NOT_AVAILABLE
        {
            return Class::Conflict;
        }
        let c = code.code();
        // Class 08 (connection exception), 57P0x (shutdown, cannot connect now), 53300
        // (too many connections): the database is there but not serving us right now.
        if c.starts_with("08") || c.starts_with("57P") || c == "53300" {
            return Class::Unavailable;
        }
        return Class::Engine;
    }
    if e.is_closed() || source_is_io(e) {
        Class::Unavailable
    } else {
        Class::Engine
    }
}

fn source_is_io(e: &tokio_postgres::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = cur {
        if s.is::<std::io::Error>() {
            return true;
        }
        cur = s.source();
    }
    false
}

/// A one-line description: the server's message and code for database errors, the driver's
/// message and its causes otherwise.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    let mut out = e.to_string();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = cur {
        let m = s.to_string();
        if !out.contains(&m) {
            out.push_str(": ");
            out.push_str(&m);
        }
        cur = s.source();
    }
    out
}

pub(crate) fn pg_error(e: tokio_postgres::Error) -> PgStoreError {
    match classify(&e) {
        Class::Conflict => PgStoreError::Conflict,
        Class::Unavailable => PgStoreError::Unavailable(describe(&e)),
        Class::Engine => PgStoreError::Engine(describe(&e)),
    }
}

pub(crate) fn store_error(e: tokio_postgres::Error) -> StoreError {
    match classify(&e) {
        Class::Conflict => StoreError::Conflict,
        Class::Unavailable => StoreError::Unavailable(describe(&e)),
        Class::Engine => StoreError::Engine(describe(&e)),
    }
}

/// Maps a pool checkout failure: every way of not getting a connection is an outage.
pub(crate) fn pool_error(e: deadpool_postgres::PoolError, target: &str) -> StoreError {
    use deadpool_postgres::PoolError;
    match e {
        PoolError::Backend(e) => StoreError::Unavailable(format!(
            "cannot connect to PostgreSQL at {target}: {}",
            describe(&e)
        )),
        PoolError::Closed => StoreError::Unavailable("the store is closed".into()),
        other => {
            StoreError::Unavailable(format!("cannot connect to PostgreSQL at {target}: {other}"))
        }
    }
}
