//! Compiles a [`SearchQuery`] into SQL: the filters become one boolean expression over the
//! `resource` row (`r`), each parameter an uncorrelated `r.rid IN (SELECT rid FROM idx_… …)`
//! whose branches seek the `(pid, rtype, param, value…)` indexes; chains and `_has` are joins
//! through `idx_reference`; `_sort` keys are per-resource `min`/`max` subqueries with `r.rid`
//! as the final tiebreak.
//!
//! The compiler only produces text and bound values ([`Sql`]); running it is
//! `sqlite::search`. The plan (which table, which condition) is dialect-neutral except for
//! the few SQLite functions used (`instr`, `substr`), so a PostgreSQL dialect can reuse it.

mod filter;
pub(crate) mod predicate;

use crate::{Result, StoreError};
use crosscare_search::{SearchQuery, SortKey};
use crosscare_spec::model::SearchParamType;
use rusqlite::types::Value as SqlValue;

/// SQL text with its positional parameters, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sql {
    pub text: String,
    pub params: Vec<SqlValue>,
}

impl Sql {
    pub(crate) fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    pub(crate) fn bind(&mut self, v: impl Into<SqlValue>) {
        self.text.push('?');
        self.params.push(v.into());
    }

    pub(crate) fn append(&mut self, other: Sql) {
        self.text.push_str(&other.text);
        self.params.extend(other.params);
    }
}

/// Where a search looks: the partitions (already resolved to ids) and the resource types
/// (empty: all types).
#[derive(Debug, Clone)]
pub struct Scope {
    pub pids: Vec<i64>,
    pub types: Vec<String>,
}

impl Scope {
    /// `{p}pid IN (…) [AND {p}rtype = ?]`.
    pub(crate) fn write(&self, sql: &mut Sql, p: &str) {
        self.write_hinted(sql, p, "");
    }

    /// [`Scope::write`] with a unary `+` before each column when `hint` is `"+"`: SQLite then
    /// does not use an index for these terms, which steers the planner towards the index the
    /// caller wants to drive the loop (see `docs/design/search-sql.md`).
    pub(crate) fn write_hinted(&self, sql: &mut Sql, p: &str, hint: &str) {
        let p = format!("{hint}{p}");
        let p = p.as_str();
        let pids: Vec<String> = self.pids.iter().map(i64::to_string).collect();
        sql.push(&format!("{p}pid IN ({})", pids.join(", ")));
        match self.types.as_slice() {
            [] => {}
            [one] => {
                sql.push(&format!(" AND {p}rtype = "));
                sql.bind(one.clone());
            }
            many => {
                sql.push(&format!(" AND {p}rtype IN ("));
                for (i, t) in many.iter().enumerate() {
                    if i > 0 {
                        sql.push(", ");
                    }
                    sql.bind(t.clone());
                }
                sql.push(")");
            }
        }
    }

    pub(crate) fn with_type(&self, t: &str) -> Scope {
        Scope {
            pids: self.pids.clone(),
            types: vec![t.to_string()],
        }
    }
}

/// The compiled statements of one search.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `WHERE` conditions on `resource r` (without the keyword).
    pub condition: Sql,
    /// `ORDER BY` keys (without the keyword); always ends with the `r.rid` tiebreak.
    pub order: Sql,
}

/// The scope of a query: its resource type, or its `_type` list.
pub fn scope_of(query: &SearchQuery, pids: Vec<i64>) -> Scope {
    let types = match &query.resource_type {
        Some(t) => vec![t.clone()],
        None => query.types.clone(),
    };
    Scope { pids, types }
}

/// Compiles the filters and sort keys.
pub fn compile(query: &SearchQuery, scope: &Scope) -> Result<Plan> {
    let mut condition = Sql::default();
    // When a filter can drive the search from an index table (`r.rid IN (SELECT rid …)`),
    // the scope terms on `r` are made unindexable so that SQLite iterates that subquery's
    // rows instead of every resource of the type.
    let hint = if query.filters.iter().any(filter::drives) {
        "+"
    } else {
        ""
    };
    scope.write_hinted(&mut condition, "r.", hint);
    condition.push(&format!(" AND {hint}r.deleted = 0"));
    let mut c = filter::Compiler::default();
    for f in &query.filters {
        condition.push(" AND ");
        c.filter(&mut condition, f, "r", scope)?;
    }
    let mut order = Sql::default();
    for key in &query.result.sort {
        sort_key(&mut order, key)?;
        order.push(", ");
    }
    order.push("r.rid");
    Ok(Plan { condition, order })
}

/// One `_sort` key: resources without a value sort last in both directions.
fn sort_key(sql: &mut Sql, key: &SortKey) -> Result<()> {
    let dir = if key.descending { "DESC" } else { "ASC" };
    let agg = if key.descending { "max" } else { "min" };
    let expr = match key.param.as_str() {
        "_id" => "r.id".to_string(),
        "_lastUpdated" => "r.ts".to_string(),
        _ => {
            let (table, col) = match key.param_type {
                SearchParamType::String => ("idx_string", "norm"),
                SearchParamType::Token => ("idx_token", "code"),
                SearchParamType::Date => ("idx_date", if key.descending { "hi" } else { "lo" }),
                SearchParamType::Number => ("idx_number", "val"),
                SearchParamType::Quantity => ("idx_quantity", "val"),
                SearchParamType::Reference => {
                    ("idx_reference", "coalesce(url, ttype || '/' || tid)")
                }
                SearchParamType::Uri => ("idx_uri", "uri"),
                other => {
                    return Err(StoreError::UnsupportedSearch(format!(
                        "_sort on a {other:?} parameter"
                    )))
                }
            };
            let mut s = Sql::default();
            s.push(&format!(
                "(SELECT {agg}({col}) FROM {table} WHERE rid = r.rid AND cid IS NULL AND param = "
            ));
            s.bind(key.param.clone());
            s.push(")");
            // The key is written twice (NULLs-last flag, then the value); bind it twice.
            let text = s.text.clone();
            sql.push(&format!("{text} IS NULL, "));
            sql.params.extend(s.params.clone());
            sql.push(&format!("{text} {dir}"));
            sql.params.extend(s.params);
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
        let plan = compile(&q, &scope_of(&q, vec![1])).unwrap();
        assert_eq!(plan.condition.text, expected_where, "{ty}?{qs}");
        let params: Vec<String> = plan
            .condition
            .params
            .iter()
            .map(|v| match v {
                SqlValue::Text(s) => s.clone(),
                SqlValue::Integer(i) => i.to_string(),
                SqlValue::Real(f) => f.to_string(),
                other => format!("{other:?}"),
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
        let plan = compile(&q, &scope_of(&q, vec![1])).unwrap();
        assert_eq!(plan.order.text, "r.ts DESC, r.id ASC, r.rid");
    }
}
