//! The migrated schema itself: properties that no search result shows but that the plans and
//! costs rely on.

#![allow(clippy::unwrap_used)]

use crosscare_store_postgres::testing;

/// Text columns that are never compared: the JSON body of a version and the setting values.
const NEVER_COMPARED: &[(&str, &str)] = &[
    ("version", "body"),
    ("setting", "key"),
    ("setting", "value"),
    ("schema_migrations", "name"),
];

#[test]
fn every_compared_text_column_is_in_byte_order() {
    let Some(db) = testing::database_or_skip() else {
        return;
    };
    // The throwaway cluster is created with the machine's locale, so its default collation is
    // not "C" there either: a column without its own collation would show up here.
    let rows = db
        .psql(
            "SELECT table_name || '.' || column_name || '=' || coalesce(collation_name, '') \
             FROM information_schema.columns \
             WHERE table_schema = 'public' AND data_type = 'text' \
             ORDER BY table_name, ordinal_position",
        )
        .unwrap();
    let columns: Vec<&str> = rows.lines().collect();
    assert!(
        columns.iter().any(|c| c.starts_with("idx_token.code=")),
        "{rows}"
    );
    for c in &columns {
        let (name, collation) = c.split_once('=').unwrap();
        let (table, column) = name.split_once('.').unwrap();
        if NEVER_COMPARED.contains(&(table, column)) {
            continue;
        }
        assert_eq!(collation, "C", "{name} compares in the database's locale");
    }
}

#[test]
fn parameters_meet_byte_order_columns_without_losing_the_index() {
    let Some(db) = testing::database_or_skip() else {
        return;
    };
    // Enough rows, analyzed, that the primary key is the only sensible plan (on an empty
    // table the planner picks any index led by `part, rtype`).
    db.psql(
        "INSERT INTO resource (part, rtype, id, version, ts, deleted) \
         SELECT 'default', 'Patient', 'p' || g, 1, now(), false FROM generate_series(1, 5000) g; \
         ANALYZE resource",
    )
    .unwrap();
    // A statement parameter has the default collation; against a "C" column the comparison is
    // made in "C", so key lookups by parameter still probe the primary key...
    let point = db
        .psql(
            "PREPARE p(text, text, text) AS SELECT version FROM resource \
             WHERE part = $1 AND rtype = $2 AND id = $3; \
             EXPLAIN EXECUTE p('default', 'Patient', 'p1')",
        )
        .unwrap();
    assert!(point.contains("resource_pkey"), "{point}");
    // ... and the write path's batches (`unnest` of text arrays joined on the key) are index
    // scans: with sequential scans disabled, a condition no index could serve would still
    // show a `Seq Scan`.
    let batch = db
        .psql(
            "SET enable_seqscan = off; EXPLAIN SELECT r.version FROM resource r \
             WHERE r.part = 'default'::text AND (r.rtype, r.id) IN \
             (SELECT * FROM unnest(ARRAY['Patient']::text[], ARRAY['p1']::text[]))",
        )
        .unwrap();
    assert!(batch.contains("resource_pkey"), "{batch}");
    assert!(!batch.contains("Seq Scan"), "{batch}");
}
