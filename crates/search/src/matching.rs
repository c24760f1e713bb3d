//! Reference semantics of a [`Filter`] over the index entries of one resource: what every
//! backend's compiled query must agree with. Filters that need other resources (chains to
//! non-contained targets, `_has`, `_list`) cannot be decided from one resource's entries.

use crate::index::{IndexEntry, IndexValue};
use crate::query::{Filter, Predicate};

impl Filter {
    /// Decides the filter for a resource from its entries (as [`crate::extract`] returns them,
    /// contained resources included). `None` when the answer needs other resources.
    pub fn matches(&self, entries: &[IndexEntry]) -> Option<bool> {
        self.matches_in(entries, None)
    }

    /// `scope` is the contained resource whose entries are considered (`None`: the container).
    fn matches_in(&self, entries: &[IndexEntry], scope: Option<&str>) -> Option<bool> {
        let values = |param: &str| -> Vec<&IndexValue> {
            entries
                .iter()
                .filter(|e| {
                    e.param == param && e.contained.as_ref().map(|c| c.id.as_str()) == scope
                })
                .map(|e| &e.value)
                .collect()
        };
        match self {
            Filter::Param(p) => Some(
                values(&p.param)
                    .into_iter()
                    .any(|v| p.values.iter().any(|pred| pred.matches_value(v))),
            ),
            Filter::Missing { param, missing } => Some(values(param).is_empty() == *missing),
            Filter::Not(inner) => inner.matches_in(entries, scope).map(|b| !b),
            Filter::Any(fs) => Self::junction(fs, entries, scope, true),
            Filter::All(fs) => Self::junction(fs, entries, scope, false),
            Filter::Chain {
                param,
                target_type,
                filter,
            } => {
                // Only references to contained resources can be followed here.
                let mut unknown = false;
                for v in values(param) {
                    let IndexValue::Reference(r) = v else {
                        continue;
                    };
                    match &r.contained {
                        Some(local) if r.resource_type.as_deref() == Some(target_type) => {
                            if filter.matches_in(entries, Some(local)) == Some(true) {
                                return Some(true);
                            }
                        }
                        Some(_) => {}
                        None => unknown = true,
                    }
                }
                if unknown {
                    None
                } else {
                    Some(false)
                }
            }
            Filter::Has { .. } | Filter::List(_) => None,
        }
    }
}

impl Filter {
    /// Three-valued `OR` (`decisive == true`) or `AND` (`false`) of `fs`: `decisive` as soon
    /// as one filter gives it, unknown when one is unknown and none decides, else the other.
    fn junction(
        fs: &[Filter],
        entries: &[IndexEntry],
        scope: Option<&str>,
        decisive: bool,
    ) -> Option<bool> {
        let mut unknown = false;
        for f in fs {
            match f.matches_in(entries, scope) {
                Some(b) if b == decisive => return Some(decisive),
                Some(_) => {}
                None => unknown = true,
            }
        }
        (!unknown).then_some(!decisive)
    }
}

impl Predicate {
    /// True when any of the values matches.
    pub fn matches_any<'a>(&self, mut values: impl Iterator<Item = &'a IndexValue>) -> bool {
        values.any(|v| self.matches_value(v))
    }
}
