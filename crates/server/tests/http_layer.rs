//! HTTP-layer behaviour of the server over a real loopback socket: limits, media types, request
//! ids, compression, panics and timeouts. The FHIR logic is replaced by a small handler whose
//! behaviour each test controls, so these tests pin the HTTP layer alone.
#![allow(clippy::unwrap_used)]

use crosscare_rest::{FhirRequest, FhirResponse};
use crosscare_server::{FhirHandler, ServerConfig};
use serde_json::{json, Value};
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

/// Echoes what the server decoded, panics on `/fhir/panic`, sleeps on `/fhir/slow`.
struct Probe;

impl FhirHandler for Probe {
    fn handle(&self, req: FhirRequest) -> FhirResponse {
        match req.path.first().map(String::as_str) {
            Some("panic") => panic!("probe panic"),
            Some("slow") => std::thread::sleep(Duration::from_millis(800)),
            Some("small") => {
                // Smaller than one TCP segment, larger than tower-http's default threshold.
                return FhirResponse::new(200)
                    .with_body(json!({"resourceType": "Parameters", "padding": "x".repeat(600)}));
            }
            _ => {}
        }
        let body_len = req.body.as_ref().map(Vec::len).unwrap_or(0);
        FhirResponse::new(200)
            .with_header("etag", "W/\"1\"")
            .with_body(json!({
                "resourceType": "Parameters",
                "path": req.path,
                "query": req.query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
                "bodyLen": body_len,
                "base": req.base_url,
                "lenient": req.prefer.lenient,
                "padding": "x".repeat(2000),
            }))
    }
}

struct TestServer {
    base: String,
    _rt: tokio::runtime::Runtime,
}

fn start(config: ServerConfig) -> TestServer {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..config
    };
    let listener = rt.block_on(crosscare_server::bind(&config)).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(crosscare_server::serve(
        listener,
        Arc::new(Probe),
        config,
        std::future::pending(),
    ));
    TestServer {
        base: format!("http://{addr}"),
        _rt: rt,
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .gzip(false)
        .build()
        .unwrap()
}

fn outcome(resp: reqwest::blocking::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(ct.starts_with("application/fhir+json"), "content-type {ct}");
    let body: Value = resp.json().unwrap();
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    (status, body)
}

#[test]
fn decodes_path_query_and_headers() {
    let s = start(ServerConfig::default());
    let resp = client()
        .get(format!(
            "{}/fhir/Patient/a%2Db?date=ge2024-01-01T00:00:00+01:00&name=M%C3%BCller",
            s.base
        ))
        .header("prefer", "handling=lenient")
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.headers().get("x-request-id").is_some());
    assert_eq!(resp.headers().get("etag").unwrap(), "W/\"1\"");
    let body: Value = resp.json().unwrap();
    assert_eq!(body["path"], json!(["Patient", "a-b"]));
    assert_eq!(
        body["query"],
        json!(["date=ge2024-01-01T00:00:00+01:00", "name=Müller"])
    );
    assert_eq!(body["lenient"], json!(true));
    assert!(body["base"].as_str().unwrap().ends_with("/fhir"));
}

#[test]
fn request_id_is_propagated() {
    let s = start(ServerConfig::default());
    let resp = client()
        .get(format!("{}/fhir/metadata", s.base))
        .header("x-request-id", "abc-123")
        .send()
        .unwrap();
    assert_eq!(resp.headers().get("x-request-id").unwrap(), "abc-123");
}

#[test]
fn errors_are_operation_outcomes() {
    let s = start(ServerConfig {
        max_body_bytes: 1024,
        ..ServerConfig::default()
    });
    let c = client();
    // (request, expected status)
    let cases: Vec<(reqwest::blocking::RequestBuilder, u16)> = vec![
        (c.get(format!("{}/nowhere", s.base)), 404),
        (
            c.post(format!("{}/fhir/Patient", s.base))
                .header("content-type", "application/fhir+json")
                .body(vec![b' '; 4096]),
            413,
        ),
        (
            c.post(format!("{}/fhir/Patient", s.base))
                .header("content-type", "application/fhir+xml")
                .body("<Patient/>"),
            415,
        ),
        (c.get(format!("{}/fhir/Patient?_format=xml", s.base)), 406),
        (
            c.get(format!("{}/fhir/Patient", s.base))
                .header("accept", "application/fhir+xml"),
            406,
        ),
        (
            c.request(reqwest::Method::OPTIONS, format!("{}/fhir/Patient", s.base)),
            405,
        ),
        (c.get(format!("{}/fhir/panic", s.base)), 500),
    ];
    for (req, expected) in cases {
        let (status, body) = outcome(req.send().unwrap());
        assert_eq!(status, expected, "{body}");
        assert!(body["issue"][0]["diagnostics"].as_str().is_some());
    }
}

#[test]
fn gzip_both_ways() {
    let s = start(ServerConfig::default());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, br#"{"resourceType":"Patient"}"#).unwrap();
    let compressed = gz.finish().unwrap();
    let resp = client()
        .post(format!("{}/fhir/Patient", s.base))
        .header("content-type", "application/fhir+json")
        .header("content-encoding", "gzip")
        .header("accept-encoding", "gzip")
        .body(compressed)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers().get("content-encoding").unwrap(), "gzip");
    let raw = resp.bytes().unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&raw[..])
        .read_to_string(&mut text)
        .unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["bodyLen"], json!(26));
}

#[test]
fn small_responses_are_not_compressed() {
    let s = start(ServerConfig::default());
    let resp = client()
        .get(format!("{}/fhir/small", s.base))
        .header("accept-encoding", "gzip")
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.headers().get("content-encoding").is_none());
    let body: Value = serde_json::from_slice(&resp.bytes().unwrap()).unwrap();
    assert_eq!(body["resourceType"], "Parameters");
}

#[test]
fn gzip_bomb_is_limited_after_decompression() {
    let s = start(ServerConfig {
        max_body_bytes: 64 * 1024,
        ..ServerConfig::default()
    });
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, &vec![b' '; 8 * 1024 * 1024]).unwrap();
    let compressed = gz.finish().unwrap();
    assert!(compressed.len() < 64 * 1024);
    let resp = client()
        .post(format!("{}/fhir/Patient", s.base))
        .header("content-type", "application/fhir+json")
        .header("content-encoding", "gzip")
        .body(compressed)
        .send()
        .unwrap();
    assert_eq!(resp.headers().get("connection").unwrap(), "close");
    let (status, _) = outcome(resp);
    assert_eq!(status, 413);
}

#[test]
fn timeout_is_503() {
    let s = start(ServerConfig {
        request_timeout: Duration::from_millis(100),
        ..ServerConfig::default()
    });
    let (status, body) = outcome(
        client()
            .get(format!("{}/fhir/slow", s.base))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 503);
    assert_eq!(body["issue"][0]["code"], "timeout");
}

#[test]
fn health_and_metrics() {
    let s = start(ServerConfig::default());
    let c = client();
    assert_eq!(
        c.get(format!("{}/health", s.base))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        c.get(format!("{}/health/ready", s.base))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    c.get(format!("{}/fhir/Patient/1", s.base)).send().unwrap();
    let text = c
        .get(format!("{}/metrics", s.base))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(text.contains("crosscare_http_requests_total"), "{text}");
    assert!(text.contains("interaction=\"read\""), "{text}");
}
