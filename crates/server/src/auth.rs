//! Authentication and the audit hook of the HTTP layer, and the OAuth2 endpoints.
//!
//! This module only *authenticates* (bearer token → [`Access`]) and records; what an access may
//! do is decided by the lab's policy, called by the REST layer for every interaction.
//! - `POST /auth/token`: OAuth2 `client_credentials` (RFC 6749 §4.4), client secret by HTTP
//!   Basic or form fields; errors are RFC 6749 §5.2 JSON.
//! - `GET /.well-known/smart-configuration` (also under `/fhir`): SMART discovery.

use crate::AppState;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use crosscare_lab::audit::AuditRecord;
use crosscare_lab::{Access, Lab};
use crosscare_rest::{FhirError, IssueCode};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;

/// How the server authenticates.
#[derive(Clone, Default)]
pub struct Auth {
    /// The lab of the data folder: tokens, registry, audit trail. Without it the server issues
    /// no token and keeps no audit trail.
    pub lab: Option<Arc<Lab>>,
    /// Every FHIR request needs a valid bearer token (except `GET /fhir/metadata`). When false
    /// (`--insecure-no-auth`), requests without a token are served unrestricted — and the server
    /// refuses to listen on anything but loopback.
    pub required: bool,
    /// Requests that carry no bearer token are not audited. For the lab-overhead benchmark
    /// only (`--insecure-no-audit-without-token`, which needs `--insecure-no-auth`): it gives
    /// the throughput of a server that neither authenticates nor audits.
    pub unaudited_without_token: bool,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("lab", &self.lab.as_ref().map(|l| l.dir().to_path_buf()))
            .field("required", &self.required)
            .field("unaudited_without_token", &self.unaudited_without_token)
            .finish()
    }
}

/// The bearer token of a request, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// A refusal of the FHIR API: an `OperationOutcome` with `WWW-Authenticate` on 401 and
/// `Retry-After` on 429.
pub(crate) struct Refusal(pub FhirError, pub Option<u64>);

impl Refusal {
    pub(crate) fn into_response(self) -> Response {
        let mut r = crate::fhir::error_response(&self.0);
        if self.0.status == 401 {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"crosscare\", error=\"invalid_token\""),
            );
        }
        if let Some(secs) = self.1 {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }
}

/// Who is asking. `public` requests (the CapabilityStatement) need no token.
pub(crate) fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    public: bool,
) -> Result<Access, Refusal> {
    let auth = &state.config.auth;
    match (bearer(headers), &auth.lab) {
        (Some(token), Some(lab)) => lab.authenticate(token).map_err(|f| {
            let code = match f.status {
                401 => IssueCode::Login,
                429 => IssueCode::Throttled,
                _ => IssueCode::Forbidden,
            };
            Refusal(FhirError::new(f.status, code, f.message), f.retry_after)
        }),
        (Some(_), None) => Err(Refusal(
            FhirError::new(
                401,
                IssueCode::Login,
                "this server issues no access tokens (started without a lab)",
            ),
            None,
        )),
        (None, _) if auth.required && !public => Err(Refusal(
            FhirError::new(
                401,
                IssueCode::Login,
                "authentication required: send 'Authorization: Bearer <token>' (tokens from \
                 POST /auth/token, see /.well-known/smart-configuration)",
            ),
            None,
        )),
        (None, _) => Ok(Access::Unrestricted),
    }
}

/// The remote address and request id of a request, for the audit trail.
pub(crate) fn origin(parts: &axum::http::request::Parts) -> (Option<String>, Option<String>) {
    let remote = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let request_id = parts
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (remote, request_id)
}

/// Appends one record; a failure is logged (without the record's content), never hidden.
pub(crate) fn record(state: &AppState, record: &AuditRecord) {
    if let Some(lab) = &state.config.auth.lab {
        if let Err(e) = lab.audit(record) {
            tracing::error!(error = %e, "could not append to the audit trail");
            metrics::counter!("crosscare_audit_failures_total").increment(1);
        }
    }
}

/// The public origin (`http://host`), from the configured base URL or the `Host` header.
fn origin_url(state: &AppState, headers: &HeaderMap) -> String {
    match &state.config.base_url {
        Some(b) => {
            let b = b.trim_end_matches('/');
            b.strip_suffix("/fhir").unwrap_or(b).to_string()
        }
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}")
        }
    }
}

fn oauth_json(status: u16, body: serde_json::Value) -> Response {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    oauth_json(
        status,
        json!({ "error": error, "error_description": description }),
    )
}

/// `GET /.well-known/smart-configuration`.
pub(crate) async fn smart_configuration(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Response {
    let origin = origin_url(&state, &headers);
    let body = json!({
        "token_endpoint": format!("{origin}/auth/token"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "scopes_supported": ["system/*.cruds", "system/*.rs", "system/*.read", "system/*.write"],
        "capabilities": [
            "client-confidential-symmetric",
            "client-confidential-asymmetric",
            "permission-v2",
            "permission-v1"
        ],
    });
    let mut r = Json(body).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

use axum::Json;

/// Decodes `Authorization: Basic` (RFC 6749 §2.3.1: id and secret form-encoded, then base64).
/// The error is the `invalid_client` description.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, &'static str> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || "malformed HTTP Basic credentials";
    let text = value.to_str().map_err(|_| bad())?;
    let Some((scheme, encoded)) = text.split_once(' ') else {
        return Err(bad());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err("client authentication must use HTTP Basic or form fields");
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let dec = |s: &str| -> String {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((dec(id), dec(secret))))
}

/// `POST /auth/token`.
pub(crate) async fn token(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let (remote, request_id) = origin(&parts);
    let mut audit = AuditRecord {
        method: "POST".into(),
        path: "auth/token".into(),
        remote,
        request_id,
        ..Default::default()
    };
    let response = token_response(&state, &parts.headers, body, &mut audit).await;
    audit.status = response.status().as_u16();
    record(&state, &audit);
    response
}

async fn token_response(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    audit: &mut AuditRecord,
) -> Response {
    let Some(lab) = state.config.auth.lab.clone() else {
        return oauth_error(
            404,
            "invalid_request",
            "this server issues no tokens (started without a lab)",
        );
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(crate::media::essence);
    if content_type.as_deref() != Some("application/x-www-form-urlencoded") {
        return oauth_error(
            400,
            "invalid_request",
            "the token request must be application/x-www-form-urlencoded",
        );
    }
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return oauth_error(400, "invalid_request", "the token request is too large");
    };
    let form: Vec<(String, String)> = form_urlencoded::parse(&bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let basic = match basic_credentials(headers) {
        Ok(b) => b,
        Err(description) => return oauth_error(401, "invalid_client", description),
    };
    let used_basic = basic.is_some();
    audit.client_id = basic.as_ref().map(|(id, _)| id.clone()).or_else(|| {
        form.iter()
            .find(|(k, _)| k == "client_id")
            .map(|(_, v)| v.clone())
    });
    let endpoint = format!("{}/auth/token", origin_url(state, headers));
    let result =
        tokio::task::spawn_blocking(move || lab.token_request(&form, basic, &endpoint)).await;
    match result {
        Ok(Ok((client_id, body))) => {
            audit.client_id = Some(client_id);
            oauth_json(200, body)
        }
        Ok(Err(e)) => {
            let mut r = oauth_json(e.status, e.to_json());
            if e.status == 401 && used_basic {
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"crosscare\""),
                );
            }
            r
        }
        Err(_) => oauth_error(500, "server_error", "the token request failed"),
    }
}
