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
        }
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
