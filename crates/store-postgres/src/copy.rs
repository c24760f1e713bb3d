//! Binary `COPY … FROM STDIN` of `version` rows and index rows: how write transactions and
//! `bulk_load` send many rows in one statement per table.
//!
//! `COPY` only inserts; callers make sure the rows are new (the `version` key holds a version
//! number the writer has locked, and index rows of a resource are deleted before its new ones
//! are copied).

use crate::error::store_error;
use crate::index::{Cell, ColType, Rows, TABLES};
use chrono::{DateTime, Utc};
use crosscare_store::Result;
use deadpool_postgres::ClientWrapper;
use std::pin::pin;
use std::sync::Arc;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

/// One `version` row to insert.
pub(crate) struct VersionRow {
    pub(crate) part: String,
    pub(crate) rtype: String,
    pub(crate) id: String,
    pub(crate) version: i64,
    pub(crate) ts: DateTime<Utc>,
    pub(crate) change: i16,
    /// `None` for a deletion.
    pub(crate) body: Option<Arc<str>>,
}

/// The index rows of one resource, grouped by table (as `index::rows_by_table` returns them).
pub(crate) struct ResourceRows<'a> {
    pub(crate) part: &'a str,
    pub(crate) rtype: &'a str,
    pub(crate) id: &'a str,
    pub(crate) rows: Vec<Rows>,
}

/// Copies `rows` into `version` (its `seq` comes from the column default, `version_seq`).
pub(crate) async fn copy_versions(client: &ClientWrapper, rows: &[VersionRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let stmt = client
        .prepare_cached(
            "COPY version (part, rtype, id, version, ts, change, body) FROM STDIN (FORMAT binary)",
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
        Type::INT2,
        Type::TEXT,
    ];
    let mut w = pin!(BinaryCopyInWriter::new(sink, &types));
    for r in rows {
        let body: Option<&str> = r.body.as_deref();
        w.as_mut()
            .write(&[
                &r.part, &r.rtype, &r.id, &r.version, &r.ts, &r.change, &body,
            ])
            .await
            .map_err(store_error)?;
    }
    w.as_mut().finish().await.map_err(store_error)?;
    Ok(())
}

/// One `COPY` per index table that has rows among `resources`.
pub(crate) async fn copy_index_rows(
    client: &ClientWrapper,
    resources: &[ResourceRows<'_>],
) -> Result<()> {
    for (t, table) in TABLES.iter().enumerate() {
        if resources.iter().all(|r| r.rows[t].params.is_empty()) {
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
        let stmt = client.prepare_cached(&sql).await.map_err(store_error)?;
        let sink = client.copy_in(&stmt).await.map_err(store_error)?;
        let mut w = pin!(BinaryCopyInWriter::new(sink, &types));
        for r in resources {
            let rows = &r.rows[t];
            for (i, cells) in rows.cells.iter().enumerate() {
                let mut values: Vec<&(dyn ToSql + Sync)> = vec![
                    &r.part,
                    &r.rtype,
                    &r.id,
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
