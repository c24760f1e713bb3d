//! The outcome of a validation: issues with FHIR issue severities, issue types and locations.

use std::fmt;

/// `OperationOutcome.issue.severity` (the `fatal` level is not produced by validation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
    Information,
}

impl Severity {
    /// The FHIR code (`error`, `warning`, `information`).
    pub fn code(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Information => "information",
        }
    }
}

/// `OperationOutcome.issue.code`: the subset of the FHIR `issue-type` codes validation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IssueType {
    /// `invalid`: content is invalid in a way no more specific code describes.
    Invalid,
    /// `structure`: a JSON shape error (unknown element, object where an array belongs…).
    Structure,
    /// `required`: a mandatory element is missing.
    Required,
    /// `value`: a primitive value is malformed for its type.
    Value,
    /// `invariant`: a FHIRPath constraint evaluated to false.
    Invariant,
    /// `code-invalid`: a code is not in a required value set.
    CodeInvalid,
    /// `too-long`: a string exceeds a length limit.
    TooLong,
    /// `not-supported`: a constraint could not be evaluated.
    NotSupported,
}

impl IssueType {
    /// The FHIR `issue-type` code (`structure`, `code-invalid`, …).
    pub fn code(self) -> &'static str {
        match self {
            IssueType::Invalid => "invalid",
            IssueType::Structure => "structure",
            IssueType::Required => "required",
            IssueType::Value => "value",
            IssueType::Invariant => "invariant",
            IssueType::CodeInvalid => "code-invalid",
            IssueType::TooLong => "too-long",
            IssueType::NotSupported => "not-supported",
        }
    }
}

/// One finding, located by a FHIRPath-style expression such as `Patient.name[0].given[1]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub severity: Severity,
    pub code: IssueType,
    /// Where the issue is: `Patient.gender`, `Bundle.entry[2].resource.status`.
    pub expression: String,
    pub message: String,
    /// The constraint key (`ele-1`, `dom-2`, `obs-6`) when the issue comes from an invariant.
    pub key: Option<String>,
}

impl Issue {
    pub(crate) fn error(code: IssueType, expression: &str, message: impl Into<String>) -> Issue {
        Issue {
            severity: Severity::Error,
            code,
            expression: expression.to_string(),
            message: message.into(),
            key: None,
        }
    }

    pub(crate) fn with_key(mut self, key: &str) -> Issue {
        self.key = Some(key.to_string());
        self
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} at {}",
            self.severity.code(),
            self.code.code(),
            self.expression
        )?;
        if let Some(key) = &self.key {
            write!(f, " [{key}]")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every issue found in one resource, in document order (structure first, then invariants).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationReport {
    pub issues: Vec<Issue>,
    /// Invariants that were not evaluated: the engine could not compile or evaluate them, or
    /// they need `%resource` while evaluated below the resource root. Never reported as
    /// failures.
    pub skipped_invariants: usize,
}

impl ValidationReport {
    /// True when at least one issue has severity `error`.
    pub fn has_errors(&self) -> bool {
        self.issues.iter().any(|i| i.severity == Severity::Error)
    }

    /// The issues with severity `error`.
    pub fn errors(&self) -> impl Iterator<Item = &Issue> {
        self.issues.iter().filter(|i| i.severity == Severity::Error)
    }
}
