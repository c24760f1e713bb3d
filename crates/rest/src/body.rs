//! The adapter to `crosscare-validation`: parsing request bodies into resource JSON and
//! validating resources before they are written. Everything the REST layer knows about
//! validation goes through these two functions.

use crate::error::{FhirError, Issue, IssueCode, IssueSeverity};
use crosscare_spec::Spec;
use crosscare_validation::{ParseError, ParseLimits, ValidationOptions};
use serde_json::Value;

/// Parses a request body that must hold one FHIR resource as JSON, under the parse limits
/// (nesting depth, string length). Syntax errors and a missing `resourceType` are 400 (the body
/// cannot be understood).
pub fn parse_resource(bytes: &[u8], limits: &ParseLimits) -> Result<Value, FhirError> {
    let value = crosscare_validation::parse_resource(bytes, limits).map_err(|e| {
        let status = match e {
            ParseError::TooDeep { .. } | ParseError::StringTooLong { .. } => 413,
            _ => 400,
        };
        let code = if status == 413 {
            IssueCode::TooLong
        } else {
            IssueCode::Structure
        };
        FhirError::new(
            status,
            code,
            format!("the body cannot be read as a resource: {e}"),
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

/// Validates a resource against the base definitions (structure, primitives, cardinality,
/// required bindings, FHIRPath invariants) with `crosscare-validation`, and returns every issue.
pub fn validate(resource: &Value) -> Vec<Issue> {
    let report = crosscare_validation::validate(resource, &ValidationOptions::default());
    report.issues.iter().map(issue).collect()
}

fn issue(i: &crosscare_validation::Issue) -> Issue {
    use crosscare_validation::{IssueType as T, Severity as S};
    let severity = match i.severity {
        S::Error => IssueSeverity::Error,
        S::Warning => IssueSeverity::Warning,
        S::Information => IssueSeverity::Information,
    };
    let code = match i.code {
        T::Structure => IssueCode::Structure,
        T::Required => IssueCode::Required,
        T::Value => IssueCode::Value,
        T::Invariant => IssueCode::Invariant,
        T::CodeInvalid => IssueCode::CodeInvalid,
        T::TooLong => IssueCode::TooLong,
        T::NotSupported => IssueCode::NotSupported,
        _ => IssueCode::Invalid,
    };
    let diagnostics = match &i.key {
        Some(key) => format!("{} [{key}]", i.message),
        None => i.message.clone(),
    };
    Issue {
        severity,
        code,
        diagnostics,
        expression: vec![i.expression.clone()],
    }
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
    crate::logical::check(resource_type, resource)
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
        check(
            "Patient",
            json!({"resourceType": "Patient", "active": true}),
            None,
        );
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
            Some(422),
        );
    }

    #[test]
    fn parse() {
        let limits = ParseLimits::default();
        assert_eq!(parse_resource(b"{", &limits).unwrap_err().status, 400);
        assert_eq!(parse_resource(b"[1]", &limits).unwrap_err().status, 400);
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(100), "]".repeat(100));
        assert_eq!(
            parse_resource(deep.as_bytes(), &limits).unwrap_err().status,
            413
        );
        assert!(parse_resource(br#"{"resourceType":"Patient"}"#, &limits).is_ok());
    }
}
