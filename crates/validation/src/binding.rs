//! Required bindings: a `code`, `Coding` or `CodeableConcept` bound with strength `required`
//! to a value set whose offline expansion is complete must use a code of that expansion.
//!
//! Value sets the spec tables could not expand completely (external code systems, filters) are
//! not checked: a false rejection is worse than a missed one.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use crosscare_spec::model::{BindingStrength, ElementDef, ValueSetDef};
use crosscare_spec::Spec;
use serde_json::Value;

/// The codes of one completely expanded value set, by code and by (system, code).
struct Expansion {
    url: &'static str,
    codes: HashSet<&'static str>,
    pairs: HashSet<(&'static str, &'static str)>,
}

/// Every complete value set, indexed once on first use.
static EXPANSIONS: LazyLock<HashMap<&'static str, Expansion>> = LazyLock::new(|| {
    Spec::r4()
        .data()
        .value_sets
        .iter()
        .filter(|vs| vs.complete)
        .map(|vs: &'static ValueSetDef| {
            let exp = Expansion {
                url: &vs.url,
                codes: vs.codes.iter().map(|c| c.code.as_str()).collect(),
                pairs: vs
                    .codes
                    .iter()
                    .map(|c| (c.system.as_str(), c.code.as_str()))
                    .collect(),
            };
            (vs.url.as_str(), exp)
        })
        .collect()
});

/// The expansion a value of `element` must come from, if its binding is required and the
/// value set is completely known.
fn required_expansion(element: &ElementDef) -> Option<&'static Expansion> {
    let binding = element.binding.as_ref()?;
    if binding.strength != BindingStrength::Required {
        return None;
    }
    let url = binding.value_set.as_deref()?;
    let url = url.split('|').next().unwrap_or(url);
    EXPANSIONS.get(url)
}

/// Checks a value of type `type_code` against the required binding of `element`, returning a
/// message when it is outside the value set.
pub(crate) fn check(element: &ElementDef, type_code: &str, value: &Value) -> Option<String> {
    let exp = required_expansion(element)?;
    match type_code {
        "Coding" => {
            let coding = value.as_object()?;
            if coding_matches(exp, value)? {
                None
            } else {
                let code = coding.get("code").and_then(Value::as_str).unwrap_or("");
                Some(format!(
                    "code {code:?} is not in the required value set {}",
                    exp.url
                ))
            }
        }
        "CodeableConcept" => {
            let codings = value.get("coding").and_then(Value::as_array);
            let codings = codings.map(Vec::as_slice).unwrap_or(&[]);
            // A coding without a code says nothing about membership; only concepts with at
            // least one coded coding are judged.
            let judged: Vec<bool> = codings
                .iter()
                .filter_map(|c| coding_matches(exp, c))
                .collect();
            if judged.is_empty() || judged.iter().any(|&m| m) {
                None
            } else {
                Some(format!(
                    "no coding is from the required value set {}",
                    exp.url
                ))
            }
        }
        _ => {
            let code = value.as_str()?;
            if exp.codes.contains(code) {
                None
            } else {
                Some(format!(
                    "code {code:?} is not in the required value set {}",
                    exp.url
                ))
            }
        }
    }
}

/// `Some(true)` when the coding's code (and system, if given) is in the expansion, `None` when
/// it has no code to judge.
fn coding_matches(exp: &Expansion, coding: &Value) -> Option<bool> {
    let code = coding.get("code")?.as_str()?;
    Some(match coding.get("system").and_then(Value::as_str) {
        Some(system) => exp.pairs.contains(&(system, code)),
        None => exp.codes.contains(code),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check_binding(path: &str, type_code: &str, value: Value, ok: bool) {
        let element = Spec::r4().element(path).unwrap();
        let got = check(element, type_code, &value);
        assert_eq!(got.is_none(), ok, "{path} {value}: {got:?}");
    }

    #[test]
    fn required_bindings() {
        check_binding("Patient.gender", "code", json!("female"), true);
        check_binding("Patient.gender", "code", json!("femme"), false);
        let cs = "http://terminology.hl7.org/CodeSystem/condition-clinical";
        let path = "Condition.clinicalStatus";
        check_binding(
            path,
            "CodeableConcept",
            json!({"coding": [{"system": cs, "code": "active"}]}),
            true,
        );
        check_binding(
            path,
            "CodeableConcept",
            json!({"coding": [{"system": "x", "code": "active"}]}),
            false,
        );
        check_binding(
            path,
            "CodeableConcept",
            json!({"coding": [{"code": "zzz"}, {"code": "active"}]}),
            true,
        );
        check_binding(
            path,
            "CodeableConcept",
            json!({"coding": [{"code": "zzz"}]}),
            false,
        );
        check_binding(path, "CodeableConcept", json!({"text": "active"}), true);
        check_binding("Observation.status", "code", json!("final"), true);
        check_binding("Observation.status", "code", json!("done"), false);
        // Preferred binding: anything goes.
        check_binding(
            "Observation.code",
            "CodeableConcept",
            json!({"coding": [{"code": "x"}]}),
            true,
        );
    }
}
