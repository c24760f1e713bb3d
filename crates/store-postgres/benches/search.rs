//! Search latency on PostgreSQL and on the embedded SQLite store, side by side, over the same
//! synthetic data: token, date, chained, `_include`/`_revinclude` searches and a count.
//!
//! `cargo bench -p crosscare-store-postgres --bench search` (set `CROSSCARE_BENCH_N` for the
//! number of resources, default 100,000: one Patient per nine Observations). PostgreSQL runs
//! on a throwaway local cluster (`crosscare_store_postgres::testing`), so the binaries must be
//! installed. `CROSSCARE_BENCH_EXPLAIN=1` prints PostgreSQL's `EXPLAIN ANALYZE` of each search.
//! Figures and the machine go to `docs/bench/postgres.md`.
#![allow(clippy::unwrap_used)]

use crosscare_search::{extract, parse_query_string, IndexEntry, SearchQuery};
use crosscare_store::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use crosscare_store::{PartitionId, Store};
use crosscare_store_postgres::{testing, PostgresStore};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Searches per query and backend (`CROSSCARE_BENCH_RUNS`).
fn runs() -> usize {
    std::env::var("CROSSCARE_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
}

fn data(n: usize) -> Vec<(Value, Vec<IndexEntry>)> {
    let patients = (n / 10).max(1);
    let mut out = Vec::with_capacity(n);
    for i in 0..patients {
        let r = json!({"resourceType": "Patient", "id": format!("p{i}"),
            "gender": if i % 2 == 0 { "female" } else { "male" },
            "birthDate": format!("{}-{:02}-{:02}", 1930 + i % 80, 1 + i % 12, 1 + i % 28),
            "name": [{"family": format!("Family{i}"), "given": ["Anne"]}],
            "identifier": [{"system": "urn:mrn", "value": format!("{i}")}]});
        let e = extract("Patient", &r);
        out.push((r, e));
    }
    for i in 0..n.saturating_sub(patients) {
        let r = json!({"resourceType": "Observation", "id": format!("o{i}"), "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": format!("{}-0", 1000 + i % 50)}]},
            "subject": {"reference": format!("Patient/p{}", i % patients)},
            "effectiveDateTime": format!("20{:02}-{:02}-{:02}T10:00:00Z", 10 + i % 15, 1 + i % 12, 1 + i % 28),
            "valueQuantity": {"value": (i % 200) as f64 / 10.0, "unit": "mmol/L",
                "system": "http://unitsofmeasure.org", "code": "mmol/L"}});
        let e = extract("Observation", &r);
        out.push((r, e));
    }
    out
}

const QUERIES: &[(&str, &str)] = &[
    ("Observation", "code=http://loinc.org|1007-0"),
    ("Observation", "date=2014-05-05"),
    ("Observation", "date=ge2014-05-01&date=lt2014-06-01"),
    ("Patient", "birthdate=1950-09-21"),
    ("Observation", "subject:Patient.identifier=urn:mrn|42"),
    (
        "Observation",
        "code=http://loinc.org|1007-0&_include=Observation:subject",
    ),
    (
        "Patient",
        "identifier=urn:mrn|42&_revinclude=Observation:subject",
    ),
    (
        "Patient",
        "_has:Observation:subject:code=1007-0&gender=male",
    ),
    ("Observation", "code=1007-0&_summary=count"),
];

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx]
}

/// p50 and p99 of [`runs`] searches, each in a new read transaction; and what was found
/// (matches, included resources, total). The default order differs between the backends
/// (insertion order on SQLite, id order on PostgreSQL), so a page's includes may differ too.
fn measure(store: &dyn Store, ty: &str, qs: &str) -> (Duration, Duration, (usize, usize, u64)) {
    let q = SearchQuery::parse(Some(ty), &parse_query_string(qs), false).unwrap();
    let parts = [PartitionId::default_partition()];
    let mut times = Vec::with_capacity(runs());
    let mut found = (0, 0, 0);
    for _ in 0..runs() {
        let start = Instant::now();
        let mut r = store.read_tx().unwrap();
        let page = r.search(&parts, &q).unwrap();
        drop(r);
        times.push(start.elapsed());
        found = (
            page.matches.len(),
            page.included.len(),
            page.total.unwrap_or(0),
        );
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99), found)
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn main() {
    let n: usize = std::env::var("CROSSCARE_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let t = Instant::now();
    let data = data(n);
    eprintln!(
        "generated and extracted {n} resources in {:.1?}",
        t.elapsed()
    );
    let part = PartitionId::default_partition();

    let Some(db) = testing::database_or_skip() else {
        return;
    };
    let pg = PostgresStore::connect(&db.url, 4).unwrap();
    let t = Instant::now();
    for chunk in data.chunks(5000) {
        pg.bulk_load(&part, chunk.iter().cloned()).unwrap();
    }
    db.psql("VACUUM ANALYZE").unwrap();
    eprintln!(
        "PostgreSQL: bulk_load (COPY) + VACUUM ANALYZE in {:.1?}",
        t.elapsed()
    );

    let lite = SqliteStore::temporary_with(SqliteOptions {
        synchronous: Synchronous::Normal,
        ..SqliteOptions::default()
    })
    .unwrap();
    let t = Instant::now();
    for chunk in data.chunks(1000) {
        let mut tx = lite.write_tx().unwrap();
        for (r, e) in chunk {
            tx.put(&part, r.clone(), e.clone()).unwrap();
        }
        tx.commit().unwrap();
    }
    eprintln!(
        "SQLite: put in transactions of 1,000 in {:.1?}",
        t.elapsed()
    );

    // The same database with `random_page_cost = 1.1` (the usual setting for SSDs or a data
    // set that fits in memory; the default 4 is for spinning disks), through a second store
    // whose new connections pick the setting up.
    db.psql(&format!(
        "ALTER DATABASE {} SET random_page_cost = 1.1",
        db.name
    ))
    .unwrap();
    let tuned = PostgresStore::connect(&db.url, 4).unwrap();

    println!(
        "| search | found | SQLite p50 / p99 | PostgreSQL p50 / p99 | PostgreSQL, random_page_cost 1.1, p50 / p99 |"
    );
    println!("|---|---|---|---|---|");
    let explain = std::env::var_os("CROSSCARE_BENCH_EXPLAIN").is_some();
    for (ty, qs) in QUERIES {
        if explain {
            let q = SearchQuery::parse(Some(ty), &parse_query_string(qs), false).unwrap();
            for (name, s) in [("default", &pg), ("random_page_cost 1.1", &tuned)] {
                let plan = s.explain_search(std::slice::from_ref(&part), &q).unwrap();
                eprintln!("{ty}?{qs} ({name})\n{}\n", plan.join("\n"));
            }
        }
        let (l50, l99, lf) = measure(&lite, ty, qs);
        let (p50, p99, pf) = measure(&pg, ty, qs);
        let (t50, t99, tf) = measure(&tuned, ty, qs);
        assert_eq!(
            (lf.0, lf.2),
            (pf.0, pf.2),
            "{ty}?{qs}: the backends disagree"
        );
        assert_eq!(pf, tf, "{ty}?{qs}: the settings disagree");
        let found = match pf {
            (0, 0, total) => format!("total {total}"),
            (m, 0, _) => format!("{m}"),
            (m, i, _) => format!("{m} + {i} included (SQLite: {})", lf.1),
        };
        println!(
            "| `{ty}?{}` | {found} | {} / {} ms | {} / {} ms | {} / {} ms |",
            qs.replace('|', "\\|"),
            ms(l50),
            ms(l99),
            ms(p50),
            ms(p99),
            ms(t50),
            ms(t99)
        );
    }
}
