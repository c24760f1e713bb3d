//! Criterion benchmarks for compiled FHIRPath evaluation (see docs/bench/fhirpath.md).
//!
//! The cases live in `benches/cases.json` so that `benches/fhirpath_js.js` runs exactly the
//! same expressions over the same inputs with fhirpath.js.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use crosscare_fhirpath::Expression;
use serde_json::Value;

fn bench(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches");
    let cases: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    for case in cases.as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let input_file = case["input"].as_str().unwrap();
        let text = std::fs::read_to_string(dir.join("data").join(input_file)).unwrap();
        let input: Value = serde_json::from_str(&text).unwrap();
        let expr = Expression::compile(case["expression"].as_str().unwrap()).unwrap();
        // Evaluate once outside the timing loop to fail fast on a broken case.
        expr.evaluate(&input).unwrap();
        c.bench_function(name, |b| {
            b.iter(|| expr.evaluate(std::hint::black_box(&input)).unwrap().len())
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
