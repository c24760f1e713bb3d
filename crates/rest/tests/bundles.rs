//! Black-box tests of transaction and batch Bundles: reference rewriting whatever the entry
//! order, conditional references and creates, atomicity, processing order, the response shape
//! (snapshot), batch independence, and the entry limit.
#![allow(clippy::unwrap_used)]

mod support;

use crosscare_rest::RestConfig;
use serde_json::{json, Value};
use support::*;

const P: &str = "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a";

fn transaction(entries: Vec<Value>) -> Value {
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
}

fn post(full_url: &str, resource: Value) -> Value {
    let ty = resource["resourceType"].as_str().unwrap().to_string();
    json!({"fullUrl": full_url, "resource": resource, "request": {"method": "POST", "url": ty}})
}

fn observation(subject: &str) -> Value {
    json!({"resourceType": "Observation", "status": "final", "code": {"text": "t"},
           "subject": {"reference": subject},
           "extension": [{"url": "http://e", "valueReference": {"reference": subject}}]})
}

/// Replaces server-chosen values so the shape can be snapshotted.
fn redact(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match k.as_str() {
                    "lastModified" | "lastUpdated" => *x = json!("[instant]"),
                    "id" | "location" | "fullUrl" | "reference" => {
                        if let Some(s) = x.as_str() {
                            let mut parts: Vec<String> = s.split('/').map(str::to_string).collect();
                            for p in parts.iter_mut() {
                                if p.len() == 36 && p.matches('-').count() == 4 {
                                    *p = "[uuid]".into();
                                }
                            }
                            *x = json!(parts.join("/"));
                        }
                    }
                    _ => redact(x),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact),
        _ => {}
    }
}

#[test]
fn transaction_rewrites_references_in_any_order() {
    let rest = rest();
    let bundle = transaction(vec![
        post(
            "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0",
            observation(P),
        ),
        post(
            P,
            json!({"resourceType": "Patient", "name": [{"family": "T"}]}),
        ),
    ]);
    let resp = send(&rest, "POST", "", &[], Some(bundle));
    expect_status(&resp, 200);
    let b = body(&resp).clone();
    assert_eq!(b["type"], "transaction-response");
    let obs_loc = b["entry"][0]["response"]["location"]
        .as_str()
        .unwrap()
        .to_string();
    let pat_loc = b["entry"][1]["response"]["location"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(obs_loc.starts_with("Observation/") && obs_loc.ends_with("/_history/1"));
    assert!(pat_loc.starts_with("Patient/"));
    let pat_ref = pat_loc.trim_end_matches("/_history/1");
    let obs = send(
        &rest,
        "GET",
        obs_loc.trim_end_matches("/_history/1"),
        &[],
        None,
    );
    assert_eq!(body(&obs)["subject"]["reference"], pat_ref);
    assert_eq!(
        body(&obs)["extension"][0]["valueReference"]["reference"],
        pat_ref
    );
    let mut shape = b;
    redact(&mut shape);
    insta::assert_json_snapshot!("transaction_response", shape);
}

#[test]
fn transaction_is_atomic_and_names_the_failing_entry() {
    let rest = rest();
    let bundle = transaction(vec![
        post(P, json!({"resourceType": "Patient", "active": true})),
        post(
            "urn:uuid:x",
            json!({"resourceType": "Patient", "colour": "red"}),
        ),
    ]);
    let resp = send(&rest, "POST", "", &[], Some(bundle));
    expect_error(&resp, 422, "structure");
    let d = body(&resp)["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(d.starts_with("Bundle.entry[1]"), "{d}");
    assert_eq!(body(&send(&rest, "GET", "_history", &[], None))["total"], 0);
}

#[test]
fn transaction_processing_order_and_if_match() {
    let rest = rest();
    create(&rest, json!({"resourceType": "Patient", "id": "gone"}));
    send(
        &rest,
        "PUT",
        "Patient/keep",
        &[],
        Some(json!({"resourceType": "Patient", "id": "keep"})),
    );
    let bundle = transaction(vec![
        json!({"request": {"method": "GET", "url": "Patient/keep"}}),
        json!({"resource": {"resourceType": "Patient", "id": "keep", "gender": "male"},
               "request": {"method": "PUT", "url": "Patient/keep", "ifMatch": "W/\"1\""}}),
        json!({"request": {"method": "DELETE", "url": "Patient/keep2"}}),
    ]);
    let resp = send(&rest, "POST", "", &[], Some(bundle));
    expect_status(&resp, 200);
    let b = body(&resp);
    // The GET ran last, so it sees the update made by the PUT listed after it.
    assert_eq!(b["entry"][0]["resource"]["gender"], "male");
    assert_eq!(b["entry"][1]["response"]["status"], "200 OK");
    assert_eq!(b["entry"][1]["response"]["etag"], "W/\"2\"");
    assert_eq!(b["entry"][2]["response"]["status"], "204 No Content");
    let stale = transaction(vec![
        json!({"resource": {"resourceType": "Patient", "id": "keep"},
        "request": {"method": "PUT", "url": "Patient/keep", "ifMatch": "W/\"1\""}}),
    ]);
    expect_error(&send(&rest, "POST", "", &[], Some(stale)), 412, "conflict");
}

#[test]
fn conditional_references_and_creates() {
    let rest = rest();
    let id = create(
        &rest,
        json!({"resourceType": "Patient", "identifier": [{"system": "urn:s", "value": "1"}]}),
    );
    let bundle = transaction(vec![
        json!({"fullUrl": P, "resource": {"resourceType": "Patient", "identifier": [{"system": "urn:s", "value": "1"}]},
               "request": {"method": "POST", "url": "Patient", "ifNoneExist": "identifier=urn:s|1"}}),
        post("urn:uuid:o1", observation(P)),
        post("urn:uuid:o2", observation("Patient?identifier=urn:s|1")),
    ]);
    let resp = send(&rest, "POST", "", &[], Some(bundle));
    expect_status(&resp, 200);
    let b = body(&resp);
    assert_eq!(b["entry"][0]["response"]["status"], "200 OK");
    for i in [1, 2] {
        let loc = b["entry"][i]["response"]["location"].as_str().unwrap();
        let obs = send(&rest, "GET", loc.trim_end_matches("/_history/1"), &[], None);
        assert_eq!(body(&obs)["subject"]["reference"], format!("Patient/{id}"));
    }
    let missing = transaction(vec![post(
        "urn:uuid:o3",
        observation("Patient?identifier=urn:s|none"),
    )]);
    expect_error(
        &send(&rest, "POST", "", &[], Some(missing)),
        412,
        "conflict",
    );
    create(
        &rest,
        json!({"resourceType": "Patient", "identifier": [{"system": "urn:s", "value": "1"}]}),
    );
    let ambiguous = transaction(vec![post(
        "urn:uuid:o4",
        observation("Patient?identifier=urn:s|1"),
    )]);
    expect_error(
        &send(&rest, "POST", "", &[], Some(ambiguous)),
        412,
        "multiple-matches",
    );
}

#[test]
fn transaction_rejects_two_writes_of_one_resource() {
    let rest = rest();
    let e = json!({"resource": {"resourceType": "Patient", "id": "a"}, "request": {"method": "PUT", "url": "Patient/a"}});
    let resp = send(
        &rest,
        "POST",
        "",
        &[],
        Some(transaction(vec![e.clone(), e])),
    );
    expect_error(&resp, 400, "invalid");
}

#[test]
fn transaction_conditional_update() {
    let rest = rest();
    send(
        &rest,
        "PUT",
        "Patient/taken",
        &[],
        Some(json!({"resourceType": "Patient", "id": "taken"})),
    );
    let put = |id: Option<&str>, value: &str| {
        let mut r =
            json!({"resourceType": "Patient", "identifier": [{"system": "urn:s", "value": value}]});
        if let Some(id) = id {
            r["id"] = json!(id);
        }
        json!({"resource": r, "request": {"method": "PUT", "url": format!("Patient?identifier=urn:s|{value}")}})
    };
    let resp = send(
        &rest,
        "POST",
        "",
        &[],
        Some(transaction(vec![put(None, "a")])),
    );
    expect_status(&resp, 200);
    assert_eq!(body(&resp)["entry"][0]["response"]["status"], "201 Created");
    let resp = send(
        &rest,
        "POST",
        "",
        &[],
        Some(transaction(vec![put(None, "a")])),
    );
    assert_eq!(body(&resp)["entry"][0]["response"]["status"], "200 OK");
    let resp = send(
        &rest,
        "POST",
        "",
        &[],
        Some(transaction(vec![put(Some("taken"), "b")])),
    );
    expect_error(&resp, 409, "conflict");
}

#[test]
fn transaction_patch_as_binary() {
    use base64::Engine;
    let rest = rest();
    send(
        &rest,
        "PUT",
        "Patient/p",
        &[],
        Some(json!({"resourceType": "Patient", "id": "p", "active": true})),
    );
    let data = base64::engine::general_purpose::STANDARD
        .encode(br#"[{"op": "replace", "path": "/active", "value": false}]"#);
    let bundle = transaction(vec![json!({
        "resource": {"resourceType": "Binary", "contentType": "application/json-patch+json", "data": data},
        "request": {"method": "PATCH", "url": "Patient/p"}})]);
    let resp = send(&rest, "POST", "", &[], Some(bundle));
    expect_status(&resp, 200);
    assert_eq!(body(&resp)["entry"][0]["resource"]["active"], false);
}

#[test]
fn batch_entries_are_independent() {
    let rest = rest();
    let bundle = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": {"resourceType": "Patient", "active": true}, "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Patient", "colour": 1}, "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "GET", "url": "Patient/none"}},
        {"request": {"method": "FETCH", "url": "Patient"}},
    ]});
    let resp = send(&rest, "POST", "", &[], Some(bundle));
    expect_status(&resp, 200);
    let b = body(&resp);
    assert_eq!(b["type"], "batch-response");
    let statuses: Vec<&str> = b["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["response"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        vec![
            "201 Created",
            "422 Unprocessable Entity",
            "404 Not Found",
            "400 Bad Request"
        ]
    );
    assert_eq!(
        b["entry"][1]["response"]["outcome"]["resourceType"],
        "OperationOutcome"
    );
    assert_eq!(
        body(&send(&rest, "GET", "Patient/_history", &[], None))["total"],
        1
    );
}

#[test]
fn bundle_errors() {
    let rest = rest_with(RestConfig {
        max_bundle_entries: 2,
        ..RestConfig::default()
    });
    let three = transaction(vec![json!({}), json!({}), json!({})]);
    expect_error(
        &send(&rest, "POST", "", &[], Some(three)),
        413,
        "too-costly",
    );
    let wrong = json!({"resourceType": "Bundle", "type": "collection"});
    expect_error(&send(&rest, "POST", "", &[], Some(wrong)), 400, "invalid");
    expect_error(
        &send(
            &rest,
            "POST",
            "",
            &[],
            Some(json!({"resourceType": "Patient"})),
        ),
        400,
        "invalid",
    );
    let no_request = transaction(vec![json!({"resource": {"resourceType": "Patient"}})]);
    let resp = send(&rest, "POST", "", &[], Some(no_request));
    expect_error(&resp, 400, "invalid");
    assert_eq!(body(&resp)["issue"][0]["expression"][0], "Bundle.entry[0]");
}

/// A transaction large enough to be validated and indexed on several threads stores and indexes
/// exactly what the same writes sent one by one store, and still names a failing entry.
#[test]
fn large_transaction_matches_single_writes() {
    let patient = |i: usize| {
        json!({"resourceType": "Patient", "id": format!("p{i}"), "meta": {"versionId": "7", "tag": [{"code": "t"}]},
               "name": [{"family": format!("Fam{}", i % 3), "given": ["A"]}], "active": true})
    };
    let put = |r: Value| {
        let url = format!("Patient/{}", r["id"].as_str().unwrap());
        json!({"resource": r, "request": {"method": "PUT", "url": url}})
    };
    let entries: Vec<Value> = (0..40).map(|i| put(patient(i))).collect();
    let bulk = rest();
    expect_status(
        &send(&bulk, "POST", "", &[], Some(transaction(entries.clone()))),
        200,
    );
    let single = rest();
    for i in 0..40 {
        expect_status(
            &send(
                &single,
                "PUT",
                &format!("Patient/p{i}"),
                &[],
                Some(patient(i)),
            ),
            201,
        );
    }
    let strip = |mut v: Value| {
        v["meta"].as_object_mut().unwrap().remove("lastUpdated");
        v
    };
    for i in 0..40 {
        let path = format!("Patient/p{i}");
        let a = strip(body(&send(&bulk, "GET", &path, &[], None)).clone());
        let b = strip(body(&send(&single, "GET", &path, &[], None)).clone());
        assert_eq!(a, b, "{path}");
    }
    for rest in [&bulk, &single] {
        let found = send(
            rest,
            "GET",
            "Patient?family=fam1&_tag=t&_total=accurate",
            &[],
            None,
        );
        assert_eq!(body(&found)["total"], 13);
    }
    let mut bad = entries;
    bad[30]["resource"]["colour"] = json!("red");
    let resp = send(&rest(), "POST", "", &[], Some(transaction(bad)));
    expect_error(&resp, 422, "structure");
    let d = body(&resp)["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(d.starts_with("Bundle.entry[30]"), "{d}");
}
