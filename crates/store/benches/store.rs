//! Store benchmark: raw put throughput (transactions of 100 and 1,000 resources) with the
//! search index and without it (the ceiling), read-by-id latency, and a few search latencies.
//!
//! `cargo bench -p crosscare-store --bench store` (set `CROSSCARE_BENCH_N` for the number of
//! resources, default 20,000). Figures and the machine go to `docs/bench/store.md`.
#![allow(clippy::unwrap_used)]

use crosscare_search::{extract, parse_query_string, IndexEntry, SearchQuery};
use crosscare_store::sqlite::{SqliteOptions, SqliteStore};
use crosscare_store::{PartitionId, Store};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn observation(i: usize) -> Value {
    json!({
        "resourceType": "Observation", "id": format!("o{i}"), "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": format!("{}-{}", 1000 + i % 50, i % 10), "display": "Glucose"}]},
        "subject": {"reference": format!("Patient/p{}", i % 1000)},
        "effectiveDateTime": format!("2024-{:02}-{:02}T10:00:00Z", 1 + i % 12, 1 + i % 28),
        "valueQuantity": {"value": (i % 200) as f64 / 10.0, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"}
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx]
}

fn load(index: bool, batch: usize, data: &[(Value, Vec<IndexEntry>)]) -> (SqliteStore, Duration) {
    let store = SqliteStore::temporary_with(SqliteOptions {
        index,
        ..SqliteOptions::default()
    })
    .unwrap();
    let d = PartitionId::default_partition();
    let start = Instant::now();
    for chunk in data.chunks(batch) {
        let mut tx = store.write_tx().unwrap();
        for (r, e) in chunk {
            tx.put(&d, r.clone(), if index { e.clone() } else { Vec::new() })
                .unwrap();
        }
        tx.commit().unwrap();
    }
    (store, start.elapsed())
}

fn main() {
    let n: usize = std::env::var("CROSSCARE_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let data: Vec<(Value, Vec<IndexEntry>)> = (0..n)
        .map(|i| {
            let r = observation(i);
            let e = extract("Observation", &r);
            (r, e)
        })
        .collect();
    let entries: usize = data.iter().map(|(_, e)| e.len()).sum();
    println!(
        "resources: {n}, index entries: {entries} ({:.1} per resource)",
        entries as f64 / n as f64
    );
    println!("| case | batch | seconds | resources/s |");
    println!("|---|---|---|---|");
    let mut kept = None;
    for (index, batch) in [(true, 100), (true, 1000), (false, 100), (false, 1000)] {
        let (store, took) = load(index, batch, &data);
        let label = if index {
            "put + index"
        } else {
            "put, no index (ceiling)"
        };
        println!(
            "| {label} | {batch} | {:.2} | {:.0} |",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64()
        );
        if index && batch == 1000 {
            kept = Some(store);
        }
    }
    let store = kept.unwrap();
    let d = PartitionId::default_partition();
    let mut lat = Vec::new();
    for k in 0..10_000usize {
        let id = format!("o{}", (k * 7919) % n);
        let t = Instant::now();
        let mut r = store.read_tx().unwrap();
        let v = r.read(&d, "Observation", &id).unwrap();
        assert!(v.is_some());
        drop(r);
        lat.push(t.elapsed());
    }
    lat.sort();
    println!(
        "\nread by id (new read transaction each): p50 {:?}, p99 {:?}",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );
    println!("\n| search | matches (page of 20) | p50 | p99 |");
    println!("|---|---|---|---|");
    for qs in [
        "code=http://loinc.org|1007-7",
        "subject=Patient/p42",
        "date=ge2024-06-01&date=lt2024-07-01&_count=20",
        "value-quantity=gt19.5",
        "subject:Patient.identifier=nothing",
        "code=1007-7&_sort=-date&_total=accurate",
    ] {
        let q = SearchQuery::parse(Some("Observation"), &parse_query_string(qs), false).unwrap();
        let mut lat = Vec::new();
        let mut found = 0;
        for _ in 0..200 {
            let t = Instant::now();
            let mut r = store.read_tx().unwrap();
            found = r
                .search(std::slice::from_ref(&d), &q)
                .unwrap()
                .matches
                .len();
            drop(r);
            lat.push(t.elapsed());
        }
        lat.sort();
        println!(
            "| `{qs}` | {found} | {:?} | {:?} |",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99)
        );
    }
}
