//! FHIR search: query strings to typed [`SearchQuery`] values, and index values extracted from
//! resources on every write. This crate never emits SQL: the store backends compile a
//! `SearchQuery` into their own query language.
//!
//! Entry points:
//! - [`extract`] / [`ParamRegistry::extract`]: the [`IndexEntry`] values of one resource, computed from the
//!   FHIRPath `expression` of every search parameter that applies to its type.
//! - [`SearchQuery::parse`]: a strict (or lenient) parser from `(name, value)` pairs to a typed
//!   query; [`SearchQuery::to_query_string`] renders the applied parameters back.
//! - [`parse_query_string`]: splits and percent-decodes `a=b&c=d` (conditional operations).
//! - [`compartment_filter`]: the OR filter that restricts a search to one compartment.
//!
//! **Architecture invariant**: everything here is derived from the spec tables
//! (`crosscare_spec::Spec`); there is no per-resource code. The semantics of every predicate
//! are also given in Rust (`matches` methods), as the reference a backend is tested against.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod chain;
pub mod compartment;
mod convert;
pub mod custom;
mod derived;
pub mod error;
pub mod extract;
mod fhirpath_bridge;
pub mod index;
mod matching;
pub mod normalize;
pub mod param;
pub mod query;
pub mod query_string;
#[cfg(test)]
mod query_tests;
pub mod registry;
pub mod result_params;
#[cfg(test)]
mod result_params_tests;

pub use compartment::{compartment_filter, compartment_params, compartment_types};
pub use custom::{definition_from_resource, CustomParamError};
pub use derived::Derivation;
pub use error::SearchError;
pub use extract::{extract, unsupported_expressions, UnsupportedExpression};
pub use index::{ContainedSource, IndexEntry, IndexValue};
pub use param::date::DateRange;
pub use param::number::NumberValue;
pub use param::quantity::QuantityValue;
pub use param::reference::ReferenceValue;
pub use param::string::StringValue;
pub use param::token::TokenValue;
pub use param::Prefix;
pub use query::{Filter, ParamFilter, Predicate, SearchQuery};
pub use query_string::{parse_query_string, percent_encode};
pub use registry::ParamRegistry;
pub use result_params::{
    ContainedMode, ContainedType, Include, ResultParams, SortKey, SummaryMode, TotalMode,
};
