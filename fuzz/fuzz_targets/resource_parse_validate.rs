//! Fuzz target: arbitrary bytes through `parse_resource` and, when they parse, `validate`
//! with and without invariants. Neither may panic, overflow the stack or run away.
#![no_main]

use crosscare_validation::{parse_resource, validate, ParseLimits, ValidationOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(resource) = parse_resource(data, &ParseLimits::default()) {
        let report = validate(&resource, &ValidationOptions::default());
        let structural = ValidationOptions {
            check_invariants: false,
            ..ValidationOptions::default()
        };
        let plain = validate(&resource, &structural);
        // Invariants only add issues; they never hide structural ones.
        assert!(plain.issues.len() <= report.issues.len());
    }
});
