//! The index rows a write leaves behind: one row per extracted value in the table of its type,
//! replaced by the next version and removed by a delete; and `count` of current resources.

#![allow(clippy::unwrap_used)]

use crosscare_store::{PartitionId, Store};
use crosscare_store_postgres::{testing, PostgresStore};
use serde_json::{json, Value};

fn put(store: &PostgresStore, part: &PartitionId, r: Value) {
    let ty = r["resourceType"].as_str().unwrap().to_string();
    let entries = crosscare_search::extract(&ty, &r);
    let mut tx = store.write_tx().unwrap();
    tx.put(part, r, entries).unwrap();
    tx.commit().unwrap();
}

#[test]
fn index_rows_follow_the_current_version() {
    let Some(db) = testing::database_or_skip() else {
        return;
    };
    let store = PostgresStore::connect(&db.url, 2).unwrap();
    let part = PartitionId::default_partition();
    let rows = |table: &str, extra: &str| -> String {
        db.psql(&format!(
            "SELECT count(*) FROM {table} WHERE part = 'default' AND id = 'o1'{extra}"
        ))
        .unwrap()
    };
    put(
        &store,
        &part,
        json!({"resourceType": "Observation", "id": "o1", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": "2024-05-01",
            "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
            "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "valueQuantity": {"value": 120, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}]}),
    );
    assert_eq!(
        rows("idx_token", " AND param = 'code' AND code = '8867-4'"),
        "1"
    );
    assert_eq!(
        rows(
            "idx_reference",
            " AND param = 'subject' AND tid = 'p1' AND ttype = 'Patient'"
        ),
        "1"
    );
    assert_eq!(rows("idx_date", " AND param = 'date'"), "1");
    assert_eq!(
        rows("idx_quantity", " AND param = 'value-quantity' AND val = 72"),
        "1"
    );
    // component-code-value-quantity is a composite: one tuple, as its components' rows (no
    // `idx_composite` row). code-value-quantity, read on the resource itself, is answered from
    // `code` and `value-quantity`, and the `combo-*` parameters from their parts: no rows.
    assert_eq!(
        rows(
            "idx_token",
            " AND param = 'component-code-value-quantity$0' AND grp = 1"
        ),
        "1"
    );
    assert_eq!(
        rows(
            "idx_quantity",
            " AND param = 'component-code-value-quantity$1' AND grp = 1 AND val = 120"
        ),
        "1"
    );
    for t in ["idx_token", "idx_quantity"] {
        assert_eq!(
            rows(t, " AND param LIKE 'code-value-quantity%'"),
            "0",
            "{t}"
        );
    }
    assert_eq!(rows("idx_composite", ""), "0");
    assert_eq!(rows("idx_token", " AND param LIKE 'combo-%'"), "0");

    // A new version replaces the rows.
    put(
        &store,
        &part,
        json!({"resourceType": "Observation", "id": "o1", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "9279-1"}]}}),
    );
    assert_eq!(
        rows("idx_token", " AND param = 'code' AND code = '8867-4'"),
        "0"
    );
    assert_eq!(
        rows("idx_token", " AND param = 'code' AND code = '9279-1'"),
        "1"
    );
    assert_eq!(rows("idx_reference", ""), "0");

    let mut r = store.read_tx().unwrap();
    assert_eq!(r.count(&part, Some("Observation")).unwrap(), 1);
    assert_eq!(r.count(&part, None).unwrap(), 1);
    drop(r);

    // A delete removes them and the resource from the count.
    let mut tx = store.write_tx().unwrap();
    assert!(tx.delete(&part, "Observation", "o1").unwrap().is_some());
    tx.commit().unwrap();
    for t in [
        "idx_token",
        "idx_string",
        "idx_date",
        "idx_quantity",
        "idx_composite",
    ] {
        assert_eq!(rows(t, ""), "0", "{t}");
    }
    let mut r = store.read_tx().unwrap();
    assert_eq!(r.count(&part, Some("Observation")).unwrap(), 0);
}

#[test]
fn locking_read_of_a_missing_id_leaves_no_row_behind() {
    let Some(db) = testing::database_or_skip() else {
        return;
    };
    let store = PostgresStore::connect(&db.url, 2).unwrap();
    let part = PartitionId::default_partition();
    let mut tx = store.write_tx().unwrap();
    assert!(tx.read(&part, "Patient", "ghost").unwrap().is_none());
    tx.commit().unwrap();
    assert_eq!(db.psql("SELECT count(*) FROM resource").unwrap(), "0");
}
