//! Black-box test support: a `Rest` over a fresh `SqliteStore` in a temporary directory, and `send(method, path, headers, body)`
//! returning the `FhirResponse`, with small predicates for the checks.
#![allow(dead_code)]

use crosscare_rest::headers::parse_prefer;
use crosscare_rest::{FhirRequest, FhirResponse, Method, Rest, RestConfig};
use serde_json::Value;
use std::sync::Arc;

pub const BASE: &str = "http://localhost/fhir";

/// A server over a new, empty store.
pub fn rest() -> Rest {
    rest_with(RestConfig::default())
}

pub fn rest_with(config: RestConfig) -> Rest {
    let store = crosscare_store::sqlite::SqliteStore::temporary().unwrap();
    Rest::new(Arc::new(store), config)
}

/// Sends one request the way the HTTP layer would build it.
pub fn send(
    rest: &Rest,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> FhirResponse {
    let method = Method::parse(method).unwrap();
    let mut req = FhirRequest::new(method, path);
    if let Some(b) = &body {
        req = req.with_json(b);
    }
    for (name, value) in headers {
        let v = Some(value.to_string());
        match name.to_ascii_lowercase().as_str() {
            "if-match" => req.if_match = v,
            "if-none-match" => req.if_none_match = v,
            "if-modified-since" => req.if_modified_since = v,
            "if-none-exist" => req.if_none_exist = v,
            "prefer" => req.prefer = parse_prefer(value),
            "content-type" => req.content_type = v,
            other => panic!("unknown test header {other}"),
        }
    }
    rest.handle(req)
}

/// Sends a raw body with a content type.
pub fn send_raw(
    rest: &Rest,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> FhirResponse {
    let mut req = FhirRequest::new(Method::parse(method).unwrap(), path);
    req.body = Some(body.to_vec());
    req.content_type = Some(content_type.to_string());
    rest.handle(req)
}

/// Asserts the status, printing the body when it differs.
#[track_caller]
pub fn expect_status(resp: &FhirResponse, status: u16) {
    assert_eq!(
        resp.status,
        status,
        "body: {}",
        resp.json().map(|b| b.to_string()).unwrap_or_default()
    );
}

/// Asserts an error status with an `OperationOutcome` whose first issue has `code`.
#[track_caller]
pub fn expect_error(resp: &FhirResponse, status: u16, code: &str) {
    expect_status(resp, status);
    let body = resp.json().expect("an OperationOutcome");
    assert_eq!(body["resourceType"], "OperationOutcome");
    assert_eq!(body["issue"][0]["code"], code, "{body}");
}

pub fn body(resp: &FhirResponse) -> &Value {
    resp.json().expect("a body")
}

/// Creates a resource and returns its id.
pub fn create(rest: &Rest, resource: Value) -> String {
    let ty = resource["resourceType"].as_str().unwrap().to_string();
    let resp = send(rest, "POST", &ty, &[], Some(resource));
    expect_status(&resp, 201);
    body(&resp)["id"].as_str().unwrap().to_string()
}
