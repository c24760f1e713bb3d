//! Filters to SQL boolean expressions over a resource alias: parameters, `:missing`, `:not`,
//! chains, `_has`, compartments (`Any`), joined composites (`All`) and `_list`.

use super::predicate::{condition, range_compare, table_of};
use super::{component_param, Dialect, Scope, Sql};
use crate::{Result, StoreError};
use crosscare_search::param::reference::ReferencePredicate;
use crosscare_search::param::token::{TokenMatch, TokenPredicate};
use crosscare_search::{Filter, ParamFilter, Predicate};

/// Every table of index values, for `:missing` (which does not know the parameter's type). A
/// composite's tuples are its first component's rows (`<code>$0`), in one of these.
const VALUE_TABLES: &[&str] = &[
    "idx_token",
    "idx_string",
    "idx_date",
    "idx_number",
    "idx_quantity",
    "idx_reference",
    "idx_uri",
];

/// The parameters answered from the `resource` row (`id`, `ts`) rather than index rows, which
/// backends do not write for them.
pub(crate) fn on_resource_row(param: &str) -> bool {
    matches!(param, "_id" | "_lastUpdated")
}

/// True when the filter is a `rid IN (…)` over an index seek that can drive the search.
pub(crate) fn drives(f: &Filter) -> bool {
    match f {
        Filter::Param(pf) => !on_resource_row(&pf.param),
        Filter::Chain { .. } | Filter::Has { .. } | Filter::List(_) => true,
        Filter::Any(list) => !list.is_empty() && list.iter().all(drives),
        Filter::All(list) => list.iter().any(drives),
        Filter::Missing { missing, .. } => !missing,
        Filter::Not(_) => false,
    }
}

/// True when an arm for this value is an equality seek whose index lists its rows in key
/// order (see [`super::Keys::ordered`]): a token code (with or without a system, which the
/// index holds after the key) or a typed local reference.
pub(crate) fn ordered_value(p: &Predicate) -> bool {
    match p {
        Predicate::Token(t) => matches!(
            t.matcher,
            TokenMatch::Code(_) | TokenMatch::SystemCode { .. } | TokenMatch::NoSystem(_)
        ),
        Predicate::Reference(ReferencePredicate::Local { resource_type, .. }) => {
            resource_type.is_some()
        }
        _ => false,
    }
}

/// True when every branch of an `OR` can be listed as arms of keys: index-backed parameters,
/// and `_id` with plain ids (a compartment's own resource).
pub(crate) fn any_has_arms(list: &[Filter]) -> bool {
    !list.is_empty()
        && list.iter().all(|f| match f {
            Filter::Param(pf) if pf.values.is_empty() => false,
            Filter::Param(pf) if pf.param == "_id" => pf.values.iter().all(|p| {
                matches!(
                    p,
                    Predicate::Token(TokenPredicate {
                        matcher: TokenMatch::Code(_) | TokenMatch::NoSystem(_)
                    }) | Predicate::String(_)
                )
            }),
            f @ Filter::Param(_) => drives(f),
            _ => false,
        })
}

/// Writes filters in one dialect and allocates fresh table aliases for nested joins.
pub(crate) struct Compiler<'d> {
    d: &'d dyn Dialect,
    next: usize,
}

impl<'d> Compiler<'d> {
    pub(crate) fn new(d: &'d dyn Dialect) -> Self {
        Compiler { d, next: 0 }
    }

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
                let d = self.d;
                let not = if *missing { "NOT " } else { "" };
                sql.push(&format!("{} {not}IN (", d.key_in(alias)));
                for (i, table) in VALUE_TABLES.iter().enumerate() {
                    if i > 0 {
                        sql.push(" UNION ALL ");
                    }
                    sql.push(&format!("SELECT {} FROM {table} WHERE ", d.key("")));
                    scope.write(d, sql, "");
                    // `code$0` only exists for a composite (no other code has a `$`).
                    sql.push(" AND param ");
                    sql.bind_in(&[param.clone(), component_param(param, 0)]);
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
            Filter::Any(list) => self.junction(sql, list, " OR ", self.d.falsum(), alias, scope),
            Filter::All(list) => self.junction(sql, list, " AND ", "1 = 1", alias, scope),
            Filter::Chain { .. } | Filter::Has { .. } => {
                sql.push(&format!("{} IN (", self.d.key_in(alias)));
                self.rows(sql, f, scope)?;
                sql.push(")");
                Ok(())
            }
            Filter::List(id) => {
                let d = self.d;
                let (l, x, t) = (self.alias("l"), self.alias("x"), self.alias("t"));
                let part = d.part();
                sql.push(&format!(
                    "{} IN (SELECT {} FROM resource {l} \
                     JOIN idx_reference {x} ON {} AND {x}.param = 'item' AND {x}.cid IS NULL \
                     JOIN resource {t} ON {t}.{part} = {x}.{part} AND {t}.rtype = {x}.ttype AND {t}.id = {x}.tid \
                     WHERE ",
                    d.key_in(alias),
                    d.key(&format!("{t}.")),
                    d.key_eq(&format!("{x}."), &format!("{l}.")),
                ));
                scope.with_type("List").write(d, sql, &format!("{l}."));
                sql.push(&format!(" AND {l}.id = "));
                sql.bind(id.clone());
                sql.push(&format!(" AND {})", d.not_deleted(&format!("{l}."))));
                Ok(())
            }
        }
    }

    /// `(f1 <op> f2 …)`, or `empty` for no filters (false for an `OR`, true for an `AND`).
    fn junction(
        &mut self,
        sql: &mut Sql,
        list: &[Filter],
        op: &str,
        empty: &str,
        alias: &str,
        scope: &Scope,
    ) -> Result<()> {
        if list.is_empty() {
            sql.push(empty);
            return Ok(());
        }
        sql.push("(");
        for (i, inner) in list.iter().enumerate() {
            if i > 0 {
                sql.push(op);
            }
            self.filter(sql, inner, alias, scope)?;
        }
        sql.push(")");
        Ok(())
    }

    /// The statement listing the keys of the resources a chain or `_has` filter selects:
    /// index rows of current versions joined to undeleted resources, so like
    /// [`Compiler::param_rows`] it needs no `resource` row of the searched type.
    pub(crate) fn rows(&mut self, sql: &mut Sql, f: &Filter, scope: &Scope) -> Result<()> {
        match f {
            Filter::Chain {
                param,
                target_type,
                filter,
            } => {
                let d = self.d;
                let (x, t) = (self.alias("x"), self.alias("t"));
                let (h, part) = (d.hint(), d.part());
                sql.push(&format!(
                    "SELECT {} FROM idx_reference {x} JOIN resource {t} \
                     ON {t}.{part} = {x}.{part} AND {t}.rtype = {x}.ttype AND {t}.id = {x}.tid WHERE ",
                    d.key(&format!("{x}.")),
                ));
                // The inner filter drives: target rows first, then their referrers through
                // `idx_reference_reverse` (ttype, tid, partition, …, covering on SQLite).
                scope.write_hinted(d, sql, &format!("{x}."), h);
                sql.push(&format!(" AND {h}{x}.param = "));
                sql.bind(param.clone());
                sql.push(&format!(
                    " AND {h}{x}.cid IS NULL AND {h}{x}.url IS NULL AND {h}{x}.ttype = "
                ));
                sql.bind(target_type.clone());
                sql.push(&format!(" AND {} AND ", d.not_deleted(&format!("{t}."))));
                self.filter(sql, filter, &t, &scope.with_type(target_type))
            }
            Filter::Has {
                resource_type,
                param,
                filter,
            } => {
                let d = self.d;
                let (x, t) = (self.alias("x"), self.alias("t"));
                let (h, part) = (d.hint(), d.part());
                // The source's own row is only needed when the inner filter reads a
                // `resource` column (`_id`, `_lastUpdated`); otherwise the filter is written
                // on the reference row's key, which exists only for current, undeleted
                // versions (one lookup per source resource less: 1,764 of them for a common
                // diagnosis at 1 M resources).
                let s = if key_only(filter) {
                    x.clone()
                } else {
                    self.alias("s")
                };
                let source_join = if s == x {
                    String::new()
                } else {
                    format!(
                        "JOIN resource {s} ON {} ",
                        d.key_eq(&format!("{s}."), &format!("{x}."))
                    )
                };
                sql.push(&format!(
                    "SELECT {} FROM idx_reference {x} {source_join}\
                     JOIN resource {t} ON {t}.{part} = {x}.{part} AND {t}.rtype = {x}.ttype AND {t}.id = {x}.tid \
                     WHERE ",
                    d.key(&format!("{t}.")),
                ));
                // The inner filter drives: source rows first, then their references through
                // `idx_reference_rid`, then the referenced rows by `resource_key`.
                scope
                    .with_type(resource_type)
                    .write_hinted(d, sql, &format!("{x}."), h);
                sql.push(&format!(" AND {h}{x}.param = "));
                sql.bind(param.clone());
                sql.push(&format!(" AND {h}{x}.cid IS NULL AND {h}{x}.url IS NULL"));
                if let [one] = scope.types.as_slice() {
                    sql.push(&format!(" AND {h}{x}.ttype = "));
                    sql.bind(one.clone());
                }
                sql.push(&format!(" AND {} AND ", d.not_deleted(&format!("{t}."))));
                if s != x {
                    sql.push(&format!("{} AND ", d.not_deleted(&format!("{s}."))));
                }
                self.filter(sql, filter, &s, &scope.with_type(resource_type))?;
                sql.push(d.has_fence());
                Ok(())
            }

            _ => Err(StoreError::UnsupportedSearch(
                "only chains and _has list their keys".into(),
            )),
        }
    }

    fn param(&mut self, sql: &mut Sql, pf: &ParamFilter, alias: &str, scope: &Scope) -> Result<()> {
        let d = self.d;
        if pf.values.is_empty() {
            sql.push(d.falsum());
            return Ok(());
        }
        match pf.param.as_str() {
            "_id" => return id_filter(sql, pf, alias),
            "_lastUpdated" => return last_updated_filter(d, sql, pf, alias),
            _ => {}
        }
        sql.push(&format!("{} IN (", d.key_in(alias)));
        self.param_rows(sql, pf, scope)?;
        sql.push(")");
        Ok(())
    }

    /// The statement listing the keys of the resources that match an index-backed parameter
    /// (one `SELECT` per value, joined by `UNION`, which also removes duplicates). Index rows
    /// exist only for current, undeleted versions, so these keys need no `resource` row.
    pub(crate) fn param_rows(
        &mut self,
        sql: &mut Sql,
        pf: &ParamFilter,
        scope: &Scope,
    ) -> Result<()> {
        for (i, arm) in self.param_arms(pf, scope)?.into_iter().enumerate() {
            if i > 0 {
                sql.push(" UNION ");
            }
            sql.append(arm);
        }
        Ok(())
    }

    /// One `SELECT <key> FROM resource WHERE … AND id = ?` per value of `_id` (plain ids only,
    /// see [`any_has_arms`]): undeleted resources, as the index rows of the other arms are.
    pub(crate) fn id_arms(&mut self, pf: &ParamFilter, scope: &Scope) -> Result<Vec<Sql>> {
        let d = self.d;
        let mut arms = Vec::with_capacity(pf.values.len());
        for p in &pf.values {
            let id = match p {
                Predicate::Token(TokenPredicate {
                    matcher: TokenMatch::Code(id) | TokenMatch::NoSystem(id),
                }) => id,
                Predicate::String(s) => &s.value,
                _ => return Err(StoreError::UnsupportedSearch("_id takes plain ids".into())),
            };
            let mut sql = Sql::default();
            sql.push(&format!("SELECT {} FROM resource WHERE ", d.key("")));
            scope.write(d, &mut sql, "");
            sql.push(" AND id = ");
            sql.bind(id.clone());
            sql.push(&format!(" AND {}", d.not_deleted("")));
            arms.push(sql);
        }
        Ok(arms)
    }

    /// One `SELECT <key> FROM <index> …` per value of an index-backed parameter (the values
    /// are alternatives; a resource matching several appears in several arms, and one arm may
    /// list a resource twice when it has two matching index rows).
    pub(crate) fn param_arms(&mut self, pf: &ParamFilter, scope: &Scope) -> Result<Vec<Sql>> {
        let d = self.d;
        let mut arms = Vec::with_capacity(pf.values.len());
        for p in &pf.values {
            let mut sql = Sql::default();
            let sql = &mut sql;
            if let Predicate::Composite(cp) = p {
                // The components of one tuple are rows of their own type's tables under the
                // codes `<param>$<i>`, sharing the resource and the tuple number `grp`: a join
                // on (resource, grp) keeps every component in the same element instance, and
                // the first component's value index drives it.
                let Some((first, rest)) = cp.components.split_first() else {
                    return Err(StoreError::UnsupportedSearch(
                        "a composite value without components".into(),
                    ));
                };
                let c0 = self.alias("c");
                let p0 = format!("{c0}.");
                sql.push(&format!(
                    "SELECT {} FROM {} {c0}",
                    d.key(&p0),
                    table_of(first)
                ));
                for (n, comp) in rest.iter().enumerate() {
                    let c = self.alias("c");
                    sql.push(&format!(
                        " JOIN {} {c} ON {} AND {c}.grp = {c0}.grp AND {c}.param = ",
                        table_of(comp),
                        d.key_eq(&format!("{c}."), &p0),
                    ));
                    sql.bind(component_param(&pf.param, n + 1));
                    sql.push(" AND ");
                    condition(d, sql, &format!("{c}."), comp)?;
                }
                sql.push(" WHERE ");
                scope.write(d, sql, &p0);
                sql.push(&format!(" AND {c0}.param = "));
                sql.bind(component_param(&pf.param, 0));
                sql.push(&format!(" AND {c0}.cid IS NULL AND "));
                condition(d, sql, &p0, first)?;
            } else {
                sql.push(&format!("SELECT {} FROM {} WHERE ", d.key(""), table_of(p)));
                scope.write(d, sql, "");
                sql.push(" AND param = ");
                sql.bind(pf.param.clone());
                sql.push(" AND cid IS NULL AND ");
                condition(d, sql, "", p)?;
            }
            arms.push(std::mem::take(sql));
        }
        Ok(arms)
    }
}

/// True when [`Compiler::filter`] writes `f` on its alias's key alone (every filter but `_id`
/// and `_lastUpdated`, which read `resource` columns), so any row carrying the key will do.
fn key_only(f: &Filter) -> bool {
    match f {
        Filter::Param(pf) => !on_resource_row(&pf.param),
        Filter::Not(inner) => key_only(inner),
        Filter::Any(list) | Filter::All(list) => list.iter().all(key_only),
        Filter::Missing { .. } | Filter::Chain { .. } | Filter::Has { .. } | Filter::List(_) => {
            true
        }
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
fn last_updated_filter(
    dialect: &dyn Dialect,
    sql: &mut Sql,
    pf: &ParamFilter,
    alias: &str,
) -> Result<()> {
    sql.push("(");
    for (i, p) in pf.values.iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        let Predicate::Date(v) = p else {
            return Err(StoreError::UnsupportedSearch(
                "_lastUpdated needs a date".into(),
            ));
        };
        let mut sl = v.range.low_micros();
        let mut sh = v.range.high_micros();
        if v.prefix == crosscare_search::Prefix::Ap {
            let tol =
                crosscare_search::param::date::ap_tolerance_micros(&v.range, chrono::Utc::now());
            sl = sl.saturating_sub(tol);
            sh = sh.saturating_add(tol);
        }
        let ts = format!("{alias}.ts");
        range_compare(
            sql,
            &ts,
            &ts,
            "",
            v.prefix,
            &dialect.ts_literal(sl),
            &dialect.ts_literal(sh),
        );
    }
    sql.push(")");
    Ok(())
}
