//! The chain rewrite both SQL backends apply before compiling: a search that is one chain
//! (`subject:Patient.family=mu`) whose inner filter selects few targets is run as the same
//! search over those targets (`subject=Patient/a,Patient/b,…`). Both mean the same; each
//! rewritten value is an ordered walk of the reference index, so the page stops after the
//! page, where the chain sorted every referrer of every target first. The backend only runs
//! the target lookup ([`ChainPin::targets_sql`]) between [`ChainPin::of`] and
//! [`ChainPin::rewrite`].

use super::{compile, scope_of, Dialect, Sql, SqlValue};
use crate::Result;
use crosscare_search::param::reference::ReferencePredicate;
use crosscare_search::{Filter, ParamFilter, Predicate, SearchQuery};
use crosscare_spec::model::SearchParamType;

/// Targets of a chain looked up before the rewrite is abandoned.
pub const MAX_PINNED_TARGETS: usize = 64;

/// A search that may be rewritten over its chain's targets.
#[derive(Debug)]
pub struct ChainPin<'a> {
    query: &'a SearchQuery,
    param: &'a str,
    target_type: &'a str,
    /// The chain's inner filter as a search of the target type.
    inner: SearchQuery,
}

impl<'a> ChainPin<'a> {
    /// `Some` for a search of one type in one partition, unsorted, whose only filter is a
    /// chain.
    pub fn of(query: &'a SearchQuery, partitions: usize) -> Option<ChainPin<'a>> {
        let (
            1,
            Some(_),
            [Filter::Chain {
                param,
                target_type,
                filter,
            }],
        ) = (
            partitions,
            query.resource_type.as_deref(),
            query.filters.as_slice(),
        )
        else {
            return None;
        };
        if !query.result.sort.is_empty() {
            return None;
        }
        Some(ChainPin {
            query,
            param,
            target_type,
            inner: SearchQuery {
                resource_type: Some(target_type.clone()),
                filters: vec![(**filter).clone()],
                ..SearchQuery::default()
            },
        })
    }

    /// The statement selecting the ids of at most `MAX_PINNED_TARGETS + 1` targets in the
    /// partition `part` (one more than allowed, to tell "too many").
    pub fn targets_sql(&self, dialect: &dyn Dialect, part: SqlValue) -> Result<Sql> {
        let plan = compile(dialect, &self.inner, &scope_of(&self.inner, vec![part]))?;
        let mut sql = Sql::default();
        sql.push("SELECT r.id FROM resource r WHERE ");
        sql.append(plan.condition);
        sql.push(&format!(" LIMIT {}", MAX_PINNED_TARGETS + 1));
        Ok(sql)
    }

    /// The search over the targets found, or `None` when there are too many of them.
    pub fn rewrite(&self, ids: Vec<String>) -> Option<SearchQuery> {
        if ids.len() > MAX_PINNED_TARGETS {
            return None;
        }
        let values = ids
            .into_iter()
            .map(|id| {
                Predicate::Reference(ReferencePredicate::Local {
                    resource_type: Some(self.target_type.to_string()),
                    id,
                    version: None,
                })
            })
            .collect();
        let mut rewritten = self.query.clone();
        rewritten.filters = vec![Filter::Param(ParamFilter {
            param: self.param.to_string(),
            param_type: SearchParamType::Reference,
            values,
        })];
        Some(rewritten)
    }
}
