//! Runs a compiled search: one statement for the page (matches with their current versions),
//! one `count(*)` when a total is asked for, and set-based statements for `_include` and
//! `_revinclude` over the page (`:iterate` repeats them over what was just included, at most
//! [`MAX_ITERATE`] rounds and [`MAX_INCLUDED`] resources).

use super::engine;
use super::read::{partition_id, VERSION_COLUMNS};
use crate::search_sql::pin::ChainPin;
use crate::search_sql::{compile, count_sql, scope_of, Plan, Sql, SqlValue, Sqlite, TotalNeed};
use crate::{PartitionId, ResourceVersion, Result, SearchPage};
use crosscare_search::param::token::{TokenMatch, TokenPredicate};
use crosscare_search::{Filter, Include, ParamFilter, Predicate, SearchQuery, SummaryMode};
use rusqlite::{Connection, OptionalExtension};
use std::collections::HashSet;

/// The page size when the query gives none (the REST layer normally sets its own).
pub const DEFAULT_COUNT: usize = 20;
/// Rounds of `:iterate`.
pub const MAX_ITERATE: usize = 4;
/// Included resources per page, at most.
pub const MAX_INCLUDED: usize = 1000;

impl rusqlite::ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            SqlValue::Integer(i) => ValueRef::Integer(*i),
            SqlValue::Real(f) => ValueRef::Real(*f),
            SqlValue::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

/// Resolves partition names to ids; unknown partitions hold nothing and are dropped.
fn pids(conn: &Connection, partitions: &[PartitionId]) -> Result<Vec<i64>> {
    let mut out = Vec::new();
    for p in partitions {
        if let Some(pid) = partition_id(conn, p)? {
            out.push(pid);
        }
    }
    Ok(out)
}

/// The text of the page statement for a plan (exposed for `EXPLAIN QUERY PLAN` tests).
pub(crate) fn page_sql(plan: &Plan, count: usize, offset: usize) -> Sql {
    let mut sql = Sql::default();
    sql.push(&format!(
        "SELECT {VERSION_COLUMNS}, r.rid FROM resource r \
         JOIN version v ON v.rid = r.rid AND v.version = r.version WHERE "
    ));
    if let Some(keys) = &plan.keys {
        // The page's keys come from the index alone; only they are looked up.
        sql.push("r.rid IN (");
        sql.append(keys.page(&Sqlite, count, offset));
        sql.push(") AND r.deleted = 0 ORDER BY r.rid");
        return sql;
    }
    sql.append(plan.condition.clone());
    sql.push(" ORDER BY ");
    sql.append(plan.order.clone());
    sql.push(" LIMIT ");
    sql.bind(i64::try_from(count).unwrap_or(i64::MAX));
    sql.push(" OFFSET ");
    sql.bind(i64::try_from(offset).unwrap_or(i64::MAX));
    sql
}

/// Rows of `SELECT VERSION_COLUMNS, rid`.
fn versions_with_rid(conn: &Connection, sql: &Sql) -> Result<Vec<(ResourceVersion, i64)>> {
    let mut stmt = conn.prepare(&sql.text).map_err(engine)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(sql.params.iter()), |row| {
            Ok((super::read::version_from_row(row)?, row.get::<_, i64>(6)?))
        })
        .map_err(engine)?;
    let mut out = Vec::new();
    for row in rows {
        let (raw, rid) = row.map_err(engine)?;
        out.push((raw.into_version()?, rid));
    }
    Ok(out)
}

pub(crate) fn search(
    conn: &Connection,
    partitions: &[PartitionId],
    query: &SearchQuery,
) -> Result<SearchPage> {
    let pids = pids(conn, partitions)?;
    let need = TotalNeed::of(query);
    if pids.is_empty() {
        return Ok(SearchPage {
            total: (need != TotalNeed::None).then_some(0),
            ..SearchPage::default()
        });
    }
    let pinned = pin(conn, &pids, query)?;
    let query = pinned.as_ref().unwrap_or(query);
    let scope = scope_of(query, pids.iter().map(|p| SqlValue::Integer(*p)).collect());
    let plan = compile(&Sqlite, query, &scope)?;
    let count_total = |limit: Option<u64>| -> Result<u64> {
        let sql = match &plan.keys {
            Some(keys) => keys.count(&Sqlite, limit),
            None => count_sql(&plan, limit),
        };
        let n: i64 = conn
            .prepare(&sql.text)
            .map_err(engine)?
            .query_row(rusqlite::params_from_iter(sql.params.iter()), |r| r.get(0))
            .map_err(engine)?;
        Ok(n.max(0) as u64)
    };
    if query.result.summary == Some(SummaryMode::Count) {
        return Ok(SearchPage {
            total: Some(count_total(None)?),
            ..SearchPage::default()
        });
    }
    let offset = match &query.result.cursor {
        // The cursor this store issues is the offset of the next page.
        Some(c) => c.parse::<usize>().unwrap_or(query.result.offset),
        None => query.result.offset,
    };
    let count = query.result.count.unwrap_or(DEFAULT_COUNT);
    let rows = versions_with_rid(conn, &page_sql(&plan, count, offset))?;
    let total = match (need, need.from_page(offset, count, rows.len())) {
        (_, Some(known)) => Some(known),
        (TotalNeed::None, _) => None,
        (TotalNeed::Count, _) => Some(count_total(None)?),
        (TotalNeed::UpTo(limit), _) => {
            let n = count_total(Some(limit.saturating_add(1)))?;
            (n <= limit).then_some(n)
        }
    };
    let page_rids: Vec<i64> = rows.iter().map(|(_, rid)| *rid).collect();
    let included = includes(conn, &pids, query, &page_rids)?;
    Ok(SearchPage {
        matches: rows.into_iter().map(|(v, _)| v).collect(),
        included,
        total,
    })
}

/// The query rewritten so that its page is an ordered index walk ([`pin_targets`], else
/// [`pin_systems`]), or `None` when neither applies.
pub(crate) fn pin(
    conn: &Connection,
    pids: &[i64],
    query: &SearchQuery,
) -> Result<Option<SearchQuery>> {
    match pin_targets(conn, pids, query)? {
        Some(q) => Ok(Some(q)),
        None => pin_systems(conn, pids, query),
    }
}

/// The chain rewrite of `search_sql::pin` (each rewritten value pins every column of
/// `idx_reference_reverse` ahead of `rid`, so the page is a merge of ordered walks that stops
/// after the page, where the chain sorted every referrer of every target first: 19k
/// Observations for 22 patients).
fn pin_targets(
    conn: &Connection,
    pids: &[i64],
    query: &SearchQuery,
) -> Result<Option<SearchQuery>> {
    let Some(pin) = ChainPin::of(query, pids.len()) else {
        return Ok(None);
    };
    let Some(pid) = pids.first() else {
        return Ok(None);
    };
    let sql = pin.targets_sql(&Sqlite, SqlValue::Integer(*pid))?;
    let mut stmt = conn.prepare(&sql.text).map_err(engine)?;
    let ids = stmt
        .query_map(rusqlite::params_from_iter(sql.params.iter()), |r| {
            r.get::<_, String>(0)
        })
        .map_err(engine)?
        .collect::<rusqlite::Result<Vec<String>>>()
        .map_err(engine)?;
    Ok(pin.rewrite(ids))
}

/// Systems looked up per `code` value before the rewrite below is abandoned.
const MAX_PINNED_SYSTEMS: usize = 16;

/// Rewrites a search that is one token parameter with plain `code` values (any system) into
/// the same search over `system|code` alternatives, one per system the code occurs with in
/// the index (plus `|code` when it occurs without one). Both mean the same; the rewritten
/// values pin every column of `idx_token_code (pid, rtype, param, code, system, cid, rid)`
/// ahead of `rid`, so each alternative is walked in row order and the first page stops after
/// its rows instead of sorting every match. The systems are found by index seeks (a skip
/// scan: one seek per distinct system).
fn pin_systems(
    conn: &Connection,
    pids: &[i64],
    query: &SearchQuery,
) -> Result<Option<SearchQuery>> {
    let ([pid], Some(rtype), [Filter::Param(pf)]) = (
        pids,
        query.resource_type.as_deref(),
        query.filters.as_slice(),
    ) else {
        return Ok(None);
    };
    let is_code = |p: &Predicate| {
        matches!(
            p,
            Predicate::Token(TokenPredicate {
                matcher: TokenMatch::Code(_)
            })
        )
    };
    if !query.result.sort.is_empty() || !pf.values.iter().any(is_code) {
        return Ok(None);
    }
    const KEY: &str = "FROM idx_token WHERE pid = ?1 AND rtype = ?2 AND param = ?3 AND code = ?4";
    let mut without = conn
        .prepare_cached(&format!("SELECT 1 {KEY} AND system IS NULL LIMIT 1"))
        .map_err(engine)?;
    let mut first = conn
        .prepare_cached(&format!(
            "SELECT system {KEY} AND system IS NOT NULL ORDER BY system LIMIT 1"
        ))
        .map_err(engine)?;
    let mut next = conn
        .prepare_cached(&format!(
            "SELECT system {KEY} AND system > ?5 ORDER BY system LIMIT 1"
        ))
        .map_err(engine)?;
    let mut values = Vec::with_capacity(pf.values.len());
    for value in &pf.values {
        let Predicate::Token(TokenPredicate {
            matcher: TokenMatch::Code(code),
        }) = value
        else {
            values.push(value.clone());
            continue;
        };
        let key = rusqlite::params![pid, rtype, pf.param, code];
        let mut pinned = Vec::new();
        if without.exists(key).map_err(engine)? {
            pinned.push(TokenMatch::NoSystem(code.clone()));
        }
        let mut system: Option<String> = first
            .query_row(key, |r| r.get(0))
            .optional()
            .map_err(engine)?;
        while let Some(s) = system {
            if pinned.len() > MAX_PINNED_SYSTEMS {
                return Ok(None);
            }
            system = next
                .query_row(rusqlite::params![pid, rtype, pf.param, code, s], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(engine)?;
            pinned.push(TokenMatch::SystemCode {
                system: s,
                code: code.clone(),
            });
        }
        if pinned.is_empty() {
            // The code occurs nowhere: the value matches nothing either way.
            values.push(value.clone());
        }
        values.extend(
            pinned
                .into_iter()
                .map(|matcher| Predicate::Token(TokenPredicate { matcher })),
        );
    }
    let mut rewritten = query.clone();
    rewritten.filters = vec![Filter::Param(ParamFilter {
        values,
        ..pf.clone()
    })];
    Ok(Some(rewritten))
}

fn rid_list(rids: &[i64]) -> String {
    rids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `_include` / `_revinclude` for the page, then `:iterate` rounds over the newly included.
fn includes(
    conn: &Connection,
    pids: &[i64],
    query: &SearchQuery,
    page: &[i64],
) -> Result<Vec<ResourceVersion>> {
    let (inc, rev) = (&query.result.include, &query.result.revinclude);
    if page.is_empty() || (inc.is_empty() && rev.is_empty()) {
        return Ok(Vec::new());
    }
    let mut seen: HashSet<i64> = page.iter().copied().collect();
    let mut out = Vec::new();
    let mut frontier = page.to_vec();
    for round in 0..MAX_ITERATE {
        let mut next = Vec::new();
        for (include, reverse) in inc
            .iter()
            .map(|i| (i, false))
            .chain(rev.iter().map(|i| (i, true)))
        {
            if round > 0 && !include.iterate {
                continue;
            }
            for (v, rid) in
                versions_with_rid(conn, &include_sql(pids, include, reverse, &frontier))?
            {
                if out.len() >= MAX_INCLUDED {
                    return Ok(out);
                }
                if seen.insert(rid) {
                    out.push(v);
                    next.push(rid);
                }
            }
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    Ok(out)
}

/// Resources referenced by (`_include`) or referring to (`_revinclude`) the `from` rows.
///
/// Only the join keys are left indexable (the other `x` terms carry the unary `+`): without
/// statistics SQLite otherwise preferred `idx_reference_url (pid, rtype, param, url)`, whose
/// `url IS NULL` matches every local reference of the type — a walk over all of them (360 ms
/// for one page at 200k resources). Forward includes seek `idx_reference_rid`, reverse includes
/// `idx_reference_reverse (ttype, tid, pid, …)` from each page row.
pub(crate) fn include_sql(pids: &[i64], include: &Include, reverse: bool, from: &[i64]) -> Sql {
    let mut sql = Sql::default();
    let (source, join_t, where_from) = if reverse {
        (
            "resource s JOIN idx_reference x ON x.pid = s.pid AND x.ttype = s.rtype AND x.tid = s.id",
            "JOIN resource r ON r.rid = x.rid",
            format!("s.rid IN ({})", rid_list(from)),
        )
    } else {
        (
            "idx_reference x",
            "JOIN resource r ON r.pid = x.pid AND r.rtype = x.ttype AND r.id = x.tid",
            format!("x.rid IN ({})", rid_list(from)),
        )
    };
    sql.push(&format!(
        "SELECT DISTINCT {VERSION_COLUMNS}, r.rid FROM {source} {join_t} \
         JOIN version v ON v.rid = r.rid AND v.version = r.version WHERE {where_from} AND +x.pid IN ({}) AND +x.rtype = ",
        rid_list(pids)
    ));
    sql.bind(include.source_type.clone());
    if let Some(param) = &include.param {
        sql.push(" AND +x.param = ");
        sql.bind(param.clone());
    }
    if let Some(t) = &include.target_type {
        sql.push(" AND +x.ttype = ");
        sql.bind(t.clone());
    }
    sql.push(" AND +x.cid IS NULL AND +x.url IS NULL AND r.deleted = 0 ORDER BY r.rid");
    sql
}
