//! The whole server over HTTP: the real router, REST layer and SQLite store on a free loopback
//! port, driven by a table of steps. Each step is one request and what must come back; steps
//! run in order on one server, so later steps see earlier writes.
#![allow(clippy::unwrap_used)]

use crosscare_rest::{Rest, RestConfig};
use crosscare_server::ServerConfig;
use crosscare_store::sqlite::SqliteStore;
use serde_json::{json, Value};
use std::sync::Arc;

struct Server {
    base: String,
    _rt: tokio::runtime::Runtime,
    _store: Arc<SqliteStore>,
}

fn start(config: ServerConfig) -> Server {
    let store = Arc::new(SqliteStore::temporary().unwrap());
    let rest = Arc::new(Rest::new(store.clone(), RestConfig::default()));
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
        rest,
        config,
        std::future::pending(),
    ));
    Server {
        base: format!("http://{addr}/fhir"),
        _rt: rt,
        _store: store,
    }
}

/// One request and its expectations.
struct Step {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    status: u16,
    /// Headers that must be present, with an exact value when `Some`.
    expect_headers: Vec<(&'static str, Option<&'static str>)>,
    /// JSON pointers into the response body and the value each must have.
    expect_body: Vec<(&'static str, Value)>,
    /// The response must have no body.
    no_body: bool,
    /// The server may close the connection before the client finished sending (an early
    /// rejection of a huge body), so the response body may be lost on the way.
    may_cut: bool,
}

fn step(name: &'static str, method: &'static str, path: &'static str, status: u16) -> Step {
    Step {
        name,
        method,
        path,
        headers: Vec::new(),
        body: None,
        status,
        expect_headers: Vec::new(),
        expect_body: Vec::new(),
        no_body: false,
        may_cut: false,
    }
}

impl Step {
    fn json(mut self, body: Value) -> Self {
        self.body = Some(body.to_string().into_bytes());
        self.headers
            .push(("content-type", "application/fhir+json".into()));
        self
    }
    fn raw(mut self, content_type: &'static str, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self.headers.push(("content-type", content_type.into()));
        self
    }
    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }
    fn has(mut self, name: &'static str, value: Option<&'static str>) -> Self {
        self.expect_headers.push((name, value));
        self
    }
    fn at(mut self, pointer: &'static str, value: Value) -> Self {
        self.expect_body.push((pointer, value));
        self
    }
    fn may_cut(mut self) -> Self {
        self.may_cut = true;
        self
    }
    fn empty(mut self) -> Self {
        self.no_body = true;
        self
    }
}

fn run(server: &Server, steps: Vec<Step>) {
    let client = reqwest::blocking::Client::builder()
        .gzip(true)
        .build()
        .unwrap();
    for s in steps {
        let url = format!("{}/{}", server.base, s.path);
        let mut req = client.request(s.method.parse().unwrap(), url);
        for (k, v) in &s.headers {
            req = req.header(*k, v);
        }
        if let Some(b) = s.body {
            req = req.body(b);
        }
        let resp = match req.send() {
            Ok(r) => r,
            Err(e) if s.may_cut => {
                assert!(e.is_request() || e.is_body(), "step '{}': {e}", s.name);
                continue;
            }
            Err(e) => panic!("step '{}': {e}", s.name),
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = match resp.text() {
            Ok(t) => t,
            Err(_) if s.may_cut => {
                assert_eq!(status, s.status, "step '{}'", s.name);
                continue;
            }
            Err(e) => panic!("step '{}': {e}", s.name),
        };
        assert_eq!(status, s.status, "step '{}': body {text}", s.name);
        for (name, value) in &s.expect_headers {
            let got = headers.get(*name).map(|v| v.to_str().unwrap().to_string());
            assert!(got.is_some(), "step '{}': header {name} missing", s.name);
            if let Some(v) = value {
                assert_eq!(got.as_deref(), Some(*v), "step '{}': header {name}", s.name);
            }
        }
        if s.no_body {
            assert!(
                text.is_empty(),
                "step '{}': expected no body, got {text}",
                s.name
            );
            continue;
        }
        if status >= 400 {
            let ct = headers
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            assert!(
                ct.starts_with("application/fhir+json"),
                "step '{}': content-type {ct}",
                s.name
            );
        }
        if s.expect_body.is_empty() {
            continue;
        }
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("step '{}': {e}: {text}", s.name));
        for (pointer, value) in &s.expect_body {
            assert_eq!(
                body.pointer(pointer),
                Some(value),
                "step '{}': {pointer} in {body}",
                s.name
            );
        }
    }
}

fn patient(id: &str) -> Value {
    json!({"resourceType": "Patient", "id": id, "gender": "female", "birthDate": "1962-03-04",
           "name": [{"family": "Müller", "given": ["Anne"]}]})
}

#[test]
fn interactions_and_headers() {
    let server = start(ServerConfig::default());
    let oo = "/resourceType";
    run(
        &server,
        vec![
            step("capabilities", "GET", "metadata", 200)
                .at("/resourceType", json!("CapabilityStatement"))
                .at("/fhirVersion", json!("4.0.1")),
            step("update as create", "PUT", "Patient/p1", 201)
                .json(patient("p1"))
                .has("etag", Some("W/\"1\""))
                .has("last-modified", None)
                .has("location", None)
                .has("x-request-id", None)
                .at("/meta/versionId", json!("1")),
            step("read", "GET", "Patient/p1", 200).has("etag", Some("W/\"1\"")).at("/name/0/family", json!("Müller")),
            step("if-none-match", "GET", "Patient/p1", 304).header("if-none-match", "W/\"1\"").empty(),
            step("if-modified-since", "GET", "Patient/p1", 304)
                .header("if-modified-since", "Fri, 01 Jan 2100 00:00:00 GMT")
                .empty(),
            step("update with stale if-match", "PUT", "Patient/p1", 412)
                .json(patient("p1"))
                .header("if-match", "W/\"7\"")
                .at(oo, json!("OperationOutcome")),
            step("update with if-match", "PUT", "Patient/p1", 200)
                .json(patient("p1"))
                .header("if-match", "W/\"1\"")
                .has("etag", Some("W/\"2\"")),
            step("vread", "GET", "Patient/p1/_history/1", 200).at("/meta/versionId", json!("1")),
            step("id mismatch", "PUT", "Patient/p1", 400).json(patient("other")).at(oo, json!("OperationOutcome")),
            step("type mismatch", "PUT", "Observation/p1", 400).json(patient("p1")).at(oo, json!("OperationOutcome")),
            step("unknown element", "POST", "Patient", 422)
                .json(json!({"resourceType": "Patient", "colour": "blue"}))
                .at(oo, json!("OperationOutcome")),
            step("code outside required binding", "POST", "Patient", 422)
                .json(json!({"resourceType": "Patient", "gender": "femme"}))
                .at("/issue/0/expression/0", json!("Patient.gender")),
            step("missing required element", "POST", "Observation", 422)
                .json(json!({"resourceType": "Observation", "code": {"text": "x"}}))
                .at(oo, json!("OperationOutcome")),
            step("create keeps decimals exact", "PUT", "Observation/o1", 201)
                .json(json!({"resourceType": "Observation", "id": "o1", "status": "final",
                             "code": {"coding": [{"system": "http://loinc.org", "code": "2339-0"}]},
                             "subject": {"reference": "Patient/p1"},
                             "valueQuantity": {"value": 1.50, "unit": "mmol/L"}}))
                .header("prefer", "return=representation"),
            step("decimal read back", "GET", "Observation/o1", 200),
            step("prefer minimal", "PUT", "Patient/p2", 201).json(patient("p2")).header("prefer", "return=minimal").empty(),
            step("prefer outcome", "PUT", "Patient/p3", 201)
                .json(patient("p3"))
                .header("prefer", "return=OperationOutcome")
                .at(oo, json!("OperationOutcome")),
            step("json patch", "PATCH", "Patient/p2", 200)
                .raw("application/json-patch+json", br#"[{"op":"replace","path":"/gender","value":"male"}]"#.to_vec())
                .at("/gender", json!("male")),
            step("search accents", "GET", "Patient?family=muller&_count=10", 200)
                .at("/type", json!("searchset"))
                .at("/total", json!(3)),
            step("chained search", "GET", "Observation?subject:Patient.family=muller", 200).at("/total", json!(1)),
            step("include", "GET", "Observation?_id=o1&_include=Observation:subject", 200)
                .at("/entry/1/search/mode", json!("include")),
            step("unknown parameter is strict", "GET", "Patient?colour=blue", 400).at(oo, json!("OperationOutcome")),
            step("lenient ignores it", "GET", "Patient?colour=blue", 200).header("prefer", "handling=lenient"),
            step("transaction", "POST", "", 200)
                .json(json!({"resourceType": "Bundle", "type": "transaction", "entry": [
                    {"fullUrl": "urn:uuid:0b7a4c1e-1111-4a5b-9c2d-000000000001",
                     "resource": {"resourceType": "Patient", "name": [{"family": "Schmidt"}]},
                     "request": {"method": "POST", "url": "Patient"}},
                    {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                                  "subject": {"reference": "urn:uuid:0b7a4c1e-1111-4a5b-9c2d-000000000001"}},
                     "request": {"method": "POST", "url": "Observation"}}]}))
                .at("/type", json!("transaction-response"))
                .at("/entry/0/response/status", json!("201 Created")),
            step("transaction reference rewritten", "GET", "Observation?subject:Patient.family=schmidt", 200)
                .at("/total", json!(1)),
            step("failed transaction stores nothing", "POST", "", 422)
                .json(json!({"resourceType": "Bundle", "type": "transaction", "entry": [
                    {"resource": {"resourceType": "Patient", "id": "t1"}, "request": {"method": "PUT", "url": "Patient/t1"}},
                    {"resource": {"resourceType": "Patient", "gender": "femme"}, "request": {"method": "POST", "url": "Patient"}}]})),
            step("nothing from the failed transaction", "GET", "Patient/t1", 404),
            step("conditional create finds it", "POST", "Patient", 200)
                .json(json!({"resourceType": "Patient"}))
                .header("if-none-exist", "_id=p1"),
            step("delete", "DELETE", "Patient/p3", 204).empty(),
            step("read deleted", "GET", "Patient/p3", 410).at(oo, json!("OperationOutcome")),
            step("history keeps the delete", "GET", "Patient/p3/_history", 200)
                .at("/type", json!("history"))
                .at("/total", json!(2))
                .at("/entry/0/request/method", json!("DELETE")),
            step("type history", "GET", "Patient/_history?_count=2", 200).at("/type", json!("history")),
            step("validate stores nothing", "POST", "Patient/$validate", 200)
                .json(json!({"resourceType": "Patient", "gender": "femme"}))
                .at(oo, json!("OperationOutcome")),
            step("xml refused", "GET", "Patient/p1?_format=xml", 406).at(oo, json!("OperationOutcome")),
            step("unknown type", "GET", "Unicorn/1", 404).at(oo, json!("OperationOutcome")),
        ],
    );
}

#[test]
fn decimals_keep_their_lexical_form_on_the_wire() {
    let server = start(ServerConfig::default());
    let client = reqwest::blocking::Client::new();
    let body = r#"{"resourceType":"Observation","id":"d1","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.50}}"#;
    let put = client
        .put(format!("{}/Observation/d1", server.base))
        .header("content-type", "application/fhir+json")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(put.status().as_u16(), 201);
    let text = client
        .get(format!("{}/Observation/d1", server.base))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(text.contains(r#""value":1.50"#), "{text}");
}

#[test]
fn hostile_input_is_refused_cleanly() {
    let server = start(ServerConfig {
        max_body_bytes: 16 * 1024 * 1024,
        ..ServerConfig::default()
    });
    let deep = format!(
        "{{\"resourceType\":\"Patient\",\"x\":{}1{}}}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let mut invalid_utf8 = br#"{"resourceType":"Patient","name":[{"family":""#.to_vec();
    invalid_utf8.extend_from_slice(&[0xff, 0xfe, 0xfd]);
    invalid_utf8.extend_from_slice(br#""}]}"#);
    let huge_number = format!(
        r#"{{"resourceType":"Patient","multipleBirthInteger":{}}}"#,
        "9".repeat(5000)
    );
    let huge_string = format!(
        r#"{{"resourceType":"Patient","name":[{{"family":"{}"}}]}}"#,
        "a".repeat(2 * 1024 * 1024)
    );
    let mut big = br#"{"resourceType":"Patient","text":""#.to_vec();
    big.resize(64 * 1024 * 1024, b'a');
    let ct = "application/fhir+json";
    run(
        &server,
        vec![
            step("5000-deep nesting", "POST", "Patient", 413).raw(ct, deep.into_bytes()),
            step("invalid UTF-8", "POST", "Patient", 400).raw(ct, invalid_utf8),
            step("huge number", "POST", "Patient", 422).raw(ct, huge_number.into_bytes()),
            step("huge string", "POST", "Patient", 413).raw(ct, huge_string.into_bytes()),
            step("64 MiB body", "POST", "Patient", 413)
                .raw(ct, big)
                .may_cut(),
            step("not JSON", "POST", "Patient", 400).raw(ct, b"{".to_vec()),
            step("server still answers", "GET", "metadata", 200),
        ],
    );
}
