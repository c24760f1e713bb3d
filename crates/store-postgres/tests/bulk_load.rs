//! `PostgresStore::bulk_load`: `COPY` writes the same rows as `put` would, a duplicate id fails
//! the whole load, and a rough throughput figure.

#![allow(clippy::unwrap_used)]

use crosscare_store::{PartitionId, Store, StoreError};
use crosscare_store_postgres::{testing, PostgresStore};
use serde_json::{json, Value};
use std::time::Instant;

fn observation(i: usize) -> Value {
    json!({"resourceType": "Observation", "id": format!("o{i}"), "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": format!("Patient/p{}", i % 100)},
        "effectiveDateTime": "2024-05-01T10:00:00Z",
        "valueQuantity": {"value": 60 + (i % 40), "unit": "/min",
            "system": "http://unitsofmeasure.org", "code": "/min"}})
}

fn with_index(r: Value) -> (Value, Vec<crosscare_search::IndexEntry>) {
    let ty = r["resourceType"].as_str().unwrap().to_string();
    let entries = crosscare_search::extract(&ty, &r);
    (r, entries)
}

/// Every index row of one resource, as sorted text lines.
fn index_rows(db: &testing::TestDatabase, part: &str, id: &str) -> Vec<String> {
    let mut out = Vec::new();
    for t in [
        "idx_token",
        "idx_string",
        "idx_date",
        "idx_number",
        "idx_quantity",
        "idx_reference",
        "idx_uri",
        "idx_composite",
    ] {
        let rows = db
            .psql(&format!(
                "SELECT t::text FROM (SELECT param, grp, cid, {t}.* FROM {t} \
                 WHERE part = '{part}' AND id = '{id}') t"
            ))
            .unwrap();
        out.extend(
            rows.lines()
                .map(|l| format!("{t} {}", l.replace(part, "P"))),
        );
    }
    out.sort();
    out
}

#[test]
fn bulk_load_writes_what_put_writes() {
    let Some(db) = testing::database_or_skip() else {
        return;
    };
    let store = PostgresStore::connect(&db.url, 2).unwrap();
    let (bulk, single) = (PartitionId("bulk".into()), PartitionId("single".into()));
    let n = store
        .bulk_load(&bulk, vec![with_index(observation(1))])
        .unwrap();
    assert_eq!(n, 1);
    let mut tx = store.write_tx().unwrap();
    let (r, e) = with_index(observation(1));
    tx.put(&single, r, e).unwrap();
    tx.commit().unwrap();
    let a = index_rows(&db, "bulk", "o1");
    let b = index_rows(&db, "single", "o1");
    assert!(a.len() >= 5, "{a:?}");
    assert_eq!(a.len(), b.len(), "{a:?}\n{b:?}");

    let mut r = store.read_tx().unwrap();
    let v = r.read(&bulk, "Observation", "o1").unwrap().unwrap();
    assert_eq!(v.version_id, 1);
    let body: Value = serde_json::from_str(v.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["meta"]["versionId"], "1");
}

#[test]
fn bulk_load_with_an_existing_id_loads_nothing() {
    let Some(db) = testing::database_or_skip() else {
        return;
    };
    let store = PostgresStore::connect(&db.url, 2).unwrap();
    let part = PartitionId::default_partition();
    store
        .bulk_load(&part, vec![with_index(observation(5))])
        .unwrap();
    let err = store
        .bulk_load(&part, (4..7).map(|i| with_index(observation(i))))
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "{err}");
    let mut r = store.read_tx().unwrap();
    assert_eq!(r.count(&part, Some("Observation")).unwrap(), 1);
    assert!(r.read(&part, "Observation", "o4").unwrap().is_none());
}

#[test]
fn bulk_load_throughput() {
    let Some(db) = testing::database_or_skip() else {
        return;
    };
    let store = PostgresStore::connect(&db.url, 2).unwrap();
    let part = PartitionId::default_partition();
    const N: usize = 1_000;
    // Extraction is not what is measured: both paths get pre-extracted entries.
    let batch: Vec<_> = (0..N).map(|i| with_index(observation(i))).collect();
    let start = Instant::now();
    assert_eq!(store.bulk_load(&part, batch.clone()).unwrap(), N as u64);
    let copy = start.elapsed();
    let mut r = store.read_tx().unwrap();
    assert_eq!(r.count(&part, Some("Observation")).unwrap(), N as u64);
    drop(r);
    // A fifth of them through put, 100 per transaction, for comparison.
    const M: usize = N / 5;
    let part2 = PartitionId("put".into());
    let start = Instant::now();
    for chunk in batch[..M].chunks(100) {
        let mut tx = store.write_tx().unwrap();
        for (r, e) in chunk {
            tx.put(&part2, r.clone(), e.clone()).unwrap();
        }
        tx.commit().unwrap();
    }
    let put = start.elapsed();
    eprintln!(
        "bulk_load: {N} Observations in {copy:?} ({:.0}/s); put: {M} in {put:?} ({:.0}/s)",
        N as f64 / copy.as_secs_f64(),
        M as f64 / put.as_secs_f64()
    );
}
