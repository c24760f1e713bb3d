//! What an interaction produced ([`Outcome`]) and how it becomes an HTTP response or a
//! Bundle `entry.response`, with `ETag`, `Last-Modified`, `Location` and `Prefer` applied.

use crate::error::{operation_outcome, FhirError, Issue, IssueCode, IssueSeverity};
use crate::headers::{etag, http_date};
use crate::request::{FhirResponse, Prefer, ReturnPreference};
use chrono::{DateTime, SecondsFormat, Utc};
use crosscare_store::ResourceVersion;
use serde_json::{json, Value};

/// The version a response talks about.
#[derive(Debug, Clone)]
pub struct VersionMeta {
    pub resource_type: String,
    pub id: String,
    pub version_id: u64,
    pub last_updated: DateTime<Utc>,
}

impl VersionMeta {
    pub fn of(v: &ResourceVersion) -> VersionMeta {
        VersionMeta {
            resource_type: v.resource_type.clone(),
            id: v.id.clone(),
            version_id: v.version_id,
            last_updated: v.last_updated,
        }
    }

    /// `Type/id/_history/n`, relative to the base.
    pub fn history_path(&self) -> String {
        format!(
            "{}/{}/_history/{}",
            self.resource_type, self.id, self.version_id
        )
    }
}

/// The kind of body an outcome carries, which decides whether `Prefer: return=` applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// A resource written by this request: `Prefer` chooses what to send.
    Written,
    /// Anything else (a read resource, a Bundle, an `OperationOutcome`): sent as is.
    Plain,
}

/// The result of one interaction.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: u16,
    pub body: Option<Value>,
    pub kind: BodyKind,
    pub version: Option<VersionMeta>,
    /// Send `Location` (create, update-as-create, and any successful update).
    pub location: bool,
    /// A human-readable note for `Prefer: return=OperationOutcome`.
    pub message: String,
    /// The resource as stored, sent as is in place of `body` (plain reads by id).
    pub stored: Option<std::sync::Arc<str>>,
}

impl Outcome {
    pub fn plain(status: u16, body: Option<Value>) -> Outcome {
        Outcome {
            status,
            body,
            kind: BodyKind::Plain,
            version: None,
            location: false,
            message: String::new(),
            stored: None,
        }
    }

    /// A resource written (or found by a conditional create) by this request. The stored JSON
    /// is parsed back only when `Prefer` asks for the representation (the default): a bulk
    /// loader sending `return=minimal` does not pay for one more parse per resource.
    pub fn written(
        prefer: &Prefer,
        status: u16,
        version: &ResourceVersion,
        message: String,
    ) -> Result<Outcome, FhirError> {
        let body = match prefer.return_pref {
            ReturnPreference::Representation => version_json(version)?,
            ReturnPreference::Minimal | ReturnPreference::OperationOutcome => None,
        };
        Ok(Outcome {
            status,
            body,
            kind: BodyKind::Written,
            version: Some(VersionMeta::of(version)),
            location: true,
            message,
            stored: None,
        })
    }

    /// A resource read: `ETag` and `Last-Modified` but no `Location`.
    pub fn read(version: &ResourceVersion) -> Result<Outcome, FhirError> {
        Ok(Outcome {
            status: 200,
            body: version_json(version)?,
            kind: BodyKind::Plain,
            version: Some(VersionMeta::of(version)),
            location: false,
            message: String::new(),
            stored: None,
        })
    }

    /// A resource read whose stored text is the response body as it is (no `_summary`,
    /// `_elements` or scope restriction to apply): nothing is parsed.
    pub fn read_stored(version: &ResourceVersion) -> Outcome {
        Outcome {
            status: 200,
            body: None,
            kind: BodyKind::Plain,
            version: Some(VersionMeta::of(version)),
            location: false,
            message: String::new(),
            stored: version.body.clone(),
        }
    }

    fn informational(&self) -> Value {
        operation_outcome(&[Issue {
            severity: IssueSeverity::Information,
            code: IssueCode::Informational,
            diagnostics: self.message.clone(),
            expression: Vec::new(),
        }])
    }

    /// The body after `Prefer: return=…` (moved out, not cloned: it can be a large resource).
    fn preferred_body(&mut self, prefer: &Prefer) -> Option<Value> {
        if self.body.is_none() {
            if let Some(text) = self.stored.take() {
                self.body = serde_json::from_str(&text).ok();
            }
        }
        match (self.kind, prefer.return_pref) {
            (BodyKind::Plain, _) | (BodyKind::Written, ReturnPreference::Representation) => {
                self.body.take()
            }
            (BodyKind::Written, ReturnPreference::Minimal) => None,
            (BodyKind::Written, ReturnPreference::OperationOutcome) => Some(self.informational()),
        }
    }

    /// The HTTP response.
    pub fn into_response(mut self, prefer: &Prefer, base_url: &str) -> FhirResponse {
        let mut resp = FhirResponse::new(self.status);
        if let Some(v) = &self.version {
            resp = resp
                .with_header("ETag", etag(v.version_id))
                .with_header("Last-Modified", http_date(&v.last_updated));
            if self.location {
                resp = resp.with_header(
                    "Location",
                    format!("{}/{}", base_url.trim_end_matches('/'), v.history_path()),
                );
            }
        }
        match self.stored.take() {
            Some(text) if self.body.is_none() && self.kind == BodyKind::Plain => {
                resp.stored = Some(text)
            }
            _ => resp.body = self.preferred_body(prefer),
        }
        resp
    }

    /// The `Bundle.entry` of a batch or transaction response.
    pub fn into_entry(mut self, prefer: &Prefer, base_url: &str) -> Value {
        let mut response = json!({ "status": status_line(self.status) });
        if let Some(v) = &self.version {
            if self.location {
                response["location"] = json!(v.history_path());
            }
            response["etag"] = json!(etag(v.version_id));
            response["lastModified"] = json!(instant(&v.last_updated));
        }
        let mut entry = json!({});
        if let Some(v) = &self.version {
            entry["fullUrl"] = json!(format!(
                "{}/{}/{}",
                base_url.trim_end_matches('/'),
                v.resource_type,
                v.id
            ));
        }
        match self.preferred_body(prefer) {
            Some(b)
                if b["resourceType"] == "OperationOutcome" && self.kind == BodyKind::Written =>
            {
                response["outcome"] = b;
            }
            Some(b) => entry["resource"] = b,
            None => {}
        }
        entry["response"] = response;
        entry
    }
}

/// The `Bundle.entry` for a failed batch entry.
pub fn error_entry(err: &FhirError) -> Value {
    json!({
        "response": {
            "status": status_line(err.status),
            "outcome": err.to_operation_outcome(),
        }
    })
}

/// A FHIR `instant` with microseconds when there are any.
pub fn instant(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `entry.response.status`: the code and its reason phrase.
pub fn status_line(status: u16) -> String {
    let reason = match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "",
    };
    if reason.is_empty() {
        status.to_string()
    } else {
        format!("{status} {reason}")
    }
}

/// The JSON of a stored version (`None` for a deletion).
pub fn version_json(v: &ResourceVersion) -> Result<Option<Value>, FhirError> {
    match &v.body {
        None => Ok(None),
        Some(text) => serde_json::from_str(text).map(Some).map_err(|e| {
            FhirError::internal(format!(
                "stored {}/{} version {} is not valid JSON: {e}",
                v.resource_type, v.id, v.version_id
            ))
        }),
    }
}
