//! Tenant isolation, as a property: random tenants (sandboxes, a training workspace, an
//! integration client on the hospital's partition), random writes, random reads (searches with
//! `_include`/`_revinclude`, histories, reads by guessed ids, `$everything`, batches): no
//! response ever contains another partition's data.
#![allow(clippy::unwrap_used)]

use crosscare_lab::model::ServiceClass;
use crosscare_lab::policy::WorkspaceGrant;
use crosscare_lab::scope::Scopes;
use crosscare_lab::{Access, Principal};
use crosscare_rest::{FhirRequest, Method, Rest, RestConfig};
use proptest::prelude::*;
use serde_json::json;
use std::sync::Arc;

/// (workspace id, class); the partition of integration is the default one.
const TENANTS: [(&str, ServiceClass); 4] = [
    ("a", ServiceClass::Sandbox),
    ("b", ServiceClass::Sandbox),
    ("c", ServiceClass::Training),
    ("d", ServiceClass::Integration),
];

fn access(tenant: usize) -> Access {
    let (id, class) = TENANTS[tenant];
    Access::Client(Principal {
        client_id: format!("cc-{id}"),
        workspace: Some(WorkspaceGrant {
            id: id.into(),
            class,
            max_resources: None,
            template: None,
        }),
        scopes: Scopes::parse("system/*.cruds").unwrap(),
        token_id: "t".into(),
    })
}

#[derive(Debug, Clone)]
enum Op {
    CreatePatient,
    /// An Observation whose subject is the n-th id seen so far (maybe another tenant's).
    CreateObservation(usize),
    SearchPatients,
    IncludeSubjects,
    RevIncludeObservations,
    SystemHistory,
    /// Read the n-th id seen so far (maybe another tenant's).
    Read(usize),
    Everything(usize),
    Batch(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::CreatePatient),
        3 => (0usize..50).prop_map(Op::CreateObservation),
        1 => Just(Op::SearchPatients),
        1 => Just(Op::IncludeSubjects),
        1 => Just(Op::RevIncludeObservations),
        1 => Just(Op::SystemHistory),
        2 => (0usize..50).prop_map(Op::Read),
        1 => (0usize..50).prop_map(Op::Everything),
        1 => (0usize..50).prop_map(Op::Batch),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn no_response_contains_another_partitions_data(
        steps in prop::collection::vec((0usize..4, op()), 1..30)
    ) {
        let store = crosscare_store::sqlite::SqliteStore::temporary().unwrap();
        let rest = Rest::new(Arc::new(store), RestConfig::default());
        // Every resource carries its partition's marker; ids seen so far, with their partition.
        let partition = |t: usize| if TENANTS[t].1 == ServiceClass::Integration {
            "default".to_string()
        } else {
            format!("ws-{}", TENANTS[t].0)
        };
        let mut ids: Vec<(String, String)> = Vec::new();
        let mut n = 0;
        for (tenant, op) in steps {
            let me = partition(tenant);
            let pick = |i: usize| ids.get(i % ids.len().max(1)).map(|(id, _)| id.clone())
                .unwrap_or_else(|| "none".into());
            let req = match &op {
                Op::CreatePatient => {
                    n += 1;
                    FhirRequest::new(Method::Post, "Patient").with_json(&json!({
                        "resourceType": "Patient",
                        "name": [{"family": format!("mark-{me}-{n}")}]}))
                }
                Op::CreateObservation(i) => {
                    n += 1;
                    FhirRequest::new(Method::Post, "Observation").with_json(&json!({
                        "resourceType": "Observation", "status": "final",
                        "code": {"text": format!("mark-{me}-{n}")},
                        "subject": {"reference": format!("Patient/{}", pick(*i))}}))
                }
                Op::SearchPatients => FhirRequest::new(Method::Get, "Patient?_count=100"),
                Op::IncludeSubjects => FhirRequest::new(
                    Method::Get, "Observation?_include=Observation:subject&_count=100"),
                Op::RevIncludeObservations => FhirRequest::new(
                    Method::Get, "Patient?_revinclude=Observation:subject&_count=100"),
                Op::SystemHistory => FhirRequest::new(Method::Get, "_history?_count=100"),
                Op::Read(i) => FhirRequest::new(Method::Get, &format!("Patient/{}", pick(*i))),
                Op::Everything(i) => FhirRequest::new(
                    Method::Get, &format!("Patient/{}/$everything", pick(*i))),
                Op::Batch(i) => FhirRequest::new(Method::Post, "").with_json(&json!({
                    "resourceType": "Bundle", "type": "batch", "entry": [
                        {"request": {"method": "GET", "url": format!("Patient/{}", pick(*i))}},
                        {"request": {"method": "GET", "url": "Observation?_include=Observation:subject"}}]})),
            };
            let resp = rest.handle(req.with_access(access(tenant)));
            let text = resp.json().map(|b| b.to_string()).unwrap_or_default();
            for (t, _) in TENANTS.iter().enumerate() {
                let other = partition(t);
                if other != me {
                    prop_assert!(
                        !text.contains(&format!("mark-{other}-")),
                        "{op:?} by {me} saw {other}'s data: {text}"
                    );
                }
            }
            if matches!(op, Op::CreatePatient | Op::CreateObservation(_)) {
                prop_assert_eq!(resp.status, 201, "{}", text);
                let id = resp.json().unwrap()["id"].as_str().unwrap().to_string();
                ids.push((id, me));
            }
        }
    }
}
