//! Operations that are not store interactions: Bulk Data `$export` and `$import` (kick-off,
//! status, files, cancel), the streamed `ViewDefinition/$run` and the training `$reset`. Each
//! answers a [`FhirResponse`]
//! directly, because their bodies are not always FHIR JSON.
//!
//! [`FhirResponse`]: crate::FhirResponse

pub mod export;
pub mod import;
pub mod parameters;
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
