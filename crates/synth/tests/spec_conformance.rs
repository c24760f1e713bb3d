//! Checks every generated resource against the R4 element tables: each property exists, has the
//! right cardinality shape and JSON type, every required element is present, and codes bound
//! with `required` strength come from their (fully expanded) value sets.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::{collect, small_config};
use crosscare_spec::model::BindingStrength;
use crosscare_spec::Spec;
use serde_json::Value;

struct Checker<'a> {
    spec: &'a Spec,
    errors: Vec<String>,
}

impl Checker<'_> {
    fn required_binding_ok(&self, url: &str, system: Option<&str>, code: &str) -> bool {
        match self.spec.value_set(url) {
            Some(vs) if vs.complete => vs
                .codes
                .iter()
                .any(|c| c.code == code && system.is_none_or(|s| s == c.system)),
            // Value sets that cannot be expanded offline are not checked here.
            _ => true,
        }
    }

    fn node(&mut self, parent: &str, value: &Value, at: &str) {
        let Value::Object(map) = value else {
            self.errors.push(format!("{at}: expected an object"));
            return;
        };
        for (name, v) in map {
            if name == "resourceType" && !parent.contains('.') && self.spec.is_resource_type(parent)
            {
                continue;
            }
            let Some(child) = self.spec.child(parent, name) else {
                self.errors
                    .push(format!("{at}.{name}: no such element under {parent}"));
                continue;
            };
            let many = child.element.max != Some(1);
            let items: Vec<&Value> = match (many, v) {
                (true, Value::Array(a)) => a.iter().collect(),
                (false, Value::Array(_)) => {
                    self.errors
                        .push(format!("{at}.{name}: array for a 0..1 element"));
                    continue;
                }
                (true, _) => {
                    self.errors
                        .push(format!("{at}.{name}: 0..* element must be an array"));
                    continue;
                }
                (false, x) => vec![x],
            };
            let binding = child
                .element
                .binding
                .as_ref()
                .filter(|b| b.strength == BindingStrength::Required)
                .and_then(|b| b.value_set.clone());
            for item in items {
                let loc = format!("{at}.{name}");
                self.value(&child, item, &loc, binding.as_deref());
            }
        }
        for el in self.spec.children(parent) {
            if el.min == 0 {
                continue;
            }
            let last = el.path.rsplit('.').next().unwrap();
            let present = match last.strip_suffix("[x]") {
                Some(base) => map.keys().any(|k| k.starts_with(base)),
                None => map.contains_key(last),
            };
            if !present {
                self.errors
                    .push(format!("{at}: missing required {}", el.path));
            }
        }
    }

    fn value(
        &mut self,
        child: &crosscare_spec::Child,
        item: &Value,
        at: &str,
        binding: Option<&str>,
    ) {
        let ty = child.type_code;
        match ty {
            "string" | "code" | "uri" | "url" | "canonical" | "id" | "markdown" | "dateTime"
            | "date" | "instant" | "oid" | "uuid" | "base64Binary" | "time" => {
                let Some(s) = item.as_str() else {
                    self.errors
                        .push(format!("{at}: {ty} must be a JSON string"));
                    return;
                };
                if ty == "code" {
                    if let Some(url) = binding {
                        if !self.required_binding_ok(url, None, s) {
                            self.errors
                                .push(format!("{at}: code {s} not in required {url}"));
                        }
                    }
                }
                if ty == "id"
                    && !(s.len() <= 64
                        && s.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'))
                {
                    self.errors.push(format!("{at}: bad id {s}"));
                }
            }
            "boolean" if !item.is_boolean() => self.errors.push(format!("{at}: boolean expected")),
            "decimal" | "integer" | "positiveInt" | "unsignedInt" if !item.is_number() => {
                self.errors.push(format!("{at}: number expected"))
            }
            "boolean" | "decimal" | "integer" | "positiveInt" | "unsignedInt" => {}
            _ => {
                if let Some(url) = binding {
                    let codings: Vec<&Value> = match ty {
                        "Coding" => vec![item],
                        "CodeableConcept" => item["coding"]
                            .as_array()
                            .map(|a| a.iter().collect())
                            .unwrap_or_default(),
                        _ => vec![],
                    };
                    if (ty == "Coding" || ty == "CodeableConcept")
                        && !codings.iter().any(|c| {
                            self.required_binding_ok(
                                url,
                                c["system"].as_str(),
                                c["code"].as_str().unwrap_or(""),
                            )
                        })
                    {
                        self.errors
                            .push(format!("{at}: no coding from required {url}"));
                    }
                }
                self.node(child.children_path, item, at);
            }
        }
    }
}

#[test]
fn every_generated_resource_matches_the_r4_element_tables() {
    let spec = Spec::r4();
    let (all, stats) = collect(&small_config(40, 21));
    let mut checker = Checker {
        spec,
        errors: Vec::new(),
    };
    let mut checked: BTreeMap<String, usize> = BTreeMap::new();
    for r in &all {
        let ty = r["resourceType"].as_str().unwrap();
        assert!(spec.is_resource_type(ty), "{ty}");
        checker.node(ty, r, &format!("{ty}/{}", r["id"].as_str().unwrap()));
        *checked.entry(ty.to_string()).or_default() += 1;
    }
    let mut errors = checker.errors;
    errors.sort();
    errors.dedup_by(|a, b| a.split(':').nth(1) == b.split(':').nth(1));
    assert!(
        errors.is_empty(),
        "{} problems, first ones:\n{}",
        errors.len(),
        errors[..errors.len().min(30)].join("\n")
    );
    // Every resource type the generator knows appears in this population.
    for ty in [
        "Patient",
        "Organization",
        "Location",
        "Practitioner",
        "PractitionerRole",
        "Encounter",
        "Condition",
        "Observation",
        "DiagnosticReport",
        "Procedure",
        "MedicationRequest",
        "Immunization",
        "AllergyIntolerance",
        "Consent",
    ] {
        assert!(
            checked.get(ty).copied().unwrap_or(0) > 0,
            "{ty} not generated ({stats:?})"
        );
    }
}

#[test]
fn checker_catches_mistakes() {
    let spec = Spec::r4();
    let mut checker = Checker {
        spec,
        errors: Vec::new(),
    };
    let bad = serde_json::json!({
        "resourceType": "Observation", "id": "x",
        "status": "done",
        "code": {"text": "t"},
        "category": {"text": "not an array"},
        "valueQuantity": {"value": "1"},
        "colour": "red",
    });
    checker.node("Observation", &bad, "Observation/x");
    let text = checker.errors.join("\n");
    for expected in [
        "code done not in required",
        "0..* element must be an array",
        "number expected",
        "no such element",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}
