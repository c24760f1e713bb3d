//! The boundary types between the HTTP layer and the FHIR logic.

use crosscare_store::PartitionId;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// The method of a Bundle `entry.request.method` (`HTTPVerb`).
    pub fn parse(s: &str) -> Option<Method> {
        Some(match s {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            _ => return None,
        })
    }
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
///
/// The HTTP layer fills it as follows: `path` = the path after the FHIR base split on `/`
/// (percent-decoded, empty segments dropped); `query` = the decoded query pairs in order;
/// `body` = the raw bytes (a form body of `POST …/_search` is decoded here, not by the server);
/// `content_type` = the media type, lower-cased, without parameters; the conditional headers
/// verbatim; `prefer` = [`crate::headers::parse_prefer`] of the `Prefer` header; `base_url` =
/// the absolute base used in `Location`, `fullUrl` and links. The response's `headers` are
/// `ETag`, `Last-Modified` and `Location`; a 304 has no body; `HEAD` responses never have one.
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
    /// The partition the request reads and writes (honoured only for unauthenticated access;
    /// an authenticated client's partition is decided by the lab).
    pub partition: PartitionId,
    /// Who is asking, as authenticated by the transport. Every interaction is authorised
    /// against it (`guard`).
    pub access: crosscare_lab::Access,
}

impl FhirRequest {
    /// A request with no body, no conditional headers, the default partition, unauthenticated
    /// access and the base URL `http://localhost/fhir`; `path` is split on `/`, and a `?query` part is decoded.
    pub fn new(method: Method, path_and_query: &str) -> FhirRequest {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, crosscare_search::parse_query_string(q)),
            None => (path_and_query, Vec::new()),
        };
        FhirRequest {
            method,
            path: path
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            query,
            body: None,
            content_type: None,
            if_match: None,
            if_none_match: None,
            if_modified_since: None,
            if_none_exist: None,
            prefer: Prefer::default(),
            base_url: "http://localhost/fhir".to_string(),
            partition: PartitionId::default_partition(),
            access: crosscare_lab::Access::Unrestricted,
        }
    }

    /// Sets who is asking.
    pub fn with_access(mut self, access: crosscare_lab::Access) -> FhirRequest {
        self.access = access;
        self
    }

    /// Sets a JSON body (`application/fhir+json`).
    pub fn with_json(mut self, body: &serde_json::Value) -> FhirRequest {
        self.body = Some(body.to_string().into_bytes());
        self.content_type = Some("application/fhir+json".to_string());
        self
    }

    /// The value of a query parameter, if given once or more (the first).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Writes a response body that is not a FHIR JSON resource, on a blocking thread, into the
/// HTTP connection; an `Err` cuts the response short (the client sees an incomplete body).
pub type BodyProducer =
    Box<dyn FnOnce(Box<dyn std::io::Write + Send>) -> std::io::Result<()> + Send>;

/// A streamed, non-JSON response body (NDJSON export files, CSV or Parquet view output, the
/// export manifest) with its media type.
#[derive(Clone)]
pub struct RawBody {
    pub content_type: String,
    producer: Arc<Mutex<Option<BodyProducer>>>,
}

impl RawBody {
    pub fn new(content_type: impl Into<String>, producer: BodyProducer) -> RawBody {
        RawBody {
            content_type: content_type.into(),
            producer: Arc::new(Mutex::new(Some(producer))),
        }
    }

    /// A body already in memory.
    pub fn bytes(content_type: impl Into<String>, bytes: Vec<u8>) -> RawBody {
        RawBody::new(content_type, Box::new(move |mut w| w.write_all(&bytes)))
    }

    /// The contents of a file, read as it is sent.
    pub fn file(content_type: impl Into<String>, path: std::path::PathBuf) -> RawBody {
        RawBody::new(
            content_type,
            Box::new(move |mut w| {
                let mut f = std::fs::File::open(&path)?;
                std::io::copy(&mut f, &mut w).map(|_| ())
            }),
        )
    }

    /// The producer, once (a second call gets `None`).
    pub fn take(&self) -> Option<BodyProducer> {
        self.producer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

impl std::fmt::Debug for RawBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawBody")
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

/// One FHIR response, to be encoded as HTTP.
#[derive(Debug, Clone)]
pub struct FhirResponse {
    pub status: u16,
    /// Extra headers such as `ETag`, `Location`, `Last-Modified`, `Content-Location`.
    pub headers: Vec<(&'static str, String)>,
    /// A FHIR resource (JSON), or nothing.
    pub body: Option<serde_json::Value>,
    /// A non-JSON body, streamed; when set, `body` is ignored.
    pub raw: Option<RawBody>,
    /// A resource already serialised as compact FHIR JSON: a stored version, sent byte for byte
    /// as the store holds it (a read need not parse and print it again). When set, `body` is
    /// `None`; [`FhirResponse::json`] parses it for callers that look inside.
    pub stored: Option<Arc<str>>,
    parsed: std::sync::OnceLock<serde_json::Value>,
}

impl FhirResponse {
    pub fn new(status: u16) -> Self {
        FhirResponse {
            status,
            headers: Vec::new(),
            body: None,
            raw: None,
            stored: None,
            parsed: std::sync::OnceLock::new(),
        }
    }

    /// Sends `text` (compact FHIR JSON, as stored) as the body.
    pub fn with_stored(mut self, text: Arc<str>) -> Self {
        self.stored = Some(text);
        self
    }

    /// The JSON body, whether built (`body`) or stored (`stored`, parsed once on demand).
    pub fn json(&self) -> Option<&serde_json::Value> {
        if let Some(b) = &self.body {
            return Some(b);
        }
        let text = self.stored.as_deref()?;
        Some(
            self.parsed
                .get_or_init(|| serde_json::from_str(text).unwrap_or(serde_json::Value::Null)),
        )
    }

    pub fn with_raw(mut self, raw: RawBody) -> Self {
        self.raw = Some(raw);
        self
    }

    pub fn with_body(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }

    /// The value of a header set on this response.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}
