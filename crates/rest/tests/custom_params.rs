//! Custom search parameters end to end through `Rest::handle`: a `SearchParameter` written at
//! run time is checked, indexed on every later write, refused in searches while pending,
//! searchable over older resources once `$reindex` completed (with progress while it runs),
//! pending again when it changes, gone when retired; a reindex survives a restart; a second
//! server sharing the store follows.
#![allow(clippy::unwrap_used)]

mod support;

use crosscare_rest::{FhirResponse, Rest, RestConfig};
use crosscare_store::sqlite::SqliteStore;
use crosscare_store::Store;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;

const NICK_URL: &str = "https://example.org/fhir/SearchParameter/patient-nickname";

fn nickname_param(expression: &str) -> Value {
    json!({
        "resourceType": "SearchParameter",
        "id": "patient-nickname",
        "url": NICK_URL,
        "name": "nickname",
        "status": "active",
        "description": "A patient's nickname (a given name of a name with use 'nickname')",
        "code": "nickname",
        "base": ["Patient"],
        "type": "string",
        "expression": expression,
    })
}

const NICK: &str = "Patient.name.where(use = 'nickname').given";

fn patient(id: &str, nick: &str) -> Value {
    json!({"resourceType": "Patient", "id": id,
           "name": [{"family": "Schmitt"}, {"use": "nickname", "given": [nick]}]})
}

fn config(refresh: Duration) -> RestConfig {
    RestConfig {
        search_params_refresh: refresh,
        ..RestConfig::default()
    }
}

fn server(store: &Arc<SqliteStore>, jobs: &Path, refresh: Duration) -> Rest {
    let store: Arc<dyn Store> = store.clone();
    Rest::new(store, config(refresh))
        .with_reindex(jobs.to_path_buf(), Duration::from_secs(600))
        .unwrap()
}

fn put(rest: &Rest, resource: Value) -> FhirResponse {
    let path = format!(
        "{}/{}",
        resource["resourceType"].as_str().unwrap(),
        resource["id"].as_str().unwrap()
    );
    send(rest, "PUT", &path, &[], Some(resource))
}

fn ids(resp: &FhirResponse) -> Vec<String> {
    expect_status(resp, 200);
    let mut ids: Vec<String> = body(resp)["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["resource"]["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn kickoff(rest: &Rest, path: &str, body: Option<Value>) -> String {
    let resp = send(rest, "POST", path, &[("prefer", "respond-async")], body);
    expect_status(&resp, 202);
    let location = resp.header("Content-Location").unwrap().to_string();
    location
        .strip_prefix(&format!("{BASE}/"))
        .unwrap()
        .to_string()
}

/// Polls a reindex status path until it is done; returns the result and the progress texts seen.
fn wait(rest: &Rest, status: &str) -> (Value, Vec<String>) {
    let started = Instant::now();
    let mut progress = Vec::new();
    loop {
        let resp = send(rest, "GET", status, &[], None);
        match resp.status {
            202 => progress.push(resp.header("X-Progress").unwrap().to_string()),
            200 => return (body(&resp).clone(), progress),
            _ => panic!("status {}: {:?}", resp.status, resp.body),
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "reindex too slow"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn param_values<'a>(result: &'a Value, name: &str) -> Vec<&'a Value> {
    result["parameter"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == name)
        .map(|p| {
            p.as_object()
                .unwrap()
                .iter()
                .find(|(k, _)| k.starts_with("value"))
                .unwrap()
                .1
        })
        .collect()
}

fn capability_has(rest: &Rest, code: &str) -> bool {
    let cs = send(rest, "GET", "metadata", &[], None);
    body(&cs)["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "Patient")
        .unwrap()["searchParam"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == code)
}

#[test]
fn a_custom_parameter_is_searchable_after_reindex_and_follows_its_definition() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::temporary().unwrap());
    let rest = server(&store, dir.path(), Duration::from_millis(10));
    for i in 0..1200 {
        expect_status(
            &put(&rest, patient(&format!("old{i}"), &format!("Nick{i}"))),
            201,
        );
    }
    expect_status(&put(&rest, patient("old-jo", "Jojo")), 201);
    let unknown = send(&rest, "GET", "Patient?nickname=jojo", &[], None);
    expect_error(&unknown, 400, "not-supported");

    // Invalid definitions are refused and name the element; nothing is stored.
    let bad = send(
        &rest,
        "PUT",
        "SearchParameter/bad",
        &[],
        Some(json!({
            "resourceType": "SearchParameter", "id": "bad", "url": "https://example.org/sp/bad",
            "name": "bad", "status": "active", "description": "clashes with a core code",
            "code": "family", "base": ["Patient"], "type": "string", "expression": "Patient.name.family"
        })),
    );
    expect_error(&bad, 400, "invalid");
    assert_eq!(
        body(&bad)["issue"][0]["expression"][0],
        "SearchParameter.code"
    );
    let mut broken = nickname_param("Patient.name.where(");
    broken["id"] = json!("broken");
    broken["url"] = json!("https://example.org/sp/broken");
    let broken = put(&rest, broken);
    expect_error(&broken, 400, "invalid");
    assert_eq!(
        body(&broken)["issue"][0]["expression"][0],
        "SearchParameter.expression"
    );
    expect_status(&send(&rest, "GET", "SearchParameter/bad", &[], None), 404);
    // A draft is stored as data and changes nothing.
    let mut draft = nickname_param(NICK);
    draft["status"] = json!("draft");
    expect_status(&put(&rest, draft), 201);

    // Active: pending, so refused in searches (even lenient ones), indexed on new writes.
    expect_status(&put(&rest, nickname_param(NICK)), 200);
    let pending = send(&rest, "GET", "Patient?nickname=jojo", &[], None);
    expect_error(&pending, 400, "not-supported");
    let text = body(&pending)["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(
        text.contains("$reindex") && text.contains(NICK_URL),
        "{text}"
    );
    let lenient = send(
        &rest,
        "GET",
        "Patient?nickname=jojo",
        &[("prefer", "handling=lenient")],
        None,
    );
    expect_error(&lenient, 400, "not-supported");
    assert!(!capability_has(&rest, "nickname"));
    expect_status(&put(&rest, patient("new-jo", "Jojo")), 201);

    // A type-level reindex of another type does not make it searchable.
    let other = kickoff(&rest, "Observation/$reindex", None);
    let (result, _) = wait(&rest, &other);
    assert!(param_values(&result, "searchable").is_empty());
    expect_error(
        &send(&rest, "GET", "Patient?nickname=jojo", &[], None),
        400,
        "not-supported",
    );

    let status = kickoff(&rest, "Patient/$reindex", None);
    let (result, progress) = wait(&rest, &status);
    assert_eq!(param_values(&result, "searchable"), [&json!(NICK_URL)]);
    assert_eq!(param_values(&result, "scanned"), [&json!(1202)]);
    assert_eq!(param_values(&result, "reindexed"), [&json!(1202)]);
    assert!(
        !progress.is_empty(),
        "progress is visible while the job runs"
    );
    assert_eq!(
        ids(&send(&rest, "GET", "Patient?nickname=jojo", &[], None)),
        ["new-jo", "old-jo"]
    );
    assert_eq!(
        ids(&send(
            &rest,
            "GET",
            "Patient?nickname:exact=Nick1199",
            &[],
            None
        )),
        ["old1199"]
    );
    assert!(capability_has(&rest, "nickname"));
    // Core parameters were re-indexed too, not dropped.
    let family = send(
        &rest,
        "GET",
        "Patient?family=schmitt&_summary=count",
        &[],
        None,
    );
    assert_eq!(body(&family)["total"], 1202);

    // A new version of the definition is pending again until the next reindex.
    expect_status(
        &put(
            &rest,
            nickname_param("Patient.name.where(use = 'nickname').given.first()"),
        ),
        200,
    );
    expect_error(
        &send(&rest, "GET", "Patient?nickname=jojo", &[], None),
        400,
        "not-supported",
    );
    let status = kickoff(
        &rest,
        "$reindex",
        Some(json!({"resourceType": "Parameters",
                     "parameter": [{"name": "type", "valueCode": "Patient"}]})),
    );
    let (result, _) = wait(&rest, &status);
    assert_eq!(param_values(&result, "searchable"), [&json!(NICK_URL)]);
    assert_eq!(
        ids(&send(&rest, "GET", "Patient?nickname=jojo", &[], None)).len(),
        2
    );

    // Retired: unknown again.
    let mut retired = nickname_param(NICK);
    retired["status"] = json!("retired");
    expect_status(&put(&rest, retired), 200);
    expect_error(
        &send(&rest, "GET", "Patient?nickname=jojo", &[], None),
        400,
        "not-supported",
    );
    let text = send(&rest, "GET", "Patient?nickname=jojo", &[], None);
    let text = body(&text)["issue"][0]["diagnostics"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(text.contains("unknown search parameter"), "{text}");
}

#[test]
fn bad_reindex_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::temporary().unwrap());
    let rest = server(&store, dir.path(), Duration::from_millis(10));
    let sync = send(&rest, "POST", "$reindex", &[], None);
    expect_error(&sync, 400, "invalid");
    let not_a_type = send(
        &rest,
        "POST",
        "$reindex",
        &[("prefer", "respond-async")],
        Some(
            json!({"resourceType": "Parameters", "parameter": [{"name": "type", "valueCode": "Nope"}]}),
        ),
    );
    expect_error(&not_a_type, 400, "invalid");
    let unknown = send(
        &rest,
        "POST",
        "$reindex",
        &[("prefer", "respond-async")],
        Some(
            json!({"resourceType": "Parameters", "parameter": [{"name": "url", "valueString": "x"}]}),
        ),
    );
    expect_error(&unknown, 400, "invalid");
    expect_error(
        &send(&rest, "GET", "_reindex/abc123", &[], None),
        404,
        "not-found",
    );
    expect_error(
        &send(&rest, "GET", "$reindex", &[], None),
        405,
        "not-supported",
    );
    // Without a queue the operation is not there.
    let bare = rest_with(RestConfig::default());
    let off = send(
        &bare,
        "POST",
        "$reindex",
        &[("prefer", "respond-async")],
        None,
    );
    expect_error(&off, 403, "not-supported");
}

#[test]
fn a_reindex_resumes_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::temporary().unwrap());
    // A long refresh keeps the first job waiting before its scan, where the shutdown stops it.
    let first = server(&store, dir.path(), Duration::from_millis(400));
    for i in 0..30 {
        expect_status(&put(&first, patient(&format!("p{i}"), "Bibi")), 201);
    }
    expect_status(&put(&first, nickname_param(NICK)), 201);
    let status = kickoff(&first, "Patient/$reindex", None);
    let running = send(&first, "GET", &status, &[], None);
    expect_status(&running, 202);
    first.shutdown_jobs();
    drop(first);
    expect_error(
        &send(
            &rest_over(&store),
            "GET",
            "Patient?nickname=bibi",
            &[],
            None,
        ),
        400,
        "not-supported",
    );

    let second = server(&store, dir.path(), Duration::from_millis(10));
    let (result, _) = wait(&second, &status);
    assert_eq!(param_values(&result, "searchable"), [&json!(NICK_URL)]);
    assert_eq!(
        ids(&send(
            &second,
            "GET",
            "Patient?nickname=bibi&_count=100",
            &[],
            None
        ))
        .len(),
        30
    );
}

fn rest_over(store: &Arc<SqliteStore>) -> Rest {
    let store: Arc<dyn Store> = store.clone();
    Rest::new(store, config(Duration::from_millis(10)))
}

#[test]
fn a_second_server_on_the_same_store_follows_within_its_refresh_interval() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::temporary().unwrap());
    let a = server(&store, dir.path(), Duration::from_millis(10));
    let b = rest_over(&store);
    expect_status(&put(&a, patient("x", "Zaza")), 201);
    let unknown = send(&b, "GET", "Patient?nickname=zaza", &[], None);
    let text = body(&unknown)["issue"][0]["diagnostics"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(text.contains("unknown search parameter"), "{text}");
    expect_status(&put(&a, nickname_param(NICK)), 201);
    let (result, _) = wait(&a, &kickoff(&a, "Patient/$reindex", None));
    assert_eq!(param_values(&result, "searchable"), [&json!(NICK_URL)]);
    // b compares the stamp at most every 10 ms, before a request takes its parameters: the
    // first request after that interval already sees the change.
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(
        ids(&send(&b, "GET", "Patient?nickname=zaza", &[], None)),
        ["x"]
    );
}
