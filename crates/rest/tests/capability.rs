//! The CapabilityStatement: generated from the spec tables and what the router implements.
#![allow(clippy::unwrap_used)]

mod support;

use crosscare_rest::{BulkOperations, RestConfig};
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
    // Every concrete R4 type, and SQL-on-FHIR's ViewDefinition (a spec extra).
    assert_eq!(resources.len(), concrete.len());
    assert!(concrete.contains(&"ViewDefinition"));
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

/// The operations of one resource entry (or of `rest` for `None`) as `name → definition`.
fn operations(cs: &Value, resource_type: Option<&str>) -> Vec<(String, String)> {
    let holder = match resource_type {
        None => &cs["rest"][0],
        Some(t) => cs["rest"][0]["resource"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["type"] == t)
            .unwrap(),
    };
    holder["operation"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            (
                o["name"].as_str().unwrap().to_string(),
                o["definition"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn bulk_operations_and_view_run_are_advertised() {
    let pair = |n: &str, d: &str| (n.to_string(), d.to_string());
    let bulk = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/";
    let run = pair("run", "http://sql-on-fhir.org/OperationDefinition/$run");

    // Without job queues: no Bulk Data operation, but $run (it needs none).
    let cs = body(&send(&rest(), "GET", "metadata", &[], None)).clone();
    assert!(operations(&cs, None).is_empty());
    assert!(!operations(&cs, Some("Patient"))
        .iter()
        .any(|(n, _)| n == "export"));
    assert!(operations(&cs, Some("ViewDefinition")).contains(&run));

    let rest = rest_with(RestConfig {
        bulk: BulkOperations {
            export: true,
            import: true,
            reindex: true,
        },
        ..RestConfig::default()
    });
    let cs = body(&send(&rest, "GET", "metadata", &[], None)).clone();
    assert_eq!(
        operations(&cs, None),
        [
            pair("export", &format!("{bulk}export")),
            pair(
                "import",
                "https://crosscare.dev/fhir/OperationDefinition/import"
            ),
            pair(
                "reindex",
                "https://crosscare.dev/fhir/OperationDefinition/reindex"
            ),
        ]
    );
    assert!(operations(&cs, Some("Observation")).contains(&pair(
        "reindex",
        "https://crosscare.dev/fhir/OperationDefinition/reindex"
    )));
    assert!(operations(&cs, Some("Patient"))
        .contains(&pair("export", &format!("{bulk}patient-export"))));
    assert!(operations(&cs, Some("Patient"))
        .iter()
        .any(|(n, _)| n == "everything"));
    assert_eq!(
        operations(&cs, Some("Group")),
        [
            pair(
                "validate",
                "http://hl7.org/fhir/OperationDefinition/Resource-validate"
            ),
            pair("export", &format!("{bulk}group-export")),
            pair(
                "reindex",
                "https://crosscare.dev/fhir/OperationDefinition/reindex"
            ),
        ]
    );
    assert!(operations(&cs, Some("ViewDefinition")).contains(&run));
    assert!(operations(&cs, Some("Observation"))
        .iter()
        .all(|(n, _)| n != "export"));
}
