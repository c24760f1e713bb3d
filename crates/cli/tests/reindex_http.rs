//! Custom search parameters and `$reindex` over HTTP, on the embedded store and on PostgreSQL
//! (a fresh database of the throwaway cluster; `SKIPPED: PostgreSQL not available` without
//! its binaries, a failure under `CI=true`): the real router and REST layer on a free loopback
//! port, a Bundle of resources stored before the `SearchParameter`, one after, the pending
//! refusal, the job's progress and result, the search over old and new resources.
#![allow(clippy::unwrap_used)]

mod support;

use crosscare_rest::{Rest, RestConfig};
use crosscare_server::ServerConfig;
use crosscare_store::sqlite::SqliteStore;
use crosscare_store::Store;
use crosscare_store_postgres::{testing, PostgresStore};
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Server {
    base: String,
    _rt: tokio::runtime::Runtime,
    _jobs: tempfile::TempDir,
}

fn serve(store: Arc<dyn Store>) -> Server {
    let jobs = tempfile::tempdir().unwrap();
    let config = RestConfig {
        search_params_refresh: Duration::from_millis(20),
        ..RestConfig::default()
    };
    let rest = Rest::new(store, config)
        .with_reindex(jobs.path().to_path_buf(), Duration::from_secs(600))
        .unwrap();
    let config = ServerConfig::default();
    let (rt, addr) = support::spawn(Arc::new(rest), config);
    Server {
        base: format!("http://{addr}/fhir"),
        _rt: rt,
        _jobs: jobs,
    }
}

fn call(
    client: &Client,
    method: &str,
    url: &str,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = client.request(method.parse().unwrap(), url);
    if let Some(b) = body {
        req = req
            .header("Content-Type", "application/fhir+json")
            .body(b.to_string());
    }
    let resp = req.header("Prefer", "respond-async").send().unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, headers, body)
}

fn patient(i: usize, nick: &str) -> Value {
    json!({"resourceType": "Patient", "id": format!("p{i}"),
           "name": [{"family": "Weber"}, {"use": "nickname", "given": [nick]}]})
}

fn reindex_over_http(store: Arc<dyn Store>) {
    let server = serve(store);
    let client = Client::new();
    let base = &server.base;
    let entries: Vec<Value> = (0..600)
        .map(|i| {
            json!({"resource": patient(i, if i % 3 == 0 { "Mimi" } else { "Lulu" }),
                   "request": {"method": "PUT", "url": format!("Patient/p{i}")}})
        })
        .collect();
    let (status, _, body) = call(
        &client,
        "POST",
        base,
        Some(json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})),
    );
    assert_eq!(status, 200, "{body}");
    let sp = json!({
        "resourceType": "SearchParameter", "id": "nickname",
        "url": "https://example.org/fhir/SearchParameter/nickname", "name": "nickname",
        "status": "active", "description": "nickname", "code": "nickname",
        "base": ["Patient"], "type": "string",
        "expression": "Patient.name.where(use = 'nickname').given"
    });
    let (status, _, body) = call(
        &client,
        "PUT",
        &format!("{base}/SearchParameter/nickname"),
        Some(sp),
    );
    assert_eq!(status, 201, "{body}");
    let (status, _, body) = call(
        &client,
        "PUT",
        &format!("{base}/Patient/p600"),
        Some(patient(600, "Mimi")),
    );
    assert_eq!(status, 201, "{body}");
    let search = format!("{base}/Patient?nickname=mimi&_summary=count");
    let (status, _, body) = call(&client, "GET", &search, None);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["resourceType"], "OperationOutcome");

    let (status, headers, body) = call(&client, "POST", &format!("{base}/Patient/$reindex"), None);
    assert_eq!(status, 202, "{body}");
    let location = headers["content-location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("{base}/_reindex/")),
        "{location}"
    );
    let started = Instant::now();
    let result = loop {
        let (status, headers, body) = call(&client, "GET", &location, None);
        match status {
            202 => assert!(headers.contains_key("x-progress")),
            200 => break body,
            other => panic!("{other}: {body}"),
        }
        assert!(started.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(25));
    };
    assert_eq!(result["resourceType"], "Parameters");
    let (status, _, body) = call(&client, "GET", &search, None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["total"], 201,
        "200 stored before the SearchParameter, 1 after"
    );
    let (status, _, body) = call(
        &client,
        "GET",
        &format!("{base}/Patient?nickname:exact=Lulu&_count=1&_summary=count"),
        None,
    );
    assert_eq!((status, &body["total"]), (200, &json!(400)));
    let (_, _, cs) = call(&client, "GET", &format!("{base}/metadata"), None);
    let patient_params = cs["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "Patient")
        .unwrap()["searchParam"]
        .clone();
    assert!(patient_params
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "nickname"));
}

#[test]
fn reindex_over_http_on_sqlite() {
    reindex_over_http(Arc::new(SqliteStore::temporary().unwrap()));
}

#[test]
fn reindex_over_http_on_postgres() {
    let Some(db) = testing::database_or_skip() else {
        return;
    };
    reindex_over_http(Arc::new(PostgresStore::connect(&db.url, 4).unwrap()));
}
