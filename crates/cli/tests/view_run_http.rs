//! `ViewDefinition/$run` over HTTP against the store: each result is compared with what the
//! search engine returns for the same selection.
#![allow(clippy::unwrap_used)]

mod support;

use crosscare_rest::{Rest, RestConfig};
use crosscare_server::ServerConfig;
use crosscare_store::sqlite::SqliteStore;
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

struct Server {
    base: String,
    _rt: tokio::runtime::Runtime,
    client: Client,
}

fn start() -> Server {
    let store = Arc::new(SqliteStore::temporary().unwrap());
    let rest = Arc::new(Rest::new(store, RestConfig::default()));
    let config = ServerConfig::default();
    let (rt, addr) = support::spawn(rest, config);
    Server {
        base: format!("http://{addr}/fhir"),
        _rt: rt,
        client: Client::new(),
    }
}

impl Server {
    fn put(&self, r: Value) {
        let url = format!(
            "{}/{}/{}",
            self.base,
            r["resourceType"].as_str().unwrap(),
            r["id"].as_str().unwrap()
        );
        let resp = self
            .client
            .put(url)
            .header("content-type", "application/fhir+json")
            .body(r.to_string())
            .send()
            .unwrap();
        assert!(resp.status().is_success(), "{}", resp.text().unwrap());
    }

    /// The ids of every match of a search.
    fn ids(&self, query: &str) -> BTreeSet<String> {
        let bundle: Value = self
            .client
            .get(format!("{}/{query}&_count=1000", self.base))
            .send()
            .unwrap()
            .json()
            .unwrap();
        bundle["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e["resource"]["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// `POST ViewDefinition/$run?<query>` with the view and extra parameters in the body.
    fn run(&self, query: &str, view: &Value, extra: &[Value]) -> (u16, String, Vec<u8>) {
        let mut parameter = vec![json!({"name": "viewResource", "resource": view})];
        parameter.extend(extra.iter().cloned());
        let body = json!({"resourceType": "Parameters", "parameter": parameter});
        let resp = self
            .client
            .post(format!("{}/ViewDefinition/$run?{query}", self.base))
            .header("content-type", "application/fhir+json")
            .body(body.to_string())
            .send()
            .unwrap();
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, ct, resp.bytes().unwrap().to_vec())
    }

    /// The `id` column of an NDJSON run.
    fn run_ids(&self, query: &str, view: &Value, extra: &[Value]) -> BTreeSet<String> {
        let (status, ct, body) = self.run(query, view, extra);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert_eq!(ct, "application/x-ndjson");
        String::from_utf8(body)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }
}

fn patient_view() -> Value {
    json!({"resourceType": "ViewDefinition", "resource": "Patient", "status": "active",
           "select": [{"column": [{"name": "id", "path": "getResourceKey()"},
                                  {"name": "family", "path": "name.first().family"}]}]})
}

fn observation_view() -> Value {
    json!({"resourceType": "ViewDefinition", "resource": "Observation", "status": "active",
           "select": [{"column": [{"name": "id", "path": "getResourceKey()"},
                                  {"name": "patient", "path": "subject.getReferenceKey(Patient)"},
                                  {"name": "code", "path": "code.coding.first().code"}]}]})
}

fn load(server: &Server) -> String {
    for i in 1..=5 {
        server.put(json!({"resourceType": "Patient", "id": format!("p{i}"),
                          "name": [{"family": format!("Family{i}")}]}));
    }
    for i in 1..=10 {
        server.put(
            json!({"resourceType": "Observation", "id": format!("o{i}"), "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": format!("c{}", i % 3)}]},
            "subject": {"reference": format!("Patient/p{}", (i - 1) % 5 + 1)}}),
        );
    }
    server.put(json!({"resourceType": "Group", "id": "g1", "type": "person", "actual": true,
        "member": [{"entity": {"reference": "Patient/p2"}}, {"entity": {"reference": "Patient/p4"}}]}));
    let last: Value = server
        .client
        .get(format!("{}/Group/g1", server.base))
        .send()
        .unwrap()
        .json()
        .unwrap();
    last["meta"]["lastUpdated"].as_str().unwrap().to_string()
}

#[test]
fn run_over_the_store_in_every_format() {
    let server = start();
    let since = load(&server);

    // CSV (the default): a header and one row per patient.
    let (status, ct, body) = server.run("", &patient_view(), &[]);
    assert_eq!(status, 200);
    assert_eq!(ct, "text/csv");
    let csv = String::from_utf8(body).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("id,family"));
    let rows: BTreeSet<String> = lines
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    assert_eq!(
        rows,
        server.ids("Patient?_lastUpdated=gt1900-01-01T00:00:00Z")
    );
    assert!(csv.contains("p3,Family3"));

    // NDJSON, every observation.
    let view = observation_view();
    assert_eq!(
        server.run_ids("_format=ndjson", &view, &[]),
        server.ids("Observation?status=final")
    );
    // `patient`: the observations in that patient's compartment.
    let p1 = json!({"name": "patient", "valueReference": {"reference": "Patient/p1"}});
    assert_eq!(
        server.run_ids("_format=ndjson", &view, &[p1]),
        server.ids("Observation?subject=Patient/p1")
    );
    // `group`: the compartments of its members.
    let g1 = json!({"name": "group", "valueReference": {"reference": "Group/g1"}});
    assert_eq!(
        server.run_ids("_format=ndjson", &view, &[g1]),
        server.ids("Observation?subject=Patient/p2,Patient/p4")
    );
    // `_limit` counts rows.
    assert_eq!(
        server.run_ids("_format=ndjson&_limit=3", &view, &[]).len(),
        3
    );
    // `_since`: only what was written after.
    server.put(
        json!({"resourceType": "Observation", "id": "o11", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "c9"}]}}),
    );
    let since_param = json!({"name": "_since", "valueInstant": since});
    assert_eq!(
        server.run_ids("_format=ndjson", &view, &[since_param]),
        server.ids(&format!("Observation?_lastUpdated=gt{since}"))
    );

    // JSON: one array.
    let (status, ct, body) = server.run("_format=json", &view, &[]);
    assert_eq!((status, ct.as_str()), (200, "application/json"));
    let rows: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 11);

    // Parquet: a complete file.
    let (status, ct, body) = server.run("_format=parquet", &view, &[]);
    assert_eq!(
        (status, ct.as_str()),
        (200, "application/vnd.apache.parquet")
    );
    assert!(body.starts_with(b"PAR1") && body.ends_with(b"PAR1"));
}

#[test]
fn bad_runs_are_operation_outcomes() {
    let server = start();
    load(&server);
    let check = |query: &str, body: Value, expected: u16| {
        let resp = server
            .client
            .post(format!("{}/{query}", server.base))
            .header("content-type", "application/fhir+json")
            .body(body.to_string())
            .send()
            .unwrap();
        let status = resp.status().as_u16();
        let out: Value = resp.json().unwrap();
        assert_eq!(status, expected, "{query}: {out}");
        assert_eq!(out["resourceType"], "OperationOutcome");
    };
    let params = |view: Value| json!({"resourceType": "Parameters", "parameter": [{"name": "viewResource", "resource": view}]});
    check(
        "ViewDefinition/$run",
        json!({"resourceType": "Parameters"}),
        400,
    );
    check(
        "ViewDefinition/$run",
        params(json!({"resourceType": "ViewDefinition", "resource": "Nope", "select": []})),
        400,
    );
    check(
        "ViewDefinition/$run?_format=xml",
        params(patient_view()),
        400,
    );
    check(
        "ViewDefinition/$run?_limit=many",
        params(patient_view()),
        400,
    );
    check("ViewDefinition/$run?foo=1", params(patient_view()), 400);
    // No stored view of that id, or a reference to another type.
    check(
        "ViewDefinition/v1/$run",
        json!({"resourceType": "Parameters"}),
        404,
    );
    check(
        "ViewDefinition/$run",
        json!({"resourceType": "Parameters", "parameter": [
            {"name": "viewReference", "valueReference": {"reference": "Patient/p1"}}]}),
        400,
    );
    let practitioners = json!({"resourceType": "ViewDefinition", "resource": "Practitioner",
        "select": [{"column": [{"name": "id", "path": "id"}]}]});
    let mut body = params(practitioners);
    body["parameter"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "patient", "valueReference": {"reference": "Patient/p1"}}));
    check("ViewDefinition/$run", body, 400);
}

#[test]
fn stored_views_are_resources_and_run_by_id_or_reference() {
    let server = start();
    load(&server);
    let mut view = patient_view();
    view["id"] = json!("v1");
    view["name"] = json!("patients");
    view["url"] = json!("http://example.org/views/patients");
    let send = |method: reqwest::Method, path: &str, body: Option<&Value>| {
        let mut req = server
            .client
            .request(method, format!("{}/{path}", server.base))
            .header("content-type", "application/fhir+json");
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        let resp = req.send().unwrap();
        let status = resp.status().as_u16();
        (status, resp.bytes().unwrap().to_vec())
    };
    let json_of = |bytes: &[u8]| serde_json::from_slice::<Value>(bytes).unwrap();
    let (status, body) = send(reqwest::Method::PUT, "ViewDefinition/v1", Some(&view));
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));

    // Writes are validated structurally (status is required) and by the SQL-on-FHIR rules.
    let mut no_status = view.clone();
    no_status.as_object_mut().unwrap().remove("status");
    let (status, body) = send(reqwest::Method::PUT, "ViewDefinition/v2", Some(&no_status));
    assert_eq!(status, 422, "{}", String::from_utf8_lossy(&body));
    let mut bad_name = view.clone();
    bad_name["select"][0]["column"][0]["name"] = json!("not a name");
    let (status, body) = send(reqwest::Method::PUT, "ViewDefinition/v2", Some(&bad_name));
    assert_eq!(status, 422);
    assert_eq!(json_of(&body)["resourceType"], "OperationOutcome");
    let mut bad_path = view.clone();
    bad_path["select"][0]["column"][1]["path"] = json!("name.(");
    let (status, _) = send(reqwest::Method::POST, "ViewDefinition", Some(&bad_path));
    assert_eq!(status, 422);

    // Read and search by name, url, status and resource.
    let (status, body) = send(reqwest::Method::GET, "ViewDefinition/v1", None);
    assert_eq!(status, 200);
    assert_eq!(json_of(&body)["name"], "patients");
    for query in [
        "name=patients",
        "url=http://example.org/views/patients",
        "status=active",
        "resource=Patient",
    ] {
        let (status, body) = send(
            reqwest::Method::GET,
            &format!("ViewDefinition?{query}"),
            None,
        );
        assert_eq!(status, 200);
        assert_eq!(json_of(&body)["total"], 1, "{query}");
    }
    let (_, body) = send(
        reqwest::Method::GET,
        "ViewDefinition?resource=Observation",
        None,
    );
    assert_eq!(json_of(&body)["total"], 0);

    // Run by id (GET and POST) and by reference: the same rows as the inline view.
    let want = server.run_ids("_format=ndjson", &patient_view(), &[]);
    assert_eq!(want.len(), 5);
    let ids = |bytes: &[u8]| -> BTreeSet<String> {
        String::from_utf8(bytes.to_vec())
            .unwrap()
            .lines()
            .map(|l| json_of(l.as_bytes())["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (status, body) = send(
        reqwest::Method::GET,
        "ViewDefinition/v1/$run?_format=ndjson",
        None,
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(ids(&body), want);
    let limited = json!({"resourceType": "Parameters", "parameter": [
        {"name": "_limit", "valueInteger": 2}]});
    let (status, body) = send(
        reqwest::Method::POST,
        "ViewDefinition/v1/$run?_format=ndjson",
        Some(&limited),
    );
    assert_eq!(status, 200);
    assert_eq!(ids(&body).len(), 2);
    let by_reference = json!({"resourceType": "Parameters", "parameter": [
        {"name": "viewReference", "valueReference": {"reference": "ViewDefinition/v1"}}]});
    let (status, body) = send(
        reqwest::Method::POST,
        "ViewDefinition/$run?_format=ndjson",
        Some(&by_reference),
    );
    assert_eq!(status, 200);
    assert_eq!(ids(&body), want);

    // A deleted view cannot be run.
    let (status, _) = send(reqwest::Method::DELETE, "ViewDefinition/v1", None);
    assert!(status == 200 || status == 204);
    let (status, body) = send(reqwest::Method::GET, "ViewDefinition/v1/$run", None);
    assert_eq!(status, 404);
    assert_eq!(json_of(&body)["resourceType"], "OperationOutcome");
}
