//! Runs a search with the store's shared compiler (`crosscare_store::search_sql`, PostgreSQL
//! dialect): one statement for the page, one `count(*)` when a total is asked for (none for
//! the bounded total of ordered keys, which the page statement counts: [`page_statement`]), and
//! set-based statements for `_include` / `_revinclude` over the keys of the page (`:iterate`
//! repeats them over what was just included, at most [`MAX_ITERATE`] rounds and
//! [`MAX_INCLUDED`] resources) — never one statement per resource.
//!
//! Paging is stateless: the cursor is the offset of the next page and the order always ends
//! with the row key `(part, rtype, id)`, so any server on the same database continues a page
//! sequence where another left off.

use crate::error::store_error;
use crate::read::{version_from_row, VERSION_COLUMNS};
use crosscare_search::{Include, SearchQuery, SummaryMode};
use crosscare_store::search_sql::pin::ChainPin;
use crosscare_store::search_sql::{
    compile, count_sql, scope_of, Dialect, Keys, Plan, Postgres, Sql, SqlValue, TotalNeed,
};
use crosscare_store::{PartitionId, ResourceVersion, Result, SearchPage};
use deadpool_postgres::ClientWrapper;
use std::collections::HashSet;
use tokio_postgres::types::{ToSql, Type};

/// The page size when the query gives none (the REST layer normally sets its own).
pub const DEFAULT_COUNT: usize = 20;
/// Rounds of `:iterate`.
pub const MAX_ITERATE: usize = 4;
/// Included resources per page, at most.
pub const MAX_INCLUDED: usize = 1000;

/// The key of a `resource` row.
type Key = (String, String, String);

/// A bound value with its declared SQL type.
type TypedParam = (Box<dyn ToSql + Sync + Send>, Type);

/// The bound values of a statement, as `tokio-postgres` parameters.
fn params(values: &[SqlValue]) -> Vec<Box<dyn ToSql + Sync + Send>> {
    values
        .iter()
        .map(|v| -> Box<dyn ToSql + Sync + Send> {
            match v {
                SqlValue::Integer(i) => Box::new(*i),
                SqlValue::Real(f) => Box::new(*f),
                SqlValue::Text(s) => Box::new(s.clone()),
            }
        })
        .collect()
}

async fn run(client: &ClientWrapper, sql: &Sql) -> Result<Vec<tokio_postgres::Row>> {
    let owned = params(&sql.params);
    let typed: Vec<(&(dyn ToSql + Sync), Type)> = owned
        .iter()
        .zip(&sql.params)
        .map(|(p, v)| (p.as_ref() as &(dyn ToSql + Sync), sql_type(v)))
        .collect();
    // Typed, unnamed statements: one round trip (no separate prepare), no growth of the
    // per-connection statement cache (search texts vary too much), and PostgreSQL plans each
    // with its actual values.
    client
        .query_typed(sql.numbered().as_str(), &typed)
        .await
        .map_err(store_error)
}

fn sql_type(v: &SqlValue) -> Type {
    match v {
        SqlValue::Integer(_) => Type::INT8,
        SqlValue::Real(_) => Type::FLOAT8,
        SqlValue::Text(_) => Type::TEXT,
    }
}

/// The page statement for a plan. The keys of the page are chosen first (filter, order,
/// `LIMIT`) from `resource` alone; only those rows then join `version` for their bodies, in the
/// same order — so a page costs one `version` lookup per returned resource, not one per match.
pub(crate) fn page_sql(plan: &Plan, count: usize, offset: usize) -> Sql {
    let mut sql = Sql::default();
    if let Some(keys) = &plan.keys {
        // One index-backed filter: the page's keys come from the index rows alone (sorted
        // distinct keys, then the page), so only `count` resource rows are read. Otherwise the
        // planner may hash every resource of the type against the matches (60 ms for 914
        // matches at 100k resources, a sequential scan of `resource`).
        sql.push(&format!(
            "SELECT {VERSION_COLUMNS}, r.part FROM (\
             SELECT r.part, r.rtype, r.id, r.version, r.ts FROM resource r \
             WHERE (r.part, r.rtype, r.id) IN ("
        ));
        sql.append(keys.page(&Postgres, count, offset));
        sql.push(
            ") AND NOT r.deleted) r JOIN version v ON v.part = r.part AND v.rtype = r.rtype \
             AND v.id = r.id AND v.version = r.version ORDER BY r.part, r.rtype, r.id || ''",
        );
        return sql;
    }
    sql.push(&format!(
        "SELECT {VERSION_COLUMNS}, r.part FROM (\
         SELECT r.part, r.rtype, r.id, r.version, r.ts FROM resource r WHERE "
    ));
    if let Some(sorted) = &plan.sorted {
        // A sorted search that is one index-backed filter: the matching keys are sorted by
        // their sort keys (index lookups by key) without a `resource` row each, and only the
        // page's rows are read. Over `resource`, PostgreSQL hashed every resource of the type
        // against the matches (a sequential scan) before sorting them.
        sql.push("(r.part, r.rtype, r.id) IN (");
        sql.append(sorted.page(&Postgres, count, offset));
        sql.push(") AND NOT r.deleted");
    } else {
        sql.append(plan.condition.clone());
        sql.push(" ORDER BY ");
        sql.append(plan.order.clone());
        sql.push(" LIMIT ");
        sql.bind(i64::try_from(count).unwrap_or(i64::MAX));
        sql.push(" OFFSET ");
        sql.bind(i64::try_from(offset).unwrap_or(i64::MAX));
    }
    sql.push(
        ") r JOIN version v ON v.part = r.part AND v.rtype = r.rtype AND v.id = r.id \
         AND v.version = r.version ORDER BY ",
    );
    // The same keys again, over the page's rows only (sort subqueries run once per row).
    sql.append(plan.order.clone());
    sql
}

/// The count of a search's matches (stopping after `limit`): from the index rows alone when
/// the search is one index-backed filter (sorted or not), else over `resource`.
fn total_sql(plan: &Plan, limit: Option<u64>) -> Sql {
    match (&plan.keys, &plan.sorted) {
        (Some(keys), _) => keys.count(&Postgres, limit),
        (None, Some(sorted)) => sorted.keys.count(&Postgres, limit),
        (None, None) => count_sql(plan, limit),
    }
}

/// Rows of `SELECT VERSION_COLUMNS, part` with their keys.
fn scope_parts(partitions: &[PartitionId]) -> Vec<SqlValue> {
    let mut names: Vec<&str> = partitions.iter().map(|p| p.0.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.into_iter().map(SqlValue::from).collect()
}

/// `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF)` of the statements a search runs (they are
/// executed: actual row counts per node, and the execution time), with its bound values: the
/// page statement (for `_summary=count`, none), then after a `-- total` line the count when the
/// query asks for a total (`_total`, `_summary=count`; bounded as the search bounds it), then
/// (after a `-- _include …` / `-- _revinclude …` line each) the first round of include
/// statements over the keys of the page. For tests and benchmarks.
const EXPLAIN: &str = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF)";

pub(crate) async fn explain(
    client: &ClientWrapper,
    partitions: &[PartitionId],
    query: &SearchQuery,
) -> Result<Vec<String>> {
    let parts = scope_parts(partitions);
    let part_names: Vec<String> = partitions.iter().map(|p| p.0.clone()).collect();
    let pinned = pin_targets(client, &parts, query).await?;
    let query = pinned.as_ref().unwrap_or(query);
    let scope = scope_of(query, parts);
    let plan = compile(&Postgres, query, &scope)?;
    let explained = |sql: &Sql| {
        let mut e = sql.clone();
        e.text = format!("{EXPLAIN} {}", sql.text);
        e
    };
    let count = query.result.count.unwrap_or(DEFAULT_COUNT);
    let need = TotalNeed::of(query);
    let page = page_statement(&plan, need, count, query.result.offset);
    let mut out: Vec<String> = Vec::new();
    if query.result.summary != Some(SummaryMode::Count) {
        out.extend(
            run_merged(client, &explained(&page.sql), page.merge_only)
                .await?
                .iter()
                .map(|r| r.get::<_, String>(0)),
        );
    }
    let total = match need {
        TotalNeed::None => None,
        TotalNeed::Count => Some((total_sql(&plan, None), false)),
        // Counted by the page statement itself.
        TotalNeed::UpTo(_) if page.with_total => None,
        TotalNeed::UpTo(limit) => Some((
            total_sql(&plan, Some(limit.saturating_add(1))),
            page.merge_only,
        )),
    };
    if let Some((total, merge_only)) = total {
        out.push("-- total".to_string());
        out.extend(
            run_merged(client, &explained(&total), merge_only)
                .await?
                .iter()
                .map(|r| r.get::<_, String>(0)),
        );
    }
    let (inc, rev) = (&query.result.include, &query.result.revinclude);
    if inc.is_empty() && rev.is_empty() {
        return Ok(out);
    }
    let keys: Vec<Key> = page_rows(client, &page)
        .await?
        .0
        .into_iter()
        .map(|(_, k)| k)
        .collect();
    for (include, reverse) in inc
        .iter()
        .map(|i| (i, false))
        .chain(rev.iter().map(|i| (i, true)))
    {
        let kind = if reverse { "_revinclude" } else { "_include" };
        out.push(format!("-- {kind}={}", include.source_type));
        let (text, values) = include_sql(&part_names, include, reverse, &keys);
        let typed: Vec<(&(dyn ToSql + Sync), Type)> = values
            .iter()
            .map(|(p, t)| (p.as_ref() as &(dyn ToSql + Sync), t.clone()))
            .collect();
        let rows = client
            .query_typed(format!("{EXPLAIN} {text}").as_str(), &typed)
            .await
            .map_err(store_error)?;
        out.extend(rows.iter().map(|r| r.get::<_, String>(0)));
    }
    Ok(out)
}

/// The page statement of a search, and what comes with it.
pub(crate) struct PageStatement {
    pub sql: Sql,
    /// Each row also carries the total, bounded as the search bounds it (its last column).
    pub with_total: bool,
    /// The statement merges several ordered index walks and must run under [`MERGE_ONLY`].
    pub merge_only: bool,
}

/// Planner settings under which PostgreSQL merges the ordered arms of a page instead of
/// hashing them. Its estimate for one arm is the table's average (49 `Observation.subject`
/// rows per patient, where the territory has 672), so a bounded count of 31 arms hashed and
/// sorted 23,641 rows (52 ms) where the merge stops after 1,001 (4.5 ms). Set for one
/// statement only ([`MERGE_RESET`] follows it); no other statement of the transaction sees it.
/// (Disabling sorts too made the planner walk the whole `resource` primary key in order
/// rather than sort the page's 20 rows: 5 s.) The generic plan is used from the first
/// execution of a prepared statement ([`run_prepared`]).
const MERGE_ONLY: &str =
    "SET LOCAL enable_hashagg = off; SET LOCAL plan_cache_mode = force_generic_plan";
const MERGE_RESET: &str = "RESET enable_hashagg; RESET plan_cache_mode";

/// The page statement. A search over ordered keys that wants a bounded total fetches both in
/// one statement: the merged walk, cut after `max(offset + count, limit + 1)` keys, is
/// materialised once, counted, and the page is sliced from it. Two statements planned the
/// same arms twice (8 ms of planning for a 31-target chain) and walked them twice.
pub(crate) fn page_statement(
    plan: &Plan,
    need: TotalNeed,
    count: usize,
    offset: usize,
) -> PageStatement {
    if let (TotalNeed::UpTo(limit), Some(keys)) = (need, plan.keys.as_ref().filter(|k| k.joined)) {
        return joined_page_statement(keys, count, offset, limit);
    }
    let (TotalNeed::UpTo(limit), Some(keys)) = (need, plan.keys.as_ref().filter(|k| k.ordered))
    else {
        return PageStatement {
            sql: page_sql(plan, count, offset),
            with_total: false,
            merge_only: plan
                .keys
                .as_ref()
                .is_some_and(|k| k.ordered && k.arms.len() > 1),
        };
    };
    let window = count
        .saturating_add(offset)
        .max(usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX));
    let mut total = Sql::default();
    total.push("(SELECT count(*) FROM k)");
    page_over_keys(
        keys.page(&Postgres, window, 0),
        total,
        "k.id",
        (count, offset),
        keys.arms.len() > 1,
    )
}

/// [`page_statement`] for a chain or `_has` join (`Keys::joined`), which computes and groups
/// every match whatever the page: the grouped keys are materialised once, the page sorted out
/// of them, and the bounded total counted from them (the page and a separate count did the
/// join twice: 56 + 52 ms for a `_has` over 1,764 Conditions at 1 M resources).
fn joined_page_statement(keys: &Keys, count: usize, offset: usize, limit: u64) -> PageStatement {
    let mut total = Sql::default();
    total.push("(SELECT count(*) FROM (SELECT 1 FROM k LIMIT ");
    total.bind(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX));
    total.push(") AS c)");
    // The search's own row order, as `Keys::page` sorts grouped keys.
    let order = Postgres.row_order(true).replace("r.", "k.");
    page_over_keys(
        keys.distinct(&Postgres),
        total,
        &order,
        (count, offset),
        false,
    )
}

/// `WITH k AS MATERIALIZED (<keys>)`: the page of `count` keys from `offset` in `order`,
/// their resources and versions, and `total` (an expression over `k`) on every row.
fn page_over_keys(
    keys: Sql,
    total: Sql,
    order: &str,
    (count, offset): (usize, usize),
    merge_only: bool,
) -> PageStatement {
    let mut sql = Sql::default();
    sql.push("WITH k AS MATERIALIZED (");
    sql.append(keys);
    sql.push(&format!(") SELECT {VERSION_COLUMNS}, r.part, "));
    sql.append(total);
    sql.push(&format!(
        " FROM (SELECT r.part, r.rtype, r.id, r.version, r.ts FROM resource r \
         WHERE (r.part, r.rtype, r.id) IN (SELECT k.part, k.rtype, k.id FROM k ORDER BY {order} LIMIT "
    ));
    sql.bind(i64::try_from(count).unwrap_or(i64::MAX));
    sql.push(" OFFSET ");
    sql.bind(i64::try_from(offset).unwrap_or(i64::MAX));
    sql.push(
        ") AND NOT r.deleted) r JOIN version v ON v.part = r.part AND v.rtype = r.rtype \
         AND v.id = r.id AND v.version = r.version ORDER BY r.part, r.rtype, r.id || ''",
    );
    PageStatement {
        sql,
        with_total: true,
        merge_only,
    }
}

/// Runs `sql` under [`MERGE_ONLY`] when asked.
async fn run_merged(
    client: &ClientWrapper,
    sql: &Sql,
    merge_only: bool,
) -> Result<Vec<tokio_postgres::Row>> {
    if !merge_only {
        return run(client, sql).await;
    }
    client
        .batch_execute(MERGE_ONLY)
        .await
        .map_err(store_error)?;
    // A failed statement aborts the transaction, which ends the `SET LOCAL`s with it: its own
    // error is the one to report, not the refused `RESET`.
    let rows = run_prepared(client, sql).await?;
    client
        .batch_execute(MERGE_RESET)
        .await
        .map_err(store_error)?;
    Ok(rows)
}

/// Prepared statements a connection keeps for [`run_prepared`] before it forgets them all.
const MAX_PREPARED: usize = 256;

/// Runs `sql` as a named statement from the connection's cache. For the merged walks only:
/// planning 31 arms took 5–10 ms, more than running them, and their plan does not depend on
/// the values (one index seek per arm, merged), so the generic plan, made once per connection
/// and text, is the same plan without the planning. Their texts vary only with the number
/// and shape of the arms, so the cache stays small; it is emptied past [`MAX_PREPARED`].
async fn run_prepared(client: &ClientWrapper, sql: &Sql) -> Result<Vec<tokio_postgres::Row>> {
    let owned = params(&sql.params);
    let refs: Vec<&(dyn ToSql + Sync)> = owned
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let types: Vec<Type> = sql.params.iter().map(sql_type).collect();
    if client.statement_cache.size() >= MAX_PREPARED {
        client.statement_cache.clear();
    }
    let statement = client
        .prepare_typed_cached(sql.numbered().as_str(), &types)
        .await
        .map_err(store_error)?;
    client.query(&statement, &refs).await.map_err(store_error)
}

/// The page's versions with their keys, and the bounded total when the statement carries it
/// (`None` for an empty page, which carries nothing).
async fn page_rows(
    client: &ClientWrapper,
    page: &PageStatement,
) -> Result<(Vec<(ResourceVersion, Key)>, Option<u64>)> {
    let rows = run_merged(client, &page.sql, page.merge_only).await?;
    let corrupt = |e: tokio_postgres::Error| crosscare_store::StoreError::Corrupt(e.to_string());
    let mut out = Vec::with_capacity(rows.len());
    let mut total = None;
    for row in &rows {
        let v = version_from_row(row)?;
        let part: String = row.try_get(6).map_err(corrupt)?;
        if page.with_total {
            let n: i64 = row.try_get(7).map_err(corrupt)?;
            total = Some(n.max(0) as u64);
        }
        let key = (part, v.resource_type.clone(), v.id.clone());
        out.push((v, key));
    }
    Ok((out, total))
}

pub(crate) async fn search(
    client: &ClientWrapper,
    partitions: &[PartitionId],
    query: &SearchQuery,
) -> Result<SearchPage> {
    let need = TotalNeed::of(query);
    if partitions.is_empty() {
        return Ok(SearchPage {
            total: (need != TotalNeed::None).then_some(0),
            ..SearchPage::default()
        });
    }
    let parts = scope_parts(partitions);
    let part_names: Vec<String> = parts
        .iter()
        .filter_map(|p| match p {
            SqlValue::Text(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    let pinned = pin_targets(client, &parts, query).await?;
    let query = pinned.as_ref().unwrap_or(query);
    let scope = scope_of(query, parts);
    let plan = compile(&Postgres, query, &scope)?;
    if query.result.summary == Some(SummaryMode::Count) {
        return Ok(SearchPage {
            total: Some(query_rows_count(client, &total_sql(&plan, None), false).await?),
            ..SearchPage::default()
        });
    }
    let offset = match &query.result.cursor {
        // The cursor this store issues is the offset of the next page.
        Some(c) => c.parse::<usize>().unwrap_or(query.result.offset),
        None => query.result.offset,
    };
    let count = query.result.count.unwrap_or(DEFAULT_COUNT);
    let page = page_statement(&plan, need, count, offset);
    let (rows, counted) = page_rows(client, &page).await?;
    let total = match (need, need.from_page(offset, count, rows.len())) {
        (_, Some(known)) => Some(known),
        (TotalNeed::None, _) => None,
        (TotalNeed::UpTo(limit), _) if counted.is_some() => counted.filter(|n| *n <= limit),
        (TotalNeed::Count, _) => {
            Some(query_rows_count(client, &total_sql(&plan, None), false).await?)
        }
        (TotalNeed::UpTo(limit), _) => {
            let sql = total_sql(&plan, Some(limit.saturating_add(1)));
            let n = query_rows_count(client, &sql, page.merge_only).await?;
            (n <= limit).then_some(n)
        }
    };
    let page_keys: Vec<Key> = rows.iter().map(|(_, k)| k.clone()).collect();
    let included = includes(client, &part_names, query, &page_keys).await?;
    Ok(SearchPage {
        matches: rows.into_iter().map(|(v, _)| v).collect(),
        included,
        total,
    })
}

/// The chain rewrite of `search_sql::pin`, as the SQLite store does: each rewritten value is
/// an ordered arm on `idx_reference_target` (`Keys::ordered`), so the page is cut after
/// `offset + count` per target, where the chain grouped and sorted every referrer of every
/// target (the Observations of all patients with the prefix). One extra statement, over the
/// targets' index.
async fn pin_targets(
    client: &ClientWrapper,
    parts: &[SqlValue],
    query: &SearchQuery,
) -> Result<Option<SearchQuery>> {
    let (Some(pin), Some(part)) = (ChainPin::of(query, parts.len()), parts.first()) else {
        return Ok(None);
    };
    let sql = pin.targets_sql(&Postgres, part.clone())?;
    let rows = run(client, &sql).await?;
    let mut ids = Vec::with_capacity(rows.len());
    for row in &rows {
        ids.push(
            row.try_get(0)
                .map_err(|e| crosscare_store::StoreError::Corrupt(e.to_string()))?,
        );
    }
    Ok(pin.rewrite(ids))
}

/// The types of the resources holding a local reference to `target_type/target_id`: one
/// index-only statement over `idx_reference_reverse (part, ttype, tid, rtype)`, whose cost
/// follows the number of references to the target (a patient's resources), so that a
/// compartment search asks only those types instead of counting each of the compartment's
/// 30-odd types.
pub(crate) async fn referring_types(
    client: &ClientWrapper,
    partitions: &[PartitionId],
    target_type: &str,
    target_id: &str,
) -> Result<Vec<String>> {
    let parts: Vec<String> = partitions.iter().map(|p| p.0.clone()).collect();
    let rows = client
        .query_typed(
            "SELECT DISTINCT rtype FROM idx_reference WHERE part = ANY($1) AND ttype = $2 \
             AND tid = $3 AND cid IS NULL AND url IS NULL",
            &[
                (&parts, Type::TEXT_ARRAY),
                (&target_type, Type::TEXT),
                (&target_id, Type::TEXT),
            ],
        )
        .await
        .map_err(store_error)?;
    rows.iter()
        .map(|r| {
            r.try_get(0)
                .map_err(|e| crosscare_store::StoreError::Corrupt(e.to_string()))
        })
        .collect()
}

/// The `count(*)` a statement returns; `merge_only` as for the page (a bounded count over
/// ordered arms).
async fn query_rows_count(client: &ClientWrapper, sql: &Sql, merge_only: bool) -> Result<u64> {
    let rows = run_merged(client, sql, merge_only).await?;
    let n: i64 = match rows.first() {
        Some(row) => row
            .try_get(0)
            .map_err(|e| crosscare_store::StoreError::Corrupt(e.to_string()))?,
        None => 0,
    };
    Ok(n.max(0) as u64)
}

/// `_include` / `_revinclude` for the page, then `:iterate` rounds over the newly included.
async fn includes(
    client: &ClientWrapper,
    parts: &[String],
    query: &SearchQuery,
    page: &[Key],
) -> Result<Vec<ResourceVersion>> {
    let (inc, rev) = (&query.result.include, &query.result.revinclude);
    if page.is_empty() || (inc.is_empty() && rev.is_empty()) {
        return Ok(Vec::new());
    }
    let mut seen: HashSet<Key> = page.iter().cloned().collect();
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
            let (text, values) = include_sql(parts, include, reverse, &frontier);
            let typed: Vec<(&(dyn ToSql + Sync), Type)> = values
                .iter()
                .map(|(p, t)| (p.as_ref() as &(dyn ToSql + Sync), t.clone()))
                .collect();
            let rows = client
                .query_typed(text.as_str(), &typed)
                .await
                .map_err(store_error)?;
            for row in &rows {
                let v = version_from_row(row)?;
                let part: String = row
                    .try_get(6)
                    .map_err(|e| crosscare_store::StoreError::Corrupt(e.to_string()))?;
                if out.len() >= MAX_INCLUDED {
                    return Ok(out);
                }
                let key = (part, v.resource_type.clone(), v.id.clone());
                if seen.insert(key.clone()) {
                    out.push(v);
                    next.push(key);
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

/// Resources referenced by (`_include`) or referring to (`_revinclude`) the `from` rows, in
/// one statement whose keys arrive as three arrays (`unnest`), whatever the page size.
fn include_sql(
    parts: &[String],
    include: &Include,
    reverse: bool,
    from: &[Key],
) -> (String, Vec<TypedParam>) {
    let (fp, ft, fi): (Vec<String>, Vec<String>, Vec<String>) = {
        let mut a = (Vec::new(), Vec::new(), Vec::new());
        for (p, t, i) in from {
            a.0.push(p.clone());
            a.1.push(t.clone());
            a.2.push(i.clone());
        }
        a
    };
    let (join_r, from_cols) = if reverse {
        (
            "r.part = x.part AND r.rtype = x.rtype AND r.id = x.id",
            "(x.part, x.ttype, x.tid)",
        )
    } else {
        (
            "r.part = x.part AND r.rtype = x.ttype AND r.id = x.tid",
            "(x.part, x.rtype, x.id)",
        )
    };
    let mut values: Vec<TypedParam> = vec![
        (Box::new(fp), Type::TEXT_ARRAY),
        (Box::new(ft), Type::TEXT_ARRAY),
        (Box::new(fi), Type::TEXT_ARRAY),
        (Box::new(parts.to_vec()), Type::TEXT_ARRAY),
        (Box::new(include.source_type.clone()), Type::TEXT),
    ];
    let mut text = format!(
        "SELECT {VERSION_COLUMNS}, r.part FROM idx_reference x \
         JOIN resource r ON {join_r} \
         JOIN version v ON v.part = r.part AND v.rtype = r.rtype AND v.id = r.id \
         AND v.version = r.version \
         WHERE {from_cols} IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[])) \
         AND x.part = ANY($4::text[]) AND x.rtype = $5"
    );
    if let Some(param) = &include.param {
        values.push((Box::new(param.clone()), Type::TEXT));
        text.push_str(&format!(" AND x.param = ${}", values.len()));
    }
    if let Some(t) = &include.target_type {
        values.push((Box::new(t.clone()), Type::TEXT));
        text.push_str(&format!(" AND x.ttype = ${}", values.len()));
    }
    text.push_str(
        " AND x.cid IS NULL AND x.url IS NULL AND NOT r.deleted \
         ORDER BY r.part, r.rtype, r.id",
    );
    (text, values)
}
