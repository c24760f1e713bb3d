//! Validations per second on realistic resources, with and without FHIRPath invariants.
#![allow(clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use crosscare_validation::{parse_resource, validate, ParseLimits, ValidationOptions};
use serde_json::Value;

/// A patient, a vital-signs observation and a small transaction Bundle, written in the shape
/// of the official examples.
fn resources() -> Vec<(&'static str, Value)> {
    let patient = include_str!("data/patient.json");
    let observation = include_str!("data/observation.json");
    let bundle = include_str!("data/bundle.json");
    [
        ("patient", patient),
        ("observation", observation),
        ("bundle", bundle),
    ]
    .into_iter()
    .map(|(n, t)| {
        (
            n,
            parse_resource(t.as_bytes(), &ParseLimits::default()).unwrap(),
        )
    })
    .collect()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("validate");
    group.throughput(Throughput::Elements(1));
    for (name, resource) in resources() {
        for invariants in [false, true] {
            let options = ValidationOptions {
                check_invariants: invariants,
                ..ValidationOptions::default()
            };
            assert!(!validate(&resource, &options).has_errors(), "{name}");
            let id = format!(
                "{name}/{}",
                if invariants {
                    "invariants"
                } else {
                    "structure"
                }
            );
            group.bench_function(id, |b| b.iter(|| validate(&resource, &options)));
        }
    }
    group.finish();
    let text = include_str!("data/bundle.json");
    c.bench_function("parse_resource/bundle", |b| {
        b.iter(|| parse_resource(text.as_bytes(), &ParseLimits::default()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
