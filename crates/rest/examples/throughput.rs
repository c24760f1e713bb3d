//! Measures `Rest::handle` on a temporary SQLite store: single creates, reads, a 100-entry
//! transaction with urn:uuid references, and a search page.
//! Run: `cargo run --release -p crosscare-rest --example throughput`.
#![allow(clippy::unwrap_used)]

use crosscare_rest::{FhirRequest, Method, Rest, RestConfig};
use crosscare_store::sqlite::SqliteStore;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let rest = Rest::new(
        Arc::new(SqliteStore::temporary().unwrap()),
        RestConfig::default(),
    );
    let n = 1000;
    let t = Instant::now();
    let mut ids = Vec::new();
    for i in 0..n {
        let p = json!({"resourceType": "Patient", "name": [{"family": format!("F{}", i % 50)}],
                       "identifier": [{"system": "urn:s", "value": i.to_string()}]});
        let resp = rest.handle(FhirRequest::new(Method::Post, "Patient").with_json(&p));
        assert_eq!(resp.status, 201);
        ids.push(resp.json().unwrap()["id"].as_str().unwrap().to_string());
    }
    let create = t.elapsed();
    let t = Instant::now();
    for id in &ids {
        let resp = rest.handle(FhirRequest::new(Method::Get, &format!("Patient/{id}")));
        assert_eq!(resp.status, 200);
    }
    let read = t.elapsed();
    let entries: Vec<_> = (0..50)
        .flat_map(|i| {
            let full = format!("urn:uuid:00000000-0000-4000-8000-{i:012}");
            [
                json!({"fullUrl": full, "resource": {"resourceType": "Patient", "active": true}, "request": {"method": "POST", "url": "Patient"}}),
                json!({"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                        "subject": {"reference": full}}, "request": {"method": "POST", "url": "Observation"}}),
            ]
        })
        .collect();
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
    let t = Instant::now();
    let resp = rest.handle(FhirRequest::new(Method::Post, "").with_json(&bundle));
    assert_eq!(resp.status, 200);
    let tx = t.elapsed();
    let t = Instant::now();
    let resp = rest.handle(FhirRequest::new(Method::Get, "Patient?family=F7&_count=50"));
    assert_eq!(resp.status, 200);
    let search = t.elapsed();
    println!("{n} creates: {:.0}/s", n as f64 / create.as_secs_f64());
    println!("{n} reads: {:.0}/s", n as f64 / read.as_secs_f64());
    println!(
        "transaction of 100 entries: {:.1} ms",
        tx.as_secs_f64() * 1e3
    );
    println!(
        "search family=F7 (20 matches of {n}): {:.1} ms",
        search.as_secs_f64() * 1e3
    );
}
