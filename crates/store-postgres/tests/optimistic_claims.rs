//! Batch claims (`WriteTx::prefetch`) of absent resources carry the row their create will
//! leave: a create then moves no pointer, and a claim no write used is never seen as a
//! resource, inside the transaction or after it.

#![allow(clippy::unwrap_used)]

use crosscare_search::{parse_query_string, SearchQuery};
use crosscare_store::{PartitionId, Store};
use crosscare_store_postgres::{testing, PostgresStore};
use serde_json::json;

fn keys(ids: &[&str]) -> Vec<(String, String)> {
    ids.iter()
        .map(|id| ("Patient".to_string(), id.to_string()))
        .collect()
}

#[test]
fn a_create_after_a_batch_claim_moves_no_pointer() {
    let Some(db) = testing::database_or_skip() else {
        return;
    };
    let store = PostgresStore::connect(&db.url, 2).unwrap();
    let part = PartitionId::default_partition();
    let ids: Vec<String> = (0..20).map(|i| format!("p{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut tx = store.write_tx().unwrap();
    tx.prefetch(&part, &keys(&refs)).unwrap();
    for id in &ids {
        tx.put(
            &part,
            json!({"resourceType": "Patient", "id": id}),
            Vec::new(),
        )
        .unwrap();
    }
    tx.commit().unwrap();
    // The claims were the first 20 tuples of the fresh table; an UPDATE would have left the
    // live rows at line pointers 21 to 40 of the page.
    let moved = db
        .psql("SELECT count(*) FROM resource WHERE (ctid::text::point)[1] > 20")
        .unwrap();
    assert_eq!(moved, "0");
    let rows = db
        .psql("SELECT count(*) FROM resource WHERE version = 1 AND NOT deleted")
        .unwrap();
    assert_eq!(rows, "20");
    let read = store
        .read_tx()
        .unwrap()
        .read(&part, "Patient", "p7")
        .unwrap();
    assert_eq!(read.map(|v| v.version_id), Some(1));
}

#[test]
fn an_unused_batch_claim_is_never_a_resource() {
    let Some(db) = testing::database_or_skip() else {
        return;
    };
    let store = PostgresStore::connect(&db.url, 2).unwrap();
    let part = PartitionId::default_partition();
    let mut tx = store.write_tx().unwrap();
    tx.prefetch(&part, &keys(&["a", "b", "c"])).unwrap();
    tx.put(
        &part,
        json!({"resourceType": "Patient", "id": "a"}),
        Vec::new(),
    )
    .unwrap();
    // Counted from the buffer (no flush): only the write.
    assert_eq!(tx.count(&part, Some("Patient")).unwrap(), 1);
    // A search flushes: the unused claims are put back to version 0 before it reads.
    let q = SearchQuery::parse(Some("Patient"), &parse_query_string(""), false).unwrap();
    let page = tx.search(std::slice::from_ref(&part), &q).unwrap();
    let found: Vec<&str> = page.matches.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(found, ["a"]);
    assert_eq!(tx.count(&part, Some("Patient")).unwrap(), 1);
    // A claim used after a flush is written like any other.
    tx.put(
        &part,
        json!({"resourceType": "Patient", "id": "b"}),
        Vec::new(),
    )
    .unwrap();
    tx.commit().unwrap();
    let rows = db
        .psql("SELECT string_agg(id || ':' || version, ',' ORDER BY id) FROM resource")
        .unwrap();
    assert_eq!(rows, "a:1,b:1");
    let mut read = store.read_tx().unwrap();
    assert!(read.read(&part, "Patient", "c").unwrap().is_none());
    assert_eq!(read.count(&part, None).unwrap(), 2);
}
