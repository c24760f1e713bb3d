//! Rules of the logical models the spec tables add beyond R4 (`crosscare_spec::extra`) that a
//! structural validation cannot express: the one registration point where a stored type gets
//! checks of its own. Every write of a registered type (create, update, patch, Bundle entry,
//! bulk import) passes its rule after structural validation, through
//! [`crate::body::check_for_write`].
//!
//! Today: a `ViewDefinition` must compile under the SQL-on-FHIR v2 rules that
//! `crosscare_analytics::ViewPlan::compile` checks (paths parse, names, unionAll shapes, ...),
//! so that every stored view can be run.

use crate::error::{FhirError, Issue, IssueCode, IssueSeverity};
use serde_json::Value;

/// A type's own rule: `Err(message)` refuses the write.
type Rule = fn(&Value) -> Result<(), String>;

/// The registered rules, by resource type.
const RULES: &[(&str, Rule)] = &[("ViewDefinition", view_definition)];

fn view_definition(resource: &Value) -> Result<(), String> {
    crosscare_analytics::ViewPlan::compile(resource)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Applies the rule registered for `resource_type`, if any (422 with the rule's message).
pub fn check(resource_type: &str, resource: &Value) -> Result<(), FhirError> {
    let Some((_, rule)) = RULES.iter().find(|(t, _)| *t == resource_type) else {
        return Ok(());
    };
    rule(resource).map_err(|message| {
        FhirError::with_issues(
            422,
            vec![Issue {
                severity: IssueSeverity::Error,
                code: IssueCode::Invariant,
                diagnostics: message,
                expression: Vec::new(),
            }],
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn view_definitions_must_compile() {
        let good = json!({"resourceType": "ViewDefinition", "resource": "Patient", "status": "active",
            "select": [{"column": [{"name": "id", "path": "id"}]}]});
        assert!(check("ViewDefinition", &good).is_ok());
        let bad = json!({"resourceType": "ViewDefinition", "resource": "Patient", "status": "active",
            "select": [{"column": [{"name": "bad name", "path": "id"}]}]});
        assert_eq!(check("ViewDefinition", &bad).unwrap_err().status, 422);
        assert!(check("Patient", &bad).is_ok());
    }
}
