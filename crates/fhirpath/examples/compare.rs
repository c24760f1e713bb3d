//! Same-method timing as `benches/fhirpath_js.js` for the comparison with fhirpath.js: for each
//! case of `benches/cases.json`, the best per-evaluation time over batches of 1,000 runs during
//! about 3 s (the minimum is the figure least disturbed by other load on a shared machine).
//!
//! `cargo run --release -p crosscare-fhirpath --example compare [case]`
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use crosscare_fhirpath::Expression;
use serde_json::Value;

fn main() {
    let only = std::env::args().nth(1);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches");
    let cases: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    for case in cases.as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let text = std::fs::read_to_string(dir.join("data").join(case["input"].as_str().unwrap()))
            .unwrap();
        let input: Value = serde_json::from_str(&text).unwrap();
        let expr = Expression::compile(case["expression"].as_str().unwrap()).unwrap();
        let result = expr
            .evaluate(&input)
            .unwrap()
            .iter()
            .map(|i| i.to_json())
            .collect::<Vec<_>>();
        let start = Instant::now();
        let mut best = f64::MAX;
        while start.elapsed() < Duration::from_secs(3) {
            let t = Instant::now();
            for _ in 0..1000 {
                std::hint::black_box(expr.evaluate(std::hint::black_box(&input)).unwrap());
            }
            best = best.min(t.elapsed().as_nanos() as f64 / 1000.0);
        }
        let shown: String = Value::Array(result).to_string().chars().take(60).collect();
        println!(
            "{name}\t{:.3} us/eval\t{:.0} evals/s\tresult={shown}",
            best / 1000.0,
            1e9 / best
        );
    }
}
