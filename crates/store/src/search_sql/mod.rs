//! Compiles a [`SearchQuery`] into SQL, for both backends: the filters become one boolean
//! expression over the `resource` row (`r`), each parameter an uncorrelated
//! `<key of r> IN (SELECT <key> FROM idx_… …)` whose branches seek the
//! `(partition, rtype, param, value…)` indexes; chains and `_has` are joins through
//! `idx_reference`; `_sort` keys are per-resource `min`/`max` subqueries with the row key as the
//! final tiebreak.
//!
//! The compiler only produces text and bound values ([`Sql`], with `?` placeholders); the
//! backends run it (`sqlite::search`, `crosscare_store_postgres`'s `search`). The plan is the
//! same for both; what differs is a [`Dialect`] (see `docs/design/search-sql.md`).

pub mod dialect;
mod filter;
pub(crate) use filter::on_resource_row;
pub mod pin;
pub(crate) mod predicate;

pub use dialect::{Dialect, Postgres, Sqlite};

use crate::{Result, StoreError};
use crosscare_search::{Filter, SearchQuery, SortKey, SummaryMode, TotalMode};
use crosscare_spec::model::SearchParamType;

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Integer(i64),
    Real(f64),
    Text(String),
}

impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}

impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_string())
    }
}

impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Integer(v)
    }
}

impl From<f64> for SqlValue {
    fn from(v: f64) -> Self {
        SqlValue::Real(v)
    }
}

/// The parameter code under which component `i` of composite `param` is indexed (both
/// backends write composites this way: a tuple numbered `grp` is one row per component in
/// its own type's table under this code and the same `grp`).
pub fn component_param(param: &str, i: usize) -> String {
    format!("{param}${i}")
}

/// SQL text with its positional parameters (`?`), in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sql {
    pub text: String,
    pub params: Vec<SqlValue>,
}

impl Sql {
    pub fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    pub fn bind(&mut self, v: impl Into<SqlValue>) {
        self.text.push('?');
        self.params.push(v.into());
    }

    /// `= ?` for one value, `IN (?, …)` for several; `values` must not be empty.
    pub fn bind_in<V: Into<SqlValue> + Clone>(&mut self, values: &[V]) {
        match values {
            [one] => {
                self.push("= ");
                self.bind(one.clone());
            }
            many => {
                self.push("IN (");
                for (i, v) in many.iter().enumerate() {
                    if i > 0 {
                        self.push(", ");
                    }
                    self.bind(v.clone());
                }
                self.push(")");
            }
        }
    }

    pub fn append(&mut self, other: Sql) {
        self.text.push_str(&other.text);
        self.params.extend(other.params);
    }

    /// The text with PostgreSQL's numbered placeholders: the `n`-th `?` outside a quoted
    /// literal becomes `$n`. Statements are composed from fragments before their parameters'
    /// positions are known, so numbering happens once, on the finished statement.
    pub fn numbered(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 8);
        let (mut n, mut quoted) = (0usize, false);
        for ch in self.text.chars() {
            match ch {
                '\'' => {
                    quoted = !quoted;
                    out.push(ch);
                }
                '?' if !quoted => {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                }
                _ => out.push(ch),
            }
        }
        out
    }
}

/// Where a search looks: the partitions (SQLite: integer ids, written as literals; PostgreSQL:
/// names, bound) and the resource types (empty: all types).
#[derive(Debug, Clone)]
pub struct Scope {
    pub parts: Vec<SqlValue>,
    pub types: Vec<String>,
}

impl Scope {
    /// `{p}<partition> IN (…) [AND {p}rtype = ?]`.
    pub(crate) fn write(&self, d: &dyn Dialect, sql: &mut Sql, p: &str) {
        self.write_hinted(d, sql, p, "");
    }

    /// [`Scope::write`] with `hint` (the dialect's planner hint, or nothing) before each
    /// column: on SQLite a unary `+` makes these terms unindexable, which steers the planner
    /// towards the index the caller wants to drive the loop (see `docs/design/search-sql.md`).
    pub(crate) fn write_hinted(&self, d: &dyn Dialect, sql: &mut Sql, p: &str, hint: &str) {
        let p = format!("{hint}{p}");
        let p = p.as_str();
        sql.push(&format!("{p}{} IN (", d.part()));
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            match part {
                SqlValue::Integer(pid) => sql.push(&pid.to_string()),
                other => sql.bind(other.clone()),
            }
        }
        sql.push(")");
        if !self.types.is_empty() {
            sql.push(&format!(" AND {p}rtype "));
            sql.bind_in(&self.types);
        }
    }

    pub(crate) fn with_type(&self, t: &str) -> Scope {
        Scope {
            parts: self.parts.clone(),
            types: vec![t.to_string()],
        }
    }
}

/// The compiled statements of one search.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `WHERE` conditions on `resource r` (without the keyword).
    pub condition: Sql,
    /// `ORDER BY` keys (without the keyword); always ends with the dialect's row tiebreak.
    pub order: Sql,
    /// When the whole search is one index-backed filter (a parameter, a chain, `_has`) in row
    /// order (no `_sort`), the
    /// statements that find its keys in the index alone: see [`Keys`].
    pub keys: Option<Keys>,
    /// The same keys for a search with `_sort` (on anything but `_lastUpdated`), with the order
    /// over them: PostgreSQL sorts the matching keys without reading their `resource` rows.
    pub sorted: Option<SortedKeys>,
}

/// The matches of a sorted search that is one index-backed filter, and its `ORDER BY` over a
/// key aliased `s` (the sort keys' subqueries read the index tables by `s.part, s.rtype,
/// s.id`): the page is chosen from the keys alone, and only its resources are read. Index rows
/// exist only for current, undeleted versions, as for [`Keys`].
#[derive(Debug, Clone)]
pub struct SortedKeys {
    pub keys: Keys,
    pub order: Sql,
}

impl SortedKeys {
    /// `SELECT s.part, s.rtype, s.id … ORDER BY <sort keys> LIMIT ? OFFSET ?` (PostgreSQL).
    pub fn page(&self, d: &dyn Dialect, count: usize, offset: usize) -> Sql {
        let mut sql = Sql::default();
        sql.push(&format!("SELECT {} FROM (", d.key("s.")));
        sql.append(self.keys.distinct(d));
        sql.push(") AS s ORDER BY ");
        sql.append(self.order.clone());
        sql.push(" LIMIT ");
        sql.bind(i64::try_from(count).unwrap_or(i64::MAX));
        sql.push(" OFFSET ");
        sql.bind(i64::try_from(offset).unwrap_or(i64::MAX));
        sql
    }
}

/// The matches of a search that is exactly one index-backed filter, as index rows: one arm per
/// value of a parameter (`SELECT <key> FROM idx_… WHERE …`), or the join of a chain or `_has`.
///
/// Index rows exist only for the current version of undeleted resources (they are replaced on
/// update and removed on delete, in the same transaction), so the keys of a page and the
/// total can be read from the index without visiting one `resource` row per match: the page
/// statement then fetches `count` resources, whatever the number of matches. On SQLite a value
/// that pins every column of a covering index ahead of `rid` (a token `system|code`, `|code`)
/// is even walked in row order and stops after the page.
#[derive(Debug, Clone)]
pub struct Keys {
    pub arms: Vec<Sql>,
    /// True when every arm is an equality seek on an index whose next column is the row key,
    /// in a scope of one partition and one resource type: each arm then lists its keys in id
    /// order, which is the row order there (PostgreSQL's
    /// `idx_token_code (part, rtype, param, code, id, …)` and `idx_reference_target (part,
    /// rtype, param, tid, ttype, id)`, schema version 4), so the page is a merge of ordered
    /// walks that stops after `offset + count` keys instead of sorting every match.
    pub ordered: bool,
    /// The one arm is a chain or `_has` join: whatever the page, every match is computed and
    /// grouped (no ordered walk to stop early), so a backend may share that work between the
    /// page and a bounded total.
    pub joined: bool,
}

impl Keys {
    /// `SELECT DISTINCT <key> …` of one page, in key order (`ORDER BY 1` keeps SQLite's
    /// ordered index walk and merges several arms without sorting them).
    pub fn page(&self, d: &dyn Dialect, count: usize, offset: usize) -> Sql {
        let mut sql = Sql::default();
        if d.key_columns() > 1 && self.ordered {
            // One partition and one type: the id alone orders the keys, and each arm walks its
            // index in id order, grouped as the rows arrive. With several arms, each is cut
            // after `offset + count` distinct ids (PostgreSQL plans every arm of a `UNION ALL`
            // on its own, so it cannot carry the outer `LIMIT` into them), and the union of
            // those few is grouped and cut again. `min(part)`, `min(rtype)`: the constants of
            // the scope, without grouping by them (which would make PostgreSQL sort every
            // match: outside an arm they are not known to be constant).
            let n = i64::try_from(count.saturating_add(offset)).unwrap_or(i64::MAX);
            let rows = match self.arms.as_slice() {
                [arm] => arm.clone(),
                arms => {
                    let mut u = Sql::default();
                    for (i, arm) in arms.iter().enumerate() {
                        if i > 0 {
                            u.push(" UNION ALL ");
                        }
                        u.push("(");
                        u.append(ordered_ids(arm.clone(), true, Some(n)));
                        u.push(")");
                    }
                    u
                }
            };
            let mut page = ordered_ids(rows, true, Some(i64::try_from(count).unwrap_or(i64::MAX)));
            page.push(" OFFSET ");
            page.bind(i64::try_from(offset).unwrap_or(i64::MAX));
            return page;
        }
        if d.key_columns() > 1 {
            // A composite key: the arms (which may end in a planner fence) go in a derived
            // table, and PostgreSQL sorts the distinct keys of the matches, then takes the page.
            let key = d.key("k.");
            sql.push(&format!("SELECT {key} FROM ("));
            sql.append(self.union_all());
            // The search's own row order, which matches no index: walking a key-ordered index
            // and filtering it until `LIMIT` rows match would cost the whole type when few do.
            let order = d.row_order(true).replace("r.", "k.");
            sql.push(&format!(") AS k GROUP BY {key} ORDER BY {order} LIMIT "));
            sql.bind(i64::try_from(count).unwrap_or(i64::MAX));
            sql.push(" OFFSET ");
            sql.bind(i64::try_from(offset).unwrap_or(i64::MAX));
            return sql;
        }
        for (i, arm) in self.arms.iter().enumerate() {
            if i > 0 {
                sql.push(" UNION ");
            }
            let mut arm = arm.clone();
            if self.arms.len() == 1 {
                // One arm may list a resource twice; `UNION` already removes duplicates.
                arm.text = arm.text.replacen("SELECT ", "SELECT DISTINCT ", 1);
            }
            sql.append(arm);
        }
        sql.push(" ORDER BY 1 LIMIT ");
        sql.bind(i64::try_from(count).unwrap_or(i64::MAX));
        sql.push(" OFFSET ");
        sql.bind(i64::try_from(offset).unwrap_or(i64::MAX));
        sql
    }

    /// The number of distinct matching resources, stopping after `limit` when given: from the
    /// index rows alone, never the `resource` rows.
    pub fn count(&self, d: &dyn Dialect, limit: Option<u64>) -> Sql {
        if d.key_columns() > 1 {
            return self.count_composite(d, limit);
        }
        let mut sql = Sql::default();
        if let (Some(n), [arm]) = (limit, self.arms.as_slice()) {
            // No order: an unordered arm (a range, a chain) stops after `n` distinct keys
            // instead of sorting every match first.
            let mut arm = arm.clone();
            arm.text = arm.text.replacen("SELECT ", "SELECT DISTINCT ", 1);
            sql.push("SELECT count(*) FROM (");
            sql.append(arm);
            sql.push(" LIMIT ");
            sql.bind(i64::try_from(n).unwrap_or(i64::MAX));
            sql.push(")");
        } else if let Some(n) = limit {
            sql.push("SELECT count(*) FROM (");
            sql.append(self.page(d, usize::try_from(n).unwrap_or(usize::MAX), 0));
            sql.push(")");
        } else if let [arm] = self.arms.as_slice() {
            sql.push("SELECT count(DISTINCT rid) FROM (");
            sql.append(arm.clone());
            sql.push(")");
        } else {
            sql.push("SELECT count(*) FROM (");
            for (i, arm) in self.arms.iter().enumerate() {
                if i > 0 {
                    sql.push(" UNION ");
                }
                sql.append(arm.clone());
            }
            // Ordered arms are merged (no temporary B-tree holding every match).
            sql.push(" ORDER BY 1)");
        }
        sql
    }

    /// Every distinct matching key, in no order, as columns `part, rtype, id` (a composite key:
    /// PostgreSQL).
    pub fn distinct(&self, d: &dyn Dialect) -> Sql {
        if self.ordered {
            return ordered_ids(self.union_all(), true, None);
        }
        let key = d.key("k.");
        let mut sql = Sql::default();
        sql.push(&format!("SELECT {key} FROM ("));
        sql.append(self.union_all());
        sql.push(&format!(") AS k GROUP BY {key}"));
        sql
    }

    /// The arms joined by `UNION ALL` (duplicates are removed by the caller).
    fn union_all(&self) -> Sql {
        let mut sql = Sql::default();
        for (i, arm) in self.arms.iter().enumerate() {
            if i > 0 {
                sql.push(" UNION ALL ");
            }
            sql.append(arm.clone());
        }
        sql
    }

    /// [`Keys::count`] for a composite key (PostgreSQL): the index rows grouped by key, or by
    /// id when the arms are ordered (grouped as the merged walks arrive, so a bounded count
    /// stops after `limit` keys).
    fn count_composite(&self, d: &dyn Dialect, limit: Option<u64>) -> Sql {
        let mut sql = Sql::default();
        if self.ordered {
            // As the ordered page: each arm cut after `limit` ids, then the union grouped.
            let n = limit.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
            let rows = match (self.arms.as_slice(), n) {
                ([arm], _) => arm.clone(),
                (arms, Some(n)) => {
                    let mut u = Sql::default();
                    for (i, arm) in arms.iter().enumerate() {
                        if i > 0 {
                            u.push(" UNION ALL ");
                        }
                        u.push("(");
                        u.append(ordered_ids(arm.clone(), false, Some(n)));
                        u.push(")");
                    }
                    u
                }
                (_, None) => self.union_all(),
            };
            sql.push("SELECT count(*) FROM (");
            sql.append(ordered_ids(rows, false, n));
            sql.push(") AS c");
            return sql;
        }
        let key = d.key("k.");
        sql.push(&format!("SELECT count(*) FROM (SELECT {key} FROM ("));
        sql.append(self.union_all());
        sql.push(&format!(") AS k GROUP BY {key}"));
        if let Some(n) = limit {
            sql.push(" LIMIT ");
            sql.bind(i64::try_from(n).unwrap_or(i64::MAX));
        }
        sql.push(") AS c");
        sql
    }
}

/// The distinct ids of `rows` (keys of one partition and one type) in id order, the first
/// `limit` of them (all, in no order, without a limit), with the partition and type when
/// `with_key` (PostgreSQL's ordered keys: see [`Keys::ordered`]). Over one ordered index walk
/// this is a streaming `Group` that stops after `limit` ids.
fn ordered_ids(rows: Sql, with_key: bool, limit: Option<i64>) -> Sql {
    let mut sql = Sql::default();
    sql.push(if with_key {
        "SELECT min(k.part) AS part, min(k.rtype) AS rtype, k.id FROM ("
    } else {
        "SELECT k.id FROM ("
    });
    sql.append(rows);
    sql.push(") AS k GROUP BY k.id");
    if let Some(n) = limit {
        sql.push(" ORDER BY k.id LIMIT ");
        sql.bind(n);
    }
    sql
}

/// How a search's total is found, from `_summary` and `_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotalNeed {
    /// No total.
    None,
    /// Count every match (`_summary=count`, `_total=accurate|estimate`).
    Count,
    /// Exact up to this many matches, absent beyond ([`TotalMode::UpTo`]).
    UpTo(u64),
}

impl TotalNeed {
    pub fn of(query: &SearchQuery) -> Self {
        if query.result.summary == Some(SummaryMode::Count) {
            return TotalNeed::Count;
        }
        match query.result.total {
            Some(TotalMode::Accurate | TotalMode::Estimate) => TotalNeed::Count,
            Some(TotalMode::UpTo(n)) => TotalNeed::UpTo(n),
            Some(TotalMode::None) | None => TotalNeed::None,
        }
    }

    /// The total the page itself proves, without counting: a page shorter than asked for
    /// holds the last matches (when it holds any, or is the first page).
    pub fn from_page(self, offset: usize, count: usize, returned: usize) -> Option<u64> {
        let known = returned < count && (returned > 0 || offset == 0);
        (self != TotalNeed::None && known).then_some((offset + returned) as u64)
    }
}

/// `SELECT count(*)` of the matches of a plan's condition, stopping after `limit` when given.
pub fn count_sql(plan: &Plan, limit: Option<u64>) -> Sql {
    let mut sql = Sql::default();
    match limit {
        None => {
            sql.push("SELECT count(*) FROM resource r WHERE ");
            sql.append(plan.condition.clone());
        }
        Some(n) => {
            sql.push("SELECT count(*) FROM (SELECT 1 FROM resource r WHERE ");
            sql.append(plan.condition.clone());
            sql.push(" LIMIT ");
            sql.bind(i64::try_from(n).unwrap_or(i64::MAX));
            sql.push(") AS bounded");
        }
    }
    sql
}

/// The scope of a query: its resource type, or its `_type` list.
pub fn scope_of(query: &SearchQuery, parts: Vec<SqlValue>) -> Scope {
    let types = match &query.resource_type {
        Some(t) => vec![t.clone()],
        None => query.types.clone(),
    };
    Scope { parts, types }
}

/// Compiles the filters and sort keys.
pub fn compile(d: &dyn Dialect, query: &SearchQuery, scope: &Scope) -> Result<Plan> {
    let mut condition = Sql::default();
    // When a filter can drive the search from an index table (`r.rid IN (SELECT rid …)`),
    // the scope terms on `r` are made unindexable so that SQLite iterates that subquery's
    // rows instead of every resource of the type.
    let driven = query.filters.iter().any(filter::drives);
    let hint = if driven { d.hint() } else { "" };
    scope.write_hinted(d, &mut condition, "r.", hint);
    condition.push(&format!(" AND {}", d.not_deleted(&format!("{hint}r."))));
    let mut c = filter::Compiler::new(d);
    for f in &query.filters {
        condition.push(" AND ");
        c.filter(&mut condition, f, "r", scope)?;
    }
    let order = order_of(d, query, "r", d.row_order(driven))?;
    // Within one partition and one type, the id alone orders the rows (see `Keys::ordered`).
    let one_type = scope.types.len() == 1 && scope.parts.len() == 1;
    let unsorted = query.result.sort.is_empty();
    let keys = match query.filters.as_slice() {
        [f @ Filter::Param(pf)] if !pf.values.is_empty() && filter::drives(f) => Some(Keys {
            arms: filter::Compiler::new(d).param_arms(pf, scope)?,
            ordered: one_type && pf.values.iter().all(filter::ordered_value),
            joined: false,
        }),
        [Filter::Any(list)] if filter::any_has_arms(list) => {
            // A compartment (`Patient/1/Observation`, each type of `$everything`): an `OR` of
            // reference parameters (and `_id` for the compartment's own resource), whose arms
            // together list the matches.
            let mut c = filter::Compiler::new(d);
            let mut arms = Vec::new();
            let mut ordered = one_type;
            for f in list {
                let Filter::Param(pf) = f else {
                    continue;
                };
                if pf.param == "_id" {
                    arms.extend(c.id_arms(pf, scope)?);
                } else {
                    ordered &= pf.values.iter().all(filter::ordered_value);
                    arms.extend(c.param_arms(pf, scope)?);
                }
            }
            Some(Keys {
                arms,
                ordered,
                joined: false,
            })
        }
        [f @ (Filter::Chain { .. } | Filter::Has { .. })]
            if matches!(f, Filter::Chain { .. }) || scope.types.len() == 1 =>
        {
            // A `_has` arm lists referenced resources of whatever type the reference names;
            // it is only the search's type when the scope pins one.
            let mut arm = Sql::default();
            filter::Compiler::new(d).rows(&mut arm, f, scope)?;
            Some(Keys {
                arms: vec![arm],
                ordered: false,
                joined: true,
            })
        }
        _ => None,
    };
    // `_lastUpdated` is a column of `resource`: a sort on it needs the resource rows.
    let (keys, sorted) = match keys {
        Some(keys) if !unsorted && query.result.sort.iter().all(|k| k.param != "_lastUpdated") => {
            let order = order_of(d, query, "s", &d.row_order(true).replace("r.", "s."))?;
            (None, Some(SortedKeys { keys, order }))
        }
        keys if unsorted => (keys, None),
        _ => (None, None),
    };
    Ok(Plan {
        condition,
        order,
        keys,
        sorted,
    })
}

/// The `ORDER BY` keys of a query over the row key of `alias`, ending with `tiebreak`.
fn order_of(d: &dyn Dialect, query: &SearchQuery, alias: &str, tiebreak: &str) -> Result<Sql> {
    let mut order = Sql::default();
    for key in &query.result.sort {
        sort_key(d, &mut order, key, alias)?;
        order.push(", ");
    }
    order.push(tiebreak);
    Ok(order)
}

/// One `_sort` key over the row `alias`: resources without a value sort last in both
/// directions (`NULLS LAST`, which SQLite and PostgreSQL both write so).
fn sort_key(d: &dyn Dialect, sql: &mut Sql, key: &SortKey, alias: &str) -> Result<()> {
    let dir = if key.descending { "DESC" } else { "ASC" };
    let agg = if key.descending { "max" } else { "min" };
    let expr = match key.param.as_str() {
        "_id" => d.text_order(&format!("{alias}.id")),
        "_lastUpdated" => format!("{alias}.ts"),
        _ => {
            let (table, col) = match key.param_type {
                SearchParamType::String => ("idx_string", d.text_order("norm")),
                SearchParamType::Token => ("idx_token", d.text_order("code")),
                SearchParamType::Date => (
                    "idx_date",
                    (if key.descending { "hi" } else { "lo" }).to_string(),
                ),
                SearchParamType::Number => ("idx_number", "val".to_string()),
                SearchParamType::Quantity => ("idx_quantity", "val".to_string()),
                SearchParamType::Reference => (
                    "idx_reference",
                    d.text_order("coalesce(url, ttype || '/' || tid)"),
                ),
                SearchParamType::Uri => ("idx_uri", d.text_order("uri")),
                other => {
                    return Err(StoreError::UnsupportedSearch(format!(
                        "_sort on a {other:?} parameter"
                    )))
                }
            };
            let mut s = Sql::default();
            s.push(&format!(
                "(SELECT {agg}({col}) FROM {table} WHERE {} AND cid IS NULL AND param ",
                d.key_eq("", &format!("{alias}."))
            ));
            // A derived parameter sorts on the rows of its parts (`param IN (…)`).
            let stored = match key.stored.as_slice() {
                [] => std::slice::from_ref(&key.param),
                some => some,
            };
            s.bind_in(stored);
            s.push(&format!(") {dir} NULLS LAST"));
            // Written once, so that both backends run the subquery once per match (a separate
            // `IS NULL` key before it was a second subquery per match).
            sql.append(s);
            return Ok(());
        }
    };
    sql.push(&format!("{expr} {dir}"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crosscare_search::parse_query_string;

    /// Compiles `ty?qs` over partition 1 and compares the WHERE text and its bound values.
    fn check(ty: &str, qs: &str, expected_where: &str, expected_params: &[&str]) {
        let q = SearchQuery::parse(Some(ty), &parse_query_string(qs), false).unwrap();
        let plan = compile(&Sqlite, &q, &scope_of(&q, vec![SqlValue::Integer(1)])).unwrap();
        assert_eq!(plan.condition.text, expected_where, "{ty}?{qs}");
        let params: Vec<String> = plan
            .condition
            .params
            .iter()
            .map(|v| match v {
                SqlValue::Text(s) => s.clone(),
                SqlValue::Integer(i) => i.to_string(),
                SqlValue::Real(f) => f.to_string(),
            })
            .collect();
        assert_eq!(params, expected_params, "{ty}?{qs}");
    }

    #[test]
    fn compiles_parameters_to_index_subqueries() {
        check(
            "Patient",
            "gender=female,male",
            "+r.pid IN (1) AND +r.rtype = ? AND +r.deleted = 0 AND r.rid IN (\
             SELECT rid FROM idx_token WHERE pid IN (1) AND rtype = ? AND param = ? AND cid IS NULL AND code = ? \
             UNION SELECT rid FROM idx_token WHERE pid IN (1) AND rtype = ? AND param = ? AND cid IS NULL AND code = ?)",
            &["Patient", "Patient", "gender", "female", "Patient", "gender", "male"],
        );
        check(
            "Patient",
            "_id=a",
            "r.pid IN (1) AND r.rtype = ? AND r.deleted = 0 AND (r.id = ?)",
            &["Patient", "a"],
        );
        check(
            "Observation",
            "value-quantity=gt5",
            "+r.pid IN (1) AND +r.rtype = ? AND +r.deleted = 0 AND r.rid IN (\
             SELECT rid FROM idx_quantity WHERE pid IN (1) AND rtype = ? AND param = ? AND cid IS NULL AND val > ?)",
            &["Observation", "Observation", "value-quantity", "5"],
        );
    }

    #[test]
    fn sort_keys_end_with_the_rid_tiebreak() {
        let q = SearchQuery::parse(
            Some("Patient"),
            &parse_query_string("_sort=-_lastUpdated,_id"),
            false,
        )
        .unwrap();
        let plan = compile(&Sqlite, &q, &scope_of(&q, vec![SqlValue::Integer(1)])).unwrap();
        assert_eq!(plan.order.text, "r.ts DESC, r.id ASC, r.rid");
    }

    #[test]
    fn postgres_keys_rows_by_partition_type_and_id() {
        let q = SearchQuery::parse(
            Some("Observation"),
            &parse_query_string("subject:Patient.family=smi&_sort=code"),
            false,
        )
        .unwrap();
        let scope = scope_of(&q, vec![SqlValue::Text("default".into())]);
        let plan = compile(&Postgres, &q, &scope).unwrap();
        assert_eq!(
            plan.condition.numbered(),
            "r.part IN ($1) AND r.rtype = $2 AND NOT r.deleted AND (r.part, r.rtype, r.id) IN (\
             SELECT x1.part, x1.rtype, x1.id FROM idx_reference x1 JOIN resource t2 \
             ON t2.part = x1.part AND t2.rtype = x1.ttype AND t2.id = x1.tid \
             WHERE x1.part IN ($3) AND x1.rtype = $4 AND x1.param = $5 AND x1.cid IS NULL \
             AND x1.url IS NULL AND x1.ttype = $6 AND NOT t2.deleted AND (t2.part, t2.rtype, t2.id) IN (\
             SELECT part, rtype, id FROM idx_string WHERE part IN ($7) AND rtype = $8 AND param = $9 \
             AND cid IS NULL AND norm ~>=~ $10 AND norm ~<~ $11))"
        );
        assert_eq!(
            plan.order.numbered(),
            "(SELECT min(code COLLATE \"C\") FROM idx_token WHERE part = r.part AND rtype = r.rtype \
             AND id = r.id AND cid IS NULL AND param = $1) ASC NULLS LAST, r.part, r.rtype, r.id || ''"
        );
    }

    #[test]
    fn numbering_skips_quoted_question_marks() {
        let mut sql = Sql::default();
        sql.push("a = ");
        sql.bind(1i64);
        sql.push(" AND b IN ('?', '''?') AND c = ");
        sql.bind(2i64);
        assert_eq!(sql.numbered(), "a = $1 AND b IN ('?', '''?') AND c = $2");
    }
}
