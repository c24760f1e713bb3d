//! What the store indexes: one [`IndexEntry`] per value of a search parameter in a resource.

use crate::param::date::DateRange;
use crate::param::number::NumberValue;
use crate::param::quantity::QuantityValue;
use crate::param::reference::ReferenceValue;
use crate::param::string::StringValue;
use crate::param::token::TokenValue;

/// One value of one search parameter for one resource.
///
/// A resource yields one entry per value: a `Patient` with two given names has two `given`
/// entries. Entries extracted from a contained resource carry `contained` (they are only
/// reachable through a chain on a local `#id` reference, or `_contained=true`).
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    /// The search parameter code (`family`, `identifier`, `_lastUpdated`).
    pub param: String,
    pub value: IndexValue,
    /// For entries of a contained resource: its local id (without `#`) and type.
    pub contained: Option<ContainedSource>,
}

/// The contained resource an [`IndexEntry`] was extracted from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainedSource {
    /// `p1` for `{"resourceType":"Patient","id":"p1"}` inside `contained`.
    pub id: String,
    pub resource_type: String,
}

/// Index values, one variant per search parameter type.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexValue {
    Token(TokenValue),
    String(StringValue),
    Date(DateRange),
    Number(NumberValue),
    Quantity(QuantityValue),
    Reference(ReferenceValue),
    /// A `uri`/`url`/`canonical` value, as written.
    Uri(String),
    /// One tuple of component values, in the order of the composite's `component` list, all
    /// taken from the same element instance (one `Observation.component`, for instance).
    Composite(Vec<IndexValue>),
}

impl IndexEntry {
    pub fn new(param: impl Into<String>, value: IndexValue) -> Self {
        IndexEntry {
            param: param.into(),
            value,
            contained: None,
        }
    }
}
