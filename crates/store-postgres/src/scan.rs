//! `ReadTx::scan` on PostgreSQL: keyset pagination on the primary key `(part, rtype, id)`,
//! in two phases like the SQLite backend (live resources in id order, then, for a scan bounded
//! by `until`, the resources deleted after it). The emitted version is the newest with
//! `ts <= until`; compartment membership is an `EXISTS` on `idx_reference`.
//!
//! The cursor is `<phase>:<id>` (ids never contain `:`).

use crate::error::store_error;
use crate::read::version_from_row;
use crosscare_store::{PartitionId, Result, ScanCursor, ScanPage, ScanQuery, StoreError};
use deadpool_postgres::ClientWrapper;
use tokio_postgres::types::ToSql;

fn parse_cursor(cursor: Option<&ScanCursor>) -> Result<(u8, String)> {
    let Some(c) = cursor else {
        return Ok((0, String::new()));
    };
    let bad = || StoreError::InvalidCursor(c.0.clone());
    let (phase, id) = c.0.split_once(':').ok_or_else(bad)?;
    match phase {
        "0" => Ok((0, id.to_string())),
        "1" => Ok((1, id.to_string())),
        _ => Err(bad()),
    }
}

type Params = Vec<Box<dyn ToSql + Sync + Send>>;

fn push(params: &mut Params, value: impl ToSql + Sync + Send + 'static) -> String {
    params.push(Box::new(value));
    format!("${}", params.len())
}

fn batch_sql(
    partition: &PartitionId,
    query: &ScanQuery,
    phase: u8,
    after: &str,
) -> (String, Params) {
    let mut params: Params = Vec::new();
    let part = push(&mut params, partition.0.clone());
    let rtype = push(&mut params, query.resource_type.clone());
    let after = push(&mut params, after.to_string());
    let history = |u: &str| {
        format!(
            "(SELECT max(x.version) FROM version x WHERE x.part = r.part AND x.rtype = r.rtype \
             AND x.id = r.id AND x.ts <= {u})"
        )
    };
    let (version, mut cond) = match (query.until, phase) {
        (None, _) => (
            "r.version".to_string(),
            format!("r.part = {part} AND r.rtype = {rtype} AND NOT r.deleted AND r.id > {after}"),
        ),
        (Some(u), 0) => {
            let u = push(&mut params, u);
            (
                format!(
                    "CASE WHEN r.ts <= {u} THEN r.version ELSE {} END",
                    history(&u)
                ),
                format!(
                    "r.part = {part} AND r.rtype = {rtype} AND NOT r.deleted AND r.id > {after}"
                ),
            )
        }
        (Some(u), _) => {
            let u = push(&mut params, u);
            (
                history(&u),
                format!(
                    "r.part = {part} AND r.rtype = {rtype} AND r.deleted AND r.ts > {u} \
                     AND r.id > {after}"
                ),
            )
        }
    };
    cond.push_str(" AND v.change <> 2");
    if let Some(since) = query.since {
        let s = push(&mut params, since);
        cond.push_str(&format!(" AND v.ts > {s}"));
    }
    if let Some(scope) = &query.compartment {
        let mut any = Vec::new();
        if !scope.params.is_empty() {
            let names = push(&mut params, scope.params.clone());
            let ttype = push(&mut params, scope.compartment.clone());
            let mut exists = format!(
                "EXISTS (SELECT 1 FROM idx_reference x WHERE x.part = r.part \
                 AND x.rtype = r.rtype AND x.id = r.id AND x.cid IS NULL \
                 AND x.param = ANY({names}) AND x.ttype = {ttype}"
            );
            if let Some(ids) = &scope.ids {
                let ids = push(&mut params, ids.clone());
                exists.push_str(&format!(" AND x.tid = ANY({ids})"));
            }
            exists.push(')');
            any.push(exists);
        }
        if scope.includes_self {
            match &scope.ids {
                None => any.push("TRUE".to_string()),
                Some(ids) => {
                    let ids = push(&mut params, ids.clone());
                    any.push(format!("r.id = ANY({ids})"));
                }
            }
        }
        if any.is_empty() {
            any.push("FALSE".to_string());
        }
        cond.push_str(&format!(" AND ({})", any.join(" OR ")));
    }
    let limit = push(
        &mut params,
        i64::try_from(query.limit.max(1)).unwrap_or(i64::MAX),
    );
    let sql = format!(
        "SELECT v.rtype, v.id, v.version, v.ts, v.change, v.body FROM resource r \
         JOIN version v ON v.part = r.part AND v.rtype = r.rtype AND v.id = r.id \
                       AND v.version = {version} \
         WHERE {cond} ORDER BY r.id LIMIT {limit}"
    );
    (sql, params)
}

pub(crate) async fn scan(
    client: &ClientWrapper,
    partition: &PartitionId,
    query: &ScanQuery,
) -> Result<ScanPage> {
    let (mut phase, mut after) = parse_cursor(query.after.as_ref())?;
    let limit = query.limit.max(1);
    loop {
        let (sql, params) = batch_sql(partition, query, phase, &after);
        let refs: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let stmt = client.prepare_cached(&sql).await.map_err(store_error)?;
        let rows = client.query(&stmt, &refs).await.map_err(store_error)?;
        let versions = rows
            .iter()
            .map(version_from_row)
            .collect::<Result<Vec<_>>>()?;
        if versions.len() == limit {
            let last = versions.last().map(|v| v.id.clone()).unwrap_or_default();
            return Ok(ScanPage {
                versions,
                next: Some(ScanCursor(format!("{phase}:{last}"))),
            });
        }
        if phase == 0 && query.until.is_some() {
            phase = 1;
            after = String::new();
            if versions.is_empty() {
                continue;
            }
            return Ok(ScanPage {
                versions,
                next: Some(ScanCursor("1:".into())),
            });
        }
        return Ok(ScanPage {
            versions,
            next: None,
        });
    }
}
