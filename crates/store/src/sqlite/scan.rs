//! `ReadTx::scan` on SQLite: keyset pagination over `resource.rid` (one indexed range read per
//! batch, never an `OFFSET`), so a whole-type export reads each row once and holds one batch.
//!
//! A scan runs in two phases. Phase 0 walks the live resources of the type in `rid` order
//! through `resource_live (pid, rtype, deleted)` (whose implicit last column is the rowid).
//! When the scan is bounded by `until`, phase 1 then visits the resources deleted after
//! `until` (through `resource_by_ts`), which were live at `until` and so belong to the
//! export. In both phases the version emitted is the newest one with `ts <= until`; when the
//! current version is already that old (the usual case) no history lookup is made.
//!
//! The cursor is `<phase>:<rid>` (the last row returned).

use super::engine;
use super::read::{partition_id, version_from_row};
use crate::{PartitionId, Result, ScanCursor, ScanPage, ScanQuery, StoreError};
use rusqlite::types::Value as SqlValue;
use rusqlite::Connection;

fn parse_cursor(cursor: Option<&ScanCursor>) -> Result<(u8, i64)> {
    let Some(c) = cursor else {
        return Ok((0, 0));
    };
    let bad = || StoreError::InvalidCursor(c.0.clone());
    let (phase, rid) = c.0.split_once(':').ok_or_else(bad)?;
    let phase: u8 = phase.parse().map_err(|_| bad())?;
    let rid: i64 = rid.parse().map_err(|_| bad())?;
    if phase > 1 {
        return Err(bad());
    }
    Ok((phase, rid))
}

/// The statement of one batch of phase `phase` and its parameters.
fn batch_sql(pid: i64, query: &ScanQuery, phase: u8, after: i64) -> (String, Vec<SqlValue>) {
    let mut params: Vec<SqlValue> =
        vec![pid.into(), query.resource_type.clone().into(), after.into()];
    let until = query.until.map(|u| u.timestamp_micros());
    let version = match (until, phase) {
        (None, _) => "r.version".to_string(),
        (Some(u), 0) => {
            params.push(u.into());
            let n = params.len();
            format!(
                "CASE WHEN r.ts <= ?{n} THEN r.version ELSE \
                 (SELECT max(x.version) FROM version x WHERE x.rid = r.rid AND x.ts <= ?{n}) END"
            )
        }
        (Some(u), _) => {
            params.push(u.into());
            let n = params.len();
            format!("(SELECT max(x.version) FROM version x WHERE x.rid = r.rid AND x.ts <= ?{n})")
        }
    };
    let mut cond = if phase == 0 {
        "r.pid = ?1 AND r.rtype = ?2 AND r.deleted = 0 AND r.rid > ?3".to_string()
    } else {
        // Phase 1 only runs with `until`, pushed above as the last parameter.
        let n = params.len();
        format!("r.pid = ?1 AND r.rtype = ?2 AND r.deleted = 1 AND r.ts > ?{n} AND r.rid > ?3")
    };
    cond.push_str(" AND v.change <> 2");
    if let Some(since) = query.since {
        params.push(since.timestamp_micros().into());
        cond.push_str(&format!(" AND v.ts > ?{}", params.len()));
    }
    if let Some(scope) = &query.compartment {
        let mut any = Vec::new();
        let ids_param = |params: &mut Vec<SqlValue>, ids: &[String]| -> usize {
            params.push(serde_json::Value::from(ids.to_vec()).to_string().into());
            params.len()
        };
        if !scope.params.is_empty() {
            let names: Vec<String> = scope
                .params
                .iter()
                .map(|p| {
                    params.push(p.clone().into());
                    format!("?{}", params.len())
                })
                .collect();
            params.push(scope.compartment.clone().into());
            let ttype = params.len();
            let mut exists = format!(
                "EXISTS (SELECT 1 FROM idx_reference x WHERE x.rid = r.rid AND x.cid IS NULL \
                 AND x.param IN ({}) AND x.ttype = ?{ttype}",
                names.join(", ")
            );
            if let Some(ids) = &scope.ids {
                let n = ids_param(&mut params, ids);
                exists.push_str(&format!(
                    " AND x.tid IN (SELECT value FROM json_each(?{n}))"
                ));
            }
            exists.push(')');
            any.push(exists);
        }
        if scope.includes_self {
            match &scope.ids {
                None => any.push("1".to_string()),
                Some(ids) => {
                    let n = ids_param(&mut params, ids);
                    any.push(format!("r.id IN (SELECT value FROM json_each(?{n}))"));
                }
            }
        }
        if any.is_empty() {
            any.push("0".to_string());
        }
        cond.push_str(&format!(" AND ({})", any.join(" OR ")));
    }
    params.push(i64::try_from(query.limit.max(1)).unwrap_or(i64::MAX).into());
    let sql = format!(
        "SELECT v.rtype, r.id, v.version, v.ts, v.change, v.body, r.rid FROM resource r \
         JOIN version v ON v.rid = r.rid AND v.version = {version} \
         WHERE {cond} ORDER BY r.rid LIMIT ?{}",
        params.len()
    );
    (sql, params)
}

pub(crate) fn scan(
    conn: &Connection,
    partition: &PartitionId,
    query: &ScanQuery,
) -> Result<ScanPage> {
    let Some(pid) = partition_id(conn, partition)? else {
        return Ok(ScanPage::default());
    };
    let (mut phase, mut after) = parse_cursor(query.after.as_ref())?;
    let limit = query.limit.max(1);
    loop {
        let (sql, params) = batch_sql(pid, query, phase, after);
        let mut stmt = conn.prepare_cached(&sql).map_err(engine)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params.iter()), |row| {
                Ok((version_from_row(row)?, row.get::<_, i64>(6)?))
            })
            .map_err(engine)?;
        let mut versions = Vec::with_capacity(limit.min(4096));
        let mut last = after;
        for row in rows {
            let (raw, rid) = row.map_err(engine)?;
            versions.push(raw.into_version()?);
            last = rid;
        }
        if versions.len() == limit {
            return Ok(ScanPage {
                versions,
                next: Some(ScanCursor(format!("{phase}:{last}"))),
            });
        }
        // This phase is exhausted; move on to phase 1 when it applies.
        if phase == 0 && query.until.is_some() {
            phase = 1;
            after = 0;
            if versions.is_empty() {
                continue;
            }
            return Ok(ScanPage {
                versions,
                next: Some(ScanCursor("1:0".into())),
            });
        }
        return Ok(ScanPage {
            versions,
            next: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors() {
        assert_eq!(parse_cursor(None).unwrap(), (0, 0));
        assert_eq!(
            parse_cursor(Some(&ScanCursor("1:42".into()))).unwrap(),
            (1, 42)
        );
        for bad in ["", "2:1", "x:1", "0:", "0"] {
            assert!(
                parse_cursor(Some(&ScanCursor(bad.into()))).is_err(),
                "{bad}"
            );
        }
    }
}
