//! Observability: one structured log line per request, and Prometheus metrics.
//!
//! Log lines carry method, path, status, latency, interaction and request id. They never carry
//! the query string or the body: search parameters are patient identifiers and names.

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide metrics recorder once (several servers in one test process share it).
pub(crate) fn install_recorder() {
    PROMETHEUS.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ])
            .ok()?
            .build_recorder();
        let handle = recorder.handle();
        metrics::set_global_recorder(recorder).ok()?;
        Some(handle)
    });
}

/// `GET /metrics` in the Prometheus text format.
pub(crate) async fn metrics() -> Response {
    install_recorder();
    match PROMETHEUS.get().and_then(|h| h.as_ref()) {
        Some(handle) => {
            let mut r = handle.render().into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            r
        }
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder unavailable",
        )
            .into_response(),
    }
}

/// The FHIR interaction a request is, for metric labels and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Interaction(pub &'static str);

impl Interaction {
    /// Classifies from method and path alone, so that it costs nothing and never fails.
    /// `read`/`vread`/`capabilities`: bounded work that never waits for a writer.
    pub(crate) fn is_point_read(&self) -> bool {
        matches!(self.0, "read" | "vread" | "capabilities")
    }

    pub(crate) fn classify(method: &Method, path: &str) -> Interaction {
        let rest = path.strip_prefix("/fhir").unwrap_or(path);
        let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let op = segs.iter().any(|s| s.starts_with('$'));
        let history = segs.contains(&"_history");
        let name = match (method, segs.as_slice()) {
            _ if op => "operation",
            (&Method::GET, ["metadata"]) => "capabilities",
            (&Method::GET | &Method::HEAD, [_, _, "_history", _]) => "vread",
            _ if history => "history",
            (&Method::POST, []) => "batch-transaction",
            (&Method::GET | &Method::HEAD, [] | [_]) => "search",
            (&Method::POST, [_, "_search"]) => "search",
            (&Method::GET | &Method::HEAD, [_, _]) => "read",
            (&Method::GET | &Method::HEAD, [_, _, _]) => "search",
            (&Method::POST, [_]) => "create",
            (&Method::PUT, _) => "update",
            (&Method::PATCH, _) => "patch",
            (&Method::DELETE, _) => "delete",
            _ => "other",
        };
        Interaction(name)
    }
}

/// Logs one line per request and records request counts and latencies.
pub(crate) async fn log_and_measure(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let response = next.run(request).await;
    let elapsed = start.elapsed();
    let status = response.status().as_u16();
    let interaction = response
        .extensions()
        .get::<Interaction>()
        .map(|i| i.0)
        .unwrap_or("none");
    tracing::info!(
        target: "crosscare::http",
        method = %method,
        path = %path,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        interaction,
        request_id = %request_id,
        "request"
    );
    let status_class = match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    metrics::counter!("crosscare_http_requests_total", "interaction" => interaction, "status" => status_class)
        .increment(1);
    metrics::histogram!("crosscare_http_request_duration_seconds", "interaction" => interaction)
        .record(elapsed.as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(method: Method, path: &str, expected: &str) {
        assert_eq!(
            Interaction::classify(&method, path).0,
            expected,
            "{method} {path}"
        );
    }

    #[test]
    fn classification() {
        check(Method::GET, "/fhir/metadata", "capabilities");
        check(Method::GET, "/fhir/Patient/1", "read");
        check(Method::GET, "/fhir/Patient/1/_history/2", "vread");
        check(Method::GET, "/fhir/Patient/1/_history", "history");
        check(Method::GET, "/fhir/_history", "history");
        check(Method::GET, "/fhir/Patient", "search");
        check(Method::GET, "/fhir/Patient/1/Observation", "search");
        check(Method::POST, "/fhir/Patient/_search", "search");
        check(Method::POST, "/fhir/Patient", "create");
        check(Method::POST, "/fhir", "batch-transaction");
        check(Method::PUT, "/fhir/Patient/1", "update");
        check(Method::DELETE, "/fhir/Patient/1", "delete");
        check(Method::POST, "/fhir/Patient/$validate", "operation");
    }
}
