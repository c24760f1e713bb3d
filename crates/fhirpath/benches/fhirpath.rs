//! Criterion benchmarks for compiled FHIRPath evaluation (see docs/bench/fhirpath.md).

fn main() {}
