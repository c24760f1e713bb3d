//! The one place where failures become `OperationOutcome`s with an HTTP status.

use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueSeverity {
    Fatal,
    Error,
    Warning,
    Information,
}

impl IssueSeverity {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueSeverity::Fatal => "fatal",
            IssueSeverity::Error => "error",
            IssueSeverity::Warning => "warning",
            IssueSeverity::Information => "information",
        }
    }
}

/// The `OperationOutcome.issue.code` values the server uses (from the `issue-type` value set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueCode {
    Invalid,
    Structure,
    Required,
    Value,
    Invariant,
    Security,
    Login,
    Forbidden,
    Processing,
    NotSupported,
    Duplicate,
    MultipleMatches,
    NotFound,
    Deleted,
    TooLong,
    CodeInvalid,
    Conflict,
    Exception,
    Timeout,
    TooCostly,
    Throttled,
    Transient,
    Informational,
    BusinessRule,
}

impl IssueCode {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueCode::Invalid => "invalid",
            IssueCode::Structure => "structure",
            IssueCode::Required => "required",
            IssueCode::Value => "value",
            IssueCode::Invariant => "invariant",
            IssueCode::Security => "security",
            IssueCode::Login => "login",
            IssueCode::Forbidden => "forbidden",
            IssueCode::Processing => "processing",
            IssueCode::NotSupported => "not-supported",
            IssueCode::Duplicate => "duplicate",
            IssueCode::MultipleMatches => "multiple-matches",
            IssueCode::NotFound => "not-found",
            IssueCode::Deleted => "deleted",
            IssueCode::TooLong => "too-long",
            IssueCode::CodeInvalid => "code-invalid",
            IssueCode::Conflict => "conflict",
            IssueCode::Exception => "exception",
            IssueCode::Timeout => "timeout",
            IssueCode::TooCostly => "too-costly",
            IssueCode::Throttled => "throttled",
            IssueCode::Transient => "transient",
            IssueCode::Informational => "informational",
            IssueCode::BusinessRule => "business-rule",
        }
    }
}

/// One issue of an `OperationOutcome`.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub severity: IssueSeverity,
    pub code: IssueCode,
    pub diagnostics: String,
    /// FHIRPath expressions locating the problem (`Patient.gender`).
    pub expression: Vec<String>,
}

/// A failed request: an HTTP status and the issues explaining it.
#[derive(Debug, Clone, PartialEq)]
pub struct FhirError {
    pub status: u16,
    pub issues: Vec<Issue>,
    /// Seconds for a `Retry-After` header (429 and 503 answers).
    pub retry_after: Option<u64>,
}

/// The diagnostics of every issue, for logs and job records.
impl std::fmt::Display for FhirError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let texts: Vec<&str> = self.issues.iter().map(|i| i.diagnostics.as_str()).collect();
        write!(f, "{} ({})", texts.join("; "), self.status)
    }
}

impl FhirError {
    pub fn new(status: u16, code: IssueCode, diagnostics: impl Into<String>) -> Self {
        FhirError {
            status,
            issues: vec![Issue {
                severity: IssueSeverity::Error,
                code,
                diagnostics: diagnostics.into(),
                expression: Vec::new(),
            }],
            retry_after: None,
        }
    }

    /// Asks the client to wait `seconds` before trying again (`Retry-After`).
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn at(mut self, expression: impl Into<String>) -> Self {
        if let Some(issue) = self.issues.last_mut() {
            issue.expression.push(expression.into());
        }
        self
    }

    pub fn bad_request(diagnostics: impl Into<String>) -> Self {
        Self::new(400, IssueCode::Invalid, diagnostics)
    }

    pub fn not_found(diagnostics: impl Into<String>) -> Self {
        Self::new(404, IssueCode::NotFound, diagnostics)
    }

    pub fn gone(diagnostics: impl Into<String>) -> Self {
        Self::new(410, IssueCode::Deleted, diagnostics)
    }

    pub fn precondition_failed(diagnostics: impl Into<String>) -> Self {
        Self::new(412, IssueCode::Conflict, diagnostics)
    }

    /// 409: the request conflicts with the current state (an id already taken).
    pub fn conflict(diagnostics: impl Into<String>) -> Self {
        Self::new(409, IssueCode::Conflict, diagnostics)
    }

    /// 412 for several matches of a conditional interaction.
    pub fn multiple_matches(diagnostics: impl Into<String>) -> Self {
        Self::new(412, IssueCode::MultipleMatches, diagnostics)
    }

    /// 413: a Bundle with more entries than the server accepts.
    pub fn too_large(diagnostics: impl Into<String>) -> Self {
        Self::new(413, IssueCode::TooCostly, diagnostics)
    }

    /// 405: the interaction exists but not with this method on this path.
    pub fn method_not_allowed(diagnostics: impl Into<String>) -> Self {
        Self::new(405, IssueCode::NotSupported, diagnostics)
    }

    /// 415: a body in a format this server does not read.
    pub fn unsupported_media_type(diagnostics: impl Into<String>) -> Self {
        Self::new(415, IssueCode::NotSupported, diagnostics)
    }

    /// 422: the resource parsed but violates the FHIR rules (validation or a patch that
    /// cannot be applied).
    pub fn unprocessable(diagnostics: impl Into<String>) -> Self {
        Self::new(422, IssueCode::Processing, diagnostics)
    }

    /// An error with several issues.
    pub fn with_issues(status: u16, issues: Vec<Issue>) -> Self {
        FhirError {
            status,
            issues,
            retry_after: None,
        }
    }

    /// Prefixes every diagnostic with the Bundle entry that failed and adds its location.
    pub fn in_entry(mut self, index: usize) -> Self {
        for issue in &mut self.issues {
            issue.diagnostics = format!("Bundle.entry[{index}]: {}", issue.diagnostics);
            if issue.expression.is_empty() {
                issue.expression.push(format!("Bundle.entry[{index}]"));
            }
        }
        self
    }

    pub fn not_supported(diagnostics: impl Into<String>) -> Self {
        Self::new(501, IssueCode::NotSupported, diagnostics)
    }

    pub fn internal(diagnostics: impl Into<String>) -> Self {
        Self::new(500, IssueCode::Exception, diagnostics)
    }

    /// The `OperationOutcome` resource for this error.
    pub fn to_operation_outcome(&self) -> Value {
        operation_outcome(&self.issues)
    }
}

/// Builds an `OperationOutcome` from issues.
pub fn operation_outcome(issues: &[Issue]) -> Value {
    let issues: Vec<Value> = issues
        .iter()
        .map(|i| {
            let mut v = json!({
                "severity": i.severity.as_str(),
                "code": i.code.as_str(),
                "diagnostics": i.diagnostics,
            });
            if !i.expression.is_empty() {
                v["expression"] = json!(i.expression);
            }
            v
        })
        .collect();
    json!({ "resourceType": "OperationOutcome", "issue": issues })
}

impl From<crosscare_store::StoreError> for FhirError {
    fn from(e: crosscare_store::StoreError) -> Self {
        use crosscare_store::StoreError as E;
        match e {
            E::Unavailable(_) => FhirError::new(503, IssueCode::Transient, e.to_string()),
            E::Conflict => FhirError::new(409, IssueCode::Conflict, e.to_string()),
            E::UnsupportedSearch(_) => FhirError::new(400, IssueCode::NotSupported, e.to_string()),
            _ => FhirError::internal(e.to_string()),
        }
    }
}

impl From<crosscare_search::SearchError> for FhirError {
    fn from(e: crosscare_search::SearchError) -> Self {
        use crosscare_search::SearchError as E;
        let code = match &e {
            E::UnknownParameter { .. }
            | E::UnknownModifier { .. }
            | E::Unsupported { .. }
            | E::NotYetIndexed { .. } => IssueCode::NotSupported,
            E::UnknownResourceType(_) => IssueCode::NotFound,
            _ => IssueCode::Invalid,
        };
        let status = if matches!(e, E::UnknownResourceType(_)) {
            404
        } else {
            400
        };
        let mut err = FhirError::new(status, code, e.to_string());
        if let Some(p) = e.param() {
            err = err.at(p.to_string());
        }
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(err: FhirError, status: u16, code: &str) {
        assert_eq!(err.status, status);
        let oo = err.to_operation_outcome();
        assert_eq!(oo["resourceType"], "OperationOutcome");
        assert_eq!(oo["issue"][0]["code"], code);
        assert_eq!(oo["issue"][0]["severity"], "error");
    }

    #[test]
    fn table() {
        check(FhirError::bad_request("x"), 400, "invalid");
        check(FhirError::not_found("x"), 404, "not-found");
        check(FhirError::gone("x"), 410, "deleted");
        check(FhirError::precondition_failed("x"), 412, "conflict");
        check(FhirError::multiple_matches("x"), 412, "multiple-matches");
        check(FhirError::too_large("x"), 413, "too-costly");
        check(FhirError::unprocessable("x"), 422, "processing");
        check(
            crosscare_store::StoreError::Conflict.into(),
            409,
            "conflict",
        );
    }

    #[test]
    fn entry_prefix() {
        let e = FhirError::bad_request("bad").in_entry(3);
        let oo = e.to_operation_outcome();
        assert_eq!(oo["issue"][0]["diagnostics"], "Bundle.entry[3]: bad");
        assert_eq!(oo["issue"][0]["expression"][0], "Bundle.entry[3]");
    }
}
