//! Bulk loading of new resources with `COPY … FROM STDIN (FORMAT binary)`: the `resource`,
//! `version` and index rows of a whole batch in one transaction, one `COPY` per table.
//!
//! Every loaded resource becomes version 1 (a create). The ids must be new in the partition:
//! an id that exists already, or that appears twice in the batch, violates the primary key and
//! fails the whole load with [`StoreError::Conflict`], leaving nothing behind.

use crate::error::store_error;
use crate::index::{rows_by_table, Cell, ColType, TABLES};
use crate::PostgresStore;
use chrono::{DateTime, SecondsFormat, Utc};
use crosscare_search::IndexEntry;
use crosscare_store::{PartitionId, Result, StoreError};
use serde_json::Value;
use std::pin::pin;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

/// One resource of a bulk load, already typed and stamped.
struct Prepared {
    rtype: String,
    id: String,
    body: String,
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
        body,
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
        let ts = {
            let now = Utc::now();
            DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
        };
        let batch = resources
            .into_iter()
            .map(|(r, index)| prepare(r, index, ts))
            .collect::<Result<Vec<_>>>()?;
        self.block_on(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(store_error)?;
            let part = &partition.0;
            let (version, created, deleted) = (1i64, 0i16, false);

            let sink = tx
                .copy_in("COPY resource (part, rtype, id, version, ts, deleted) FROM STDIN (FORMAT binary)")
                .await
                .map_err(store_error)?;
            let types = [Type::TEXT, Type::TEXT, Type::TEXT, Type::INT8, Type::TIMESTAMPTZ, Type::BOOL];
            let mut w = pin!(BinaryCopyInWriter::new(sink, &types));
            for p in &batch {
                w.as_mut()
                    .write(&[part, &p.rtype, &p.id, &version, &ts, &deleted])
                    .await
                    .map_err(store_error)?;
            }
            w.as_mut().finish().await.map_err(store_error)?;

            let sink = tx
                .copy_in("COPY version (part, rtype, id, version, ts, change, body) FROM STDIN (FORMAT binary)")
                .await
                .map_err(store_error)?;
            let types = [Type::TEXT, Type::TEXT, Type::TEXT, Type::INT8, Type::TIMESTAMPTZ, Type::INT2, Type::TEXT];
            let mut w = pin!(BinaryCopyInWriter::new(sink, &types));
            for p in &batch {
                w.as_mut()
                    .write(&[part, &p.rtype, &p.id, &version, &ts, &created, &p.body])
                    .await
                    .map_err(store_error)?;
            }
            w.as_mut().finish().await.map_err(store_error)?;

            copy_index_rows(&tx, part, &batch).await?;
            tx.commit().await.map_err(store_error)?;
            Ok(batch.len() as u64)
        })
    }
}

/// One `COPY` per index table with the rows of the whole batch.
async fn copy_index_rows(
    tx: &deadpool_postgres::Transaction<'_>,
    part: &String,
    batch: &[Prepared],
) -> Result<()> {
    let per_resource: Vec<_> = batch.iter().map(|p| rows_by_table(&p.index)).collect();
    for (t, table) in TABLES.iter().enumerate() {
        if per_resource.iter().all(|rows| rows[t].params.is_empty()) {
            continue;
        }
        let mut cols = vec!["part", "rtype", "id", "param", "grp", "cid"];
        let mut types = vec![
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::INT4,
            Type::TEXT,
        ];
        for (name, ty) in table.columns {
            cols.push(name);
            types.push(match ty {
                ColType::Text => Type::TEXT,
                ColType::BigInt => Type::INT8,
                ColType::Float => Type::FLOAT8,
            });
        }
        let sql = format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            table.name,
            cols.join(", ")
        );
        let sink = tx.copy_in(&sql).await.map_err(store_error)?;
        let mut w = pin!(BinaryCopyInWriter::new(sink, &types));
        for (p, rows) in batch.iter().zip(&per_resource) {
            let rows = &rows[t];
            for (i, cells) in rows.cells.iter().enumerate() {
                let mut values: Vec<&(dyn ToSql + Sync)> = vec![
                    part,
                    &p.rtype,
                    &p.id,
                    &rows.params[i],
                    &rows.grps[i],
                    &rows.cids[i],
                ];
                for c in cells {
                    values.push(match c {
                        Cell::Text(s) => s,
                        Cell::BigInt(v) => v,
                        Cell::Float(v) => v,
                    });
                }
                w.as_mut().write(&values).await.map_err(store_error)?;
            }
        }
        w.as_mut().finish().await.map_err(store_error)?;
    }
    Ok(())
}
