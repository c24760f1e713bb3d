//! `$validate`: `POST [type]/$validate` and `POST [type]/[id]/$validate`. Returns the
//! validation outcome (always 200 with an `OperationOutcome`) and stores nothing.

use crate::body::{check_resource_shape, validate as validate_resource};
use crate::context::Call;
use crate::error::{operation_outcome, FhirError, Issue, IssueCode, IssueSeverity};
use crate::outcome::Outcome;
use serde_json::Value;

/// The body is the resource itself, or a `Parameters` with a `resource` parameter.
pub fn validate(
    resource_type: &str,
    id: Option<&str>,
    call: &mut Call,
) -> Result<Outcome, FhirError> {
    let body = call.take_body()?;
    let resource = if body["resourceType"] == "Parameters" && resource_type != "Parameters" {
        body["parameter"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == "resource"))
            .and_then(|p| p.get("resource"))
            .cloned()
            .ok_or_else(|| {
                FhirError::bad_request("the Parameters body has no 'resource' parameter")
                    .at("Parameters.parameter")
            })?
    } else {
        body
    };
    let mut issues: Vec<Issue> = Vec::new();
    if let Err(e) = check_resource_shape(&resource) {
        issues.extend(e.issues);
    } else {
        let actual = resource["resourceType"].as_str().unwrap_or_default();
        if actual != resource_type {
            issues.push(error(format!(
                "resourceType '{actual}' does not match '{resource_type}'"
            )));
        }
        if let Some(id) = id {
            if resource.get("id").and_then(Value::as_str) != Some(id) {
                issues.push(error(format!(
                    "the resource id must be '{id}' as in the URL"
                )));
            }
        }
        issues.extend(validate_resource(&resource));
    }
    if issues.is_empty() {
        issues.push(Issue {
            severity: IssueSeverity::Information,
            code: IssueCode::Informational,
            diagnostics: "no issues found".to_string(),
            expression: Vec::new(),
        });
    }
    Ok(Outcome::plain(200, Some(operation_outcome(&issues))))
}

fn error(message: String) -> Issue {
    Issue {
        severity: IssueSeverity::Error,
        code: IssueCode::Invalid,
        diagnostics: message,
        expression: Vec::new(),
    }
}
