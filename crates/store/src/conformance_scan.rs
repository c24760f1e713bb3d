//! Conformance checks of [`crate::ReadTx::scan`] (Bulk export's walk over a type). Kept apart
//! from [`crate::conformance::run_all`] because not every backend offers `scan` yet; a backend
//! that does runs [`run_all`] as well.

use crate::conformance::{ok, p};
use crate::{CompartmentScope, ResourceVersion, ScanQuery, Store, StoreError};
use serde_json::{json, Value};

/// Runs every scan check against fresh stores from `make_store`.
pub fn run_all(make_store: crate::conformance::MakeStore<'_>) {
    for (name, check) in CHECKS {
        let store = make_store();
        eprintln!("conformance (scan): {name}");
        check(store.as_ref());
        if let Err(e) = store.close() {
            panic!("{name}: close failed: {e}");
        }
    }
}

pub const CHECKS: &[crate::conformance::Check] = &[
    ("scan_batches", scan_batches),
    ("scan_since", scan_since),
    ("scan_until", scan_until),
    ("scan_compartment", scan_compartment),
    ("scan_bad_cursor", scan_bad_cursor),
];

/// Puts resources with their extracted index entries in one transaction.
fn put_indexed(store: &dyn Store, resources: &[Value]) -> Vec<ResourceVersion> {
    let d = p("default");
    let mut tx = ok(store.write_tx());
    let out = resources
        .iter()
        .map(|r| {
            let t = r["resourceType"].as_str().unwrap_or_default();
            ok(tx.put(&d, r.clone(), crosscare_search::extract(t, r)))
        })
        .collect();
    ok(tx.commit());
    out
}

/// Every batch of a scan, checking the batch size; returns `(id, versionId)` in scan order.
fn scan_all(store: &dyn Store, mut query: ScanQuery) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    loop {
        // A fresh transaction per batch, as an export does.
        let mut tx = ok(store.read_tx());
        let page = ok(tx.scan(&p("default"), &query));
        assert!(page.versions.len() <= query.limit, "batch over the limit");
        for v in &page.versions {
            assert_eq!(v.resource_type, query.resource_type);
            assert!(v.body.is_some(), "scanned {} without a body", v.id);
            out.push((v.id.clone(), v.version_id));
        }
        match page.next {
            Some(next) => query.after = Some(next),
            None => return out,
        }
    }
}

fn ids(scanned: &[(String, u64)]) -> Vec<&str> {
    scanned.iter().map(|(id, _)| id.as_str()).collect()
}

fn patient(id: &str) -> Value {
    json!({"resourceType": "Patient", "id": id})
}

fn scan_batches(store: &dyn Store) {
    let patients: Vec<Value> = (0..23).map(|i| patient(&format!("p{i:02}"))).collect();
    put_indexed(store, &patients);
    put_indexed(
        store,
        &[
            json!({"resourceType": "Observation", "id": "o1", "status": "final",
                  "code": {"text": "x"}}),
        ],
    );
    let mut tx = ok(store.write_tx());
    ok(tx.delete(&p("default"), "Patient", "p05"));
    ok(tx.commit());
    for limit in [1, 7, 22, 23, 100] {
        let got = scan_all(store, ScanQuery::new("Patient", limit));
        let expected: Vec<String> = (0..23)
            .filter(|i| *i != 5)
            .map(|i| format!("p{i:02}"))
            .collect();
        assert_eq!(ids(&got), expected, "limit {limit}");
    }
    assert_eq!(
        ids(&scan_all(store, ScanQuery::new("Observation", 5))),
        ["o1"]
    );
    assert!(scan_all(store, ScanQuery::new("Encounter", 5)).is_empty());
    let mut tx = ok(store.read_tx());
    let other = ok(tx.scan(&p("elsewhere"), &ScanQuery::new("Patient", 5)));
    assert!(other.versions.is_empty() && other.next.is_none());
}

fn scan_since(store: &dyn Store) {
    put_indexed(store, &[patient("a"), patient("b")]);
    let first = put_indexed(store, &[patient("c")]).remove(0);
    put_indexed(store, &[patient("a")]);
    let mut q = ScanQuery::new("Patient", 10);
    q.since = Some(first.last_updated);
    // `c` was written at exactly `since`: `_since` is exclusive here (lastUpdated > since).
    assert_eq!(scan_all(store, q.clone()), [("a".to_string(), 2)]);
    q.since = Some(first.last_updated - chrono::Duration::microseconds(1));
    assert_eq!(
        scan_all(store, q),
        [("a".to_string(), 2), ("c".to_string(), 1)]
    );
}

fn scan_until(store: &dyn Store) {
    let t = put_indexed(store, &[patient("a"), patient("b"), patient("c")])[0].last_updated;
    put_indexed(store, &[patient("a")]);
    let mut tx = ok(store.write_tx());
    ok(tx.delete(&p("default"), "Patient", "b"));
    ok(tx.commit());
    put_indexed(store, &[patient("d")]);
    let now = scan_all(store, ScanQuery::new("Patient", 10));
    assert_eq!(
        now,
        [
            ("a".to_string(), 2),
            ("c".to_string(), 1),
            ("d".to_string(), 1)
        ]
    );
    for limit in [1, 2, 10] {
        let mut q = ScanQuery::new("Patient", limit);
        q.until = Some(t);
        let mut at_t = scan_all(store, q);
        at_t.sort();
        assert_eq!(
            at_t,
            [
                ("a".to_string(), 1),
                ("b".to_string(), 1),
                ("c".to_string(), 1)
            ],
            "limit {limit}"
        );
    }
}

fn scan_compartment(store: &dyn Store) {
    let obs = |id: &str, subject: &str| {
        json!({"resourceType": "Observation", "id": id, "status": "final",
               "code": {"text": "x"}, "subject": {"reference": subject}})
    };
    put_indexed(
        store,
        &[
            json!({"resourceType": "Patient", "id": "p1"}),
            json!({"resourceType": "Patient", "id": "p2",
                   "link": [{"other": {"reference": "Patient/p1"}, "type": "seealso"}]}),
            json!({"resourceType": "Patient", "id": "p3"}),
            obs("o1", "Patient/p1"),
            obs("o2", "Patient/p2"),
            obs("o3", "Group/g1"),
            obs("o4", "Patient/p3"),
        ],
    );
    let scope = |params: &[&str], own: bool, ids: Option<&[&str]>| CompartmentScope {
        compartment: "Patient".into(),
        params: params.iter().map(|s| s.to_string()).collect(),
        includes_self: own,
        ids: ids.map(|i| i.iter().map(|s| s.to_string()).collect()),
    };
    let run = |t: &str, scope: CompartmentScope| {
        let mut q = ScanQuery::new(t, 2);
        q.compartment = Some(scope);
        scan_all(store, q)
    };
    let obs_params = ["subject", "performer"];
    assert_eq!(
        ids(&run(
            "Observation",
            scope(&obs_params, false, Some(&["p1", "p3"]))
        )),
        ["o1", "o4"]
    );
    assert_eq!(
        ids(&run("Observation", scope(&obs_params, false, None))),
        ["o1", "o2", "o4"]
    );
    assert!(run("Observation", scope(&obs_params, false, Some(&[]))).is_empty());
    assert_eq!(
        ids(&run("Patient", scope(&["link"], true, Some(&["p1"])))),
        ["p1", "p2"]
    );
    assert_eq!(
        ids(&run("Patient", scope(&["link"], true, None))),
        ["p1", "p2", "p3"]
    );
}

fn scan_bad_cursor(store: &dyn Store) {
    put_indexed(store, &[patient("a")]);
    let mut q = ScanQuery::new("Patient", 10);
    q.after = Some(crate::ScanCursor("not a cursor".into()));
    let mut tx = ok(store.read_tx());
    assert!(matches!(
        tx.scan(&p("default"), &q),
        Err(StoreError::InvalidCursor(_))
    ));
}
