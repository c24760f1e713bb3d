//! Pins index use on PostgreSQL: on a few thousand analysed rows, the statements of the main
//! search shapes (token, date, string, quantity, chain, `_has`, composite, `_include`,
//! `_revinclude`) must reach the index tables and resources through indexes, never by a
//! sequential scan of `resource`, `version` or an index table.

#![allow(clippy::unwrap_used)]

use crosscare_search::{extract, parse_query_string, SearchQuery};
use crosscare_store::PartitionId;
use crosscare_store_postgres::{testing, PostgresStore};
use serde_json::{json, Value};

const PATIENTS: usize = 2000;
const OBSERVATIONS: usize = 6000;

fn with_index(r: Value) -> (Value, Vec<crosscare_search::IndexEntry>) {
    let ty = r["resourceType"].as_str().unwrap().to_string();
    let entries = extract(&ty, &r);
    (r, entries)
}

fn data() -> Vec<(Value, Vec<crosscare_search::IndexEntry>)> {
    let mut out = Vec::new();
    for i in 0..20 {
        out.push(with_index(
            json!({"resourceType": "Organization", "id": format!("org{i}"),
            "name": format!("Klinik {i}")}),
        ));
    }
    for i in 0..PATIENTS {
        out.push(with_index(
            json!({"resourceType": "Patient", "id": format!("p{i}"),
            "gender": if i % 2 == 0 { "female" } else { "male" },
            "birthDate": format!("{}-{:02}-{:02}", 1930 + i % 80, 1 + i % 12, 1 + i % 28),
            "name": [{"family": format!("Family{i}")}],
            "identifier": [{"system": "urn:mrn", "value": format!("{i}")}],
            "managingOrganization": {"reference": format!("Organization/org{}", i % 20)}}),
        ));
    }
    for i in 0..OBSERVATIONS {
        out.push(with_index(json!({"resourceType": "Observation", "id": format!("o{i}"),
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": format!("{}-0", 1000 + i % 50)}]},
            "subject": {"reference": format!("Patient/p{}", i % PATIENTS)},
            "effectiveDateTime": format!("20{:02}-{:02}-{:02}T10:00:00Z", 10 + i % 15, 1 + i % 12, 1 + i % 28),
            "valueQuantity": {"value": i % 200, "unit": "mg/dL",
                "system": "http://unitsofmeasure.org", "code": "mg/dL"}})));
    }
    out
}

/// Every node reading a table uses an index, and every name of `uses` appears in the plan.
fn check(store: &PostgresStore, ty: &str, qs: &str, uses: &[&str]) {
    let q = SearchQuery::parse(Some(ty), &parse_query_string(qs), false).unwrap();
    let plan = store
        .explain_search(&[PartitionId::default_partition()], &q)
        .unwrap();
    let text = plan.join("\n");
    eprintln!("{ty}?{qs}\n{text}\n");
    assert!(
        !text.contains("Seq Scan"),
        "{ty}?{qs} scans a table:\n{text}"
    );
    for u in uses {
        assert!(text.contains(u), "{ty}?{qs} does not use {u}:\n{text}");
    }
}

#[test]
fn main_search_shapes_use_indexes() {
    let Some(db) = testing::database_or_skip() else {
        return;
    };
    let store = PostgresStore::connect(&db.url, 2).unwrap();
    store
        .bulk_load(&PartitionId::default_partition(), data())
        .unwrap();
    // At a few thousand rows a sequential scan of `resource` is genuinely the cheapest way to
    // probe a hash semi-join, and PostgreSQL takes it. The shapes that matter are those at
    // scale, so `resource` and `version` are padded with rows that match no index row (as in a database where
    // the searched type is a small share of the resources): the planner then has to show how
    // it reaches resources from the index rows.
    db.psql(
        "INSERT INTO resource (part, rtype, id, version, ts, deleted) \
         SELECT 'default', t, '0pad' || g, 1, now(), false \
         FROM generate_series(1, 100000) g, (VALUES ('Observation'), ('Patient')) AS v(t)",
    )
    .unwrap();
    db.psql(
        "INSERT INTO version (part, rtype, id, version, ts, change, body) \
         SELECT part, rtype, id, 1, ts, 0, '{}' FROM resource WHERE id LIKE '0pad%'",
    )
    .unwrap();
    db.psql("ANALYZE").unwrap();
    check(
        &store,
        "Observation",
        "code=http://loinc.org|1007-0",
        &["idx_token_code"],
    );
    check(
        &store,
        "Patient",
        "identifier=urn:mrn|42",
        &["idx_token_code"],
    );
    check(&store, "Patient", "family=family12", &["idx_string_norm"]);
    check(&store, "Patient", "birthdate=1950-03-03", &["idx_date_"]);
    check(&store, "Observation", "date=2012-02-02", &["idx_date_"]);
    check(
        &store,
        "Observation",
        "value-quantity=gt198",
        &["idx_quantity_val"],
    );
    check(
        &store,
        "Observation",
        "subject=Patient/p7",
        &["idx_reference_target"],
    );
    check(
        &store,
        "Observation",
        "subject:Patient.identifier=urn:mrn|42",
        // The chain's one target is looked up first (`idx_token_code`, not explained here);
        // the page is the same search over its reference.
        &["idx_reference_target"],
    );
    check(
        &store,
        "Observation",
        "subject:Patient.gender=male",
        // 1,000 targets: past the rewrite's limit, the chain itself (half of the references
        // match: how they are reached is the planner's cost call).
        &["idx_token_code"],
    );
    check(
        &store,
        "Patient",
        "_has:Observation:subject:code=http://loinc.org|1007-0",
        // The whole search is this `_has`: its set is computed once from the code's index
        // rows, grouped and sorted, and only the page's patients are read (`Limit` below the
        // key sort, above the set). The Observations' own rows are never read (the code filter
        // is on their reference rows): the target is the second alias, `t2`, with no `s`.
        &[
            "idx_token_code",
            "Limit",
            "Group Key: t2.part, t2.rtype, t2.id",
        ],
    );
    check(
        &store,
        "Patient",
        "_has:Observation:subject:code=1007-0&gender=male",
        // Without the `OFFSET 0` fence of the PostgreSQL dialect, this one was driven by
        // `gender` (half the patients) with a `_has` probe per patient; fenced, the `_has`
        // set is computed once from the code and drives. (How it reaches the references —
        // per source through idx_reference_res, or all `subject` rows hashed — is the
        // planner's cost call at this size.)
        &["ANY_subquery", "idx_token_code"],
    );
    check(
        &store,
        "Patient",
        "_has:Observation:subject:code=1007-0&birthdate=1950-03-03",
        &["idx_date_"],
    );
    check(
        &store,
        "Observation",
        "code-value-quantity=http://loinc.org|1007-0$gt150",
        // The first component drives; the second is reached by key (idx_quantity_res) or
        // through idx_quantity_val, as the statistics of the run make it cheaper.
        &["idx_token_code"],
    );
    check(
        &store,
        "Observation",
        "code=1007-0&date=2012-02-02&_include=Observation:subject",
        &["-- _include", "idx_reference_res", "resource_pkey"],
    );
    check(
        &store,
        "Patient",
        "identifier=urn:mrn|42&_revinclude=Observation:subject",
        &["-- _revinclude", "idx_reference_target"],
    );
}
