//! The storage contract of CrossCare and its backends.
//!
//! A [`Store`] keeps every version of every resource, per partition, with the search index
//! entries of each current version, and offers read and write transactions. The embedded
//! backend is [`sqlite::SqliteStore`]; PostgreSQL comes as a second backend behind the same
//! trait. Nothing backend-specific leaks out of this crate.
//!
//! **Architecture invariants**
//! - A write is acknowledged only once `WriteTx::commit` returned, and then it is durable.
//! - The store assigns `meta.versionId` (1, 2, …, per resource) and `meta.lastUpdated` (the
//!   transaction's commit time, microsecond precision, UTC); callers never set them.
//! - Every call names its partition; no call can see another partition by accident.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod conformance;
pub mod conformance_scan;
pub mod conformance_search;
mod scan;
pub mod search_sql;
pub mod sqlite;

pub use scan::{CompartmentScope, ScanCursor, ScanPage, ScanQuery};

use chrono::{DateTime, Utc};
use crosscare_search::{IndexEntry, SearchQuery};
use std::sync::Arc;

/// The partition holding the hospital's own data.
pub const DEFAULT_PARTITION: &str = "default";

/// A partition name: `default`, or one per lab workspace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionId(pub String);

impl PartitionId {
    pub fn default_partition() -> Self {
        PartitionId(DEFAULT_PARTITION.to_string())
    }
}

/// How a version came to be, for history entries (`Bundle.entry.request.method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Create,
    Update,
    Delete,
}

/// One stored version of a resource.
#[derive(Debug, Clone)]
pub struct ResourceVersion {
    pub resource_type: String,
    pub id: String,
    pub version_id: u64,
    pub last_updated: DateTime<Utc>,
    pub change: ChangeKind,
    /// The resource JSON with `id` and `meta` as stored; `None` for a deletion.
    pub body: Option<Arc<str>>,
}

impl ResourceVersion {
    pub fn is_deleted(&self) -> bool {
        self.change == ChangeKind::Delete
    }
}

/// Which history to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// `None` for system-level history.
    pub resource_type: Option<String>,
    /// `Some` for instance-level history (requires `resource_type`).
    pub id: Option<String>,
    /// `_since`: only versions updated at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// `_at`: the versions current at this instant.
    pub at: Option<DateTime<Utc>>,
    /// Page size.
    pub count: usize,
    /// Number of versions to skip (paging).
    pub offset: usize,
}

/// One page of search results.
#[derive(Debug, Clone, Default)]
pub struct SearchPage {
    pub matches: Vec<ResourceVersion>,
    pub included: Vec<ResourceVersion>,
    /// Total number of matches, when asked for.
    pub total: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("storage engine error: {0}")]
    Engine(String),
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    #[error("conflicting concurrent write, try again")]
    Conflict,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("unsupported search: {0}")]
    UnsupportedSearch(String),
    /// The resource handed to `put` cannot be stored (no `resourceType`/`id`, not an object).
    #[error("invalid resource: {0}")]
    InvalidResource(String),
    /// The backend does not offer this call.
    #[error("not supported by this storage backend: {0}")]
    Unsupported(String),
    /// A [`ScanCursor`] that this backend did not issue.
    #[error("invalid scan cursor: {0}")]
    InvalidCursor(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A storage backend.
pub trait Store: Send + Sync + 'static {
    /// A consistent snapshot for reading; never blocks on writers.
    fn read_tx(&self) -> Result<Box<dyn ReadTx + '_>>;
    /// An exclusive, atomic write transaction (all of it commits, or none).
    fn write_tx(&self) -> Result<Box<dyn WriteTx + '_>>;
    /// Flushes and closes; later calls fail with `Unavailable`.
    fn close(&self) -> Result<()>;
    /// Refreshes the statistics the backend's query planner chooses plans with, after a bulk
    /// load changed the data a lot (bulk importers call it when they finish). Results never
    /// depend on it, only the speed of searches. The default does nothing.
    fn analyze(&self) -> Result<()> {
        Ok(())
    }
    /// Whether a read by id is local work of a few microseconds that never waits on a writer,
    /// a lock or the network, and may run on an async worker thread. `false` (the default)
    /// sends every request to the blocking pool; a backend that drives its own async runtime
    /// (PostgreSQL) must keep it, since blocking on it from a runtime thread would panic.
    fn point_reads_are_local(&self) -> bool {
        false
    }
}

/// Reads, inside a snapshot.
pub trait ReadTx {
    /// The newest version of a resource (which may be a deletion), or `None` if it never existed.
    fn read(
        &mut self,
        partition: &PartitionId,
        resource_type: &str,
        id: &str,
    ) -> Result<Option<ResourceVersion>>;
    fn vread(
        &mut self,
        partition: &PartitionId,
        resource_type: &str,
        id: &str,
        version_id: u64,
    ) -> Result<Option<ResourceVersion>>;
    /// History entries newest first, and the total number of entries matching the query.
    fn history(
        &mut self,
        partition: &PartitionId,
        query: &HistoryQuery,
    ) -> Result<(Vec<ResourceVersion>, u64)>;
    fn search(&mut self, partitions: &[PartitionId], query: &SearchQuery) -> Result<SearchPage>;
    /// The number of current (not deleted) resources in a partition, of one type or of all.
    fn count(&mut self, partition: &PartitionId, resource_type: Option<&str>) -> Result<u64>;
    /// The resource types of every current resource that refers to `target_type/target_id`
    /// (a local reference, outside contained resources), or `None` when the backend does not
    /// tell. A hint for compartment searches (`Patient/1/*`, `$everything`), which then skip
    /// the types that cannot have members by reference: it may list more types, never fewer.
    fn referring_types(
        &mut self,
        partitions: &[PartitionId],
        target_type: &str,
        target_id: &str,
    ) -> Result<Option<Vec<String>>> {
        let _ = (partitions, target_type, target_id);
        Ok(None)
    }
    /// One batch of a scan over the resources of one type, in resource order: the version of
    /// each resource current at `query.until` (or now), not deleted, updated after
    /// `query.since`, and in the compartment when one is given. Call again with `page.next`
    /// until it is `None`; each batch holds at most `query.limit` resources, so a caller never
    /// holds a whole type in memory. Batches may be read in different transactions: the
    /// cursor is a position, not a snapshot.
    fn scan(&mut self, partition: &PartitionId, query: &ScanQuery) -> Result<ScanPage> {
        let _ = (partition, query);
        Err(StoreError::Unsupported(
            "scan (bulk export) is not implemented for this backend yet".into(),
        ))
    }
    /// Every partition that holds or held a resource, sorted by name.
    fn partitions(&mut self) -> Result<Vec<PartitionId>>;
    /// A server-wide setting (see [`WriteTx::put_setting`]); `None` when never set.
    fn setting(&mut self, key: &str) -> Result<Option<String>>;
}

/// New index entries for the current version of one resource (see [`WriteTx::reindex`]).
#[derive(Debug, Clone)]
pub struct Reindexed {
    pub resource_type: String,
    pub id: String,
    /// The version the entries were extracted from.
    pub version_id: u64,
    pub index: Vec<IndexEntry>,
}

/// Writes. A write transaction also reads its own writes.
pub trait WriteTx: ReadTx {
    /// Stores a new version of `resource` (its `resourceType` and `id` must already be set).
    /// The store sets `meta.versionId` and `meta.lastUpdated` and indexes `index`.
    fn put(
        &mut self,
        partition: &PartitionId,
        resource: serde_json::Value,
        index: Vec<IndexEntry>,
    ) -> Result<ResourceVersion>;
    /// Records a deletion; returns `None` when there was nothing live to delete.
    fn delete(
        &mut self,
        partition: &PartitionId,
        resource_type: &str,
        id: &str,
    ) -> Result<Option<ResourceVersion>>;
    /// Announces resources of `partition` (as `(resourceType, id)`) that this transaction is
    /// about to read or write, so that a backend may lock and fetch them together rather than
    /// one by one. A hint only: every read and write behaves exactly as it would without it.
    /// A backend that locks here holds the locks until the transaction ends, as a read inside
    /// the transaction would.
    fn prefetch(&mut self, partition: &PartitionId, keys: &[(String, String)]) -> Result<()> {
        let _ = (partition, keys);
        Ok(())
    }
    /// Replaces the index entries of resources of `partition` without writing a version (an
    /// online reindex after the search parameters changed). An item applies only if its
    /// `version_id` is still the current, undeleted version: a resource written since then
    /// was indexed by that write. Returns how many items applied.
    fn reindex(&mut self, partition: &PartitionId, items: Vec<Reindexed>) -> Result<u64>;
    /// Sets a small server-wide value (the state of custom search parameters), committed with
    /// the transaction; every server sharing the store reads it.
    fn put_setting(&mut self, key: &str, value: &str) -> Result<()>;
    /// Makes every write of the transaction durable, atomically.
    fn commit(self: Box<Self>) -> Result<()>;
}
