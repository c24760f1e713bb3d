//! Derived parameters: an R4 parameter whose index values are, on a resource type, exactly
//! the values of other R4 parameters of the same type. Two kinds:
//!
//! - **Unions.** On `Observation`, `combo-code` is `Observation.code | Observation.component.code`,
//!   which are the expressions of `code` and `component-code`; `combo-code-value-quantity` is
//!   the tuples of `code-value-quantity` (on the resource) and `component-code-value-quantity`
//!   (on each component). `P=x` becomes "`Q1=x` or `Q2=x`".
//! - **Joined composites.** A composite whose only node is the resource itself
//!   (`code-value-quantity`: expression `Observation`, components `code` and `value.as(Quantity)`)
//!   has as tuples every combination of its components' values on the resource. When each
//!   component yields exactly the values of a stored parameter of the type (`code`,
//!   `value-quantity`), `P=a$b` becomes "`code=a` and `value-quantity=b`" on the same resource
//!   (or the same contained resource).
//!
//! Such a parameter is neither extracted nor stored: it would repeat rows of the parameters it
//! is made of (a lab `Observation` wrote a third of its index rows for the `combo-*`
//! parameters, and two more for `code-value-quantity`). The query parser answers it from those
//! parameters instead; `:missing` and `:not` follow, and `_sort` takes the smallest value over
//! the parts of a union. The result is the same because the values are: the same branch of an
//! expression, read for a parameter of the same type, yields the same index values.
//!
//! Only R4 core definitions take part, never a custom one (which may be pending, or replace a
//! core code). A custom parameter that replaces a core one which another core parameter is
//! derived from turns that derivation off; resources written before then have no rows for
//! it until `$reindex`.

use crate::convert::may_yield;
use crate::extract::{branches_for_type, union_branches};
use crate::fhirpath_bridge::rewrite_as_on_paths;
use crosscare_spec::model::{SearchParamDef, SearchParamType};
use crosscare_spec::Spec;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// How a parameter without index rows of its own is answered from stored ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Derivation {
    /// Its values are those of these parameters together; each is stored, or
    /// [`Derivation::Joined`].
    Union(Vec<String>),
    /// A composite read on the resource itself: its tuples are every combination of the
    /// values of these stored parameters (one per component, in order, with its type) on one
    /// resource.
    Joined(Vec<(String, SearchParamType)>),
}

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

/// The branches of a non-composite parameter's expression on one type, canonical.
fn simple_branches(resource_type: &str, expression: &str) -> BTreeSet<String> {
    let kept = rewrite_as_on_paths(&branches_for_type(expression, resource_type));
    union_branches(&kept)
        .into_iter()
        .map(canonical)
        .filter(|b| b != "{}")
        .collect()
}

/// `as(T)` as `ofType(T)`: the FHIRPath engine filters a collection with `as` exactly as with
/// `ofType` (the R4 expressions rely on it), so the two spellings select the same nodes.
fn type_filter_canonical(branch: &str) -> String {
    branch.replace(".as(", ".ofType(")
}

/// True when a branch `path.ofType(T)` can never give a value to a parameter of type
/// `param_type`: [`crate::convert`] reads nothing from a `T` for that type, given the elements
/// a `T` may have (every write is validated, so a `T` has no others).
fn yields_nothing(param_type: SearchParamType, branch: &str) -> bool {
    let Some((_, type_name)) = branch
        .strip_suffix(')')
        .and_then(|b| b.rsplit_once(".ofType("))
    else {
        return false;
    };
    if !type_name.chars().all(|c| c.is_ascii_alphanumeric()) {
        return false;
    }
    let spec = Spec::r4();
    if spec.type_def(type_name).is_none() {
        return false;
    }
    !may_yield(param_type, type_name, &|element| {
        spec.element(&format!("{type_name}.{element}")).is_some()
    })
}

/// For a composite whose only node on `resource_type` is the resource itself, the stored
/// parameters its components read (see [`Derivation::Joined`]). Each component must be a
/// parameter in force on the type (`in_force`: by URL, core definitions only) that is stored,
/// and the component's expression must select the same values as that parameter's, up to
/// branches of the parameter that provably yield nothing.
fn joined(
    resource_type: &str,
    def: &SearchParamDef,
    in_force: &dyn Fn(&str) -> Option<Arc<SearchParamDef>>,
    is_union: &dyn Fn(&str) -> bool,
) -> Option<Vec<(String, SearchParamType)>> {
    if def.param_type != SearchParamType::Composite || def.component.is_empty() {
        return None;
    }
    let nodes: Vec<&str> = union_branches(def.expression.as_deref()?)
        .into_iter()
        .filter(|b| *b == resource_type || b.starts_with(&format!("{resource_type}.")))
        .collect();
    if nodes != [resource_type] {
        return None;
    }
    let mut parts = Vec::with_capacity(def.component.len());
    for c in &def.component {
        let part = in_force(&c.definition)?;
        if matches!(
            part.param_type,
            SearchParamType::Composite | SearchParamType::Special
        ) || part.code.starts_with('_')
            || is_union(&part.code)
        {
            return None;
        }
        let stored: BTreeSet<String> = simple_branches(resource_type, part.expression.as_deref()?)
            .iter()
            .map(|b| type_filter_canonical(b))
            .collect();
        let wanted: BTreeSet<String> = union_branches(&rewrite_as_on_paths(&c.expression))
            .into_iter()
            .map(|b| {
                type_filter_canonical(&canonical(&format!("{resource_type}.{}", canonical(b))))
            })
            .collect();
        let extra_yield_nothing = stored
            .difference(&wanted)
            .all(|b| yields_nothing(part.param_type, b));
        if !wanted.is_subset(&stored) || !extra_yield_nothing {
            return None;
        }
        parts.push((part.code.clone(), part.param_type));
    }
    Some(parts)
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
        _ => (simple_branches(resource_type, expression), Vec::new()),
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

/// The derived parameters of one resource type: code → how it is answered from stored
/// parameters. `params` are the definitions in force on the type; `is_core` tells the R4
/// definitions from custom ones.
pub(crate) fn derivations(
    resource_type: &str,
    params: &[Arc<SearchParamDef>],
    is_core: &dyn Fn(&SearchParamDef) -> bool,
    component_defs: &dyn Fn(&str) -> Option<SearchParamType>,
) -> HashMap<String, Derivation> {
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
    // A part may itself be a union (strictly fewer branches, so no cycle): name the others
    // only.
    let mut resolved = HashMap::new();
    for code in out.keys() {
        let mut leaves = Vec::new();
        expand(code, &out, &mut leaves);
        resolved.insert(code.clone(), Derivation::Union(leaves));
    }
    let in_force = |url: &str| params.iter().find(|p| p.url == url && is_core(p)).cloned();
    let is_union = |code: &str| out.contains_key(code);
    for def in params.iter().filter(|d| is_core(d)) {
        if out.contains_key(&def.code) {
            continue;
        }
        if let Some(parts) = joined(resource_type, def, &in_force, &is_union) {
            resolved.insert(def.code.clone(), Derivation::Joined(parts));
        }
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
    use super::{canonical, yields_nothing, Derivation};
    use crate::registry::ParamRegistry;
    use crosscare_spec::model::SearchParamType;

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
        let d = |code: &str| r.derivation("Observation", code).cloned();
        let union = |codes: &[&str]| {
            Some(Derivation::Union(
                codes.iter().map(|c| c.to_string()).collect(),
            ))
        };
        assert_eq!(d("combo-code"), union(&["code", "component-code"]));
        assert_eq!(
            d("combo-value-quantity"),
            union(&["component-value-quantity", "value-quantity"])
        );
        assert_eq!(
            d("combo-code-value-quantity"),
            union(&["code-value-quantity", "component-code-value-quantity"])
        );
        assert_eq!(
            d("combo-data-absent-reason"),
            union(&["component-data-absent-reason", "data-absent-reason"])
        );
        // Stored parameters, references and `_` parameters are never derived.
        for code in [
            "code",
            "value-quantity",
            "component-code-value-quantity",
            "patient",
            "subject",
            "_id",
        ] {
            assert_eq!(d(code), None, "{code}");
        }
    }

    #[test]
    fn composites_on_the_resource_are_joined_when_their_components_are_parameters() {
        let r = ParamRegistry::r4();
        let d = |code: &str| r.derivation("Observation", code).cloned();
        let joined = |parts: &[(&str, SearchParamType)]| {
            Some(Derivation::Joined(
                parts.iter().map(|(c, t)| (c.to_string(), *t)).collect(),
            ))
        };
        use SearchParamType::{Quantity, Token};
        // `value-quantity` also reads `value as SampledData`, which has no `value` to read.
        assert_eq!(
            d("code-value-quantity"),
            joined(&[("code", Token), ("value-quantity", Quantity)])
        );
        assert_eq!(
            d("code-value-concept"),
            joined(&[("code", Token), ("value-concept", Token)])
        );
        // `value-string` also reads `(value as CodeableConcept).text`, which the component
        // does not: the tuples are not the combinations, so the composite stays stored.
        assert_eq!(d("code-value-string"), None);
        // `value.as(DateTime)` is not the spelling of `value-date`'s `value as dateTime`.
        assert_eq!(d("code-value-date"), None);
        // Rooted at an element, not the resource.
        assert_eq!(r.derivation("Group", "characteristic-value"), None);
    }

    #[test]
    fn only_a_provably_empty_branch_may_be_left_over() {
        use SearchParamType::{Quantity, String, Token};
        assert!(yields_nothing(
            Quantity,
            "Observation.value.ofType(SampledData)"
        ));
        for (t, branch) in [
            (Quantity, "Observation.value.ofType(Quantity)"),
            (Quantity, "Observation.value.ofType(Range)"),
            (Quantity, "Observation.value.ofType(integer)"),
            (Quantity, "Observation.value.ofType(Money)"),
            (Quantity, "Observation.value.ofType(Nope)"),
            (Quantity, "Observation.value"),
            (Token, "Observation.value.ofType(SampledData)"),
            (String, "Observation.value.ofType(CodeableConcept).text"),
        ] {
            assert!(!yields_nothing(t, branch), "{branch}");
        }
        // What the promise rests on: converting a full SampledData gives no quantity.
        let sampled = serde_json::json!({"origin": {"value": 1, "unit": "mg"}, "period": 1,
            "factor": 2, "lowerLimit": 0, "upperLimit": 9, "dimensions": 1, "data": "1 2 3"});
        assert_eq!(crate::convert::quantity("SampledData", &sampled), None);
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
        assert_eq!(r.derivation("Observation", "combo-code"), None);
        // `code` is a component of the joined composites too.
        assert_eq!(r.derivation("Observation", "code-value-quantity"), None);
        assert!(r
            .derivation("Observation", "combo-value-quantity")
            .is_some());
    }
}
