//! History at instance, type and system level (newest first, `_since`, `_at`, offset paging),
//! and counts of current resources.

use super::engine;
use super::read::{partition_id, query_versions, VERSION_COLUMNS};
use crate::{HistoryQuery, PartitionId, ResourceVersion, Result, StoreError};
use rusqlite::types::Value as SqlValue;
use rusqlite::Connection;

/// One page of history and the number of entries matching the query.
pub(crate) fn history(
    conn: &Connection,
    partition: &PartitionId,
    query: &HistoryQuery,
) -> Result<(Vec<ResourceVersion>, u64)> {
    let Some(pid) = partition_id(conn, partition)? else {
        return Ok((Vec::new(), 0));
    };
    let mut conds = vec!["v.pid = ?".to_string()];
    let mut params: Vec<SqlValue> = vec![pid.into()];
    match (&query.resource_type, &query.id) {
        (Some(ty), Some(id)) => {
            conds.push(
                "v.rid = (SELECT rid FROM resource WHERE pid = ? AND rtype = ? AND id = ?)".into(),
            );
            params.extend([pid.into(), ty.clone().into(), id.clone().into()]);
        }
        (Some(ty), None) => {
            conds.push("v.rtype = ?".into());
            params.push(ty.clone().into());
        }
        (None, Some(_)) => {
            return Err(StoreError::UnsupportedSearch(
                "instance history needs a resource type".into(),
            ))
        }
        (None, None) => {}
    }
    if let Some(since) = query.since {
        conds.push("v.ts >= ?".into());
        params.push(since.timestamp_micros().into());
    }
    if let Some(at) = query.at {
        // The version current at `at`: written at or before it, and not yet superseded then.
        conds.push(
            "v.ts <= ? AND NOT EXISTS (SELECT 1 FROM version n WHERE n.rid = v.rid \
             AND n.version > v.version AND n.ts <= ?)"
                .into(),
        );
        let at = at.timestamp_micros();
        params.extend([at.into(), at.into()]);
    }
    let where_sql = conds.join(" AND ");
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM version v WHERE {where_sql}"))
        .map_err(engine)?
        .query_row(rusqlite::params_from_iter(params.iter()), |r| r.get(0))
        .map_err(engine)?;
    let mut page_params = params.clone();
    page_params.push(i64::try_from(query.count).unwrap_or(i64::MAX).into());
    page_params.push(i64::try_from(query.offset).unwrap_or(i64::MAX).into());
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM version v JOIN resource r ON r.rid = v.rid \
         WHERE {where_sql} ORDER BY v.ts DESC, v.seq DESC LIMIT ? OFFSET ?"
    );
    let page = query_versions(conn, &sql, &page_params)?;
    Ok((page, total.max(0) as u64))
}

/// The number of current, non-deleted resources in a partition (of one type, or all).
pub(crate) fn count_current(
    conn: &Connection,
    partition: &PartitionId,
    resource_type: Option<&str>,
) -> Result<u64> {
    let Some(pid) = partition_id(conn, partition)? else {
        return Ok(0);
    };
    let n: i64 = match resource_type {
        Some(ty) => conn
            .prepare_cached(
                "SELECT count(*) FROM resource WHERE pid = ?1 AND rtype = ?2 AND deleted = 0",
            )
            .map_err(engine)?
            .query_row(rusqlite::params![pid, ty], |r| r.get(0)),
        None => conn
            .prepare_cached("SELECT count(*) FROM resource WHERE pid = ?1 AND deleted = 0")
            .map_err(engine)?
            .query_row([pid], |r| r.get(0)),
    }
    .map_err(engine)?;
    Ok(n.max(0) as u64)
}
