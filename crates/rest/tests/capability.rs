//! The CapabilityStatement: generated from the spec tables and what the router implements.
#![allow(clippy::unwrap_used)]

mod support;

use crosscare_spec::Spec;
use serde_json::{json, Value};
use support::*;

#[test]
fn capability_statement() {
    let rest = rest();
    let resp = send(&rest, "GET", "metadata", &[], None);
    expect_status(&resp, 200);
    let cs = body(&resp).clone();
    assert_eq!(cs["fhirVersion"], "4.0.1");
    let resources = cs["rest"][0]["resource"].as_array().unwrap();
    let concrete: Vec<&str> = Spec::r4()
        .resource_types()
        .filter(|t| !t.is_abstract)
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(resources.len(), concrete.len());
    for t in concrete {
        let r = resources.iter().find(|r| r["type"] == t).unwrap();
        for p in r["searchParam"].as_array().unwrap() {
            assert!(Spec::r4()
                .search_param(t, p["name"].as_str().unwrap())
                .is_some());
        }
    }
    // Snapshot the shape with one resource type and without the date.
    let mut shape = cs.clone();
    shape["date"] = json!("[date]");
    let patient: Vec<Value> = resources
        .iter()
        .filter(|r| r["type"] == "Patient")
        .cloned()
        .collect();
    shape["rest"][0]["resource"] = json!(patient);
    insta::assert_json_snapshot!("capability_statement_patient", shape);
}
