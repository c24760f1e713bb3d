//! Differential test of index extraction: the production path (borrowed nodes) must extract
//! exactly the entries, in the same order, and report the same failing expressions as the
//! reference path (every result node copied, as first written), over every official R4 example
//! and a synthetic population of every type the generator emits.
#![allow(clippy::unwrap_used)]

use crosscare_search::registry::ParamRegistry;
use serde_json::Value;
use std::io::Read;

/// The official R4 examples vendored by the validation crate (one `name\tjson` per line).
const EXAMPLES: &[u8] =
    include_bytes!("../../validation/tests/data/examples/r4-examples.ndjson.gz");

fn check(name: &str, resource: &Value) -> usize {
    let ty = resource["resourceType"].as_str().unwrap_or_default();
    let registry = ParamRegistry::r4();
    let fast = registry.extract(ty, resource);
    let reference = registry.extract_reference(ty, resource);
    assert_eq!(fast.0, reference.0, "{name}: entries differ");
    assert_eq!(fast.1, reference.1, "{name}: reported expressions differ");
    fast.0.len()
}

#[test]
fn official_examples_extract_the_same() {
    let mut text = String::new();
    flate2::read::GzDecoder::new(EXAMPLES)
        .read_to_string(&mut text)
        .unwrap();
    let (mut resources, mut entries) = (0, 0);
    for line in text.lines() {
        let (name, json) = line.split_once('\t').unwrap();
        let resource: Value = serde_json::from_str(json).unwrap();
        entries += check(name, &resource);
        resources += 1;
    }
    // The vendored set is the 713 examples of R4 4.0.1; the counts guard against a silent
    // empty comparison.
    assert!(resources >= 700, "{resources} examples");
    assert!(entries > 10 * resources, "{entries} entries");
}

#[test]
fn synthetic_population_extracts_the_same() {
    let config = crosscare_synth::SynthConfig {
        patients: 6,
        volume: 0.3,
        ..crosscare_synth::SynthConfig::default()
    };
    let mut types = std::collections::BTreeSet::new();
    let mut entries = 0;
    crosscare_synth::generate(&config, &mut |r| {
        let ty = r["resourceType"].as_str().unwrap_or_default().to_string();
        entries += check(&format!("{ty}/{}", r["id"]), r);
        types.insert(ty);
        Ok(())
    })
    .unwrap();
    assert!(types.len() >= 10, "{types:?}");
    assert!(entries > 1000, "{entries}");
}
