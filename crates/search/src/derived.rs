//! Derived parameters: an R4 parameter whose index values are, on a resource type, exactly
//! the values of other R4 parameters of the same type put together. On `Observation`,
//! `combo-code` is `Observation.code | Observation.component.code`, which are the expressions
//! of `code` and `component-code`; `combo-code-value-quantity` is the tuples of
//! `code-value-quantity` (on the resource) and `component-code-value-quantity` (on each
//! component).
//!
//! Such a parameter is neither extracted nor stored: it would repeat every row of the
//! parameters it is made of (a lab `Observation` wrote a third of its index rows for the
//! `combo-*` parameters). The query parser answers it from those parameters instead: `P=x`
//! becomes "`Q1=x` or `Q2=x`", `:missing` and `:not` follow, and `_sort` takes the smallest
//! value over both. The result is the same because the values are: the same branch of an
//! expression, read for a parameter of the same type, yields the same index values.
//!
//! Only R4 core definitions take part, never a custom one (which may be pending, or replace a
//! core code). A custom parameter that replaces a core one which another core parameter is
//! derived from turns that derivation off; resources written before then have no rows for
//! it until `$reindex`.

use crate::extract::{branches_for_type, union_branches};
use crate::fhirpath_bridge::rewrite_as_on_paths;
use crosscare_spec::model::{SearchParamDef, SearchParamType};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// What a parameter's values are made of on one resource type: the branches of its
/// expression, and for a composite the type and expression of each component.
#[derive(Debug, PartialEq, Eq)]
struct Shape {
    param_type: SearchParamType,
    branches: BTreeSet<String>,
    components: Vec<(SearchParamType, String)>,
}

/// One branch in a comparable form: without the parentheses around the whole branch and with
/// white space collapsed.
fn canonical(branch: &str) -> String {
    let mut b = branch.trim();
    while b.starts_with('(') && b.ends_with(')') && encloses(b) {
        b = b[1..b.len() - 1].trim();
    }
    b.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether the first `(` of `b` closes at its last character.
fn encloses(b: &str) -> bool {
    let mut depth = 0i32;
    for (i, c) in b.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return i == b.len() - 1;
                }
            }
            _ => {}
        }
    }
    false
}

fn shape(
    resource_type: &str,
    def: &SearchParamDef,
    component_defs: &dyn Fn(&str) -> Option<SearchParamType>,
) -> Option<Shape> {
    let expression = def.expression.as_deref()?;
    if def.code.starts_with('_') {
        // Answered from the resource row or common to every type: never derived, never a part.
        return None;
    }
    let (branches, components) = match def.param_type {
        SearchParamType::Reference | SearchParamType::Special => return None,
        SearchParamType::Composite => {
            // As the extractor reads a composite: each branch on this type is a node.
            let branches: BTreeSet<String> = union_branches(expression)
                .into_iter()
                .filter(|b| *b == resource_type || b.starts_with(&format!("{resource_type}.")))
                .map(canonical)
                .collect();
            let mut components = Vec::new();
            for c in &def.component {
                components.push((component_defs(&c.definition)?, canonical(&c.expression)));
            }
            (branches, components)
        }
        _ => {
            let kept = rewrite_as_on_paths(&branches_for_type(expression, resource_type));
            let branches = union_branches(&kept)
                .into_iter()
                .map(canonical)
                .filter(|b| b != "{}")
                .collect();
            (branches, Vec::new())
        }
    };
    if branches.is_empty() {
        return None;
    }
    Some(Shape {
        param_type: def.param_type,
        branches,
        components,
    })
}

/// The derived parameters of one resource type: code → the stored parameters whose values
/// make it up. `params` are the definitions in force on the type; `is_core` tells the R4
/// definitions from custom ones.
pub(crate) fn derivations(
    resource_type: &str,
    params: &[Arc<SearchParamDef>],
    is_core: &dyn Fn(&SearchParamDef) -> bool,
    component_defs: &dyn Fn(&str) -> Option<SearchParamType>,
) -> HashMap<String, Vec<String>> {
    let shapes: Vec<(&str, Shape)> = params
        .iter()
        .filter(|d| is_core(d))
        .filter_map(|d| Some((d.code.as_str(), shape(resource_type, d, component_defs)?)))
        .collect();
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (code, whole) in &shapes {
        // The parts: parameters of the same kind whose branches are a strict subset, the
        // largest first; they must cover the whole without overlapping.
        let mut parts: Vec<&(&str, Shape)> = shapes
            .iter()
            .filter(|(c, s)| {
                c != code
                    && s.param_type == whole.param_type
                    && s.components == whole.components
                    && s.branches.len() < whole.branches.len()
                    && s.branches.is_subset(&whole.branches)
            })
            .collect();
        parts.sort_by(|a, b| {
            b.1.branches
                .len()
                .cmp(&a.1.branches.len())
                .then(a.0.cmp(b.0))
        });
        let mut covered: BTreeSet<&String> = BTreeSet::new();
        let mut chosen = Vec::new();
        for (c, s) in parts {
            if s.branches.iter().all(|b| !covered.contains(b)) {
                covered.extend(s.branches.iter());
                chosen.push(c.to_string());
            }
        }
        if covered.len() == whole.branches.len() {
            out.insert(code.to_string(), chosen);
        }
    }
    // A part may itself be derived (strictly fewer branches, so no cycle): name the stored
    // parameters only.
    let mut resolved = HashMap::new();
    for code in out.keys() {
        let mut stored = Vec::new();
        expand(code, &out, &mut stored);
        resolved.insert(code.clone(), stored);
    }
    resolved
}

fn expand(code: &str, derived: &HashMap<String, Vec<String>>, out: &mut Vec<String>) {
    match derived.get(code) {
        Some(parts) => {
            for p in parts {
                expand(p, derived, out);
            }
        }
        None => {
            if !out.iter().any(|c| c == code) {
                out.push(code.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::canonical;
    use crate::registry::ParamRegistry;

    #[test]
    fn canonical_branches() {
        assert_eq!(
            canonical(" (Observation.value.ofType(Quantity)) "),
            "Observation.value.ofType(Quantity)"
        );
        assert_eq!(canonical("(a) | (b)"), "(a) | (b)");
        assert_eq!(canonical("((a.b))"), "a.b");
        assert_eq!(canonical("a  .where(x = 'y')"), "a .where(x = 'y')");
    }

    #[test]
    fn observation_combo_parameters_are_derived() {
        let r = ParamRegistry::r4();
        let stored = |code: &str| r.stored_params("Observation", code).map(<[String]>::to_vec);
        let v = |codes: &[&str]| Some(codes.iter().map(|c| c.to_string()).collect::<Vec<_>>());
        assert_eq!(stored("combo-code"), v(&["code", "component-code"]));
        assert_eq!(
            stored("combo-value-quantity"),
            v(&["component-value-quantity", "value-quantity"])
        );
        assert_eq!(
            stored("combo-code-value-quantity"),
            v(&["code-value-quantity", "component-code-value-quantity"])
        );
        assert_eq!(
            stored("combo-data-absent-reason"),
            v(&["component-data-absent-reason", "data-absent-reason"])
        );
        // Stored parameters, references and `_` parameters are never derived.
        for code in [
            "code",
            "value-quantity",
            "code-value-quantity",
            "patient",
            "subject",
            "_id",
        ] {
            assert_eq!(stored(code), None, "{code}");
        }
    }

    #[test]
    fn derived_parameters_are_not_extracted_and_match_through_their_parts() {
        let obs = serde_json::json!({"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
            "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "valueQuantity": {"value": 120, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}]});
        let entries = crate::extract("Observation", &obs);
        assert!(
            entries.iter().all(|e| !e.param.starts_with("combo-")),
            "{entries:?}"
        );
        assert!(entries
            .iter()
            .any(|e| e.param == "component-code-value-quantity"));
        let matches = |qs: &str| {
            let q = crate::SearchQuery::parse(
                Some("Observation"),
                &crate::parse_query_string(qs),
                false,
            )
            .expect(qs);
            q.filters
                .iter()
                .map(|f| f.matches(&entries))
                .collect::<Vec<_>>()
        };
        assert_eq!(matches("combo-code=8480-6"), [Some(true)]);
        assert_eq!(matches("combo-code=85354-9"), [Some(true)]);
        assert_eq!(matches("combo-code=1234-5"), [Some(false)]);
        assert_eq!(matches("combo-code:not=8480-6"), [Some(false)]);
        assert_eq!(matches("combo-value-quantity:missing=true"), [Some(false)]);
        assert_eq!(matches("combo-value-concept:missing=true"), [Some(true)]);
        assert_eq!(
            matches("combo-code-value-quantity=8480-6$120"),
            [Some(true)]
        );
        assert_eq!(
            matches("combo-code-value-quantity=85354-9$120"),
            [Some(false)]
        );
    }

    #[test]
    fn a_custom_part_turns_the_derivation_off() {
        let mut code = crosscare_spec::Spec::r4()
            .search_params()
            .iter()
            .find(|d| d.code == "code" && d.base.iter().any(|b| b == "Observation"))
            .cloned()
            .expect("clinical-code");
        code.url = "http://example.org/SearchParameter/obs-code".into();
        code.base = vec!["Observation".into()];
        code.expression = Some("Observation.code".into());
        let r = ParamRegistry::new(vec![code]);
        assert_eq!(r.stored_params("Observation", "combo-code"), None);
        assert!(r
            .stored_params("Observation", "combo-value-quantity")
            .is_some());
    }
}
