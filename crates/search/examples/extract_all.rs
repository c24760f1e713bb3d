//! Extracts the index entries of every JSON resource in a directory and prints counts,
//! failures and timing: `cargo run -p crosscare-search --example extract_all -- <dir>`.

use crosscare_search::ParamRegistry;
use serde_json::Value;
use std::time::Instant;

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: extract_all <directory of FHIR JSON resources>");
        std::process::exit(2);
    };
    let registry = ParamRegistry::r4();
    let unsupported = registry.unsupported_expressions();
    let mut resources = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("cannot read {dir}");
        std::process::exit(2);
    };
    for entry in entries.flatten() {
        let Ok(bytes) = std::fs::read(entry.path()) else {
            continue;
        };
        let Ok(resource) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        resources.push((entry.path(), resource));
    }
    let start = Instant::now();
    let (mut count, mut failures) = (0usize, 0usize);
    for (path, resource) in &resources {
        let Some(rt) = resource.get("resourceType").and_then(Value::as_str) else {
            continue;
        };
        let (entries, issues) = registry.extract(rt, resource);
        count += entries.len();
        for i in &issues {
            println!(
                "FAIL {}: {} {} -- {}",
                path.display(),
                i.param,
                i.expression,
                i.reason
            );
        }
        failures += issues.len();
    }
    let elapsed = start.elapsed();
    println!(
        "{} resources, {} index entries, {} evaluation failures, {} uncompilable expressions, {:.1} ms ({:.0} µs/resource)",
        resources.len(),
        count,
        failures,
        unsupported.len(),
        elapsed.as_secs_f64() * 1000.0,
        elapsed.as_secs_f64() * 1e6 / resources.len().max(1) as f64
    );
}
