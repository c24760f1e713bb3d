//! The whole server over HTTP: the real router, REST layer and store on a free loopback port,
//! driven by tables of steps. Each step is one request and what must come back; steps run in
//! order on one server, so later steps see earlier writes.
//!
//! Every table runs twice from the same definition: on the embedded SQLite store and on the
//! PostgreSQL store (a fresh database of the throwaway cluster of
//! `crosscare_store_postgres::testing`). Without PostgreSQL binaries the PostgreSQL runs print
//! `SKIPPED: PostgreSQL not available` and pass, except under `CI=true`, where they fail.
#![allow(clippy::unwrap_used)]

mod support;

use crosscare_rest::{Rest, RestConfig};
use crosscare_server::ServerConfig;
use crosscare_store::sqlite::SqliteStore;
use crosscare_store::Store;
use crosscare_store_postgres::{testing, PostgresStore};
use serde_json::{json, Value};
use std::sync::Arc;

/// The storage backend a server runs on.
#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

struct Server {
    base: String,
    _rt: tokio::runtime::Runtime,
    _store: Arc<dyn Store>,
}

/// A store of `backend`: a temporary SQLite store, or a new PostgreSQL database (`None` when
/// PostgreSQL is not available and the test is skipped).
fn store(backend: Backend) -> Option<(Arc<dyn Store>, Option<String>)> {
    match backend {
        Backend::Sqlite => Some((Arc::new(SqliteStore::temporary().unwrap()), None)),
        Backend::Postgres => {
            let db = testing::database_or_skip()?;
            let store = PostgresStore::connect(&db.url, 4).unwrap();
            Some((Arc::new(store), Some(db.url)))
        }
    }
}

fn start(backend: Backend, config: ServerConfig) -> Option<Server> {
    let (store, _) = store(backend)?;
    Some(serve(store, config))
}

/// Serves `store` on a free loopback port from a runtime of its own.
fn serve(store: Arc<dyn Store>, config: ServerConfig) -> Server {
    let rest = Arc::new(Rest::new(store.clone(), RestConfig::default()));
    let (rt, addr) = support::spawn(rest, config);
    Server {
        base: format!("http://{addr}/fhir"),
        _rt: rt,
        _store: store,
    }
}

/// Defines `#[test] fn <name>_on_sqlite` and `<name>_on_postgres`, both calling `<name>`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[test]
            fn $name() {
                super::$name(super::Backend::Sqlite);
            })*
        }
        mod on_postgres {
            $(#[test]
            fn $name() {
                super::$name(super::Backend::Postgres);
            })*
        }
    };
}

on_both_backends!(
    interactions_and_headers,
    search_parameters_and_results,
    decimals_keep_their_lexical_form_on_the_wire,
    hostile_input_is_refused_cleanly,
);

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

fn interactions_and_headers(backend: Backend) {
    let Some(server) = start(backend, ServerConfig::default()) else {
        return;
    };
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

/// The resources of the search table: patients with accents, an organization for chains,
/// observations with quantities, components (blood pressure) and a coded value.
fn search_data() -> Vec<Step> {
    let put = |path: &'static str, body: Value| step("load", "PUT", path, 201).json(body);
    let obs = |id: &str, subject: &str, code: &str, value: f64, when: &str| {
        json!({"resourceType": "Observation", "id": id, "status": "final",
               "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
               "subject": {"reference": subject}, "effectiveDateTime": when,
               "valueQuantity": {"value": value, "unit": "mg/dL",
                                 "system": "http://unitsofmeasure.org", "code": "mg/dL"}})
    };
    vec![
        put(
            "Organization/org1",
            json!({"resourceType": "Organization", "id": "org1", "name": "Klinikum Saarbrücken"}),
        ),
        put(
            "Patient/a",
            json!({"resourceType": "Patient", "id": "a", "gender": "female", "birthDate": "1962-03-04",
            "name": [{"family": "Müller"}], "identifier": [{"system": "urn:mrn", "value": "100"}],
            "address": [{"city": "Saarbrücken"}], "managingOrganization": {"reference": "Organization/org1"}}),
        ),
        put(
            "Patient/b",
            json!({"resourceType": "Patient", "id": "b", "gender": "male", "birthDate": "1975",
            "name": [{"family": "Muller"}]}),
        ),
        put(
            "Patient/c",
            json!({"resourceType": "Patient", "id": "c", "gender": "female", "birthDate": "2001-11-30",
            "name": [{"family": "Schmidt"}]}),
        ),
        put(
            "Observation/o1",
            obs(
                "o1",
                "Patient/a",
                "2339-0",
                5.4,
                "2024-03-05T10:00:00+01:00",
            ),
        ),
        put(
            "Observation/o2",
            obs("o2", "Patient/a", "2339-0", 7.0, "2024-04-01"),
        ),
        put(
            "Observation/o3",
            obs("o3", "Patient/b", "1234-5", 120.0, "2023-12-31"),
        ),
        put(
            "Observation/bp",
            json!({"resourceType": "Observation", "id": "bp", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
            "subject": {"reference": "Patient/c"}, "effectiveDateTime": "2024-01-01",
            "component": [
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                 "valueQuantity": {"value": 120, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                 "valueQuantity": {"value": 80, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}]}),
        ),
        put(
            "Observation/o5",
            json!({"resourceType": "Observation", "id": "o5", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "883-9"}]},
            "subject": {"reference": "Patient/c"},
            "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "112144000"}]}}),
        ),
    ]
}

fn search_parameters_and_results(backend: Backend) {
    let Some(server) = start(backend, ServerConfig::default()) else {
        return;
    };
    let total = |name: &'static str, path: &'static str, n: u64| {
        step(name, "GET", path, 200)
            .at("/type", json!("searchset"))
            .at("/total", json!(n))
    };
    let mut steps = search_data();
    steps.extend([
        total("string folds accents", "Patient?family=muller", 2),
        total(
            "string on a nested element",
            "Patient?address-city=saarbrucken",
            1,
        ),
        total("string exact", "Patient?family:exact=Müller", 1),
        total("token code", "Patient?gender=female", 2),
        total("token system|code", "Patient?identifier=urn:mrn|100", 1),
        total("token :not", "Observation?code:not=2339-0", 3),
        total("date by year", "Patient?birthdate=1962", 1),
        total("date ge", "Patient?birthdate=ge1975-01-01", 2),
        total("date month with a zone", "Observation?date=2024-03", 1),
        total(
            "date range of two",
            "Observation?date=ge2024-01-01&date=lt2024-04",
            2,
        ),
        total("quantity gt", "Observation?value-quantity=gt6", 2),
        total(
            "quantity with unit",
            "Observation?value-quantity=lt6|http://unitsofmeasure.org|mg/dL",
            1,
        ),
        total(
            "composite code and value",
            "Observation?code-value-quantity=http://loinc.org|2339-0$gt5",
            2,
        ),
        total(
            "composite parts of one component only",
            "Observation?component-code-value-quantity=8480-6$lt100",
            0,
        ),
        total(
            "composite component",
            "Observation?component-code-value-quantity=8480-6$gt100",
            1,
        ),
        total(
            "composite coded value",
            "Observation?code-value-concept=883-9$http://snomed.info/sct|112144000",
            1,
        ),
        total("reference", "Observation?subject=Patient/a", 2),
        total("reference typed", "Observation?subject:Patient=c", 2),
        total(
            "chain of two",
            "Observation?subject:Patient.organization.name=klinikum",
            2,
        ),
        total(
            "reverse chain",
            "Patient?_has:Observation:subject:code=1234-5",
            1,
        )
        .at("/entry/0/resource/id", json!("b")),
        total(":missing", "Observation?value-quantity:missing=true", 2),
        total("_lastUpdated", "Observation?_lastUpdated=gt2000-01-01", 5),
        total("compartment", "Patient/c/Observation", 2),
        // Every type of the compartment: the patient itself and what refers to it (PostgreSQL
        // asks only the referring types), paged across types.
        total("compartment of every type", "Patient/c/*", 3),
        total("$everything", "Patient/a/$everything", 3),
        total(
            "$everything, last page",
            "Patient/a/$everything?_count=1&_offset=2",
            3,
        )
        .at("/entry/0/resource/resourceType", json!("Patient")),
        step(
            "_include",
            "GET",
            "Observation?_id=o1&_include=Observation:subject",
            200,
        )
        .at("/entry/0/resource/id", json!("o1"))
        .at("/entry/1/resource/id", json!("a"))
        .at("/entry/1/search/mode", json!("include")),
        total(
            "_revinclude",
            "Patient?_id=c&_revinclude=Observation:subject&_sort=_id",
            1,
        )
        .at("/entry/0/search/mode", json!("match"))
        .at("/entry/1/search/mode", json!("include"))
        .at("/entry/2/search/mode", json!("include")),
        step(
            "_include:iterate",
            "GET",
            "Observation?_id=o1&_include=Observation:subject&_include:iterate=Patient:organization",
            200,
        )
        .at("/entry/2/resource/id", json!("org1")),
        step("_sort descending", "GET", "Patient?_sort=-birthdate", 200)
            .at("/entry/0/resource/id", json!("c"))
            .at("/entry/2/resource/id", json!("a")),
        step("_sort on two keys", "GET", "Patient?_sort=family,-_id", 200)
            .at("/entry/0/resource/id", json!("b"))
            .at("/entry/1/resource/id", json!("a"))
            .at("/entry/2/resource/id", json!("c")),
        step(
            "paging",
            "GET",
            "Observation?_sort=_id&_count=2&_offset=2",
            200,
        )
        .at("/total", json!(5))
        .at("/entry/0/resource/id", json!("o2"))
        .at("/entry/1/resource/id", json!("o3")),
        total(
            "_summary=count",
            "Observation?code=2339-0&_summary=count",
            2,
        ),
        step(
            "composite with a bad value",
            "GET",
            "Observation?code-value-quantity=2339-0$abc",
            400,
        )
        .at("/resourceType", json!("OperationOutcome")),
    ]);
    run(&server, steps);
}

/// Paging links carry everything needed to continue (the offset and the query), so a page
/// sequence started on one server continues on another server of the same database.
#[test]
fn paging_links_work_on_any_server_of_one_database() {
    let Some((store_a, Some(url))) = store(Backend::Postgres) else {
        return;
    };
    let a = serve(store_a, ServerConfig::default());
    let b = serve(
        Arc::new(PostgresStore::connect(&url, 4).unwrap()),
        ServerConfig::default(),
    );
    run(&a, search_data());
    let client = reqwest::blocking::Client::new();
    let mut next = Some(format!("{}/Observation?_sort=_id&_count=2", a.base));
    let (mut ids, mut pages) = (Vec::new(), 0);
    while let Some(url) = next.take() {
        let body: Value = client.get(&url).send().unwrap().json().unwrap();
        for e in body["entry"].as_array().into_iter().flatten() {
            ids.push(e["resource"]["id"].as_str().unwrap().to_string());
        }
        // Follow each next link on the *other* server.
        let (from, to) = if pages % 2 == 0 { (&a, &b) } else { (&b, &a) };
        next = body["link"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l["relation"] == "next")
            .map(|l| l["url"].as_str().unwrap().replace(&from.base, &to.base));
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(ids, ["bp", "o1", "o2", "o3", "o5"]);
}

fn decimals_keep_their_lexical_form_on_the_wire(backend: Backend) {
    let Some(server) = start(backend, ServerConfig::default()) else {
        return;
    };
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
    // A plain read sends the stored text itself: the body written plus the server's meta.
    let stored: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(stored["meta"]["versionId"], "1");
    assert!(text.starts_with(r#"{"resourceType":"Observation","id":"d1","status":"final""#));
    let pretty = client
        .get(format!("{}/Observation/d1?_pretty=true", server.base))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        pretty.contains("\n  \"") && pretty.contains(r#""value": 1.50"#),
        "{pretty}"
    );
    assert_eq!(serde_json::from_str::<Value>(&pretty).unwrap(), stored);
    let head = client
        .head(format!("{}/Observation/d1", server.base))
        .send()
        .unwrap();
    assert_eq!(head.status().as_u16(), 200);
    assert!(head.headers().contains_key("etag"));
    assert!(head.text().unwrap().is_empty());
    let summary = client
        .get(format!("{}/Observation/d1?_elements=status", server.base))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        !summary.contains("valueQuantity") && summary.contains("SUBSETTED"),
        "{summary}"
    );
}

fn hostile_input_is_refused_cleanly(backend: Backend) {
    let Some(server) = start(
        backend,
        ServerConfig {
            max_body_bytes: 16 * 1024 * 1024,
            ..ServerConfig::default()
        },
    ) else {
        return;
    };
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
