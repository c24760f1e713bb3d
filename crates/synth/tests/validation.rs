//! Runs `crosscare-validation` (structure, primitives, required bindings and FHIRPath
//! invariants) over a sample of every generated resource type, and over every Bundle form.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::{collect, small_config};
use crosscare_synth::output::transaction_bundle;
use crosscare_validation::{validate, ValidationOptions};
use serde_json::Value;

/// At most this many resources of each type are validated (invariant evaluation is the slow
/// part); the sample takes the first ones and then every n-th to reach all pathways.
const PER_TYPE: usize = 150;

#[test]
fn a_sample_of_every_generated_type_validates_without_errors() {
    let (all, stats) = collect(&small_config(40, 21));
    let options = ValidationOptions {
        require_id: true,
        ..ValidationOptions::default()
    };
    let mut by_type: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for r in &all {
        by_type
            .entry(r["resourceType"].as_str().unwrap())
            .or_default()
            .push(r);
    }
    let mut failures = Vec::new();
    let mut checked = 0;
    for (ty, resources) in &by_type {
        let step = (resources.len() / PER_TYPE).max(1);
        for r in resources.iter().step_by(step).take(PER_TYPE) {
            checked += 1;
            let report = validate(r, &options);
            for issue in report.errors() {
                failures.push(format!("{ty}/{}: {issue}", r["id"].as_str().unwrap()));
            }
        }
    }
    assert_eq!(by_type.len(), stats.by_type.len());
    assert!(by_type.len() >= 14, "{:?}", by_type.keys());
    assert!(checked > 1000);
    assert!(
        failures.is_empty(),
        "{} errors, first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(30)].join("\n")
    );
    // Negative control: the validator does reject a broken copy of a generated resource.
    let mut broken = by_type["Observation"][0].clone();
    broken["status"] = Value::from("done");
    broken.as_object_mut().unwrap().remove("code");
    assert!(validate(&broken, &options).has_errors());
}

#[test]
fn patient_bundles_validate_without_errors() {
    let (all, _) = collect(&small_config(1, 5));
    let patient_part: Vec<Value> = all
        .into_iter()
        .filter(|r| r["id"].as_str().unwrap().contains("-p-"))
        .take(200)
        .collect();
    let bundle = transaction_bundle("tx-sample", patient_part);
    let report = validate(&bundle, &ValidationOptions::default());
    let errors: Vec<String> = report.errors().map(ToString::to_string).collect();
    assert!(
        errors.is_empty(),
        "{}",
        errors[..errors.len().min(30)].join("\n")
    );
}
