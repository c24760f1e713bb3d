//! Every FHIRPath expression in the R4 definitions (search parameters and element invariants)
//! must compile.
#![allow(clippy::unwrap_used)]

use crosscare_fhirpath::Expression;
use crosscare_spec::Spec;

#[test]
fn all_r4_expressions_compile() {
    let spec = Spec::r4();
    let mut failures = Vec::new();
    let mut count = 0;
    for sp in spec.search_params() {
        if let Some(expr) = &sp.expression {
            count += 1;
            if let Err(e) = Expression::compile(expr) {
                failures.push(format!("search parameter {}: {e}: {expr}", sp.id));
            }
        }
    }
    for t in spec.types() {
        for el in &t.elements {
            for c in &el.constraints {
                count += 1;
                if let Err(e) = Expression::compile(&c.expression) {
                    failures.push(format!("{} {}: {e}: {}", el.path, c.key, c.expression));
                }
            }
        }
    }
    println!("{count} expressions, {} failures", failures.len());
    assert!(count > 1000, "expected the R4 expressions, found {count}");
    assert!(failures.is_empty(), "{failures:#?}");
}
