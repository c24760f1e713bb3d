//! Black-box tests of read, vread, create, update, delete, their conditional forms, JSON
//! Patch, `$validate`, and the HTTP headers (ETag, Last-Modified, Location, If-*, Prefer).
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::json;
use support::*;

fn patient(family: &str) -> serde_json::Value {
    json!({"resourceType": "Patient", "name": [{"family": family}],
           "identifier": [{"system": "urn:sys", "value": family}]})
}

#[test]
fn create_assigns_id_and_sets_headers() {
    let rest = rest();
    let mut p = patient("Chalmers");
    p["id"] = json!("client-chosen");
    let resp = send(&rest, "POST", "Patient", &[], Some(p));
    expect_status(&resp, 201);
    let b = body(&resp);
    let id = b["id"].as_str().unwrap();
    assert_ne!(id, "client-chosen", "a body id is ignored on create");
    assert_eq!(b["meta"]["versionId"], "1");
    assert_eq!(resp.header("ETag"), Some("W/\"1\""));
    assert_eq!(
        resp.header("Location").unwrap(),
        format!("{BASE}/Patient/{id}/_history/1")
    );
    assert!(resp.header("Last-Modified").unwrap().ends_with(" GMT"));
}

#[test]
fn read_and_errors() {
    let rest = rest();
    let id = create(&rest, patient("A"));
    let resp = send(&rest, "GET", &format!("Patient/{id}"), &[], None);
    expect_status(&resp, 200);
    assert_eq!(body(&resp)["name"][0]["family"], "A");
    assert_eq!(resp.header("ETag"), Some("W/\"1\""));
    assert!(resp.header("Location").is_none());
    for (path, status, code) in [
        ("Patient/nope", 404, "not-found"),
        ("Unicorn/1", 404, "not-found"),
        ("Patient/a_b", 400, "invalid"),
        ("Patient/1/_history/1/x", 404, "not-found"),
    ] {
        expect_error(&send(&rest, "GET", path, &[], None), status, code);
    }
    expect_error(
        &send(&rest, "DELETE", "metadata", &[], None),
        405,
        "not-supported",
    );
    let summary = send(
        &rest,
        "GET",
        &format!("Patient/{id}?_elements=identifier"),
        &[],
        None,
    );
    assert!(body(&summary).get("name").is_none());
    assert_eq!(body(&summary)["meta"]["tag"][0]["code"], "SUBSETTED");
    expect_error(
        &send(
            &rest,
            "GET",
            &format!("Patient/{id}?_summary=maybe"),
            &[],
            None,
        ),
        400,
        "invalid",
    );
    let head = send(&rest, "HEAD", &format!("Patient/{id}"), &[], None);
    expect_status(&head, 200);
    assert!(head.json().is_none());
}

#[test]
fn conditional_read() {
    let rest = rest();
    let id = create(&rest, patient("A"));
    let path = format!("Patient/{id}");
    for (header, value, status) in [
        ("If-None-Match", "W/\"1\"", 304),
        ("If-None-Match", "*", 304),
        ("If-None-Match", "W/\"7\"", 200),
        ("If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT", 304),
        ("If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT", 200),
    ] {
        let resp = send(&rest, "GET", &path, &[(header, value)], None);
        expect_status(&resp, status);
        assert_eq!(resp.json().is_some(), status == 200, "{header}: {value}");
        assert_eq!(resp.header("ETag"), Some("W/\"1\""));
    }
}

#[test]
fn update_versions_and_update_as_create() {
    let rest = rest();
    let id = create(&rest, patient("A"));
    let mut p = patient("B");
    p["id"] = json!(id);
    let resp = send(&rest, "PUT", &format!("Patient/{id}"), &[], Some(p));
    expect_status(&resp, 200);
    assert_eq!(resp.header("ETag"), Some("W/\"2\""));
    assert_eq!(
        resp.header("Location").unwrap(),
        format!("{BASE}/Patient/{id}/_history/2")
    );
    let mut q = patient("C");
    q["id"] = json!("client-1");
    let resp = send(&rest, "PUT", "Patient/client-1", &[], Some(q));
    expect_status(&resp, 201);
    assert_eq!(body(&resp)["id"], "client-1");
    assert_eq!(body(&resp)["meta"]["versionId"], "1");
    // Client-set meta.versionId is ignored: the store owns versions.
    let mut r = patient("D");
    r["id"] = json!("client-1");
    r["meta"] = json!({"versionId": "99"});
    let resp = send(&rest, "PUT", "Patient/client-1", &[], Some(r));
    assert_eq!(body(&resp)["meta"]["versionId"], "2");
}

#[test]
fn write_validation_errors() {
    let rest = rest();
    let mut wrong_id = patient("A");
    wrong_id["id"] = json!("other");
    let cases = [
        ("PUT", "Patient/x", Some(patient("A")), 400, "invalid"),
        ("PUT", "Patient/x", Some(wrong_id), 400, "invalid"),
        (
            "POST",
            "Patient",
            Some(json!({"resourceType": "Observation", "status": "final", "code": {}})),
            400,
            "invalid",
        ),
        (
            "POST",
            "Patient",
            Some(json!({"resourceType": "Patient", "colour": "red"})),
            422,
            "structure",
        ),
        (
            "POST",
            "Patient",
            Some(json!({"name": "x"})),
            400,
            "required",
        ),
        ("POST", "Patient", None, 400, "invalid"),
    ];
    for (method, path, b, status, code) in cases {
        expect_error(&send(&rest, method, path, &[], b), status, code);
    }
    let resp = send(
        &rest,
        "POST",
        "Patient",
        &[],
        Some(json!({"resourceType": "Patient", "colour": "red"})),
    );
    assert_eq!(body(&resp)["issue"][0]["expression"][0], "Patient.colour");
    expect_error(
        &send_raw(
            &rest,
            "POST",
            "Patient",
            "application/fhir+json",
            b"{\"resourceType\":",
        ),
        400,
        "structure",
    );
    expect_error(
        &send_raw(
            &rest,
            "POST",
            "Patient",
            "application/fhir+xml",
            b"<Patient/>",
        ),
        415,
        "not-supported",
    );
    // Nothing was stored by any of these.
    let hist = send(&rest, "GET", "_history", &[], None);
    assert_eq!(body(&hist)["total"], 0);
}

#[test]
fn if_match() {
    let rest = rest();
    let id = create(&rest, patient("A"));
    let path = format!("Patient/{id}");
    let mut p = patient("B");
    p["id"] = json!(id);
    expect_error(
        &send(
            &rest,
            "PUT",
            &path,
            &[("If-Match", "W/\"2\"")],
            Some(p.clone()),
        ),
        412,
        "conflict",
    );
    expect_status(
        &send(&rest, "PUT", &path, &[("If-Match", "W/\"1\"")], Some(p)),
        200,
    );
    expect_error(
        &send(&rest, "DELETE", &path, &[("If-Match", "W/\"1\"")], None),
        412,
        "conflict",
    );
    expect_status(
        &send(&rest, "DELETE", &path, &[("If-Match", "W/\"2\"")], None),
        204,
    );
}

#[test]
fn prefer_return() {
    let rest = rest();
    let resp = send(
        &rest,
        "POST",
        "Patient",
        &[("Prefer", "return=minimal")],
        Some(patient("A")),
    );
    expect_status(&resp, 201);
    assert!(resp.json().is_none());
    assert!(resp.header("Location").is_some());
    let resp = send(
        &rest,
        "POST",
        "Patient",
        &[("Prefer", "return=OperationOutcome")],
        Some(patient("B")),
    );
    expect_status(&resp, 201);
    assert_eq!(body(&resp)["resourceType"], "OperationOutcome");
    assert_eq!(body(&resp)["issue"][0]["severity"], "information");
}

#[test]
fn vread_and_delete() {
    let rest = rest();
    let id = create(&rest, patient("A"));
    let path = format!("Patient/{id}");
    let mut p = patient("B");
    p["id"] = json!(id);
    send(&rest, "PUT", &path, &[], Some(p.clone()));
    let v1 = send(&rest, "GET", &format!("{path}/_history/1"), &[], None);
    expect_status(&v1, 200);
    assert_eq!(body(&v1)["name"][0]["family"], "A");
    assert_eq!(v1.header("ETag"), Some("W/\"1\""));
    expect_error(
        &send(&rest, "GET", &format!("{path}/_history/9"), &[], None),
        404,
        "not-found",
    );
    expect_error(
        &send(&rest, "GET", &format!("{path}/_history/x"), &[], None),
        404,
        "not-found",
    );

    let del = send(&rest, "DELETE", &path, &[], None);
    expect_status(&del, 204);
    assert!(del.json().is_none());
    expect_error(&send(&rest, "GET", &path, &[], None), 410, "deleted");
    expect_error(
        &send(&rest, "GET", &format!("{path}/_history/3"), &[], None),
        410,
        "deleted",
    );
    expect_status(
        &send(&rest, "GET", &format!("{path}/_history/2"), &[], None),
        200,
    );
    // Deleting again, or something that never existed, is 204.
    expect_status(&send(&rest, "DELETE", &path, &[], None), 204);
    expect_status(&send(&rest, "DELETE", "Patient/never", &[], None), 204);
    let oo = send(
        &rest,
        "DELETE",
        "Patient/never",
        &[("Prefer", "return=OperationOutcome")],
        None,
    );
    expect_status(&oo, 200);
    assert_eq!(body(&oo)["resourceType"], "OperationOutcome");
    // Re-creating after a deletion is 201 with the next version.
    let resp = send(&rest, "PUT", &path, &[], Some(p));
    expect_status(&resp, 201);
    assert_eq!(resp.header("ETag"), Some("W/\"4\""));
}

#[test]
fn conditional_create() {
    let rest = rest();
    let hdr = [("If-None-Exist", "identifier=urn:sys|A")];
    let first = send(&rest, "POST", "Patient", &hdr, Some(patient("A")));
    expect_status(&first, 201);
    let second = send(&rest, "POST", "Patient", &hdr, Some(patient("A")));
    expect_status(&second, 200);
    assert_eq!(body(&second)["id"], body(&first)["id"]);
    create(&rest, patient("A"));
    expect_error(
        &send(&rest, "POST", "Patient", &hdr, Some(patient("A"))),
        412,
        "multiple-matches",
    );
    expect_error(
        &send(
            &rest,
            "POST",
            "Patient",
            &[("If-None-Exist", "bogus=1")],
            Some(patient("A")),
        ),
        400,
        "not-supported",
    );
}

#[test]
fn conditional_update() {
    let rest = rest();
    let resp = send(
        &rest,
        "PUT",
        "Patient?identifier=urn:sys|A",
        &[],
        Some(patient("A")),
    );
    expect_status(&resp, 201);
    let id = body(&resp)["id"].as_str().unwrap().to_string();
    let resp = send(
        &rest,
        "PUT",
        "Patient?identifier=urn:sys|A",
        &[],
        Some(patient("A")),
    );
    expect_status(&resp, 200);
    assert_eq!(body(&resp)["id"], id.as_str());
    assert_eq!(body(&resp)["meta"]["versionId"], "2");
    let mut other = patient("A");
    other["id"] = json!("different");
    expect_error(
        &send(
            &rest,
            "PUT",
            "Patient?identifier=urn:sys|A",
            &[],
            Some(other),
        ),
        400,
        "invalid",
    );
    let mut taken = patient("Z");
    taken["id"] = json!(id);
    expect_error(
        &send(
            &rest,
            "PUT",
            "Patient?identifier=urn:sys|Z",
            &[],
            Some(taken),
        ),
        409,
        "conflict",
    );
    create(&rest, patient("A"));
    expect_error(
        &send(
            &rest,
            "PUT",
            "Patient?identifier=urn:sys|A",
            &[],
            Some(patient("A")),
        ),
        412,
        "multiple-matches",
    );
}

#[test]
fn conditional_delete() {
    let rest = rest();
    let id = create(&rest, patient("A"));
    expect_status(
        &send(
            &rest,
            "DELETE",
            "Patient?identifier=urn:sys|none",
            &[],
            None,
        ),
        204,
    );
    expect_status(
        &send(&rest, "DELETE", "Patient?identifier=urn:sys|A", &[], None),
        204,
    );
    expect_error(
        &send(&rest, "GET", &format!("Patient/{id}"), &[], None),
        410,
        "deleted",
    );
    create(&rest, patient("B"));
    create(&rest, patient("B"));
    expect_error(
        &send(&rest, "DELETE", "Patient?identifier=urn:sys|B", &[], None),
        412,
        "multiple-matches",
    );
}

#[test]
fn json_patch() {
    let rest = rest();
    let id = create(&rest, patient("A"));
    let path = format!("Patient/{id}");
    let patch = |ops: serde_json::Value| {
        send_raw(
            &rest,
            "PATCH",
            &path,
            "application/json-patch+json",
            ops.to_string().as_bytes(),
        )
    };
    let resp = patch(
        json!([{"op": "replace", "path": "/name/0/family", "value": "B"},
                            {"op": "add", "path": "/gender", "value": "female"}]),
    );
    expect_status(&resp, 200);
    assert_eq!(body(&resp)["name"][0]["family"], "B");
    assert_eq!(body(&resp)["gender"], "female");
    assert_eq!(resp.header("ETag"), Some("W/\"2\""));
    expect_error(
        &patch(json!([{"op": "test", "path": "/gender", "value": "male"}])),
        422,
        "processing",
    );
    expect_error(
        &patch(json!([{"op": "dance", "path": "/gender"}])),
        400,
        "invalid",
    );
    expect_error(
        &patch(json!([{"op": "add", "path": "/colour", "value": "red"}])),
        422,
        "structure",
    );
    expect_error(
        &patch(json!([{"op": "replace", "path": "/id", "value": "x"}])),
        422,
        "processing",
    );
    expect_error(
        &send_raw(
            &rest,
            "PATCH",
            "Patient/none",
            "application/json-patch+json",
            b"[]",
        ),
        404,
        "not-found",
    );
    let resp = send_raw(
        &rest,
        "PATCH",
        "Patient?identifier=urn:sys|A",
        "application/json-patch+json",
        br#"[{"op": "remove", "path": "/gender"}]"#,
    );
    expect_status(&resp, 200);
    assert!(body(&resp).get("gender").is_none());
}

#[test]
fn fhirpath_patch() {
    let rest = rest();
    let id = create(&rest, patient("A"));
    let path = format!("Patient/{id}");
    let params = |parts: serde_json::Value| json!({"resourceType": "Parameters", "parameter": [{"name": "operation", "part": parts}]});
    let resp = send(
        &rest,
        "PATCH",
        &path,
        &[],
        Some(params(json!([
        {"name": "type", "valueCode": "add"}, {"name": "path", "valueString": "Patient"},
        {"name": "name", "valueString": "birthDate"}, {"name": "value", "valueDate": "1990-02-03"}]))),
    );
    expect_status(&resp, 200);
    assert_eq!(body(&resp)["birthDate"], "1990-02-03");
    let resp = send(
        &rest,
        "PATCH",
        &path,
        &[],
        Some(params(json!([
        {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Patient.name | Patient.identifier"},
        {"name": "value", "valueString": "x"}]))),
    );
    expect_error(&resp, 422, "processing");
    let resp = send(
        &rest,
        "PATCH",
        &path,
        &[],
        Some(params(json!([
        {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Patient.birthDate"},
        {"name": "value", "valueString": "not a date"}]))),
    );
    assert!(
        resp.status == 422 || resp.status == 200,
        "validation decides: {}",
        resp.status
    );
}

#[test]
fn validate_operation() {
    let rest = rest();
    let ok = send(&rest, "POST", "Patient/$validate", &[], Some(patient("A")));
    expect_status(&ok, 200);
    assert_eq!(body(&ok)["issue"][0]["severity"], "information");
    let bad = send(
        &rest,
        "POST",
        "Patient/$validate",
        &[],
        Some(json!({"resourceType": "Patient", "colour": 1})),
    );
    expect_status(&bad, 200);
    assert_eq!(body(&bad)["issue"][0]["severity"], "error");
    let params = json!({"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": {"resourceType": "Patient", "colour": 1}}]});
    let resp = send(&rest, "POST", "Patient/$validate", &[], Some(params));
    assert_eq!(body(&resp)["issue"][0]["severity"], "error");
    let resp = send(
        &rest,
        "POST",
        "Patient/abc/$validate",
        &[],
        Some(patient("A")),
    );
    assert_eq!(
        body(&resp)["issue"][0]["severity"],
        "error",
        "id must match the URL"
    );
    // Nothing stored.
    assert_eq!(body(&send(&rest, "GET", "_history", &[], None))["total"], 0);
}
