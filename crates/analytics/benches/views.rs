//! Throughput of ViewDefinitions over generated NDJSON: a patient view (forEach over
//! identifiers) and an observation view (forEachOrNull over components), to CSV and Parquet.
//! Run with `cargo bench -p crosscare-analytics --bench views`; `BENCH_RESOURCES` sets the
//! number of resources per file (default 100000).
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crosscare_analytics::{open_output, run_files, writer_for, Format};
use serde_json::{json, Value};

/// A small deterministic generator (64-bit LCG) so runs are comparable.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

const FAMILIES: [&str; 6] = ["Smith", "Jones", "Müller", "García", "O'Brien", "Nguyen"];
const GIVENS: [&str; 6] = ["Anna", "Ben", "Chloé", "David", "Eva", "Farid"];

fn patient(i: u64, rng: &mut Lcg) -> Value {
    let mut identifiers =
        vec![json!({"system": "urn:oid:1.2.36.146.595.217.0.1", "value": format!("MRN{i:08}")})];
    if rng.next(2) == 0 {
        identifiers.push(json!({"system": "http://ns.electronichealth.net.au/id/medicare-number", "value": format!("{}", 6_000_000_000u64 + i)}));
    }
    let gender = ["male", "female", "other", "unknown"][rng.next(4) as usize];
    json!({
        "resourceType": "Patient",
        "id": format!("p{i}"),
        "meta": {"versionId": "1", "lastUpdated": "2024-01-01T00:00:00Z"},
        "identifier": identifiers,
        "active": true,
        "name": [{"use": "official", "family": FAMILIES[rng.next(6) as usize], "given": [GIVENS[rng.next(6) as usize], GIVENS[rng.next(6) as usize]]}],
        "gender": gender,
        "birthDate": format!("{}-{:02}-{:02}", 1930 + rng.next(90), 1 + rng.next(12), 1 + rng.next(28)),
        "address": [{"line": [format!("{} Main St", rng.next(999))], "city": "Springfield", "postalCode": format!("{:05}", rng.next(99999))}]
    })
}

fn observation(i: u64, rng: &mut Lcg) -> Value {
    let subject = json!({"reference": format!("Patient/p{}", rng.next(100_000))});
    let effective = format!(
        "2023-{:02}-{:02}T{:02}:15:00Z",
        1 + rng.next(12),
        1 + rng.next(28),
        rng.next(24)
    );
    if rng.next(2) == 0 {
        json!({
            "resourceType": "Observation", "id": format!("o{i}"), "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}]},
            "subject": subject, "effectiveDateTime": effective,
            "valueQuantity": {"value": 40 + rng.next(80), "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}
        })
    } else {
        let q = |v: u64| json!({"value": v, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"});
        json!({
            "resourceType": "Observation", "id": format!("o{i}"), "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure panel"}]},
            "subject": subject, "effectiveDateTime": effective,
            "component": [
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": q(100 + rng.next(60))},
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": q(60 + rng.next(40))}
            ]
        })
    }
}

fn generate(path: &Path, n: u64, make: fn(u64, &mut Lcg) -> Value) {
    let mut rng = Lcg(42);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..n {
        serde_json::to_writer(&mut out, &make(i, &mut rng)).unwrap();
        out.write_all(b"\n").unwrap();
    }
    out.flush().unwrap();
}

fn patient_view() -> Value {
    json!({"resourceType": "ViewDefinition", "name": "patient", "resource": "Patient", "select": [
        {"column": [
            {"name": "id", "path": "getResourceKey()", "type": "id"},
            {"name": "gender", "path": "gender", "type": "code"},
            {"name": "birth_date", "path": "birthDate", "type": "date"},
            {"name": "family", "path": "name.first().family", "type": "string"},
            {"name": "given", "path": "name.first().given.join(' ')", "type": "string"},
            {"name": "postal_code", "path": "address.first().postalCode", "type": "string"}]},
        {"forEach": "identifier", "column": [
            {"name": "identifier_system", "path": "system", "type": "uri"},
            {"name": "identifier_value", "path": "value", "type": "string"}]}]})
}

fn observation_view() -> Value {
    json!({"resourceType": "ViewDefinition", "name": "observation", "resource": "Observation", "select": [
        {"column": [
            {"name": "id", "path": "getResourceKey()", "type": "id"},
            {"name": "patient", "path": "subject.getReferenceKey(Patient)", "type": "string"},
            {"name": "code_system", "path": "code.coding.first().system", "type": "uri"},
            {"name": "code", "path": "code.coding.first().code", "type": "code"},
            {"name": "effective", "path": "effective.ofType(dateTime)", "type": "dateTime"},
            {"name": "value", "path": "value.ofType(Quantity).value", "type": "decimal"},
            {"name": "unit", "path": "value.ofType(Quantity).unit", "type": "string"}]},
        {"forEachOrNull": "component", "column": [
            {"name": "component_code", "path": "code.coding.first().code", "type": "code"},
            {"name": "component_value", "path": "value.ofType(Quantity).value", "type": "decimal"}]}]})
}

fn main() {
    let n: u64 = std::env::var("BENCH_RESOURCES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let patients: PathBuf = dir.path().join("patients.ndjson");
    let observations: PathBuf = dir.path().join("observations.ndjson");
    generate(&patients, n, patient);
    generate(&observations, n, observation);
    println!(
        "{:<12} {:<8} {:>10} {:>10} {:>9} {:>12} {:>14}",
        "view", "format", "resources", "rows", "seconds", "rows/s", "resources/s"
    );
    // The floor: reading and parsing the NDJSON without any view.
    for (name, input) in [("parse-only", &patients), ("parse-only", &observations)] {
        let start = Instant::now();
        let mut count = 0u64;
        crosscare_analytics::input::for_each_resource(input, &mut |_, _, _| {
            count += 1;
            Ok(())
        })
        .unwrap();
        let secs = start.elapsed().as_secs_f64();
        let file = input.file_name().unwrap().to_string_lossy();
        println!(
            "{:<12} {:<8} {:>10} {:>10} {:>9.3} {:>12} {:>14.0}",
            name,
            &file[..3],
            count,
            "-",
            secs,
            "-",
            count as f64 / secs
        );
    }
    for (name, view, input) in [
        ("patient", patient_view(), &patients),
        ("observation", observation_view(), &observations),
    ] {
        for (format, ext) in [(Format::Csv, "csv"), (Format::Parquet, "parquet")] {
            let out_path = dir.path().join(format!("{name}.{ext}"));
            let writer = writer_for(format, open_output(Some(&out_path)).unwrap());
            let start = Instant::now();
            let stats = run_files(&view, std::slice::from_ref(input), writer).unwrap();
            let secs = start.elapsed().as_secs_f64();
            println!(
                "{:<12} {:<8} {:>10} {:>10} {:>9.3} {:>12.0} {:>14.0}",
                name,
                ext,
                stats.resources,
                stats.rows,
                secs,
                stats.rows as f64 / secs,
                stats.resources as f64 / secs
            );
        }
    }
}
