//! Bulk loading of new resources with `COPY … FROM STDIN (FORMAT binary)`: the `resource`,
//! `version` and index rows of a whole batch in one transaction, one `COPY` per table.
//!
//! Every loaded resource becomes version 1 (a create). The ids must be new in the partition:
//! an id that exists already, or that appears twice in the batch, violates the primary key and
//! fails the whole load with [`StoreError::Conflict`], leaving nothing behind.

use crate::copy::{copy_index_rows, copy_versions, ResourceRows, VersionRow};
use crate::error::store_error;
use crate::index::rows_by_table;
use crate::read::change_code;
use crate::tx::{Mode, PgTx};
use crate::PostgresStore;
use chrono::{DateTime, SecondsFormat, Utc};
use crosscare_search::IndexEntry;
use crosscare_store::{ChangeKind, PartitionId, Result, StoreError};
use serde_json::Value;
use std::pin::pin;
use std::sync::Arc;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

/// One resource of a bulk load, already typed and stamped.
struct Prepared {
    rtype: String,
    id: String,
    body: Arc<str>,
    index: Vec<IndexEntry>,
}

fn prepare(mut resource: Value, index: Vec<IndexEntry>, ts: DateTime<Utc>) -> Result<Prepared> {
    let field = |name: &str| {
        resource
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| StoreError::InvalidResource(format!("{name} is missing")))
    };
    let (rtype, id) = (field("resourceType")?, field("id")?);
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
    meta.insert("versionId".into(), Value::String("1".into()));
    meta.insert(
        "lastUpdated".into(),
        Value::String(ts.to_rfc3339_opts(SecondsFormat::Micros, true)),
    );
    let body =
        serde_json::to_string(&resource).map_err(|e| StoreError::InvalidResource(e.to_string()))?;
    Ok(Prepared {
        rtype,
        id,
        body: body.into(),
        index,
    })
}

impl PostgresStore {
    /// Loads new resources (each with its index entries) into `partition` in one transaction
    /// using `COPY`; returns the number of resources loaded. All of them get version 1 and the
    /// same `lastUpdated`. Fails with [`StoreError::Conflict`] if any id exists already.
    pub fn bulk_load(
        &self,
        partition: &PartitionId,
        resources: impl IntoIterator<Item = (Value, Vec<IndexEntry>)>,
    ) -> Result<u64> {
        let ts = crate::write::now_micros();
        let batch = resources
            .into_iter()
            .map(|(r, index)| prepare(r, index, ts))
            .collect::<Result<Vec<_>>>()?;
        // A write transaction whose buffer stays empty: the rows go straight out with `COPY`,
        // and dropping the transaction on an error rolls everything back.
        let mut tx = PgTx::begin(self, Mode::Write)?;
        let part = &partition.0;
        let client = tx.client()?;
        self.block_on(async {
            let stmt = client
                .prepare_cached(
                    "COPY resource (part, rtype, id, version, ts, deleted) \
                     FROM STDIN (FORMAT binary)",
                )
                .await
                .map_err(store_error)?;
            let sink = client.copy_in(&stmt).await.map_err(store_error)?;
            let types = [
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::INT8,
                Type::TIMESTAMPTZ,
                Type::BOOL,
            ];
            let mut w = pin!(BinaryCopyInWriter::new(sink, &types));
            let (version, deleted) = (1i64, false);
            for p in &batch {
                w.as_mut()
                    .write(&[part, &p.rtype, &p.id, &version, &ts, &deleted])
                    .await
                    .map_err(store_error)?;
            }
            w.as_mut().finish().await.map_err(store_error)?;

            let versions: Vec<VersionRow> = batch
                .iter()
                .map(|p| VersionRow {
                    part: part.clone(),
                    rtype: p.rtype.clone(),
                    id: p.id.clone(),
                    version,
                    ts,
                    change: change_code(ChangeKind::Create),
                    body: Some(p.body.clone()),
                })
                .collect();
            copy_versions(client, &versions).await?;
            let rows: Vec<ResourceRows<'_>> = batch
                .iter()
                .map(|p| ResourceRows {
                    part,
                    rtype: &p.rtype,
                    id: &p.id,
                    rows: rows_by_table(&p.index),
                })
                .collect();
            copy_index_rows(client, &rows).await
        })?;
        tx.finish()?;
        self.note_written(batch.len() as u64);
        Ok(batch.len() as u64)
    }
}
