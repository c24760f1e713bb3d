//! Filters to SQL boolean expressions over a resource alias: parameters, `:missing`, `:not`,
//! chains, `_has`, compartments (`Any`) and `_list`.

use super::predicate::{condition, range_compare, table_of};
use super::{Scope, Sql};
use crate::sqlite::index::component_param;
use crate::{Result, StoreError};
use crosscare_search::param::token::TokenMatch;
use crosscare_search::{Filter, ParamFilter, Predicate};

/// Every index table, for `:missing` (which does not know the parameter's type).
const VALUE_TABLES: &[&str] = &[
    "idx_token",
    "idx_string",
    "idx_date",
    "idx_number",
    "idx_quantity",
    "idx_reference",
    "idx_uri",
    "idx_composite",
];

/// True when the filter is a `rid IN (…)` over an index seek that can drive the search.
pub(crate) fn drives(f: &Filter) -> bool {
    match f {
        Filter::Param(pf) => !matches!(pf.param.as_str(), "_id" | "_lastUpdated"),
        Filter::Chain { .. } | Filter::Has { .. } | Filter::List(_) => true,
        Filter::Any(list) => !list.is_empty() && list.iter().all(drives),
        Filter::Missing { missing, .. } => !missing,
        Filter::Not(_) => false,
    }
}

/// Allocates fresh table aliases for nested joins.
#[derive(Default)]
pub(crate) struct Compiler {
    next: usize,
}

impl Compiler {
    fn alias(&mut self, base: &str) -> String {
        self.next += 1;
        format!("{base}{}", self.next)
    }

    /// Writes a condition that holds for the `resource` row `alias` when `f` holds.
    pub(crate) fn filter(
        &mut self,
        sql: &mut Sql,
        f: &Filter,
        alias: &str,
        scope: &Scope,
    ) -> Result<()> {
        match f {
            Filter::Param(pf) => self.param(sql, pf, alias, scope),
            Filter::Missing { param, missing } => {
                let not = if *missing { "NOT " } else { "" };
                sql.push(&format!("{alias}.rid {not}IN ("));
                for (i, table) in VALUE_TABLES.iter().enumerate() {
                    if i > 0 {
                        sql.push(" UNION ALL ");
                    }
                    sql.push(&format!("SELECT rid FROM {table} WHERE "));
                    scope.write(sql, "");
                    sql.push(" AND param = ");
                    sql.bind(param.clone());
                    sql.push(" AND cid IS NULL");
                }
                sql.push(")");
                Ok(())
            }
            Filter::Not(inner) => {
                sql.push("NOT (");
                self.filter(sql, inner, alias, scope)?;
                sql.push(")");
                Ok(())
            }
            Filter::Any(list) => {
                if list.is_empty() {
                    sql.push("0");
                    return Ok(());
                }
                sql.push("(");
                for (i, inner) in list.iter().enumerate() {
                    if i > 0 {
                        sql.push(" OR ");
                    }
                    self.filter(sql, inner, alias, scope)?;
                }
                sql.push(")");
                Ok(())
            }
            Filter::Chain {
                param,
                target_type,
                filter,
            } => {
                let (x, t) = (self.alias("x"), self.alias("t"));
                sql.push(&format!(
                    "{alias}.rid IN (SELECT {x}.rid FROM idx_reference {x} JOIN resource {t} \
                     ON {t}.pid = {x}.pid AND {t}.rtype = {x}.ttype AND {t}.id = {x}.tid WHERE "
                ));
                // The inner filter drives: target rows first, then their referrers through
                // `idx_reference_reverse` (pid, ttype, tid).
                scope.write_hinted(sql, &format!("{x}."), "+");
                sql.push(&format!(" AND +{x}.param = "));
                sql.bind(param.clone());
                sql.push(&format!(
                    " AND +{x}.cid IS NULL AND +{x}.url IS NULL AND {x}.ttype = "
                ));
                sql.bind(target_type.clone());
                sql.push(&format!(" AND {t}.deleted = 0 AND "));
                self.filter(sql, filter, &t, &scope.with_type(target_type))?;
                sql.push(")");
                Ok(())
            }
            Filter::Has {
                resource_type,
                param,
                filter,
            } => {
                let (x, s, t) = (self.alias("x"), self.alias("s"), self.alias("t"));
                sql.push(&format!(
                    "{alias}.rid IN (SELECT {t}.rid FROM idx_reference {x} \
                     JOIN resource {s} ON {s}.rid = {x}.rid \
                     JOIN resource {t} ON {t}.pid = {x}.pid AND {t}.rtype = {x}.ttype AND {t}.id = {x}.tid \
                     WHERE "
                ));
                // The inner filter drives: source rows first, then their references through
                // `idx_reference_rid`, then the referenced rows by `resource_key`.
                scope
                    .with_type(resource_type)
                    .write_hinted(sql, &format!("{x}."), "+");
                sql.push(&format!(" AND +{x}.param = "));
                sql.bind(param.clone());
                sql.push(&format!(" AND +{x}.cid IS NULL AND +{x}.url IS NULL"));
                if let [one] = scope.types.as_slice() {
                    sql.push(&format!(" AND +{x}.ttype = "));
                    sql.bind(one.clone());
                }
                sql.push(&format!(" AND {s}.deleted = 0 AND "));
                self.filter(sql, filter, &s, &scope.with_type(resource_type))?;
                sql.push(")");
                Ok(())
            }
            Filter::List(id) => {
                let (l, x, t) = (self.alias("l"), self.alias("x"), self.alias("t"));
                sql.push(&format!(
                    "{alias}.rid IN (SELECT {t}.rid FROM resource {l} \
                     JOIN idx_reference {x} ON {x}.rid = {l}.rid AND {x}.param = 'item' AND {x}.cid IS NULL \
                     JOIN resource {t} ON {t}.pid = {x}.pid AND {t}.rtype = {x}.ttype AND {t}.id = {x}.tid \
                     WHERE "
                ));
                scope.with_type("List").write(sql, &format!("{l}."));
                sql.push(&format!(" AND {l}.id = "));
                sql.bind(id.clone());
                sql.push(&format!(" AND {l}.deleted = 0)"));
                Ok(())
            }
        }
    }

    fn param(&mut self, sql: &mut Sql, pf: &ParamFilter, alias: &str, scope: &Scope) -> Result<()> {
        if pf.values.is_empty() {
            sql.push("0");
            return Ok(());
        }
        match pf.param.as_str() {
            "_id" => return id_filter(sql, pf, alias),
            "_lastUpdated" => return last_updated_filter(sql, pf, alias),
            _ => {}
        }
        sql.push(&format!("{alias}.rid IN ("));
        for (i, p) in pf.values.iter().enumerate() {
            if i > 0 {
                sql.push(" UNION ");
            }
            if let Predicate::Composite(cp) = p {
                let k = self.alias("k");
                sql.push(&format!("SELECT {k}.rid FROM idx_composite {k} WHERE "));
                scope.write(sql, &format!("{k}."));
                sql.push(&format!(" AND {k}.param = "));
                sql.bind(pf.param.clone());
                sql.push(&format!(" AND {k}.cid IS NULL"));
                for (n, comp) in cp.components.iter().enumerate() {
                    let c = self.alias("c");
                    sql.push(&format!(
                        " AND EXISTS (SELECT 1 FROM {} {c} WHERE {c}.rid = {k}.rid AND {c}.grp = {k}.grp AND {c}.param = ",
                        table_of(comp)
                    ));
                    sql.bind(component_param(&pf.param, n));
                    sql.push(" AND ");
                    condition(sql, &format!("{c}."), comp)?;
                    sql.push(")");
                }
            } else {
                sql.push(&format!("SELECT rid FROM {} WHERE ", table_of(p)));
                scope.write(sql, "");
                sql.push(" AND param = ");
                sql.bind(pf.param.clone());
                sql.push(" AND cid IS NULL AND ");
                condition(sql, "", p)?;
            }
        }
        sql.push(")");
        Ok(())
    }
}

/// `_id` compares the resource row's id.
fn id_filter(sql: &mut Sql, pf: &ParamFilter, alias: &str) -> Result<()> {
    sql.push("(");
    for (i, p) in pf.values.iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        match p {
            Predicate::Token(t) => match &t.matcher {
                TokenMatch::Code(id) | TokenMatch::NoSystem(id) => {
                    sql.push(&format!("{alias}.id = "));
                    sql.bind(id.clone());
                }
                _ => return Err(StoreError::UnsupportedSearch("_id takes plain ids".into())),
            },
            Predicate::String(s) => {
                sql.push(&format!("{alias}.id = "));
                sql.bind(s.value.clone());
            }
            _ => {
                return Err(StoreError::UnsupportedSearch(format!(
                    "_id with a {:?} value",
                    pf.param_type
                )))
            }
        }
    }
    sql.push(")");
    Ok(())
}

/// `_lastUpdated` compares the commit timestamp of the current version (`r.ts`), which the
/// store assigns and the extracted index cannot know in advance.
fn last_updated_filter(sql: &mut Sql, pf: &ParamFilter, alias: &str) -> Result<()> {
    sql.push("(");
    for (i, p) in pf.values.iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        let Predicate::Date(d) = p else {
            return Err(StoreError::UnsupportedSearch(
                "_lastUpdated needs a date".into(),
            ));
        };
        let mut sl = d.range.low_micros();
        let mut sh = d.range.high_micros();
        if d.prefix == crosscare_search::Prefix::Ap {
            let tol =
                crosscare_search::param::date::ap_tolerance_micros(&d.range, chrono::Utc::now());
            sl = sl.saturating_sub(tol);
            sh = sh.saturating_add(tol);
        }
        let ts = format!("{alias}.ts");
        range_compare(sql, &ts, &ts, d.prefix, sl, sh);
    }
    sql.push(")");
    Ok(())
}
