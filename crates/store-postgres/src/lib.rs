//! The PostgreSQL backend of the CrossCare [`Store`]: the same contract as the embedded
//! SQLite store, for deployments that run several servers against one database (and, later,
//! Citus for scale-out).
//!
//! See `docs/design/store-postgres.md` for the tables, locking and isolation, and
//! `docs/design/scale-out.md` for the Citus distribution plan.
//!
//! **Architecture invariants**
//! - The trait is synchronous; every call drives async `tokio-postgres` work on the store's own
//!   multi-threaded runtime with `Handle::block_on`. Callers must be on a thread that is not
//!   running async tasks (the server calls the store from `spawn_blocking`).
//! - Read transactions are `REPEATABLE READ READ ONLY` snapshots. Write transactions are
//!   `READ COMMITTED` and lock the current-version row of every resource they read or write
//!   (`SELECT … FOR UPDATE`), so writes to one resource serialise and a version check made
//!   inside the transaction stays true until commit.
//! - No connection goes back to the pool inside an open transaction.
//!
//! **API boundary**: [`PostgresStore::connect`], [`migrate`], the [`Store`] trait, and the test
//! support in [`testing`].

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod analyze;
mod buffer;
mod bulk;
mod copy;
mod error;
mod index;
pub mod migrate;
mod read;
mod scan;
mod search;
pub mod testing;
mod tx;
mod write;

pub use error::PgStoreError;
pub use migrate::{MigrationReport, SCHEMA_VERSION};

use crosscare_store::{ReadTx, Result, Store, StoreError, WriteTx};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use postgres_openssl::MakeTlsConnector;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::config::Host;

/// How long opening a TCP connection to the database may take before the call fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a call waits for a free pooled connection.
const POOL_WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// The PostgreSQL backend of [`Store`].
pub struct PostgresStore {
    pool: Pool,
    /// `Some` until drop; shut down in the background so that dropping the store never blocks
    /// or panics, whatever thread it happens on.
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    closed: AtomicBool,
    /// `host:port/dbname`, for error messages (never the password).
    target: String,
    /// When to refresh the planner's statistics after writes.
    auto_analyze: Arc<analyze::AutoAnalyze>,
}

pub use analyze::AnalyzePolicy;

/// Parses a `postgres://` URL (or a `key=value` connection string) and checks what this build
/// supports.
fn parse_url(url: &str) -> Result<(tokio_postgres::Config, String), PgStoreError> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e: tokio_postgres::Error| PgStoreError::InvalidUrl(e.to_string()))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("crosscare");
    }
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres")
        .to_string();
    Ok((config, format!("{host}:{port}/{db}")))
}

/// The environment variable naming a PEM file of trusted root certificates (libpq's name).
pub const ROOT_CERT_ENV: &str = "PGSSLROOTCERT";

/// The TLS connector for every connection. `sslmode` in the URL decides whether it is used:
/// `disable` never, `prefer` (the default) when the server offers TLS, `require` always (the
/// connection fails if the server does not offer it).
///
/// With [`ROOT_CERT_ENV`] set, the server certificate must chain to one of its roots and name
/// the host (libpq's `verify-full`); without it, the channel is encrypted but the server is
/// not authenticated, which is what libpq's `require` means too.
fn tls_connector() -> Result<MakeTlsConnector, PgStoreError> {
    let tls = |e: openssl::error::ErrorStack| PgStoreError::Tls(e.to_string());
    let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(tls)?;
    match std::env::var_os(ROOT_CERT_ENV) {
        Some(path) => {
            builder.set_ca_file(&path).map_err(|e| {
                PgStoreError::Tls(format!(
                    "{ROOT_CERT_ENV}={}: {e}",
                    std::path::Path::new(&path).display()
                ))
            })?;
            builder.set_verify(SslVerifyMode::PEER);
        }
        None => builder.set_verify(SslVerifyMode::NONE),
    }
    let verify = std::env::var_os(ROOT_CERT_ENV).is_some();
    let mut connector = MakeTlsConnector::new(builder.build());
    connector.set_callback(move |config, _domain| {
        config.set_verify_hostname(verify);
        Ok(())
    });
    Ok(connector)
}

fn runtime(threads: usize) -> Result<tokio::runtime::Runtime, PgStoreError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("crosscare-pg")
        .enable_all()
        .build()
        .map_err(|e| PgStoreError::Runtime(e.to_string()))
}

/// Applies every missing migration to the database at `url` (for `crosscare migrate`).
///
/// Safe to run from several processes at once: the runs queue on an advisory lock. It may be
/// called from any thread, async or not.
pub fn migrate(url: &str) -> Result<MigrationReport, PgStoreError> {
    let (config, target) = parse_url(url)?;
    off_runtime(|| migrate_on(config, target))
}

/// Runs `f` on a fresh plain thread, so that start-up calls ([`migrate`],
/// [`PostgresStore::connect`]) may block on the store's runtime even when the caller is an
/// async task (an `async fn main`, for instance), where blocking would panic.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

fn migrate_on(
    config: tokio_postgres::Config,
    target: String,
) -> Result<MigrationReport, PgStoreError> {
    let rt = runtime(1)?;
    let result = rt.block_on(async {
        let (mut client, connection) = config.connect(tls_connector()?).await.map_err(|e| {
            PgStoreError::Unavailable(format!(
                "cannot connect to PostgreSQL at {target}: {}",
                error::describe(&e)
            ))
        })?;
        let conn_task = tokio::spawn(connection);
        let report = migrate::migrate_client(&mut client).await;
        drop(client);
        let _ = conn_task.await;
        report
    });
    rt.shutdown_background();
    result
}

impl PostgresStore {
    /// Connects to `url` with a pool of at most `pool_size` connections, applies any missing
    /// migrations and checks that the database answers.
    ///
    /// It may be called from any thread (it does its blocking work on a scoped plain thread);
    /// the store's other methods must be called from threads that do not run async tasks
    /// (`spawn_blocking`, plain threads).
    ///
    /// TLS follows `sslmode` in the URL (see [`ROOT_CERT_ENV`] for certificate checks). An
    /// unreachable database, a wrong database name or wrong credentials fail here with a
    /// one-line [`StoreError::Unavailable`].
    pub fn connect(url: &str, pool_size: usize) -> Result<PostgresStore> {
        let (config, target) = parse_url(url)?;
        let rt = runtime(2)?;
        let manager = Manager::from_config(
            config,
            tls_connector()?,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| PgStoreError::Runtime(e.to_string()))?;
        let handle = rt.handle().clone();
        let store = PostgresStore {
            pool,
            runtime: Some(rt),
            handle,
            closed: AtomicBool::new(false),
            target,
            auto_analyze: analyze::AutoAnalyze::new(),
        };
        store
            .auto_analyze
            .watch(store.pool.clone(), store.handle.clone());
        off_runtime(|| {
            store.block_on(async {
                let mut client = store.client().await?;
                let client: &mut tokio_postgres::Client = &mut client;
                migrate::migrate_client(client).await?;
                Ok::<_, StoreError>(())
            })
        })?;
        Ok(store)
    }

    /// `host:port/dbname` of the database (without credentials).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The schema version of the connected database.
    pub fn schema_version(&self) -> Result<i32> {
        self.block_on(async {
            let client = self.client().await?;
            Ok(migrate::schema_version(&client).await?)
        })
    }

    /// `EXPLAIN ANALYZE` of the statements of a search (the plans PostgreSQL chooses with the
    /// current statistics and the actual values, run): the page statement, the count when the
    /// query asks for a total (after a `-- total` line), then each `_include` / `_revinclude`
    /// statement over the page's keys. One line per plan node; for tests and benchmarks.
    pub fn explain_search(
        &self,
        partitions: &[crosscare_store::PartitionId],
        query: &crosscare_search::SearchQuery,
    ) -> Result<Vec<String>> {
        self.block_on(async {
            let client = self.client().await?;
            // In a read transaction, as searches run (the page's `SET LOCAL`s need one).
            client
                .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await
                .map_err(error::store_error)?;
            let plan = search::explain(&client, partitions, query).await;
            client
                .batch_execute("ROLLBACK")
                .await
                .map_err(error::store_error)?;
            plan
        })
    }

    /// Runs `fut` to completion on the store's runtime from a synchronous caller.
    pub(crate) fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.handle.block_on(fut)
    }

    /// A pooled connection; an outage becomes [`StoreError::Unavailable`].
    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable("the store is closed".into()));
        }
        self.pool
            .get()
            .await
            .map_err(|e| error::pool_error(e, &self.target))
    }

    pub(crate) fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }

    /// Counts the versions of a committed transaction for the automatic `ANALYZE`.
    pub(crate) fn note_written(&self, versions: u64) {
        self.auto_analyze
            .note_written(versions, &self.pool, &self.handle);
    }

    /// Replaces the automatic `ANALYZE` policy (the default suits loads from thousands to
    /// millions of resources; tests shorten it).
    pub fn set_analyze_policy(&self, policy: AnalyzePolicy) {
        self.auto_analyze.set_policy(policy);
    }

    /// How many automatic `ANALYZE` statements the store has started.
    pub fn auto_analyze_runs(&self) -> u64 {
        self.auto_analyze.runs()
    }
}

/// `ANALYZE` of every table a write touches (PostgreSQL samples a bounded number of rows per
/// table, so it costs seconds even on large tables).
fn analyze_sql() -> String {
    let tables: Vec<&str> = index::TABLES.iter().map(|t| t.name).collect();
    format!("ANALYZE resource, version, {}", tables.join(", "))
}

impl Store for PostgresStore {
    fn read_tx(&self) -> Result<Box<dyn ReadTx + '_>> {
        Ok(Box::new(tx::PgTx::begin(self, tx::Mode::Read)?))
    }

    fn write_tx(&self) -> Result<Box<dyn WriteTx + '_>> {
        Ok(Box::new(tx::PgTx::begin(self, tx::Mode::Write)?))
    }

    fn analyze(&self) -> Result<()> {
        self.block_on(async {
            let client = self.client().await?;
            client
                .batch_execute(&analyze_sql())
                .await
                .map_err(error::store_error)
        })
    }

    fn close(&self) -> Result<()> {
        self.closed.store(true, Ordering::Release);
        self.pool.close();
        Ok(())
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.pool.close();
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, expected: std::result::Result<&str, &str>) {
        match (parse_url(url), expected) {
            (Ok((_, target)), Ok(t)) => assert_eq!(target, t, "{url}"),
            (Err(e), Err(fragment)) => {
                let m = e.to_string();
                assert!(m.contains(fragment), "{url}: {m}");
                assert!(!m.contains('\n'), "one line: {m}");
            }
            (got, want) => panic!("{url}: got {:?}, want {want:?}", got.map(|(_, t)| t)),
        }
    }

    #[test]
    fn urls() {
        check(
            "postgres://u:secret@db.example:6543/fhir",
            Ok("db.example:6543/fhir"),
        );
        check(
            "postgresql://127.0.0.1/fhir?sslmode=disable",
            Ok("127.0.0.1:5432/fhir"),
        );
        check("host=/run/pg dbname=x user=y", Ok("/run/pg:5432/x"));
        check("postgres://h/db?sslmode=require", Ok("h:5432/db"));
        check(
            "postgres://h/db?sslmode=verify-full",
            Err("invalid PostgreSQL URL"),
        );
        check("postgres://h:notaport/db", Err("invalid PostgreSQL URL"));
    }

    #[test]
    fn credentials_never_appear_in_the_target() {
        let (_, target) = parse_url("postgres://admin:hunter2@h/db").unwrap();
        assert!(!target.contains("hunter2"));
    }
}
