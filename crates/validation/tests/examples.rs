//! Every official R4 example validates without errors, except those listed with a reason in
//! `tests/data/examples/known-invalid.txt`; and every example survives parse → serialise →
//! parse unchanged, decimals included.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::Read;

use crosscare_validation::{parse_resource, validate, ParseLimits, ValidationOptions};

const EXAMPLES: &[u8] = include_bytes!("data/examples/r4-examples.ndjson.gz");
const KNOWN_INVALID: &str = include_str!("data/examples/known-invalid.txt");

fn examples() -> Vec<(String, String)> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(EXAMPLES)
        .read_to_string(&mut text)
        .unwrap();
    text.lines()
        .map(|line| {
            let (name, json) = line.split_once('\t').unwrap();
            (name.to_string(), json.to_string())
        })
        .collect()
}

fn known_invalid() -> BTreeMap<String, String> {
    KNOWN_INVALID
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, reason) = l.split_once('\t').unwrap_or((l, ""));
            (name.trim().to_string(), reason.trim().to_string())
        })
        .collect()
}

/// Examples can be larger than the default string limit (embedded attachments).
fn limits() -> ParseLimits {
    ParseLimits {
        max_string_len: 16 * 1024 * 1024,
        ..ParseLimits::default()
    }
}

#[test]
fn official_examples_validate() {
    let examples = examples();
    assert_eq!(examples.len(), 713);
    let known = known_invalid();
    let mut unexpected = Vec::new();
    let mut now_valid = Vec::new();
    let mut failing = 0;
    for (name, json) in &examples {
        let value = parse_resource(json.as_bytes(), &limits()).unwrap();
        let report = validate(&value, &ValidationOptions::default());
        let errors: Vec<String> = report.errors().map(ToString::to_string).collect();
        match (errors.is_empty(), known.contains_key(name)) {
            (false, false) => unexpected.push(format!("{name}:\n  {}", errors.join("\n  "))),
            (true, true) => now_valid.push(name.clone()),
            (false, true) => failing += 1,
            (true, false) => {}
        }
    }
    assert!(
        unexpected.is_empty(),
        "{} examples fail validation:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
    assert!(
        now_valid.is_empty(),
        "listed as invalid but now valid (remove from known-invalid.txt): {now_valid:?}"
    );
    assert_eq!(
        failing,
        known.len(),
        "known-invalid.txt names a missing example"
    );
}

#[test]
fn examples_round_trip() {
    for (name, json) in examples() {
        let value = parse_resource(json.as_bytes(), &limits()).unwrap();
        let written = serde_json::to_string(&value).unwrap();
        let again = parse_resource(written.as_bytes(), &limits()).unwrap();
        assert_eq!(value, again, "{name}");
        // Property order and decimal text are preserved, so the minified input comes back
        // byte for byte unless it contains escapes serde_json writes differently.
        if !json.contains('\\') {
            assert_eq!(written, json, "{name}");
        }
    }
}
