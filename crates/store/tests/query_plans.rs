//! Pins index use: the page statement of each main search shape must seek the index tables
//! through their `(pid, rtype, param, …)` indexes and never scan a whole table.
#![allow(clippy::unwrap_used)]

use crosscare_search::{parse_query_string, SearchQuery};
use crosscare_store::conformance_search::{data, load};
use crosscare_store::sqlite::SqliteStore;
use crosscare_store::PartitionId;

fn plan(store: &SqliteStore, ty: &str, qs: &str) -> Vec<String> {
    let q = SearchQuery::parse(Some(ty), &parse_query_string(qs), false).unwrap();
    store
        .explain_search(&[PartitionId::default_partition()], &q)
        .unwrap()
}

/// Every step is an index search (or a lookup by rowid), and `uses` all appear.
fn check(store: &SqliteStore, ty: &str, qs: &str, uses: &[&str]) {
    let steps = plan(store, ty, qs);
    let text = steps.join("\n");
    for s in &steps {
        let scan = s.starts_with("SCAN ") && !s.contains("USING") && !s.contains("CONSTANT ROW");
        assert!(!scan, "{ty}?{qs} scans a table:\n{text}");
    }
    for u in uses {
        assert!(text.contains(u), "{ty}?{qs} does not use {u}:\n{text}");
    }
}

#[test]
fn main_search_shapes_use_indexes() {
    let store = SqliteStore::temporary().unwrap();
    load(&store, &PartitionId::default_partition(), &data());
    check(&store, "Patient", "family=smi", &["idx_string_norm"]);
    check(
        &store,
        "Patient",
        "family:exact=Smith",
        &["idx_string_norm"],
    );
    check(
        &store,
        "Patient",
        "identifier=urn:mrn|200",
        &["idx_token_code"],
    );
    check(&store, "Patient", "gender=female,male", &["idx_token_code"]);
    check(&store, "Patient", "birthdate=ge1980", &["idx_date"]);
    check(
        &store,
        "Observation",
        "value-quantity=gt5||mg",
        &["idx_quantity"],
    );
    check(
        &store,
        "Observation",
        "subject=Patient/a",
        &["idx_reference_reverse"],
    );
    check(
        &store,
        "Observation",
        "subject=a",
        &["idx_reference_target"],
    );
    check(
        &store,
        "Observation",
        "subject=http://other.org/fhir/Patient/a",
        &["idx_reference_url"],
    );
    check(
        &store,
        "Observation",
        "subject:Patient.family=smi",
        &["idx_reference_reverse"],
    );
    // With `_sort` the chain is not rewritten into its targets: the inner filter drives and
    // the referrers are sought by (type, id), never walked by type.
    check(
        &store,
        "Observation",
        "subject:Patient.family=smi&_sort=-date",
        &[
            "idx_string_norm",
            "idx_reference_reverse (ttype=? AND tid=? AND pid=?)",
        ],
    );
    check(
        &store,
        "Patient",
        "_has:Observation:subject:code=1234-5",
        &["idx_token_code", "idx_reference_rid"],
    );
    check(
        &store,
        "ValueSet",
        "url=http://x.org/other",
        &["idx_uri_value"],
    );
    check(
        &store,
        "Observation",
        "component-code-value-quantity=8480-6$lt10",
        &["idx_token_code", "idx_quantity_rid"],
    );
    check(&store, "Patient", "_id=a", &["resource_key"]);
    check(
        &store,
        "Patient",
        "family=smi&_sort=birthdate",
        &["idx_string_norm"],
    );
}

#[test]
fn date_equality_is_a_closed_range_seek() {
    let store = SqliteStore::temporary().unwrap();
    load(&store, &PartitionId::default_partition(), &data());
    for qs in [
        "date=2024-03",
        "date=2024-03-05",
        "date=2024-03-05T10:00:00Z",
    ] {
        let text = plan(&store, "Observation", qs).join("\n");
        assert!(
            text.contains("idx_date_lo (pid=? AND rtype=? AND param=? AND lo>? AND lo<?)"),
            "Observation?{qs}:\n{text}"
        );
    }
}

#[test]
fn includes_seek_from_the_page_rows() {
    let store = SqliteStore::temporary().unwrap();
    load(&store, &PartitionId::default_partition(), &data());
    let explain = |ty: &str, qs: &str| {
        let q = SearchQuery::parse(Some(ty), &parse_query_string(qs), false).unwrap();
        store
            .explain_includes(&[PartitionId::default_partition()], &q)
            .unwrap()
    };
    let forward = explain("Observation", "_include=Observation:subject");
    let reverse = explain("Patient", "_revinclude=Observation:subject");
    assert_eq!((forward.len(), reverse.len()), (1, 1));
    // Walking `idx_reference_url` (every local reference of the type has `url IS NULL`) was
    // the slow plan SQLite picked without the hints.
    for (steps, index) in [
        (&forward[0], "idx_reference_rid (rid=?)"),
        (
            &reverse[0],
            "idx_reference_reverse (ttype=? AND tid=? AND pid=?)",
        ),
    ] {
        let text = steps.join("\n");
        assert!(text.contains(index), "{text}");
        assert!(!text.contains("idx_reference_url"), "{text}");
    }
}

#[test]
fn filtered_searches_drive_from_the_index_tables() {
    let store = SqliteStore::temporary().unwrap();
    load(&store, &PartitionId::default_partition(), &data());
    // The resource rows are reached by rowid from the matching index entries, never by
    // walking every resource of the type.
    for (ty, qs) in [
        ("Patient", "family=smi&gender=female"),
        ("Observation", "subject:Patient.family=smi"),
        ("Patient", "_has:Observation:subject:code=1234-5"),
        ("Observation", "subject=Patient/a&_sort=-date"),
        (
            "Observation",
            "code-value-quantity=http://loinc.org|2339-0$gt5",
        ),
    ] {
        let steps = plan(&store, ty, qs);
        assert_eq!(
            steps[0], "SEARCH r USING INTEGER PRIMARY KEY (rowid=?)",
            "{ty}?{qs}: {steps:#?}"
        );
    }
    // Listing a type walks `resource_live` in rowid order: no sort step.
    let steps = plan(&store, "Patient", "");
    assert!(steps[0].contains("resource_live"), "{steps:#?}");
    assert!(
        !steps.iter().any(|s| s.contains("TEMP B-TREE")),
        "{steps:#?}"
    );
    check(
        &store,
        "Patient",
        "_lastUpdated=gt2020",
        &["resource_by_ts"],
    );
}

#[test]
fn token_pages_walk_the_covering_index_in_row_order() {
    let store = SqliteStore::temporary().unwrap();
    load(&store, &PartitionId::default_partition(), &data());
    // `system|code` pins every index column ahead of `rid`; a plain `code` is first rewritten
    // into one `system|code` per system it occurs with. Either way the page's keys come from
    // an ordered walk of `idx_token_code` that stops after the page: no sort of every match.
    for qs in [
        "code=http://loinc.org|1234-5",
        "code=1234-5",
        "code=1234-5,2339-0",
    ] {
        let steps = plan(&store, "Observation", qs);
        let text = steps.join("\n");
        assert!(
            text.contains(
                "idx_token_code (pid=? AND rtype=? AND param=? AND code=? AND system=? AND cid=?)"
            ),
            "Observation?{qs}:\n{text}"
        );
        assert!(!text.contains("TEMP B-TREE"), "Observation?{qs}:\n{text}");
    }
}

#[test]
fn reference_pages_walk_the_reverse_index_in_row_order() {
    let store = SqliteStore::temporary().unwrap();
    load(&store, &PartitionId::default_partition(), &data());
    let text = plan(&store, "Observation", "subject=Patient/a").join("\n");
    assert!(
        text.contains("COVERING INDEX idx_reference_reverse (ttype=? AND tid=? AND pid=? AND rtype=? AND param=? AND cid=? AND url=?)"),
        "{text}"
    );
    assert!(!text.contains("TEMP B-TREE"), "{text}");
    // A chain reads the referring entries from the same index without visiting the table.
    // It starts from the inner filter's targets (here few: the chain becomes one reference
    // value per target, merged in row order) and seeks their referrers by (type, id): a seek by
    // `ttype` alone walks every reference to the type (this hung at 1 M resources).
    let text = plan(&store, "Observation", "subject:Patient.family=smi").join("\n");
    assert!(
        text.contains("COVERING INDEX idx_reference_reverse (ttype=? AND tid=? AND pid=?"),
        "{text}"
    );
    assert!(!text.contains("TEMP B-TREE"), "{text}");
}
