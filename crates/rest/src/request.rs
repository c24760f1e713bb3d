//! The boundary types between the HTTP layer and the FHIR logic.

use crosscare_store::PartitionId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
}

/// `Prefer: return=…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReturnPreference {
    Minimal,
    #[default]
    Representation,
    OperationOutcome,
}

/// The parsed `Prefer` header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prefer {
    pub return_pref: ReturnPreference,
    /// `handling=lenient`.
    pub lenient: bool,
    /// `respond-async`.
    pub respond_async: bool,
}

/// One FHIR request, already decoded from HTTP.
#[derive(Debug, Clone)]
pub struct FhirRequest {
    pub method: Method,
    /// Path segments after the FHIR base (`["Patient", "123", "_history", "2"]`).
    pub path: Vec<String>,
    /// Query parameters in order, percent-decoded.
    pub query: Vec<(String, String)>,
    /// The request body, if any (already decompressed, within the size limit).
    pub body: Option<Vec<u8>>,
    /// `Content-Type` without parameters, lower-cased.
    pub content_type: Option<String>,
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<String>,
    pub if_none_exist: Option<String>,
    pub prefer: Prefer,
    /// The absolute base URL of the FHIR endpoint (`http://127.0.0.1:8080/fhir`), for links.
    pub base_url: String,
    /// The partition the request reads and writes.
    pub partition: PartitionId,
}

/// One FHIR response, to be encoded as HTTP.
#[derive(Debug, Clone)]
pub struct FhirResponse {
    pub status: u16,
    /// Extra headers such as `ETag`, `Location`, `Last-Modified`, `Content-Location`.
    pub headers: Vec<(&'static str, String)>,
    /// A FHIR resource (JSON), or nothing.
    pub body: Option<serde_json::Value>,
}

impl FhirResponse {
    pub fn new(status: u16) -> Self {
        FhirResponse {
            status,
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn with_body(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}
