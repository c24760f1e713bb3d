//! The write transaction: assigns the commit sequence and timestamp, writes the version and
//! current-version rows, replaces the index entries, and commits atomically.

use super::checkpoint::Checkpointer;
use super::read::{self, change_code};
use super::{engine, history, index};
use crate::{
    ChangeKind, HistoryQuery, PartitionId, ResourceVersion, Result, SearchPage, StoreError,
};
use chrono::{SecondsFormat, Utc};
use crosscare_search::{IndexEntry, SearchQuery};
use parking_lot::{MappedMutexGuard, Mutex};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use std::sync::Arc;

/// The transaction's place in the commit order, allocated at its first write.
#[derive(Debug, Clone, Copy)]
struct TxStamp {
    tx: i64,
    ts: i64,
}

/// The current-version row of one resource.
struct Current {
    rid: i64,
    version: i64,
    deleted: bool,
}

pub(crate) struct SqliteWriteTx<'a> {
    conn: MappedMutexGuard<'a, Connection>,
    stamp: Option<TxStamp>,
    finished: bool,
    index: bool,
    checkpointer: &'a Mutex<Checkpointer>,
}

impl<'a> SqliteWriteTx<'a> {
    pub(crate) fn new(
        conn: MappedMutexGuard<'a, Connection>,
        index: bool,
        checkpointer: &'a Mutex<Checkpointer>,
    ) -> Self {
        SqliteWriteTx {
            conn,
            stamp: None,
            finished: false,
            index,
            checkpointer,
        }
    }

    fn conn(&self) -> Result<&Connection> {
        Ok(&self.conn)
    }

    /// Allocates `tx = last + 1` and `ts = max(now, last ts + 1µs)`, so that timestamps strictly
    /// increase with the commit order even if the wall clock steps back.
    fn stamp(&mut self) -> Result<TxStamp> {
        if let Some(s) = self.stamp {
            return Ok(s);
        }
        let last: Option<i64> = self
            .conn
            .prepare_cached("SELECT ts FROM tx_log ORDER BY tx DESC LIMIT 1")
            .map_err(engine)?
            .query_row([], |r| r.get(0))
            .optional()
            .map_err(engine)?;
        let now = Utc::now().timestamp_micros();
        let ts = match last {
            Some(l) if l >= now => l + 1,
            _ => now,
        };
        self.conn
            .prepare_cached("INSERT INTO tx_log (ts) VALUES (?1)")
            .map_err(engine)?
            .execute([ts])
            .map_err(engine)?;
        let stamp = TxStamp {
            tx: self.conn.last_insert_rowid(),
            ts,
        };
        self.stamp = Some(stamp);
        Ok(stamp)
    }

    fn partition_for_write(&self, partition: &PartitionId) -> Result<i64> {
        if let Some(pid) = read::partition_id(&self.conn, partition)? {
            return Ok(pid);
        }
        self.conn
            .prepare_cached("INSERT INTO partition (name) VALUES (?1)")
            .map_err(engine)?
            .execute([&partition.0])
            .map_err(engine)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn current(&self, pid: i64, resource_type: &str, id: &str) -> Result<Option<Current>> {
        self.conn
            .prepare_cached(
                "SELECT rid, version, deleted FROM resource WHERE pid = ?1 AND rtype = ?2 AND id = ?3",
            )
            .map_err(engine)?
            .query_row(params![pid, resource_type, id], |r| {
                Ok(Current {
                    rid: r.get(0)?,
                    version: r.get(1)?,
                    deleted: r.get::<_, i64>(2)? != 0,
                })
            })
            .optional()
            .map_err(engine)
    }

    /// Writes one version row and points the resource row at it; returns the resource row id.
    #[allow(clippy::too_many_arguments)]
    fn write_version(
        &mut self,
        pid: i64,
        resource_type: &str,
        id: &str,
        current: Option<&Current>,
        version: i64,
        change: ChangeKind,
        body: Option<&str>,
    ) -> Result<i64> {
        let stamp = self.stamp()?;
        let deleted = i64::from(change == ChangeKind::Delete);
        let rid = match current {
            Some(c) => {
                self.conn
                    .prepare_cached(
                        "UPDATE resource SET version = ?2, tx = ?3, ts = ?4, deleted = ?5 WHERE rid = ?1",
                    )
                    .map_err(engine)?
                    .execute(params![c.rid, version, stamp.tx, stamp.ts, deleted])
                    .map_err(engine)?;
                c.rid
            }
            None => {
                self.conn
                    .prepare_cached(
                        "INSERT INTO resource (pid, rtype, id, version, tx, ts, deleted) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )
                    .map_err(engine)?
                    .execute(params![
                        pid,
                        resource_type,
                        id,
                        version,
                        stamp.tx,
                        stamp.ts,
                        deleted
                    ])
                    .map_err(engine)?;
                self.conn.last_insert_rowid()
            }
        };
        self.conn
            .prepare_cached(
                "INSERT INTO version (rid, version, pid, rtype, tx, ts, change, body) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(engine)?
            .execute(params![
                rid,
                version,
                pid,
                resource_type,
                stamp.tx,
                stamp.ts,
                change_code(change),
                body
            ])
            .map_err(engine)?;
        Ok(rid)
    }
}

/// The `resourceType` and `id` of a resource about to be stored.
fn type_and_id(resource: &Value) -> Result<(String, String)> {
    let ty = resource
        .get("resourceType")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| StoreError::InvalidResource("resourceType is missing".into()))?;
    let id = resource
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| StoreError::InvalidResource("id is missing".into()))?;
    Ok((ty.to_string(), id.to_string()))
}

/// Sets `meta.versionId` and `meta.lastUpdated`, keeping every other `meta` element.
fn stamp_meta(resource: &mut Value, version: i64, last_updated: &str) -> Result<()> {
    let Some(obj) = resource.as_object_mut() else {
        return Err(StoreError::InvalidResource(
            "a resource is a JSON object".into(),
        ));
    };
    let meta = obj
        .entry("meta")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    let Some(meta) = meta.as_object_mut() else {
        return Err(StoreError::InvalidResource("meta is not an object".into()));
    };
    meta.insert("versionId".into(), Value::String(version.to_string()));
    meta.insert(
        "lastUpdated".into(),
        Value::String(last_updated.to_string()),
    );
    Ok(())
}

impl crate::WriteTx for SqliteWriteTx<'_> {
    fn put(
        &mut self,
        partition: &PartitionId,
        mut resource: Value,
        index_entries: Vec<IndexEntry>,
    ) -> Result<ResourceVersion> {
        let (resource_type, id) = type_and_id(&resource)?;
        let pid = self.partition_for_write(partition)?;
        let current = self.current(pid, &resource_type, &id)?;
        let version = current.as_ref().map_or(1, |c| c.version + 1);
        let change = match &current {
            Some(c) if !c.deleted => ChangeKind::Update,
            _ => ChangeKind::Create,
        };
        let stamp = self.stamp()?;
        let last_updated = read::micros_to_time(stamp.ts)?;
        stamp_meta(
            &mut resource,
            version,
            &last_updated.to_rfc3339_opts(SecondsFormat::Micros, true),
        )?;
        let body = serde_json::to_string(&resource)
            .map_err(|e| StoreError::InvalidResource(e.to_string()))?;
        let rid = self.write_version(
            pid,
            &resource_type,
            &id,
            current.as_ref(),
            version,
            change,
            Some(&body),
        )?;
        if current.is_some() {
            index::clear(&self.conn, rid)?;
        }
        if self.index {
            index::insert(&self.conn, rid, pid, &resource_type, &index_entries)?;
        }
        Ok(ResourceVersion {
            resource_type,
            id,
            version_id: version as u64,
            last_updated,
            change,
            body: Some(Arc::from(body)),
        })
    }

    fn delete(
        &mut self,
        partition: &PartitionId,
        resource_type: &str,
        id: &str,
    ) -> Result<Option<ResourceVersion>> {
        let Some(pid) = read::partition_id(&self.conn, partition)? else {
            return Ok(None);
        };
        let Some(current) = self.current(pid, resource_type, id)? else {
            return Ok(None);
        };
        if current.deleted {
            return Ok(None);
        }
        let version = current.version + 1;
        let rid = self.write_version(
            pid,
            resource_type,
            id,
            Some(&current),
            version,
            ChangeKind::Delete,
            None,
        )?;
        index::clear(&self.conn, rid)?;
        let stamp = self.stamp()?;
        Ok(Some(ResourceVersion {
            resource_type: resource_type.to_string(),
            id: id.to_string(),
            version_id: version as u64,
            last_updated: read::micros_to_time(stamp.ts)?,
            change: ChangeKind::Delete,
            body: None,
        }))
    }

    fn reindex(&mut self, partition: &PartitionId, items: Vec<crate::Reindexed>) -> Result<u64> {
        let Some(pid) = read::partition_id(&self.conn, partition)? else {
            return Ok(0);
        };
        let mut applied = 0;
        for item in items {
            let Some(current) = self.current(pid, &item.resource_type, &item.id)? else {
                continue;
            };
            if current.deleted || current.version as u64 != item.version_id {
                continue;
            }
            index::clear(&self.conn, current.rid)?;
            if self.index {
                index::insert(
                    &self.conn,
                    current.rid,
                    pid,
                    &item.resource_type,
                    &item.index,
                )?;
            }
            applied += 1;
        }
        Ok(applied)
    }

    fn put_setting(&mut self, key: &str, value: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO setting (key, value) VALUES (?1, ?2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .map_err(engine)?
            .execute(params![key, value])
            .map_err(engine)?;
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        self.finished = true;
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            // A failed COMMIT may leave the transaction open; roll it back so the writer
            // connection is clean for the next transaction.
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(engine(e));
        }
        self.checkpointer.lock().wake();
        Ok(())
    }
}

impl Drop for SqliteWriteTx<'_> {
    fn drop(&mut self) {
        if !self.finished {
            // Dropping without commit discards every write of the transaction.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

mod impl_for_writer {
    use super::*;
    use crate::sqlite::read;
    read::impl_read_tx!(SqliteWriteTx<'_>);
}
