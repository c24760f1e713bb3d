//! The embedded store on SQLite: one database file in a data directory, WAL mode, one writer
//! connection behind a mutex and a pool of reader connections (readers read WAL snapshots and
//! never wait for the writer).
//!
//! See `docs/design/store.md` for the tables, the commit protocol and the durability argument.

mod checkpoint;
mod history;
mod index;
mod read;
mod scan;
pub mod schema;
mod search;
mod write;

use crate::{ReadTx, Result, Store, StoreError, WriteTx};
use parking_lot::{Mutex, MutexGuard};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The database file name inside the data directory.
pub const DB_FILE: &str = "crosscare.db";

/// How commits reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// `synchronous=FULL`: every commit fsyncs the WAL before it returns, so an acknowledged
    /// write survives a process kill and a power loss. The default.
    Full,
    /// `synchronous=NORMAL`: survives a process kill, but the last commits may be lost on power
    /// loss. Only for bulk loads that can be repeated.
    Normal,
}

/// Options of [`SqliteStore::open`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    pub synchronous: Synchronous,
    /// How long a connection waits on a lock held by another process before failing.
    pub busy_timeout: Duration,
    /// Reader connections kept open (more are opened on demand and closed when returned).
    /// Opening one re-reads the schema and faults the memory map in again, so the pool holds
    /// as many as concurrent requests usually need.
    pub read_pool_size: usize,
    /// Page cache of each reader connection, in KiB.
    pub cache_size_kib: u32,
    /// Page cache of the writer connection, in KiB. Every index row is an insert at a random
    /// place of a large B-tree; at 100,000 resources a 16 MiB writer cache made `put` a third
    /// slower than 128 MiB (docs/bench/ingest.md). Pages are allocated as they are used, so
    /// an idle or small store does not pay for it.
    pub writer_cache_size_kib: u32,
    /// Write the search index tables (turn off only to measure the write ceiling).
    pub index: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous: Synchronous::Full,
            busy_timeout: Duration::from_secs(5),
            read_pool_size: 32,
            cache_size_kib: 16 * 1024,
            writer_cache_size_kib: 128 * 1024,
            index: true,
        }
    }
}

/// The embedded SQLite backend of [`Store`].
pub struct SqliteStore {
    path: PathBuf,
    options: SqliteOptions,
    writer: Mutex<Option<Connection>>,
    readers: Mutex<Vec<Connection>>,
    /// Copies committed WAL frames into the database file off the writer's path.
    checkpointer: Mutex<checkpoint::Checkpointer>,
    closed: AtomicBool,
    /// Keeps a temporary data directory alive for [`SqliteStore::temporary`].
    _temp: Option<tempfile::TempDir>,
}

pub(crate) fn engine(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Conflict
        }
        Some(rusqlite::ErrorCode::DatabaseCorrupt) | Some(rusqlite::ErrorCode::NotADatabase) => {
            StoreError::Corrupt(e.to_string())
        }
        _ => StoreError::Engine(e.to_string()),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `dir`, migrating its schema.
    pub fn open(dir: &Path, options: SqliteOptions) -> Result<SqliteStore> {
        Self::open_inner(dir, options, None)
    }

    /// A store in a fresh temporary directory, removed when the store is dropped (tests,
    /// benchmarks).
    pub fn temporary() -> Result<SqliteStore> {
        Self::temporary_with(SqliteOptions::default())
    }

    /// [`SqliteStore::temporary`] with options.
    pub fn temporary_with(options: SqliteOptions) -> Result<SqliteStore> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let path = dir.path().to_path_buf();
        Self::open_inner(&path, options, Some(dir))
    }

    fn open_inner(
        dir: &Path,
        options: SqliteOptions,
        temp: Option<tempfile::TempDir>,
    ) -> Result<SqliteStore> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", dir.display())))?;
        let path = dir.join(DB_FILE);
        let mut writer = open_connection(&path, &options, false)?;
        match schema::migrate(&mut writer).map_err(engine)? {
            Ok(()) => {}
            Err(found) => {
                return Err(StoreError::Unavailable(format!(
                    "database schema version {found} is newer than this build ({})",
                    schema::SCHEMA_VERSION
                )))
            }
        }
        writer
            .execute_batch(&format!(
                "PRAGMA wal_autocheckpoint={}",
                checkpoint::WRITER_BACKSTOP_PAGES
            ))
            .map_err(engine)?;
        let checkpointer = checkpoint::Checkpointer::start(&path, &options)?;
        Ok(SqliteStore {
            path,
            options,
            writer: Mutex::new(Some(writer)),
            readers: Mutex::new(Vec::new()),
            checkpointer: Mutex::new(checkpointer),
            closed: AtomicBool::new(false),
            _temp: temp,
        })
    }

    /// How many background checkpoints have run since the store was opened.
    pub fn checkpoints_run(&self) -> u64 {
        self.checkpointer.lock().runs()
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `PRAGMA integrity_check` result (`["ok"]` when sound).
    pub fn integrity_check(&self) -> Result<Vec<String>> {
        let conn = self.take_reader()?;
        let mut stmt = conn.prepare("PRAGMA integrity_check").map_err(engine)?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(engine)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(engine)?;
        drop(stmt);
        self.return_reader(conn);
        Ok(rows)
    }

    /// The query plan SQLite picks for `sql` (one line per step), for index tests.
    pub fn explain(
        &self,
        sql: &str,
        params: &[crate::search_sql::SqlValue],
    ) -> Result<Vec<String>> {
        let conn = self.take_reader()?;
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .map_err(engine)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params.iter()), |r| {
                r.get::<_, String>(3)
            })
            .map_err(engine)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(engine)?;
        drop(stmt);
        self.return_reader(conn);
        Ok(rows)
    }

    /// The query plan of the page statement of a search (`EXPLAIN QUERY PLAN`), one line per
    /// step, for tests that pin index use.
    pub fn explain_search(
        &self,
        partitions: &[crate::PartitionId],
        query: &crosscare_search::SearchQuery,
    ) -> Result<Vec<String>> {
        let conn = self.take_reader()?;
        let mut pids = Vec::new();
        for p in partitions {
            if let Some(pid) = read::partition_id(&conn, p)? {
                pids.push(crate::search_sql::SqlValue::Integer(pid));
            }
        }
        let ids: Vec<i64> = pids
            .iter()
            .filter_map(|p| match p {
                crate::search_sql::SqlValue::Integer(i) => Some(*i),
                _ => None,
            })
            .collect();
        let pinned = search::pin(&conn, &ids, query);
        self.return_reader(conn);
        let pinned = pinned?;
        let query = pinned.as_ref().unwrap_or(query);
        let scope = crate::search_sql::scope_of(query, pids);
        let plan = crate::search_sql::compile(&crate::search_sql::Sqlite, query, &scope)?;
        let sql = search::page_sql(&plan, 10, 0);
        self.explain(&sql.text, &sql.params)
    }

    /// `EXPLAIN QUERY PLAN` of the `_include` statements, then the `_revinclude` ones, of a
    /// search, as run over a page of two resources (tests pin their index use with it).
    pub fn explain_includes(
        &self,
        partitions: &[crate::PartitionId],
        query: &crosscare_search::SearchQuery,
    ) -> Result<Vec<Vec<String>>> {
        let conn = self.take_reader()?;
        let mut pids = Vec::new();
        for p in partitions {
            if let Some(pid) = read::partition_id(&conn, p)? {
                pids.push(pid);
            }
        }
        self.return_reader(conn);
        let forward = query.result.include.iter().map(|i| (i, false));
        let reverse = query.result.revinclude.iter().map(|i| (i, true));
        forward
            .chain(reverse)
            .map(|(include, rev)| {
                let sql = search::include_sql(&pids, include, rev, &[1, 2]);
                self.explain(&sql.text, &sql.params)
            })
            .collect()
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(StoreError::Unavailable("the store is closed".into()))
        } else {
            Ok(())
        }
    }

    fn take_reader(&self) -> Result<Connection> {
        self.check_open()?;
        if let Some(c) = self.readers.lock().pop() {
            return Ok(c);
        }
        open_connection(&self.path, &self.options, true)
    }

    fn return_reader(&self, conn: Connection) {
        let mut pool = self.readers.lock();
        if pool.len() < self.options.read_pool_size && !self.closed.load(Ordering::Acquire) {
            pool.push(conn);
        }
    }
}

fn open_connection(path: &Path, options: &SqliteOptions, read_only: bool) -> Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(engine)?;
    conn.busy_timeout(options.busy_timeout).map_err(engine)?;
    if !read_only {
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(engine)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Unavailable(format!(
                "cannot switch {} to WAL mode (got {mode})",
                path.display()
            )));
        }
    }
    let sync = match options.synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    // Reads through a memory map of the database file (SQLite still writes with pwrite, so the
    // durability protocol is unchanged): every page a search touches was otherwise a pread into
    // each connection's own cache; a token search over 7,866 matches spent 60% of its CPU time
    // in those system calls.
    let cache_kib = if read_only {
        options.cache_size_kib
    } else {
        options.writer_cache_size_kib
    };
    conn.execute_batch(&format!(
        "PRAGMA synchronous={sync}; PRAGMA foreign_keys=OFF; PRAGMA cache_size=-{cache_kib}; \
         PRAGMA temp_store=MEMORY; PRAGMA mmap_size={MMAP_BYTES};"
    ))
    .map_err(engine)?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

/// Upper bound of the read-only memory map of the database file (address space, not memory:
/// the kernel's page cache backs it and reclaims it under pressure).
const MMAP_BYTES: u64 = 1 << 34;

impl Store for SqliteStore {
    fn read_tx(&self) -> Result<Box<dyn ReadTx + '_>> {
        let conn = self.take_reader()?;
        // The snapshot starts at the first read; reading the schema pins it now. Cached
        // statements: parsing these two on every read was 8% of a read request's CPU time.
        conn.prepare_cached("BEGIN DEFERRED")
            .and_then(|mut s| s.execute([]))
            .and_then(|_| conn.prepare_cached("SELECT count(*) FROM sqlite_master"))
            .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
            .map_err(engine)?;
        Ok(Box::new(read::SqliteReadTx {
            store: self,
            conn: Some(conn),
        }))
    }

    fn point_reads_are_local(&self) -> bool {
        // WAL readers work on their own snapshot: a primary-key lookup never waits for the writer.
        true
    }

    fn write_tx(&self) -> Result<Box<dyn WriteTx + '_>> {
        self.check_open()?;
        let guard = self.writer.lock();
        let guard = MutexGuard::try_map(guard, |c| c.as_mut())
            .map_err(|_| StoreError::Unavailable("the store is closed".into()))?;
        guard.execute_batch("BEGIN IMMEDIATE").map_err(engine)?;
        Ok(Box::new(write::SqliteWriteTx::new(
            guard,
            self.options.index,
            &self.checkpointer,
        )))
    }

    fn close(&self) -> Result<()> {
        self.closed.store(true, Ordering::Release);
        self.readers.lock().clear();
        self.checkpointer.lock().stop();
        let mut w = self.writer.lock();
        if let Some(conn) = w.take() {
            conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
                .map_err(engine)?;
            conn.close().map_err(|(_, e)| engine(e))?;
        }
        Ok(())
    }
}
