//! Operations that are not store interactions: Bulk Data `$export` and `$import` (kick-off,
//! status, files, cancel), the streamed `ViewDefinition/$run` and the training `$reset`. Each
//! answers a [`FhirResponse`]
//! directly, because their bodies are not always FHIR JSON.
//!
//! [`FhirResponse`]: crate::FhirResponse

pub mod export;
pub mod import;
pub mod parameters;
pub mod reindex;
pub mod reset;
pub mod run;

use crate::context::Ctx;
use crate::error::{operation_outcome, FhirError, Issue, IssueCode, IssueSeverity};
use crate::request::FhirResponse;

/// Bulk operations only run asynchronously: without `Prefer: respond-async` a kick-off is a 400.
pub(crate) fn require_async(ctx: &Ctx<'_>, operation: &str) -> Result<(), FhirError> {
    if ctx.prefer.respond_async {
        Ok(())
    } else {
        Err(FhirError::bad_request(format!(
            "{operation} is asynchronous: send the header 'Prefer: respond-async'"
        )))
    }
}

/// The answer to an accepted bulk kick-off: 202, the job's status URL in `Content-Location`
/// and an informational OperationOutcome naming it (`kind`: "export", "import").
pub(crate) fn accepted(ctx: &Ctx<'_>, kind: &str, id: &str) -> FhirResponse {
    let status_url = ctx.url(&format!("_{kind}/{id}"));
    let outcome = operation_outcome(&[Issue {
        severity: IssueSeverity::Information,
        code: IssueCode::Informational,
        diagnostics: format!("{kind} job accepted; poll {status_url}"),
        expression: Vec::new(),
    }]);
    FhirResponse::new(202)
        .with_header("Content-Location", status_url)
        .with_body(outcome)
}

/// `202` with `X-Progress` while a bulk job runs.
pub(crate) fn in_progress(progress: String) -> FhirResponse {
    FhirResponse::new(202)
        .with_header("X-Progress", progress)
        .with_header("Retry-After", "1")
}

/// `200` with a finished bulk job's manifest, and `Expires` when its files go.
pub(crate) fn completed(
    manifest: &serde_json::Value,
    finished_at: &str,
    expiry: std::time::Duration,
) -> Result<FhirResponse, FhirError> {
    let body = serde_json::to_vec(manifest).map_err(|e| FhirError::internal(e.to_string()))?;
    let mut response =
        FhirResponse::new(200).with_raw(crate::request::RawBody::bytes("application/json", body));
    if let (Ok(t), Ok(expiry)) = (
        crosscare_analytics::bulk::request::parse_instant(finished_at),
        chrono::Duration::from_std(expiry),
    ) {
        response = response.with_header("Expires", crate::headers::http_date(&(t + expiry)));
    }
    Ok(response)
}

/// `202` with an informational OperationOutcome once a bulk job is cancelled.
pub(crate) fn cancelled(diagnostics: String) -> FhirResponse {
    FhirResponse::new(202).with_body(operation_outcome(&[Issue {
        severity: IssueSeverity::Information,
        code: IssueCode::Informational,
        diagnostics,
        expression: Vec::new(),
    }]))
}
