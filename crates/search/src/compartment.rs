//! Compartment searches (`Patient/123/Observation`): the OR over the parameters the
//! `CompartmentDefinition` lists for the resource type.

use crate::param::reference::ReferencePredicate;
use crate::param::token::{TokenMatch, TokenPredicate};
use crate::query::{Filter, ParamFilter, Predicate};
use crosscare_spec::model::SearchParamType;
use crosscare_spec::Spec;

/// Membership of `resource_type` in the compartment type `compartment`, from the spec's
/// `CompartmentDefinition`: the reference search parameters that put a resource in the
/// compartment of the resource they point to, and whether the type is the compartment type
/// itself (a resource is in its own compartment). `None` when the type has no members in that
/// compartment (or the compartment is unknown).
pub fn compartment_params(compartment: &str, resource_type: &str) -> Option<(Vec<String>, bool)> {
    let def = Spec::r4().compartment(compartment)?;
    let entry = def.resources.iter().find(|r| r.code == resource_type);
    let includes_self = resource_type == compartment
        || entry.is_some_and(|e| e.params.iter().any(|p| p == "{def}"));
    let params: Vec<String> = entry
        .map(|e| e.params.iter().filter(|p| *p != "{def}").cloned().collect())
        .unwrap_or_default();
    if params.is_empty() && !includes_self {
        return None;
    }
    Some((params, includes_self))
}

/// The resource types with members in the compartment type `compartment`, in the order of the
/// `CompartmentDefinition`.
pub fn compartment_types(compartment: &str) -> Vec<String> {
    let Some(def) = Spec::r4().compartment(compartment) else {
        return Vec::new();
    };
    let mut types: Vec<String> = def
        .resources
        .iter()
        .filter(|r| compartment_params(compartment, &r.code).is_some())
        .map(|r| r.code.clone())
        .collect();
    if !types.iter().any(|t| t == compartment) {
        types.push(compartment.to_string());
    }
    types
}

/// The filter restricting a search of `resource_type` to the compartment `compartment/id`, or
/// `None` when the type has no members in that compartment (or the compartment is unknown).
/// The compartment resource itself is a member of its compartment: for `Patient/123/Patient`
/// the filter also has `_id=123` (`{def}` in a definition means the same).
pub fn compartment_filter(compartment: &str, id: &str, resource_type: &str) -> Option<Filter> {
    let def = Spec::r4().compartment(compartment)?;
    let entry = def.resources.iter().find(|r| r.code == resource_type)?;
    let mut any = Vec::new();
    let mut params: Vec<&str> = entry.params.iter().map(String::as_str).collect();
    if resource_type == compartment && !params.contains(&"{def}") {
        params.push("{def}");
    }
    for param in params {
        if param == "{def}" {
            any.push(Filter::Param(ParamFilter {
                param: "_id".into(),
                param_type: SearchParamType::Token,
                values: vec![Predicate::Token(TokenPredicate {
                    matcher: TokenMatch::Code(id.to_string()),
                })],
            }));
        } else {
            any.push(Filter::Param(ParamFilter {
                param: param.to_string(),
                param_type: SearchParamType::Reference,
                values: vec![Predicate::Reference(ReferencePredicate::Local {
                    resource_type: Some(compartment.to_string()),
                    id: id.to_string(),
                    version: None,
                })],
            }));
        }
    }
    match any.len() {
        0 => None,
        1 => any.pop(),
        _ => Some(Filter::Any(any)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(f: &Filter) -> Vec<String> {
        match f {
            Filter::Any(v) => v.iter().flat_map(params).collect(),
            Filter::Param(p) => vec![p.param.clone()],
            other => panic!("unexpected {other:?}"),
        }
    }

    fn check(compartment: &str, rt: &str, expected: Option<&[&str]>) {
        let got = compartment_filter(compartment, "123", rt).map(|f| params(&f));
        let expected = expected.map(|e| e.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(got, expected, "{compartment}/{rt}");
    }

    #[test]
    fn patient_compartment() {
        check("Patient", "Observation", Some(&["subject", "performer"]));
        check("Patient", "Patient", Some(&["link", "_id"]));
        check("Patient", "CodeSystem", None);
        check("Nope", "Observation", None);
        check("Encounter", "Observation", Some(&["encounter"]));
    }

    #[test]
    fn membership_from_the_definition() {
        let (params, own) = compartment_params("Patient", "Observation").unwrap();
        assert_eq!(
            (params, own),
            (vec!["subject".into(), "performer".into()], false)
        );
        let (params, own) = compartment_params("Patient", "Patient").unwrap();
        assert_eq!((params, own), (vec!["link".into()], true));
        assert_eq!(compartment_params("Patient", "CodeSystem"), None);
        let types = compartment_types("Patient");
        assert!(types.contains(&"Observation".to_string()));
        assert!(types.contains(&"Patient".to_string()));
        assert!(!types.contains(&"CodeSystem".to_string()));
    }
}
