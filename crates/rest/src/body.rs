//! The adapter to `crosscare-validation`: parsing request bodies into resource JSON and
//! validating resources before they are written. Everything the REST layer knows about
//! validation goes through these two functions.

use crate::error::{FhirError, Issue, IssueCode, IssueSeverity};
use crosscare_spec::Spec;
use serde_json::Value;

/// Parses a request body that must hold one FHIR resource as JSON.
/// Syntax errors and a missing `resourceType` are 400 (the body cannot be understood).
pub fn parse_resource(bytes: &[u8]) -> Result<Value, FhirError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        FhirError::new(
            400,
            IssueCode::Structure,
            format!("body is not valid JSON: {e}"),
        )
    })?;
    check_resource_shape(&value)?;
    Ok(value)
}

/// The checks without which a value is not a resource at all (400).
pub fn check_resource_shape(value: &Value) -> Result<(), FhirError> {
    let Some(obj) = value.as_object() else {
        return Err(FhirError::new(
            400,
            IssueCode::Structure,
            "a resource must be a JSON object",
        ));
    };
    match obj.get("resourceType").and_then(Value::as_str) {
        Some(t) if Spec::r4().is_resource_type(t) => Ok(()),
        Some(t) => Err(FhirError::new(
            400,
            IssueCode::Structure,
            format!("'{t}' is not a known resource type"),
        )
        .at("resourceType")),
        None => Err(FhirError::new(
            400,
            IssueCode::Required,
            "the resource has no 'resourceType'",
        )),
    }
}

/// Validates a resource against the base definitions and returns every issue found.
///
/// FIXME(merge validation): until `crosscare-validation` lands this only checks that every
/// top-level property is an element of the type (or its `_` companion), from the spec tables.
pub fn validate(resource: &Value) -> Vec<Issue> {
    let mut issues = Vec::new();
    let spec = Spec::r4();
    let Some(obj) = resource.as_object() else {
        return issues;
    };
    let Some(ty) = obj.get("resourceType").and_then(Value::as_str) else {
        return issues;
    };
    for key in obj.keys() {
        if key == "resourceType" {
            continue;
        }
        let name = key.strip_prefix('_').unwrap_or(key);
        if spec.child(ty, name).is_none() {
            issues.push(Issue {
                severity: IssueSeverity::Error,
                code: IssueCode::Structure,
                diagnostics: format!("unknown element '{key}' in {ty}"),
                expression: vec![format!("{ty}.{name}")],
            });
        }
    }
    issues
}

/// Validates a resource about to be written: its type must be `resource_type` (400) and it must
/// have no error-level issues (422, with every issue in the outcome).
pub fn check_for_write(resource_type: &str, resource: &Value) -> Result<(), FhirError> {
    check_resource_shape(resource)?;
    let actual = resource["resourceType"].as_str().unwrap_or_default();
    if actual != resource_type {
        return Err(FhirError::bad_request(format!(
            "resourceType '{actual}' does not match the type '{resource_type}' of the URL"
        ))
        .at("resourceType"));
    }
    let issues = validate(resource);
    if issues
        .iter()
        .any(|i| matches!(i.severity, IssueSeverity::Error | IssueSeverity::Fatal))
    {
        return Err(FhirError::with_issues(422, issues));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(ty: &str, resource: Value, expected: Option<u16>) {
        let got = check_for_write(ty, &resource).err().map(|e| e.status);
        assert_eq!(got, expected, "{resource}");
    }

    #[test]
    fn write_checks() {
        check("Patient", json!({"resourceType": "Patient"}), None);
        check("Patient", json!({"resourceType": "Observation"}), Some(400));
        check("Patient", json!({"resourceType": "Nope"}), Some(400));
        check("Patient", json!([1]), Some(400));
        check(
            "Patient",
            json!({"resourceType": "Patient", "colour": "x"}),
            Some(422),
        );
        check(
            "Patient",
            json!({"resourceType": "Patient", "_birthDate": {}}),
            None,
        );
    }

    #[test]
    fn parse() {
        assert_eq!(parse_resource(b"{").unwrap_err().status, 400);
        assert!(parse_resource(br#"{"resourceType":"Patient"}"#).is_ok());
    }
}
