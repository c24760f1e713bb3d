//! Reads shared by read and write transactions: `read`, `vread`, history and counts, and the
//! mapping of `version` rows to [`ResourceVersion`].

use crate::error::store_error;
use chrono::{DateTime, Utc};
use crosscare_store::{ChangeKind, HistoryQuery, PartitionId, ResourceVersion, Result, StoreError};
use deadpool_postgres::ClientWrapper;
use std::sync::Arc;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

/// The columns [`version_from_row`] reads, from a `version` row aliased `v`.
pub(crate) const VERSION_COLUMNS: &str = "v.rtype, v.id, v.version, v.ts, v.change, v.body";

pub(crate) fn change_code(change: ChangeKind) -> i16 {
    match change {
        ChangeKind::Create => 0,
        ChangeKind::Update => 1,
        ChangeKind::Delete => 2,
    }
}

/// Maps a row selected with [`VERSION_COLUMNS`].
pub(crate) fn version_from_row(row: &Row) -> Result<ResourceVersion> {
    let get = |e: tokio_postgres::Error| StoreError::Corrupt(e.to_string());
    let change = match row.try_get::<_, i16>(4).map_err(get)? {
        0 => ChangeKind::Create,
        1 => ChangeKind::Update,
        2 => ChangeKind::Delete,
        other => return Err(StoreError::Corrupt(format!("change kind {other}"))),
    };
    let version: i64 = row.try_get(2).map_err(get)?;
    Ok(ResourceVersion {
        resource_type: row.try_get(0).map_err(get)?,
        id: row.try_get(1).map_err(get)?,
        version_id: u64::try_from(version)
            .map_err(|_| StoreError::Corrupt(format!("version {version}")))?,
        last_updated: row.try_get::<_, DateTime<Utc>>(3).map_err(get)?,
        change,
        body: row
            .try_get::<_, Option<String>>(5)
            .map_err(get)?
            .map(Arc::from),
    })
}

pub(crate) async fn query_versions(
    client: &ClientWrapper,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<ResourceVersion>> {
    let stmt = client.prepare_cached(sql).await.map_err(store_error)?;
    let rows = client.query(&stmt, params).await.map_err(store_error)?;
    rows.iter().map(version_from_row).collect()
}

/// The newest version of a resource, from the snapshot (locking reads of write transactions
/// are `PgTx::locked_read`).
pub(crate) async fn read(
    client: &ClientWrapper,
    partition: &PartitionId,
    resource_type: &str,
    id: &str,
) -> Result<Option<ResourceVersion>> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM resource r \
         JOIN version v ON v.part = r.part AND v.rtype = r.rtype AND v.id = r.id \
                       AND v.version = r.version \
         WHERE r.part = $1 AND r.rtype = $2 AND r.id = $3"
    );
    let v = query_versions(client, &sql, &[&partition.0, &resource_type, &id]).await?;
    Ok(v.into_iter().next())
}

pub(crate) async fn vread(
    client: &ClientWrapper,
    partition: &PartitionId,
    resource_type: &str,
    id: &str,
    version_id: u64,
) -> Result<Option<ResourceVersion>> {
    let Ok(version) = i64::try_from(version_id) else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM version v \
         WHERE v.part = $1 AND v.rtype = $2 AND v.id = $3 AND v.version = $4"
    );
    let v = query_versions(client, &sql, &[&partition.0, &resource_type, &id, &version]).await?;
    Ok(v.into_iter().next())
}

/// One page of history (newest first) and the number of entries matching the query.
pub(crate) async fn history(
    client: &ClientWrapper,
    partition: &PartitionId,
    query: &HistoryQuery,
) -> Result<(Vec<ResourceVersion>, u64)> {
    let mut conds = vec!["v.part = $1".to_string()];
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(partition.0.clone())];
    let next = |params: &mut Vec<Box<dyn ToSql + Sync + Send>>, v: Box<dyn ToSql + Sync + Send>| {
        params.push(v);
        format!("${}", params.len())
    };
    match (&query.resource_type, &query.id) {
        (Some(ty), Some(id)) => {
            let t = next(&mut params, Box::new(ty.clone()));
            let i = next(&mut params, Box::new(id.clone()));
            conds.push(format!("v.rtype = {t} AND v.id = {i}"));
        }
        (Some(ty), None) => {
            let t = next(&mut params, Box::new(ty.clone()));
            conds.push(format!("v.rtype = {t}"));
        }
        (None, Some(_)) => {
            return Err(StoreError::UnsupportedSearch(
                "instance history needs a resource type".into(),
            ))
        }
        (None, None) => {}
    }
    if let Some(since) = query.since {
        let s = next(&mut params, Box::new(since));
        conds.push(format!("v.ts >= {s}"));
    }
    if let Some(at) = query.at {
        // The version current at `at`: written at or before it, and not yet superseded then.
        let a = next(&mut params, Box::new(at));
        conds.push(format!(
            "v.ts <= {a} AND NOT EXISTS (SELECT 1 FROM version n WHERE n.part = v.part \
             AND n.rtype = v.rtype AND n.id = v.id AND n.version > v.version AND n.ts <= {a})"
        ));
    }
    let where_sql = conds.join(" AND ");
    let refs: Vec<&(dyn ToSql + Sync)> = params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let count_sql = format!("SELECT count(*) FROM version v WHERE {where_sql}");
    let stmt = client
        .prepare_cached(&count_sql)
        .await
        .map_err(store_error)?;
    let total: i64 = client
        .query_one(&stmt, &refs)
        .await
        .map_err(store_error)?
        .get(0);
    let limit = i64::try_from(query.count).unwrap_or(i64::MAX);
    let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
    let n = refs.len();
    let mut page_refs = refs.clone();
    page_refs.push(&limit);
    page_refs.push(&offset);
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM version v WHERE {where_sql} \
         ORDER BY v.ts DESC, v.seq DESC LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let page = query_versions(client, &sql, &page_refs).await?;
    Ok((page, total.max(0) as u64))
}

/// The partitions with resource rows, sorted: a skip scan of the primary key (one index probe
/// per partition), not a pass over every resource.
pub(crate) async fn partitions(client: &ClientWrapper) -> Result<Vec<PartitionId>> {
    let stmt = client
        .prepare_cached(
            "WITH RECURSIVE p(part) AS ( \
                 SELECT min(part) FROM resource \
                 UNION ALL \
                 SELECT (SELECT min(r.part) FROM resource r WHERE r.part > p.part) \
                 FROM p WHERE p.part IS NOT NULL) \
             SELECT part FROM p WHERE part IS NOT NULL",
        )
        .await
        .map_err(store_error)?;
    let rows = client.query(&stmt, &[]).await.map_err(store_error)?;
    Ok(rows.iter().map(|r| PartitionId(r.get(0))).collect())
}

/// The number of current, non-deleted resources in a partition (of one type, or all).
pub(crate) async fn count_current(
    client: &ClientWrapper,
    partition: &PartitionId,
    resource_type: Option<&str>,
) -> Result<u64> {
    let row = match resource_type {
        Some(ty) => {
            let stmt = client
                .prepare_cached(
                    "SELECT count(*) FROM resource WHERE part = $1 AND rtype = $2 AND NOT deleted",
                )
                .await
                .map_err(store_error)?;
            client.query_one(&stmt, &[&partition.0, &ty]).await
        }
        None => {
            let stmt = client
                .prepare_cached("SELECT count(*) FROM resource WHERE part = $1 AND NOT deleted")
                .await
                .map_err(store_error)?;
            client.query_one(&stmt, &[&partition.0]).await
        }
    }
    .map_err(store_error)?;
    let n: i64 = row.get(0);
    Ok(n.max(0) as u64)
}
