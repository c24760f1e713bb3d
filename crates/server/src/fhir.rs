//! The FHIR endpoint: HTTP request -> `FhirRequest` -> handler -> `FhirResponse` -> HTTP.

use crate::media;
use crate::observe::Interaction;
use crate::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method as HttpMethod, StatusCode};
use axum::response::{IntoResponse, Response};
use crosscare_rest::{
    FhirError, FhirRequest, FhirResponse, IssueCode, Method, Prefer, ReturnPreference,
};
use crosscare_store::PartitionId;
use percent_encoding::percent_decode_str;
use std::any::Any;

/// What the HTTP layer calls for every FHIR request. Implemented by the REST layer.
pub trait FhirHandler: Send + Sync + 'static {
    /// Answers one request; never panics on user input.
    fn handle(&self, request: FhirRequest) -> FhirResponse;
    /// Readiness: `Err` with a reason when the store cannot serve.
    fn ready(&self) -> Result<(), String> {
        Ok(())
    }
    /// Whether reads by id may be answered on the async worker instead of the blocking pool
    /// (see `Store::point_reads_are_local`).
    fn point_reads_inline(&self) -> bool {
        false
    }
}

pub(crate) const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// Any method on `/fhir` and below.
pub(crate) async fn endpoint(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let interaction = Interaction::classify(&parts.method, parts.uri.path());
    let pretty = query_pairs(parts.uri.query())
        .iter()
        .any(|(k, v)| k == "_pretty" && v == "true");
    let (remote, request_id) = crate::auth::origin(&parts);
    let mut audit = crosscare_lab::audit::AuditRecord {
        method: parts.method.to_string(),
        path: parts
            .uri
            .path()
            .trim_start_matches("/fhir")
            .trim_start_matches('/')
            .to_string(),
        query: parts.uri.query().map(str::to_string),
        remote,
        request_id,
        ..Default::default()
    };
    let audited = !(state.config.auth.unaudited_without_token
        && parts.headers.get(header::AUTHORIZATION).is_none());
    let public = parts.method == HttpMethod::GET && parts.uri.path() == "/fhir/metadata";
    let access = match crate::auth::authenticate(&state, &parts.headers, public) {
        Ok(a) => a,
        Err(refusal) => {
            let mut response = refusal.into_response();
            audit.status = response.status().as_u16();
            if audited {
                crate::auth::record(&state, &audit);
            }
            response.extensions_mut().insert(interaction);
            return response;
        }
    };
    audit.client_id = access.client_id().map(str::to_string);
    audit.workspace_id = access.workspace_id().map(str::to_string);
    if let crosscare_lab::Access::Client(p) = &access {
        audit.token_id = Some(p.token_id.clone());
    }
    let result = async {
        let mut fhir = decode(&state, &parts.method, &parts.uri, &parts.headers)?;
        if let Some((i, t, id)) =
            crosscare_rest::guard::classify(fhir.method, &fhir.path, !fhir.query.is_empty())
        {
            audit.interaction = Some(i);
            audit.resource_type = t;
            audit.resource_id = id;
        }
        fhir.access = access;
        if matches!(fhir.method, Method::Post | Method::Put | Method::Patch) {
            let bytes = axum::body::to_bytes(body, state.config.max_body_bytes)
                .await
                .map_err(|_| {
                    FhirError::new(
                        413,
                        IssueCode::TooLong,
                        format!(
                            "request body exceeds the limit of {} bytes",
                            state.config.max_body_bytes
                        ),
                    )
                })?;
            if !bytes.is_empty() {
                fhir.body = Some(bytes.to_vec());
            }
        }
        let handler = state.handler.clone();
        // `AuditEvent/[id]` is answered from the audit trail file, not a store lookup.
        let from_audit_trail = parts.uri.path().starts_with("/fhir/AuditEvent/");
        if interaction.is_point_read() && handler.point_reads_inline() && !from_audit_trail {
            // A read by id is one primary-key lookup (tens of µs, readers never wait for the
            // writer): handing it to the blocking pool cost more in thread hand-offs than the
            // read itself. Everything that can take long still goes there, under the timeout.
            return Ok(handler.handle(fhir));
        }
        let work = tokio::task::spawn_blocking(move || handler.handle(fhir));
        match tokio::time::timeout(state.config.request_timeout, work).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(join)) => Err(FhirError::internal(if join.is_panic() {
                "internal error while processing the request"
            } else {
                "request processing was cancelled"
            })),
            Err(_) => Err(FhirError::new(
                503,
                IssueCode::Timeout,
                format!(
                    "request did not complete within {:?}",
                    state.config.request_timeout
                ),
            )),
        }
    }
    .await;
    // An over-long body is left unread, so the connection cannot carry another request.
    let close_connection = matches!(&result, Err(e) if e.status == 413);
    let is_head = parts.method == HttpMethod::HEAD;
    let mut response = match result {
        Ok(r) => encode(r, pretty, is_head),
        Err(e) => error_response(&e),
    };
    audit.status = response.status().as_u16();
    if audited {
        crate::auth::record(&state, &audit);
    }
    if close_connection {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response.extensions_mut().insert(interaction);
    response
}

/// Routes outside `/fhir`, `/health` and `/metrics`.
pub(crate) async fn no_route(request: Request) -> Response {
    error_response(&FhirError::not_found(format!(
        "no endpoint at {}",
        request.uri().path()
    )))
}

/// The answer when a handler panicked; the panic message is not revealed.
pub(crate) fn panic_response(_err: Box<dyn Any + Send + 'static>) -> Response<String> {
    let body =
        FhirError::internal("internal error while processing the request").to_operation_outcome();
    let mut response = Response::new(body.to_string());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    response
}

fn decode(
    state: &AppState,
    method: &HttpMethod,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
) -> Result<FhirRequest, FhirError> {
    let method = match *method {
        HttpMethod::GET => Method::Get,
        HttpMethod::HEAD => Method::Head,
        HttpMethod::POST => Method::Post,
        HttpMethod::PUT => Method::Put,
        HttpMethod::PATCH => Method::Patch,
        HttpMethod::DELETE => Method::Delete,
        ref other => {
            return Err(FhirError::new(
                405,
                IssueCode::NotSupported,
                format!("method {other} is not supported"),
            ))
        }
    };
    let rest = uri.path().strip_prefix("/fhir").unwrap_or_default();
    let mut path = Vec::new();
    for segment in rest.split('/').filter(|s| !s.is_empty()) {
        let decoded = percent_decode_str(segment)
            .decode_utf8()
            .map_err(|_| FhirError::bad_request("the request path is not valid UTF-8"))?;
        path.push(decoded.into_owned());
    }
    let query = query_pairs(uri.query());
    // `$run` negotiates its own output formats (CSV, NDJSON, Parquet…).
    let own_formats = path.last().is_some_and(|s| s == "$run");
    if let Some((_, format)) = query
        .iter()
        .find(|(k, _)| k == "_format")
        .filter(|_| !own_formats)
    {
        if !media::format_is_json(format) {
            return Err(FhirError::new(
                406,
                IssueCode::NotSupported,
                format!("_format={format} is not supported: this server produces FHIR JSON only"),
            ));
        }
    } else if let Some(accept) = header_str(headers, header::ACCEPT).filter(|_| !own_formats) {
        if !media::accept_admits_json(accept) {
            return Err(FhirError::new(
                406,
                IssueCode::NotSupported,
                format!("cannot produce any of '{accept}': this server produces FHIR JSON only"),
            ));
        }
    }
    let content_type = header_str(headers, header::CONTENT_TYPE).map(media::essence);
    if let Some(ct) = &content_type {
        if matches!(method, Method::Post | Method::Put | Method::Patch)
            && !media::is_supported_body(ct)
        {
            return Err(FhirError::new(
                415,
                IssueCode::NotSupported,
                format!("unsupported Content-Type '{ct}': send application/fhir+json"),
            ));
        }
    }
    let base_url = match &state.config.base_url {
        Some(b) => b.trim_end_matches('/').to_string(),
        None => {
            let host = header_str(headers, header::HOST).unwrap_or("localhost");
            format!("http://{host}/fhir")
        }
    };
    Ok(FhirRequest {
        method,
        path,
        query,
        body: None,
        content_type,
        if_match: header_string(headers, header::IF_MATCH),
        if_none_match: header_string(headers, header::IF_NONE_MATCH),
        if_modified_since: header_string(headers, header::IF_MODIFIED_SINCE),
        if_none_exist: header_string(headers, "if-none-exist"),
        prefer: parse_prefer(headers),
        base_url,
        partition: PartitionId::default_partition(),
        // Set by the endpoint from the authenticated bearer token.
        access: crosscare_lab::Access::Unrestricted,
    })
}

/// Query parameters in order. Percent-escapes are decoded; `+` stays a plus sign, because FHIR
/// dates carry time-zone offsets (`ge2024-01-01T00:00:00+01:00`) that clients often leave
/// unescaped in URLs. (Form bodies of `POST _search` use form decoding instead.)
fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    let Some(query) = query else {
        return Vec::new();
    };
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            (dec(k), dec(v))
        })
        .collect()
}

fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn header_string(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<String> {
    header_str(headers, name).map(|s| s.trim().to_string())
}

fn parse_prefer(headers: &HeaderMap) -> Prefer {
    let mut prefer = Prefer::default();
    for value in headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        for token in value.split([',', ';']).map(str::trim) {
            match token.to_ascii_lowercase().as_str() {
                "return=minimal" => prefer.return_pref = ReturnPreference::Minimal,
                "return=representation" => prefer.return_pref = ReturnPreference::Representation,
                "return=operationoutcome" => {
                    prefer.return_pref = ReturnPreference::OperationOutcome
                }
                "handling=lenient" => prefer.lenient = true,
                "handling=strict" => prefer.lenient = false,
                "respond-async" => prefer.respond_async = true,
                _ => {}
            }
        }
    }
    prefer
}

fn encode(response: FhirResponse, pretty: bool, is_head: bool) -> Response {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let raw = response
        .raw
        .as_ref()
        .map(|r| (r.content_type.clone(), r.take()));
    let mut out = match (&response.body, raw) {
        (_, Some((content_type, producer))) => {
            let body = match producer {
                Some(p) if !is_head => crate::stream::body(p),
                _ => Body::empty(),
            };
            let mut r = Response::new(body);
            if let Ok(v) = HeaderValue::from_str(&content_type) {
                r.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            r
        }
        (None, None) if response.stored.is_some() => {
            let mut r = match response.stored.as_deref() {
                Some(_) if is_head => Response::new(Body::empty()),
                // Pretty printing needs the tree; otherwise the stored bytes are the body.
                Some(text) if pretty => match serde_json::from_str::<serde_json::Value>(text)
                    .and_then(|v| serde_json::to_vec_pretty(&v))
                {
                    Ok(bytes) => Response::new(Body::from(bytes)),
                    Err(_) => {
                        return error_response(&FhirError::internal(
                            "cannot serialise the response",
                        ))
                    }
                },
                Some(text) => Response::new(Body::from(text.as_bytes().to_vec())),
                None => Response::new(Body::empty()),
            };
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
            r
        }
        (body, None) => match body {
            Some(body) if !is_head => {
                let bytes = if pretty {
                    serde_json::to_vec_pretty(body)
                } else {
                    serde_json::to_vec(body)
                };
                match bytes {
                    Ok(bytes) => {
                        let mut r = Response::new(Body::from(bytes));
                        r.headers_mut()
                            .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
                        r
                    }
                    Err(_) => {
                        return error_response(&FhirError::internal(
                            "cannot serialise the response",
                        ))
                    }
                }
            }
            Some(_) => {
                let mut r = Response::new(Body::empty());
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
                r
            }
            None => Response::new(Body::empty()),
        },
    };
    *out.status_mut() = status;
    for (name, value) in response.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            out.headers_mut().append(name, v);
        }
    }
    out
}

pub(crate) fn error_response(error: &FhirError) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = error.to_operation_outcome().to_string();
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    r
}

impl FhirHandler for crosscare_rest::Rest {
    fn handle(&self, request: FhirRequest) -> FhirResponse {
        crosscare_rest::Rest::handle(self, request)
    }

    fn point_reads_inline(&self) -> bool {
        self.store().point_reads_are_local()
    }

    fn ready(&self) -> Result<(), String> {
        self.store()
            .read_tx()
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_keeps_plus() {
        let q = query_pairs(Some(
            "date=ge2024-01-01T00:00:00+01:00&name=M%C3%BCller&_count=5",
        ));
        assert_eq!(
            q,
            vec![
                (
                    "date".to_string(),
                    "ge2024-01-01T00:00:00+01:00".to_string()
                ),
                ("name".to_string(), "Müller".to_string()),
                ("_count".to_string(), "5".to_string()),
            ]
        );
    }

    #[test]
    fn prefer_header() {
        let mut h = HeaderMap::new();
        h.insert(
            "prefer",
            HeaderValue::from_static("return=minimal, handling=lenient"),
        );
        let p = parse_prefer(&h);
        assert_eq!(p.return_pref, ReturnPreference::Minimal);
        assert!(p.lenient);
    }
}
