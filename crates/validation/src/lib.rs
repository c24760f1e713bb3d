//! Validation of FHIR R4 resources against the base definitions: structure, primitives, cardinality, required bindings and invariants.
//!
//! Entry points: [`parse_resource`] turns untrusted bytes into JSON under [`ParseLimits`];
//! [`validate`] checks a parsed resource against the R4 tables of `crosscare-spec` and returns
//! a [`ValidationReport`]. The order of the checks is described in `docs/design/validation.md`.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod binding;
mod invariant;
mod parse;
mod primitive;
mod report;
mod structure;

pub use invariant::{unsupported_constraints, UnsupportedConstraint};
pub use parse::{parse_resource, ParseError, ParseLimits};
pub use report::{Issue, IssueType, Severity, ValidationReport};

use serde_json::Value;

/// What the caller expects of the resource besides conformance to the base definitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationOptions {
    /// The resource type the endpoint expects (`Patient` for `PUT /Patient/1`).
    pub expected_type: Option<String>,
    /// The id the body must carry (an update: `PUT /Patient/1` needs `"id": "1"`).
    pub expected_id: Option<String>,
    /// The body must carry an id (update, or a resource stored as is).
    pub require_id: bool,
    /// Evaluate the FHIRPath invariants (structure, primitives and bindings are always checked).
    pub check_invariants: bool,
    /// Check codes against required bindings with a complete value set.
    pub check_bindings: bool,
}

impl Default for ValidationOptions {
    fn default() -> ValidationOptions {
        ValidationOptions {
            expected_type: None,
            expected_id: None,
            require_id: false,
            check_invariants: true,
            check_bindings: true,
        }
    }
}

/// Validates one resource. Structure, primitive forms, cardinality and bindings come first;
/// invariants are evaluated on nodes that passed those checks (an invariant over malformed
/// content would only repeat the structural issue).
pub fn validate(resource: &Value, options: &ValidationOptions) -> ValidationReport {
    let mut walker = structure::Walker::new(options);
    let rt = resource.get("resourceType").and_then(Value::as_str);
    if let (Some(expected), Some(rt)) = (&options.expected_type, rt) {
        if expected != rt {
            walker.issues.push(Issue::error(
                IssueType::Invalid,
                &format!("{rt}.resourceType"),
                format!("the resource type {rt} does not match the expected type {expected}"),
            ));
        }
    }
    let id = resource.get("id").and_then(Value::as_str);
    let root = rt.unwrap_or("Resource");
    if options.require_id && id.is_none() {
        walker.issues.push(Issue::error(
            IssueType::Required,
            &format!("{root}.id"),
            "the resource must have an id",
        ));
    }
    if let (Some(expected), Some(id)) = (&options.expected_id, id) {
        if expected != id {
            walker.issues.push(Issue::error(
                IssueType::Invalid,
                &format!("{root}.id"),
                format!("the id {id:?} does not match the id {expected:?} in the URL"),
            ));
        }
    }
    walker.resource(resource, None, false, 0);
    ValidationReport {
        issues: walker.issues,
        skipped_invariants: walker.skipped_invariants,
    }
}

#[cfg(test)]
mod tests;
