//! `composite` parameters: a tuple of component values taken from one element instance
//! (`code-value-quantity=http://loinc.org|2339-0$gt5` matches only when one
//! `Observation.component` has both that code and such a value).

use crate::index::IndexValue;
use crate::query::Predicate;

/// A search value of a composite parameter: one predicate per component, in the order of the
/// composite's `component` list, separated by `$` in the query.
#[derive(Debug, Clone, PartialEq)]
pub struct CompositePredicate {
    pub components: Vec<Predicate>,
}

impl CompositePredicate {
    /// True when every component predicate matches the component value at the same position
    /// of one indexed tuple.
    pub fn matches(&self, tuple: &[IndexValue]) -> bool {
        self.components.len() == tuple.len()
            && self
                .components
                .iter()
                .zip(tuple)
                .all(|(p, v)| p.matches_value(v))
    }
}
