//! Fuzz target: compile arbitrary text as FHIRPath and evaluate it over a fixed resource and
//! over a resource parsed from the rest of the input. Any panic, stack overflow or runaway
//! allocation is a bug; errors are fine.
#![no_main]

use crosscare_fhirpath::{EvalContext, Expression, Limits};
use libfuzzer_sys::fuzz_target;

const PATIENT: &str = r##"{"resourceType":"Patient","id":"x","birthDate":"1974-12-25",
"_birthDate":{"extension":[{"url":"u","valueDateTime":"1974-12-25T14:35:45-05:00"}]},
"name":[{"family":"F","given":["A","B"]}],"contained":[{"resourceType":"Organization","id":"o"}],
"managingOrganization":{"reference":"#o"},"multipleBirthInteger":2}"##;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // `expression \n json`: the optional second part is the input resource.
    let (expr, json) = text.split_once('\n').unwrap_or((text, PATIENT));
    let Ok(e) = Expression::compile(expr) else { return };
    let Ok(input) = serde_json::from_str::<serde_json::Value>(json) else { return };
    let limits = Limits { max_steps: 100_000, max_collection: 10_000, max_string: 1 << 16 };
    let _ = e.evaluate_with(&EvalContext::new(&input).with_limits(limits));
});
