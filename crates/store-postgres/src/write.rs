//! The write transaction: locks the current-version row of every resource it reads or writes,
//! decides each new version at once, and hands the rows to the transaction's write buffer
//! (`buffer.rs`), which sends them together before commit or before a read that needs them.

use crate::buffer::{key, release_claims, Claim, Current, Locked};
use crate::copy::VersionRow;
use crate::error::store_error;
use crate::read::change_code;
use crate::tx::PgTx;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use crosscare_search::IndexEntry;
use crosscare_store::{ChangeKind, PartitionId, ResourceVersion, Result, StoreError, WriteTx};
use deadpool_postgres::ClientWrapper;
use serde_json::Value;
use std::sync::Arc;

/// Now, truncated to the microsecond precision PostgreSQL stores.
pub(crate) fn now_micros() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// Locks and returns the current-version row, `None` when the resource never existed.
async fn lock_current(
    client: &ClientWrapper,
    partition: &PartitionId,
    resource_type: &str,
    id: &str,
) -> Result<Option<Current>> {
    let stmt = client
        .prepare_cached(
            "SELECT version, ts, deleted FROM resource \
             WHERE part = $1 AND rtype = $2 AND id = $3 FOR UPDATE",
        )
        .await
        .map_err(store_error)?;
    let row = client
        .query_opt(&stmt, &[&partition.0, &resource_type, &id])
        .await
        .map_err(store_error)?;
    Ok(row.map(|r| Current {
        version: r.get(0),
        ts: r.get(1),
        deleted: r.get(2),
    }))
}

/// Claims the current-version row of a new resource. Returns `false` when a concurrent
/// transaction created it first (this insert waited for that one to commit).
async fn claim_new(
    client: &ClientWrapper,
    partition: &PartitionId,
    resource_type: &str,
    id: &str,
    ts: DateTime<Utc>,
) -> Result<bool> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO resource (part, rtype, id, version, ts, deleted) \
             VALUES ($1, $2, $3, 0, $4, true) ON CONFLICT DO NOTHING",
        )
        .await
        .map_err(store_error)?;
    let n = client
        .execute(&stmt, &[&partition.0, &resource_type, &id, &ts])
        .await
        .map_err(store_error)?;
    Ok(n == 1)
}

/// Locks the current-version row; for a resource that never existed, claims it with a
/// version-0 row (invisible to readers: it has no `version` row) so that the absence is
/// locked too. Returns the row (`None` when freshly claimed) and whether this call claimed it.
async fn lock_or_claim(
    client: &ClientWrapper,
    partition: &PartitionId,
    resource_type: &str,
    id: &str,
) -> Result<(Option<Current>, bool)> {
    for _ in 0..3 {
        if let Some(c) = lock_current(client, partition, resource_type, id).await? {
            return Ok((Some(c), false));
        }
        if claim_new(client, partition, resource_type, id, now_micros()).await? {
            return Ok((None, true));
        }
        // A concurrent transaction held a claim: the insert waited for it. If it wrote, its
        // row is now committed and lockable; if it gave the claim up, we claim next round.
    }
    Err(StoreError::Conflict)
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
fn stamp_meta(resource: &mut Value, version: i64, last_updated: DateTime<Utc>) -> Result<()> {
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
        Value::String(last_updated.to_rfc3339_opts(SecondsFormat::Micros, true)),
    );
    Ok(())
}

/// The timestamp of a new version: the transaction's stamp, but always after the previous
/// version of the same resource (a clock step back must not reorder a resource's history).
fn version_ts(stamp: DateTime<Utc>, previous: Option<&Current>) -> DateTime<Utc> {
    match previous {
        Some(c) if c.version > 0 && c.ts >= stamp => c.ts + TimeDelta::microseconds(1),
        _ => stamp,
    }
}

impl PgTx<'_> {
    fn stamp(&mut self) -> DateTime<Utc> {
        *self.stamp.get_or_insert_with(now_micros)
    }

    /// Locks the current-version row of a resource (claiming it when the resource does not
    /// exist) unless this transaction holds it already; the buffer then knows its state.
    fn lock(&mut self, key: &crate::buffer::Key) -> Result<()> {
        if self.buffer.get(key).is_some() {
            return Ok(());
        }
        let client = self.client()?;
        let part = PartitionId(key.0.clone());
        let (current, claimed) = self
            .store
            .block_on(lock_or_claim(client, &part, &key.1, &key.2))?;
        let current = current.unwrap_or_else(|| Current::absent(now_micros()));
        self.buffer
            .locked
            .insert(key.clone(), Locked::new(current, claimed));
        Ok(())
    }

    /// `read` inside a write transaction: locks the current-version row (claiming it when the
    /// resource does not exist), so that a check made on the result holds until commit, and
    /// answers from what the transaction knows of it (its own writes included).
    pub(crate) fn locked_read(
        &mut self,
        partition: &PartitionId,
        resource_type: &str,
        id: &str,
    ) -> Result<Option<ResourceVersion>> {
        let key = key(&partition.0, resource_type, id);
        self.lock(&key)?;
        let Some(locked) = self.buffer.get(&key) else {
            return Ok(None);
        };
        let version = match (locked.current.existing(), &locked.latest) {
            (None, _) => return Ok(None),
            (Some(_), Some(latest)) => return Ok(Some(latest.clone())),
            (Some(c), None) => c.version,
        };
        // Locked but not fetched: the row lock keeps the version current, and this statement
        // sees it (under `READ COMMITTED` it runs on a snapshot taken after the lock).
        let client = self.client()?;
        let found = self.store.block_on(crate::read::vread(
            client,
            partition,
            resource_type,
            id,
            version as u64,
        ))?;
        if let (Some(v), Some(locked)) = (&found, self.buffer.locked.get_mut(&key)) {
            locked.latest = Some(v.clone());
        }
        Ok(found)
    }

    /// Sends the buffered writes, so that a statement reading the database sees them.
    pub(crate) fn flush(&mut self) -> Result<()> {
        let Some(client) = self.client.as_ref() else {
            return Err(StoreError::Unavailable(
                "the transaction is finished".into(),
            ));
        };
        self.store.block_on(self.buffer.flush(client))
    }

    /// Locks every listed resource of `partition` and fetches the current versions, in a few
    /// statements for all of them. The keys are those of writes to come, so the absent ones
    /// are claimed with the row their create will leave (`Claim::Created`), which fixes the
    /// transaction's stamp now.
    fn lock_all(&mut self, partition: &PartitionId, keys: &[(String, String)]) -> Result<()> {
        let claim = Claim::Created(self.stamp());
        let Some(client) = self.client.as_ref() else {
            return Err(StoreError::Unavailable(
                "the transaction is finished".into(),
            ));
        };
        self.store
            .block_on(self.buffer.lock_all(client, &partition.0, keys, claim))
    }
}

impl WriteTx for PgTx<'_> {
    fn put(
        &mut self,
        partition: &PartitionId,
        mut resource: Value,
        index_entries: Vec<IndexEntry>,
    ) -> Result<ResourceVersion> {
        let (resource_type, id) = type_and_id(&resource)?;
        let stamp = self.stamp();
        let key = key(&partition.0, &resource_type, &id);
        self.lock(&key)?;
        let Some(locked) = self.buffer.get(&key) else {
            return Err(StoreError::Engine(format!(
                "{resource_type}/{id} is not locked"
            )));
        };
        let current = locked.current.existing().copied();
        let version = current.as_ref().map_or(1, |c| c.version + 1);
        let change = match &current {
            Some(c) if !c.deleted => ChangeKind::Update,
            _ => ChangeKind::Create,
        };
        let ts = version_ts(stamp, current.as_ref());
        stamp_meta(&mut resource, version, ts)?;
        let body: Arc<str> = serde_json::to_string(&resource)
            .map_err(|e| StoreError::InvalidResource(e.to_string()))?
            .into();
        let written = ResourceVersion {
            resource_type: resource_type.clone(),
            id: id.clone(),
            version_id: version as u64,
            last_updated: ts,
            change,
            body: Some(body.clone()),
        };
        let row = VersionRow {
            part: partition.0.clone(),
            rtype: resource_type,
            id,
            version,
            ts,
            change: change_code(change),
            body: Some(body),
        };
        self.buffer
            .record(key, row, written.clone(), index_entries)?;
        Ok(written)
    }

    fn delete(
        &mut self,
        partition: &PartitionId,
        resource_type: &str,
        id: &str,
    ) -> Result<Option<ResourceVersion>> {
        let stamp = self.stamp();
        let key = key(&partition.0, resource_type, id);
        if self.buffer.get(&key).is_none() {
            // Deleting an absent resource writes nothing, so its absence is not claimed.
            let client = self.client()?;
            let Some(current) =
                self.store
                    .block_on(lock_current(client, partition, resource_type, id))?
            else {
                return Ok(None);
            };
            self.buffer
                .locked
                .insert(key.clone(), Locked::new(current, false));
        }
        let Some(current) = self.buffer.get(&key).map(|l| l.current) else {
            return Ok(None);
        };
        if current.version == 0 || current.deleted {
            return Ok(None);
        }
        let version = current.version + 1;
        let ts = version_ts(stamp, Some(&current));
        let deletion = ResourceVersion {
            resource_type: resource_type.to_string(),
            id: id.to_string(),
            version_id: version as u64,
            last_updated: ts,
            change: ChangeKind::Delete,
            body: None,
        };
        let row = VersionRow {
            part: partition.0.clone(),
            rtype: resource_type.to_string(),
            id: id.to_string(),
            version,
            ts,
            change: change_code(ChangeKind::Delete),
            body: None,
        };
        self.buffer.record(key, row, deletion.clone(), Vec::new())?;
        Ok(Some(deletion))
    }

    fn prefetch(&mut self, partition: &PartitionId, keys: &[(String, String)]) -> Result<()> {
        self.lock_all(partition, keys)
    }

    fn reindex(
        &mut self,
        partition: &PartitionId,
        items: Vec<crosscare_store::Reindexed>,
    ) -> Result<u64> {
        let Some(client) = self.client.as_ref() else {
            return Err(StoreError::Unavailable(
                "the transaction is finished".into(),
            ));
        };
        self.store
            .block_on(self.buffer.reindex(client, &partition.0, items))
    }

    fn put_setting(&mut self, key: &str, value: &str) -> Result<()> {
        let client = self.client()?;
        self.store.block_on(async {
            client
                .execute(
                    "INSERT INTO setting (key, value) VALUES ($1, $2) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    &[&key, &value],
                )
                .await
                .map_err(crate::error::store_error)
        })?;
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        self.flush()?;
        let claims = self.buffer.unwritten_claims();
        if !claims.is_empty() {
            let client = self.client()?;
            self.store.block_on(release_claims(client, &claims))?;
        }
        self.finish()?;
        self.store.note_written(self.buffer.recorded);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(resource: Value, expected: std::result::Result<(&str, &str), &str>) {
        match (type_and_id(&resource), expected) {
            (Ok((t, i)), Ok((et, ei))) => assert_eq!((t.as_str(), i.as_str()), (et, ei)),
            (Err(e), Err(fragment)) => assert!(e.to_string().contains(fragment), "{e}"),
            (got, want) => panic!("{resource}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn type_and_id_come_from_the_resource() {
        check(
            serde_json::json!({"resourceType": "Patient", "id": "p1"}),
            Ok(("Patient", "p1")),
        );
        check(serde_json::json!({"id": "p1"}), Err("resourceType"));
        check(
            serde_json::json!({"resourceType": "Patient", "id": ""}),
            Err("id"),
        );
    }

    #[test]
    fn meta_is_stamped_and_kept() {
        let mut r = serde_json::json!({"resourceType": "Patient", "id": "p", "meta": {"tag": [1]}});
        let ts = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        stamp_meta(&mut r, 3, ts).unwrap();
        assert_eq!(r["meta"]["versionId"], "3");
        assert_eq!(r["meta"]["lastUpdated"], "2023-11-14T22:13:20.123456Z");
        assert_eq!(r["meta"]["tag"][0], 1);
    }

    #[test]
    fn version_time_never_goes_back() {
        let t0 = DateTime::from_timestamp_micros(1_000).unwrap();
        let prev = Current {
            version: 1,
            ts: DateTime::from_timestamp_micros(5_000).unwrap(),
            deleted: false,
        };
        assert_eq!(version_ts(t0, Some(&prev)).timestamp_micros(), 5_001);
        assert_eq!(version_ts(t0, None), t0);
    }
}
