//! The write buffer of a PostgreSQL write transaction: what the transaction knows about every
//! resource it has locked, and the rows of its writes not yet sent.
//!
//! A write locks its resource at once (the lock, and the version it decides, cannot wait), but
//! its `version` row, its move of the current-version pointer and its index rows stay here
//! until the transaction commits or reads something that needs them. They then go out in a
//! handful of statements whatever their number: one `COPY` into `version`, one `UPDATE … FROM
//! unnest` of the pointers, one statement deleting the old index rows of resources that had
//! some, and one `COPY` per index table.
//!
//! **Invariant:** a locked resource's entry is never stale. Its row lock keeps every other
//! transaction from writing it until this one ends, so what was read when it was locked, moved
//! by this transaction's own writes, is what the database will hold once the buffer is flushed.
//!
//! A batch claim made for writes that will create the resources (`WriteTx::prefetch`) is
//! *optimistic*: its row already holds what the create will leave there (version 1 at the
//! transaction's stamp, live), so the flush after the create has no pointer to move. Moving
//! one is an `UPDATE`, which in PostgreSQL writes a new heap tuple and new entries in both
//! indexes of `resource`: about 40% of the time PostgreSQL spent on the current-version rows of
//! an import. A claim that no write used is put back to a version-0 claim by the next flush,
//! which comes before any statement that reads the database and before commit, so no
//! statement ever sees a version-1 row without its version.

use crate::copy::{copy_index_rows, copy_versions, ResourceRows, VersionRow};
use crate::error::store_error;
use crate::index::{rows_by_table, TABLES};
use crate::read::{query_versions, VERSION_COLUMNS};
use chrono::{DateTime, Utc};
use crosscare_search::IndexEntry;
use crosscare_store::{ResourceVersion, Result, StoreError};
use deadpool_postgres::ClientWrapper;
use std::collections::{BTreeMap, HashMap, HashSet};

/// A resource's key: `(part, rtype, id)`.
pub(crate) type Key = (String, String, String);

/// The current-version row of a resource. Version 0 is a claim: no version exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Current {
    pub(crate) version: i64,
    pub(crate) ts: DateTime<Utc>,
    pub(crate) deleted: bool,
}

impl Current {
    /// The row of a version-0 claim (or of a resource that never existed).
    pub(crate) fn absent(ts: DateTime<Utc>) -> Current {
        Current {
            version: 0,
            ts,
            deleted: true,
        }
    }

    /// `Some` when a version exists.
    pub(crate) fn existing(&self) -> Option<&Current> {
        (self.version > 0).then_some(self)
    }

    /// The row is an existing, undeleted resource (what `count` counts).
    fn live(&self) -> bool {
        self.version > 0 && !self.deleted
    }

    /// The row a create at `stamp` leaves.
    fn created(stamp: DateTime<Utc>) -> Current {
        Current {
            version: 1,
            ts: stamp,
            deleted: false,
        }
    }
}

/// What a batch lock writes for the resources that do not exist.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Claim {
    /// A version-0 row: the absence is locked, nothing is assumed of what comes next.
    Absent,
    /// The row a create at this stamp leaves (see the module documentation).
    Created(DateTime<Utc>),
}

/// What the transaction knows about one resource it holds the row lock of.
pub(crate) struct Locked {
    /// The current-version row as this transaction sees it: as locked, then moved by each of
    /// its own writes.
    pub(crate) current: Current,
    /// This transaction inserted the version-0 claim row (deleted at commit if never written).
    pub(crate) claimed: bool,
    /// This transaction wrote a version.
    pub(crate) written: bool,
    /// The newest version, body included, once fetched or written; `None` until then.
    pub(crate) latest: Option<ResourceVersion>,
    /// The database may hold index rows for the resource, which its next flushed write
    /// deletes first. False for a new or deleted resource (index rows exist only for current,
    /// undeleted versions), which saves the deletion.
    pub(crate) indexed: bool,
    /// The index entries of a write not flushed yet (empty for a deletion).
    pub(crate) pending: Option<Vec<IndexEntry>>,
    /// The current-version row the database holds, as of the last statement this transaction
    /// sent about it: as locked, as claimed, or as the last flush moved it. A flush moves it to
    /// `current` wherever the two differ.
    db: Current,
}

impl Locked {
    pub(crate) fn new(current: Current, claimed: bool) -> Locked {
        Locked {
            current,
            claimed,
            written: false,
            latest: None,
            indexed: current.version > 0 && !current.deleted,
            pending: None,
            db: current,
        }
    }

    /// A resource claimed with the row its create at `stamp` will leave; until that write it
    /// is absent for this transaction.
    fn optimistic(stamp: DateTime<Utc>) -> Locked {
        Locked {
            db: Current::created(stamp),
            ..Locked::new(Current::absent(stamp), true)
        }
    }

    /// The database's row differs from what this transaction knows.
    fn unsynced(&self) -> bool {
        self.db != self.current
    }
}

/// The locked resources and pending rows of one write transaction.
#[derive(Default)]
pub(crate) struct Buffer {
    pub(crate) locked: HashMap<Key, Locked>,
    /// `version` rows not flushed yet, in write order.
    versions: Vec<VersionRow>,
    /// Keys with a pending write, each once (exactly the entries whose `pending` is `Some`).
    dirty: Vec<Key>,
    /// Keys claimed optimistically since the last flush, written or not.
    optimistic: Vec<Key>,
    /// Versions recorded by this transaction, flushed or not.
    pub(crate) recorded: u64,
    /// Set while a flush runs and left set if it fails: the transaction is then unusable
    /// (PostgreSQL aborted it, or the buffer no longer matches the database), so a later
    /// flush or commit must fail rather than report success.
    poisoned: bool,
}

/// The key of a resource.
pub(crate) fn key(part: &str, rtype: &str, id: &str) -> Key {
    (part.to_string(), rtype.to_string(), id.to_string())
}

/// Rounds of locking and claiming in [`Buffer::lock_all`]; ids still neither locked nor
/// claimed after them are left to the one-by-one path.
const LOCK_ROUNDS: usize = 3;

impl Buffer {
    pub(crate) fn get(&self, key: &Key) -> Option<&Locked> {
        self.locked.get(key)
    }

    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// Records a write of `key` (already locked): its version row, the moved pointer, the new
    /// version for reads and its index entries.
    pub(crate) fn record(
        &mut self,
        key: Key,
        row: VersionRow,
        version: ResourceVersion,
        index: Vec<IndexEntry>,
    ) -> Result<()> {
        let Some(locked) = self.locked.get_mut(&key) else {
            return Err(StoreError::Engine(format!(
                "{}/{} written without its row lock",
                key.1, key.2
            )));
        };
        locked.current = Current {
            version: row.version,
            ts: row.ts,
            deleted: version.is_deleted(),
        };
        locked.written = true;
        locked.latest = Some(version);
        if locked.pending.replace(index).is_none() {
            self.dirty.push(key);
        }
        self.versions.push(row);
        self.recorded += 1;
        Ok(())
    }

    /// How many more live resources of `part` (of one type, or all) the database will hold
    /// once the buffer is flushed, against what it holds now: `count` adds this to the
    /// database's count instead of flushing.
    pub(crate) fn live_delta(&self, part: &str, rtype: Option<&str>) -> i64 {
        self.outstanding()
            .filter(|(k, _)| k.0 == part && rtype.is_none_or(|t| t == k.1))
            .map(|(_, l)| i64::from(l.current.live()) - i64::from(l.db.live()))
            .sum()
    }

    /// Every entry the next flush has something to send for, each once: the written ones and
    /// the optimistic claims not written (yet).
    fn outstanding(&self) -> impl Iterator<Item = (&Key, &Locked)> {
        let written = self.dirty.iter();
        let claims = self
            .optimistic
            .iter()
            .filter(|k| self.locked.get(*k).is_some_and(|l| l.pending.is_none()));
        written
            .chain(claims)
            .filter_map(|k| self.locked.get(k).map(|l| (k, l)))
    }

    /// Claims that were never written: their version-0 rows are deleted before commit.
    pub(crate) fn unwritten_claims(&self) -> Vec<&Key> {
        let mut keys: Vec<&Key> = self
            .locked
            .iter()
            .filter(|(_, l)| l.claimed && !l.written)
            .map(|(k, _)| k)
            .collect();
        keys.sort();
        keys
    }

    /// Sends every pending row. Afterwards the database holds exactly what the buffer says.
    pub(crate) async fn flush(&mut self, client: &ClientWrapper) -> Result<()> {
        if self.poisoned {
            return Err(StoreError::Engine(
                "an earlier write of this transaction failed".into(),
            ));
        }
        if self.dirty.is_empty() && !self.outstanding().any(|(_, l)| l.unsynced()) {
            self.optimistic.clear();
            return Ok(());
        }
        self.poisoned = true;
        if let Some(k) = self.dirty.iter().find(|k| !self.locked.contains_key(*k)) {
            return Err(StoreError::Engine(format!(
                "{}/{} written without its row lock",
                k.1, k.2
            )));
        }
        if !self.versions.is_empty() {
            copy_versions(client, &self.versions).await?;
        }
        let mut by_part: BTreeMap<&str, Vec<(&Key, &Locked)>> = BTreeMap::new();
        for (k, l) in self.outstanding() {
            by_part.entry(&k.0).or_default().push((k, l));
        }
        for (part, entries) in &by_part {
            let (keys, locked): (Vec<&Key>, Vec<&Locked>) = entries
                .iter()
                .filter(|(_, l)| l.unsynced())
                .copied()
                .unzip();
            if !keys.is_empty() {
                move_pointers(client, part, &keys, &locked).await?;
            }
            let indexed: Vec<&Key> = entries
                .iter()
                .filter(|(_, l)| l.indexed && l.pending.is_some())
                .map(|(k, _)| *k)
                .collect();
            delete_index_rows(client, part, &indexed).await?;
        }
        let rows: Vec<ResourceRows<'_>> = self
            .dirty
            .iter()
            .filter_map(|k| {
                let entries = self.locked.get(k)?.pending.as_deref()?;
                (!entries.is_empty()).then(|| ResourceRows {
                    part: &k.0,
                    rtype: &k.1,
                    id: &k.2,
                    rows: rows_by_table(entries),
                })
            })
            .collect();
        copy_index_rows(client, &rows).await?;
        for k in std::mem::take(&mut self.dirty) {
            if let Some(l) = self.locked.get_mut(&k) {
                let entries = l.pending.take().unwrap_or_default();
                l.indexed = !entries.is_empty();
                l.db = l.current;
            }
        }
        for k in std::mem::take(&mut self.optimistic) {
            if let Some(l) = self.locked.get_mut(&k) {
                l.db = l.current;
            }
        }
        self.versions.clear();
        self.poisoned = false;
        Ok(())
    }

    /// Replaces the index rows of the current versions named by `items` (all in `part`): the
    /// buffer is flushed first, the resources locked together, and an item whose version is
    /// no longer current (or deleted) is skipped. Returns how many applied.
    pub(crate) async fn reindex(
        &mut self,
        client: &ClientWrapper,
        part: &str,
        items: Vec<crosscare_store::Reindexed>,
    ) -> Result<u64> {
        self.flush(client).await?;
        let keys: Vec<(String, String)> = items
            .iter()
            .map(|i| (i.resource_type.clone(), i.id.clone()))
            .collect();
        self.lock_all(client, part, &keys, Claim::Absent).await?;
        let applies = |i: &crosscare_store::Reindexed| {
            self.locked
                .get(&key(part, &i.resource_type, &i.id))
                .is_some_and(|l| l.current.version as u64 == i.version_id && !l.current.deleted)
        };
        let items: Vec<crosscare_store::Reindexed> =
            items.into_iter().filter(|i| applies(i)).collect();
        if items.is_empty() {
            return Ok(0);
        }
        let keys: Vec<Key> = items
            .iter()
            .map(|i| key(part, &i.resource_type, &i.id))
            .collect();
        self.poisoned = true;
        delete_index_rows(client, part, &keys.iter().collect::<Vec<_>>()).await?;
        let rows: Vec<ResourceRows<'_>> = items
            .iter()
            .filter(|i| !i.index.is_empty())
            .map(|i| ResourceRows {
                part,
                rtype: &i.resource_type,
                id: &i.id,
                rows: rows_by_table(&i.index),
            })
            .collect();
        copy_index_rows(client, &rows).await?;
        self.poisoned = false;
        for i in &items {
            if let Some(l) = self.locked.get_mut(&key(part, &i.resource_type, &i.id)) {
                l.indexed = !i.index.is_empty();
            }
        }
        Ok(items.len() as u64)
    }

    /// Locks (or claims) every resource of `keys` not locked yet, in key order, and fetches
    /// the current versions of those that exist: a few statements for all of them.
    pub(crate) async fn lock_all(
        &mut self,
        client: &ClientWrapper,
        part: &str,
        keys: &[(String, String)],
        claim: Claim,
    ) -> Result<()> {
        let mut wanted: Vec<&(String, String)> = keys
            .iter()
            .filter(|(t, i)| !self.locked.contains_key(&key(part, t, i)))
            .collect();
        wanted.sort();
        wanted.dedup();
        if wanted.is_empty() {
            return Ok(());
        }
        // Locks are taken in key order (the lock step is above the sort), so that two
        // transactions locking overlapping sets do not deadlock on each other. An id that a
        // concurrent transaction created while this one tried to claim it is locked again in
        // the next round, still in key order: left to the one-by-one path in entry order, two
        // transactions touching the same new ids in opposite orders deadlocked.
        let stmt = client
            .prepare_cached(
                "SELECT r.rtype, r.id, r.version, r.ts, r.deleted FROM resource r \
                 WHERE r.part = $1 AND (r.rtype, r.id) IN \
                       (SELECT * FROM unnest($2::text[], $3::text[])) \
                 ORDER BY r.rtype, r.id FOR UPDATE",
            )
            .await
            .map_err(store_error)?;
        let mut pending: Vec<&(String, String)> = wanted;
        let mut existing: Vec<(String, String, i64)> = Vec::new();
        for _ in 0..LOCK_ROUNDS {
            if pending.is_empty() {
                break;
            }
            let rtypes: Vec<&str> = pending.iter().map(|(t, _)| t.as_str()).collect();
            let ids: Vec<&str> = pending.iter().map(|(_, i)| i.as_str()).collect();
            let rows = client
                .query(&stmt, &[&part, &rtypes, &ids])
                .await
                .map_err(store_error)?;
            let mut found: HashSet<(String, String)> = HashSet::new();
            for row in rows {
                let (t, i): (String, String) = (row.get(0), row.get(1));
                let current = Current {
                    version: row.get(2),
                    ts: row.get(3),
                    deleted: row.get(4),
                };
                if current.version > 0 {
                    existing.push((t.clone(), i.clone(), current.version));
                }
                self.locked
                    .insert(key(part, &t, &i), Locked::new(current, false));
                found.insert((t, i));
            }
            let missing: Vec<&(String, String)> = pending
                .into_iter()
                .filter(|k| !found.contains(*k))
                .collect();
            if !missing.is_empty() {
                self.claim_all(client, part, &missing, claim).await?;
            }
            pending = missing
                .into_iter()
                .filter(|(t, i)| !self.locked.contains_key(&key(part, t, i)))
                .collect();
        }
        if !existing.is_empty() {
            self.fetch_latest(client, part, &existing).await?;
        }
        Ok(())
    }

    /// Claims absent resources in one statement, with version-0 rows or (`Claim::Created`)
    /// optimistic ones. An id that a concurrent transaction created meanwhile is not claimed;
    /// it is left out, and locked in the next round.
    async fn claim_all(
        &mut self,
        client: &ClientWrapper,
        part: &str,
        missing: &[&(String, String)],
        claim: Claim,
    ) -> Result<()> {
        let rtypes: Vec<&str> = missing.iter().map(|(t, _)| t.as_str()).collect();
        let ids: Vec<&str> = missing.iter().map(|(_, i)| i.as_str()).collect();
        let row = match claim {
            Claim::Absent => Current::absent(crate::write::now_micros()),
            Claim::Created(stamp) => Current::created(stamp),
        };
        let stmt = client
            .prepare_cached(
                "INSERT INTO resource (part, rtype, id, version, ts, deleted) \
                 SELECT $1, u.rtype, u.id, $5, $4, $6 \
                 FROM unnest($2::text[], $3::text[]) AS u(rtype, id) ORDER BY u.rtype, u.id \
                 ON CONFLICT DO NOTHING RETURNING rtype, id",
            )
            .await
            .map_err(store_error)?;
        let rows = client
            .query(
                &stmt,
                &[&part, &rtypes, &ids, &row.ts, &row.version, &row.deleted],
            )
            .await
            .map_err(store_error)?;
        for r in rows {
            let (t, i): (String, String) = (r.get(0), r.get(1));
            let k = key(part, &t, &i);
            let locked = match claim {
                Claim::Absent => Locked::new(row, true),
                Claim::Created(stamp) => {
                    self.optimistic.push(k.clone());
                    Locked::optimistic(stamp)
                }
            };
            self.locked.insert(k, locked);
        }
        Ok(())
    }

    /// Reads the current versions of locked resources in one statement. The statement runs
    /// after the locks were granted, so (under `READ COMMITTED`) it sees what the previous
    /// lock holders committed.
    async fn fetch_latest(
        &mut self,
        client: &ClientWrapper,
        part: &str,
        existing: &[(String, String, i64)],
    ) -> Result<()> {
        let rtypes: Vec<&str> = existing.iter().map(|(t, _, _)| t.as_str()).collect();
        let ids: Vec<&str> = existing.iter().map(|(_, i, _)| i.as_str()).collect();
        let versions: Vec<i64> = existing.iter().map(|(_, _, v)| *v).collect();
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM version v \
             JOIN unnest($2::text[], $3::text[], $4::int8[]) AS u(rtype, id, version) \
               ON v.rtype = u.rtype AND v.id = u.id AND v.version = u.version \
             WHERE v.part = $1"
        );
        for v in query_versions(client, &sql, &[&part, &rtypes, &ids, &versions]).await? {
            if let Some(l) = self.locked.get_mut(&key(part, &v.resource_type, &v.id)) {
                l.latest = Some(v);
            }
        }
        Ok(())
    }
}

/// Moves the current-version pointers of `keys` (all in `part`) to their newest versions.
async fn move_pointers(
    client: &ClientWrapper,
    part: &str,
    keys: &[&Key],
    locked: &[&Locked],
) -> Result<()> {
    let rtypes: Vec<&str> = keys.iter().map(|k| k.1.as_str()).collect();
    let ids: Vec<&str> = keys.iter().map(|k| k.2.as_str()).collect();
    let versions: Vec<i64> = locked.iter().map(|l| l.current.version).collect();
    let stamps: Vec<DateTime<Utc>> = locked.iter().map(|l| l.current.ts).collect();
    let deleted: Vec<bool> = locked.iter().map(|l| l.current.deleted).collect();
    let stmt = client
        .prepare_cached(
            "UPDATE resource r SET version = u.version, ts = u.ts, deleted = u.deleted \
             FROM unnest($2::text[], $3::text[], $4::int8[], $5::timestamptz[], $6::bool[]) \
                  AS u(rtype, id, version, ts, deleted) \
             WHERE r.part = $1 AND r.rtype = u.rtype AND r.id = u.id",
        )
        .await
        .map_err(store_error)?;
    let n = client
        .execute(&stmt, &[&part, &rtypes, &ids, &versions, &stamps, &deleted])
        .await
        .map_err(store_error)?;
    if n != keys.len() as u64 {
        // Every row is locked by this transaction, so none can have vanished.
        return Err(StoreError::Engine(format!(
            "{} of {} current-version rows missing while locked",
            keys.len() as u64 - n.min(keys.len() as u64),
            keys.len()
        )));
    }
    Ok(())
}

/// Deletes the index rows of `keys` (all in `part`) from every index table, in one statement.
async fn delete_index_rows(client: &ClientWrapper, part: &str, keys: &[&Key]) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let rtypes: Vec<&str> = keys.iter().map(|k| k.1.as_str()).collect();
    let ids: Vec<&str> = keys.iter().map(|k| k.2.as_str()).collect();
    let stmt = client
        .prepare_cached(&delete_index_sql())
        .await
        .map_err(store_error)?;
    client
        .execute(&stmt, &[&part, &rtypes, &ids])
        .await
        .map_err(store_error)?;
    Ok(())
}

/// One data-modifying CTE per index table, each deleting the rows of the listed resources.
fn delete_index_sql() -> String {
    let ctes: Vec<String> = TABLES
        .iter()
        .map(|t| {
            format!(
                "d_{0} AS (DELETE FROM {0} x USING k \
                 WHERE x.part = $1 AND x.rtype = k.rtype AND x.id = k.id)",
                t.name
            )
        })
        .collect();
    format!(
        "WITH k AS (SELECT * FROM unnest($2::text[], $3::text[]) AS k(rtype, id)), {} SELECT 1",
        ctes.join(", ")
    )
}

/// Deletes the version-0 rows of `keys` (claims never written), in one statement per partition.
pub(crate) async fn release_claims(client: &ClientWrapper, keys: &[&Key]) -> Result<()> {
    let mut by_part: BTreeMap<&str, Vec<&Key>> = BTreeMap::new();
    for k in keys {
        by_part.entry(&k.0).or_default().push(k);
    }
    let stmt = client
        .prepare_cached(
            "DELETE FROM resource r USING unnest($2::text[], $3::text[]) AS u(rtype, id) \
             WHERE r.part = $1 AND r.rtype = u.rtype AND r.id = u.id AND r.version = 0",
        )
        .await
        .map_err(store_error)?;
    for (part, keys) in by_part {
        let rtypes: Vec<&str> = keys.iter().map(|k| k.1.as_str()).collect();
        let ids: Vec<&str> = keys.iter().map(|k| k.2.as_str()).collect();
        client
            .execute(&stmt, &[&part, &rtypes, &ids])
            .await
            .map_err(store_error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_rows_of_every_table_are_deleted_by_key() {
        let sql = delete_index_sql();
        assert!(sql.starts_with("WITH k AS (SELECT * FROM unnest($2::text[], $3::text[])"));
        for t in TABLES {
            assert!(
                sql.contains(&format!("DELETE FROM {} x USING k", t.name)),
                "{sql}"
            );
        }
        assert!(sql.ends_with("SELECT 1"));
    }
}
