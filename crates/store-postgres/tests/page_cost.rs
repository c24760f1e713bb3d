//! Pins the cost of a page to the page, not to the number of matches: for the search shapes
//! whose index rows arrive in row-key order (a token code, a typed reference, a compartment),
//! `EXPLAIN ANALYZE` must show the index read for about `offset + count` rows, whatever the
//! number of matches; a bounded total stops after its bound; `_summary=count` reads the index
//! alone; a sorted page reads the resources of the page only. The pages themselves are checked
//! against the expected order.

#![allow(clippy::unwrap_used)]

use crosscare_search::{compartment_filter, extract, parse_query_string, SearchQuery, TotalMode};
use crosscare_store::{PartitionId, Store};
use crosscare_store_postgres::{testing, PostgresStore};
use serde_json::{json, Value};

const OBSERVATIONS: usize = 6000;
/// Observations of Patient/big; the others spread over 100 patients.
const BIG: usize = 1500;

fn data() -> Vec<(Value, Vec<crosscare_search::IndexEntry>)> {
    let mut out = Vec::new();
    let mut push = |r: Value| {
        let ty = r["resourceType"].as_str().unwrap().to_string();
        let entries = extract(&ty, &r);
        out.push((r, entries));
    };
    push(json!({"resourceType": "Patient", "id": "big", "gender": "female"}));
    for i in 0..100 {
        push(json!({"resourceType": "Patient", "id": format!("p{i:03}"), "gender": "male"}));
    }
    for i in 0..OBSERVATIONS {
        let subject = if i < BIG {
            "Patient/big".to_string()
        } else {
            format!("Patient/p{:03}", i % 100)
        };
        push(
            json!({"resourceType": "Observation", "id": format!("o{i:05}"), "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": format!("{}-0", 1000 + i % 3)}]},
            "subject": {"reference": subject},
            "effectiveDateTime": format!("20{:02}-{:02}-{:02}", 10 + i % 15, 1 + i % 12, 1 + i % 28)}),
        );
    }
    out
}

/// Rows the plan nodes reading `index` returned, summed over their loops.
fn rows_read(lines: &[String], index: &str) -> u64 {
    let using = format!("using {index} ");
    lines
        .iter()
        .filter(|l| l.contains(&using))
        .map(|l| {
            let num = |key: &str| -> u64 {
                let rest = &l[l.find(key).unwrap() + key.len()..];
                let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap();
                rest[..end].parse().unwrap()
            };
            num("actual rows=") * num("loops=")
        })
        .sum()
}

/// The page's and the total's plan lines.
fn explain(store: &PostgresStore, q: &SearchQuery) -> (Vec<String>, Vec<String>) {
    let plan = store
        .explain_search(&[PartitionId::default_partition()], q)
        .unwrap();
    eprintln!("{}\n", plan.join("\n"));
    match plan.iter().position(|l| l == "-- total") {
        Some(i) => (plan[..i].to_vec(), plan[i + 1..].to_vec()),
        None => (plan, Vec::new()),
    }
}

fn query(ty: &str, qs: &str) -> SearchQuery {
    SearchQuery::parse(Some(ty), &parse_query_string(qs), false).unwrap()
}

fn ids(store: &PostgresStore, q: &SearchQuery) -> Vec<String> {
    let mut r = store.read_tx().unwrap();
    r.search(&[PartitionId::default_partition()], q)
        .unwrap()
        .matches
        .into_iter()
        .map(|v| v.id)
        .collect()
}

/// The ids of `o00000 … o05999` selected by `keep`, from `offset`, `count` of them.
fn expected(keep: impl Fn(usize) -> bool, offset: usize, count: usize) -> Vec<String> {
    (0..OBSERVATIONS)
        .filter(|&i| keep(i))
        .map(|i| format!("o{i:05}"))
        .skip(offset)
        .take(count)
        .collect()
}

#[test]
fn pages_read_the_page_not_every_match() {
    let Some(db) = testing::database_or_skip() else {
        return;
    };
    let store = PostgresStore::connect(&db.url, 2).unwrap();
    store
        .bulk_load(&PartitionId::default_partition(), data())
        .unwrap();
    // Visibility map set (index-only scans without heap visits) and statistics, as after
    // autovacuum on a loaded database.
    db.psql("VACUUM ANALYZE").unwrap();

    // A token code with 2,000 matches, with and without its system, first page and deeper.
    for (qs, offset) in [
        ("code=http://loinc.org|1001-0&_count=10", 0),
        ("code=1001-0&_count=10", 0),
        ("code=http://loinc.org|1001-0&_count=10&_offset=100", 100),
    ] {
        let q = query("Observation", qs);
        let (page, _) = explain(&store, &q);
        let read = rows_read(&page, "idx_token_code");
        assert!(
            (10..=offset as u64 + 12).contains(&read),
            "{qs}: {read} index rows for a page of 10 at {offset}"
        );
        assert_eq!(
            ids(&store, &q),
            expected(|i| i % 3 == 1, offset, 10),
            "{qs}"
        );
    }

    // A typed reference with 1,500 matches.
    let q = query("Observation", "subject=Patient/big&_count=10");
    let (page, _) = explain(&store, &q);
    let read = rows_read(&page, "idx_reference_target");
    assert!(read <= 12, "subject: {read} index rows for a page of 10");
    assert_eq!(ids(&store, &q), expected(|i| i < BIG, 0, 10));

    // A chain to few targets is the same search over their references (ordered arms); to more
    // than 64 targets it stays a chain, with the same answers.
    let q = query("Observation", "subject:Patient.gender=female&_count=10");
    let (page, _) = explain(&store, &q);
    let read = rows_read(&page, "idx_reference_target");
    assert!(
        read <= 12,
        "chain to one patient: {read} index rows for a page of 10"
    );
    assert_eq!(ids(&store, &q), expected(|i| i < BIG, 0, 10));
    let q = query(
        "Observation",
        "subject:Patient.gender=male&_count=10&_offset=5",
    );
    assert_eq!(ids(&store, &q), expected(|i| i >= BIG, 5, 10));

    // Sorted: the 1,500 matching keys are sorted by their dates from the index tables, and
    // only the page's resources are read (no hash of every Observation against the matches).
    let q = query("Observation", "subject=Patient/big&_sort=-date&_count=10");
    let (page, _) = explain(&store, &q);
    let read = rows_read(&page, "resource_pkey");
    assert!(
        read <= 10 && !page.iter().any(|l| l.contains("Seq Scan")),
        "sorted: {read} resource rows for a page of 10"
    );
    let date = |i: usize| format!("20{:02}-{:02}-{:02}", 10 + i % 15, 1 + i % 12, 1 + i % 28);
    let mut want: Vec<usize> = (0..BIG).collect();
    want.sort_by(|&a, &b| date(b).cmp(&date(a)).then(a.cmp(&b)));
    let want: Vec<String> = want.iter().take(10).map(|i| format!("o{i:05}")).collect();
    assert_eq!(ids(&store, &q), want, "sorted page");

    // A compartment (`subject` or `performer`), as `$everything` searches each type.
    let mut q = query("Observation", "_count=10");
    q.filters
        .extend(compartment_filter("Patient", "big", "Observation"));
    let (page, _) = explain(&store, &q);
    let read = rows_read(&page, "idx_reference_target");
    assert!(
        read <= 24,
        "compartment: {read} index rows for a page of 10"
    );
    assert_eq!(ids(&store, &q), expected(|i| i < BIG, 0, 10));
    q.result.summary = Some(crosscare_search::SummaryMode::Count);
    let (_, total) = explain(&store, &q);
    assert!(
        total.iter().any(|l| l.contains("idx_reference_target"))
            && !total.iter().any(|l| l.contains(" on resource ")),
        "a compartment count reads the index alone:\n{}",
        total.join("\n")
    );
    let mut r = store.read_tx().unwrap();
    let page = r.search(&[PartitionId::default_partition()], &q).unwrap();
    assert_eq!(page.total, Some(BIG as u64));
    drop(r);

    // A bounded total stops after its bound, counted by the page statement itself (one walk
    // materialised, counted and sliced); an accurate one reads the index alone.
    let mut q = query("Observation", "code=http://loinc.org|1001-0&_count=10");
    q.result.total = Some(TotalMode::UpTo(50));
    let (page, total) = explain(&store, &q);
    assert!(total.is_empty(), "no separate count: {total:?}");
    let read = rows_read(&page, "idx_token_code");
    assert!(
        (51..=52).contains(&read),
        "bounded total: {read} index rows for a bound of 50"
    );

    // Several ordered arms (ten patients, 45 Observations each, interleaved in id order):
    // merged, never hashed, so a bound of 30 reads about 30 rows whatever the matches.
    let ten: Vec<String> = (1..=10).map(|i| format!("Patient/p{i:03}")).collect();
    let mut q = query(
        "Observation",
        &format!("subject={}&_count=10", ten.join(",")),
    );
    q.result.total = Some(TotalMode::UpTo(30));
    let (page, _) = explain(&store, &q);
    let read = rows_read(&page, "idx_reference_target");
    assert!(
        read <= 31 + 2 * 10 && !page.iter().any(|l| l.contains("HashAggregate")),
        "ten arms, bound 30: {read} index rows\n{}",
        page.join("\n")
    );
    let keep = |i: usize| i >= BIG && (1..=10).contains(&(i % 100));
    assert_eq!(ids(&store, &q), expected(keep, 0, 10));
    let mut r = store.read_tx().unwrap();
    let part = [PartitionId::default_partition()];
    assert_eq!(r.search(&part, &q).unwrap().total, None, "450 > 30");
    q.result.total = Some(TotalMode::UpTo(500));
    assert_eq!(r.search(&part, &q).unwrap().total, Some(450));
    q.result.offset = 445;
    let last = r.search(&part, &q).unwrap();
    assert_eq!(last.matches.len(), 5);
    assert_eq!(last.total, Some(450));
    drop(r);
    // A `_has` computes its whole set for any page: page and bounded total share it (one
    // statement, no separate count), with the same answers as the count would give.
    let mut q = query(
        "Patient",
        "_has:Observation:subject:code=http://loinc.org|1001-0&_count=10",
    );
    q.result.total = Some(TotalMode::UpTo(50));
    let (page, total) = explain(&store, &q);
    assert!(
        total.is_empty() && page.iter().any(|l| l.contains("CTE k")),
        "_has with a bounded total:\n{}",
        page.join("\n")
    );
    let mut r = store.read_tx().unwrap();
    let found = r.search(&part, &q).unwrap();
    let want: Vec<String> = std::iter::once("big".to_string())
        .chain((0..9).map(|i| format!("p{i:03}")))
        .collect();
    let got: Vec<String> = found.matches.iter().map(|v| v.id.clone()).collect();
    assert_eq!(got, want);
    assert_eq!(found.total, None, "101 patients > 50");
    q.result.total = Some(TotalMode::UpTo(500));
    assert_eq!(r.search(&part, &q).unwrap().total, Some(101));
    drop(r);

    let q = query("Observation", "code=http://loinc.org|1001-0&_summary=count");
    let (_, total) = explain(&store, &q);
    assert!(
        total
            .iter()
            .any(|l| l.contains("Index Only Scan using idx_token_code"))
            && !total.iter().any(|l| l.contains(" on resource ")),
        "_summary=count reads the index alone:\n{}",
        total.join("\n")
    );
}
