//! Reads shared by read and write transactions: partition lookup, `read`, `vread`, and the
//! mapping of `version` rows to [`ResourceVersion`].

use super::{engine, history, SqliteStore};
use crate::{
    ChangeKind, HistoryQuery, PartitionId, ResourceVersion, Result, SearchPage, StoreError,
};
use chrono::{DateTime, Utc};
use crosscare_search::SearchQuery;
use rusqlite::{Connection, OptionalExtension, Row};
use std::sync::Arc;

/// The columns [`version_from_row`] reads, from a `version` row aliased `v`.
pub(crate) const VERSION_COLUMNS: &str = "v.rtype, r.id, v.version, v.ts, v.change, v.body";

pub(crate) fn change_code(change: ChangeKind) -> i64 {
    match change {
        ChangeKind::Create => 0,
        ChangeKind::Update => 1,
        ChangeKind::Delete => 2,
    }
}

pub(crate) fn micros_to_time(ts: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(ts)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {ts} out of range")))
}

/// Maps a row selected with [`VERSION_COLUMNS`].
pub(crate) fn version_from_row(row: &Row<'_>) -> rusqlite::Result<RawVersion> {
    Ok(RawVersion {
        resource_type: row.get(0)?,
        id: row.get(1)?,
        version_id: row.get(2)?,
        ts: row.get(3)?,
        change: row.get(4)?,
        body: row.get(5)?,
    })
}

/// A `version` row before validation.
pub(crate) struct RawVersion {
    resource_type: String,
    id: String,
    version_id: i64,
    ts: i64,
    change: i64,
    body: Option<String>,
}

impl RawVersion {
    pub(crate) fn into_version(self) -> Result<ResourceVersion> {
        let change = match self.change {
            0 => ChangeKind::Create,
            1 => ChangeKind::Update,
            2 => ChangeKind::Delete,
            other => return Err(StoreError::Corrupt(format!("change kind {other}"))),
        };
        Ok(ResourceVersion {
            resource_type: self.resource_type,
            id: self.id,
            version_id: u64::try_from(self.version_id)
                .map_err(|_| StoreError::Corrupt(format!("version {}", self.version_id)))?,
            last_updated: micros_to_time(self.ts)?,
            change,
            body: self.body.map(Arc::from),
        })
    }
}

/// Runs `sql` and maps every row with [`version_from_row`].
pub(crate) fn query_versions(
    conn: &Connection,
    sql: &str,
    params: &[rusqlite::types::Value],
) -> Result<Vec<ResourceVersion>> {
    let mut stmt = conn.prepare_cached(sql).map_err(engine)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(params.iter()), version_from_row)
        .map_err(engine)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.map_err(engine)?.into_version()?);
    }
    Ok(out)
}

pub(crate) fn partition_id(conn: &Connection, partition: &PartitionId) -> Result<Option<i64>> {
    conn.prepare_cached("SELECT pid FROM partition WHERE name = ?1")
        .map_err(engine)?
        .query_row([&partition.0], |r| r.get(0))
        .optional()
        .map_err(engine)
}

pub(crate) fn partitions(conn: &Connection) -> Result<Vec<PartitionId>> {
    let mut stmt = conn
        .prepare_cached("SELECT name FROM partition ORDER BY name")
        .map_err(engine)?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(engine)?;
    rows.map(|r| r.map(PartitionId).map_err(engine)).collect()
}

pub(crate) fn setting(conn: &Connection, key: &str) -> Result<Option<String>> {
    conn.prepare_cached("SELECT value FROM setting WHERE key = ?1")
        .map_err(engine)?
        .query_row([key], |r| r.get(0))
        .optional()
        .map_err(engine)
}

pub(crate) fn read(
    conn: &Connection,
    partition: &PartitionId,
    resource_type: &str,
    id: &str,
) -> Result<Option<ResourceVersion>> {
    let Some(pid) = partition_id(conn, partition)? else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM resource r \
         JOIN version v ON v.rid = r.rid AND v.version = r.version \
         WHERE r.pid = ?1 AND r.rtype = ?2 AND r.id = ?3"
    );
    let v = query_versions(
        conn,
        &sql,
        &[
            pid.into(),
            resource_type.to_string().into(),
            id.to_string().into(),
        ],
    )?;
    Ok(v.into_iter().next())
}

pub(crate) fn vread(
    conn: &Connection,
    partition: &PartitionId,
    resource_type: &str,
    id: &str,
    version_id: u64,
) -> Result<Option<ResourceVersion>> {
    let Some(pid) = partition_id(conn, partition)? else {
        return Ok(None);
    };
    let Ok(version) = i64::try_from(version_id) else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM resource r \
         JOIN version v ON v.rid = r.rid AND v.version = ?4 \
         WHERE r.pid = ?1 AND r.rtype = ?2 AND r.id = ?3"
    );
    let v = query_versions(
        conn,
        &sql,
        &[
            pid.into(),
            resource_type.to_string().into(),
            id.to_string().into(),
            version.into(),
        ],
    )?;
    Ok(v.into_iter().next())
}

/// A read transaction: one pooled connection inside `BEGIN DEFERRED`, holding a WAL snapshot.
pub(crate) struct SqliteReadTx<'a> {
    pub(crate) store: &'a SqliteStore,
    pub(crate) conn: Option<Connection>,
}

impl SqliteReadTx<'_> {
    fn conn(&self) -> Result<&Connection> {
        self.conn
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("read transaction is finished".into()))
    }
}

impl Drop for SqliteReadTx<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // A read transaction has nothing to undo; ending it releases the snapshot.
            let ended = conn
                .prepare_cached("COMMIT")
                .and_then(|mut s| s.execute([]))
                .is_ok();
            if ended {
                self.store.return_reader(conn);
            }
        }
    }
}

/// The [`ReadTx`] methods over any connection (reader snapshot or the writer).
macro_rules! impl_read_tx {
    ($ty:ty) => {
        impl crate::ReadTx for $ty {
            fn read(
                &mut self,
                partition: &PartitionId,
                resource_type: &str,
                id: &str,
            ) -> Result<Option<ResourceVersion>> {
                read::read(self.conn()?, partition, resource_type, id)
            }
            fn vread(
                &mut self,
                partition: &PartitionId,
                resource_type: &str,
                id: &str,
                version_id: u64,
            ) -> Result<Option<ResourceVersion>> {
                read::vread(self.conn()?, partition, resource_type, id, version_id)
            }
            fn history(
                &mut self,
                partition: &PartitionId,
                query: &HistoryQuery,
            ) -> Result<(Vec<ResourceVersion>, u64)> {
                history::history(self.conn()?, partition, query)
            }
            fn search(
                &mut self,
                partitions: &[PartitionId],
                query: &SearchQuery,
            ) -> Result<SearchPage> {
                crate::sqlite::search::search(self.conn()?, partitions, query)
            }
            fn count(
                &mut self,
                partition: &PartitionId,
                resource_type: Option<&str>,
            ) -> Result<u64> {
                history::count_current(self.conn()?, partition, resource_type)
            }
            fn scan(
                &mut self,
                partition: &PartitionId,
                query: &crate::ScanQuery,
            ) -> Result<crate::ScanPage> {
                crate::sqlite::scan::scan(self.conn()?, partition, query)
            }
            fn partitions(&mut self) -> Result<Vec<PartitionId>> {
                read::partitions(self.conn()?)
            }
            fn setting(&mut self, key: &str) -> Result<Option<String>> {
                read::setting(self.conn()?, key)
            }
        }
    };
}
pub(crate) use impl_read_tx;

mod impl_for_reader {
    use super::*;
    use crate::sqlite::read;
    impl_read_tx!(SqliteReadTx<'_>);
}
