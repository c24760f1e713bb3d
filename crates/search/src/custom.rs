//! Custom search parameters: a stored `SearchParameter` resource read into the
//! [`SearchParamDef`] the registry works with, and the checks that decide whether it can be put
//! in force next to the R4 core parameters and the other custom ones.
//!
//! What is accepted: types `number`, `date`, `string`, `token`, `reference`, `quantity`, `uri`
//! and `composite` (its components must name parameters the registry knows); a `code` that no
//! other parameter of a base type already uses; an `expression` that compiles for every base
//! type. A definition whose `url` is a core parameter's is the core parameter itself and
//! changes nothing. `special` parameters have no expression semantics and are refused.

use crate::registry::ParamRegistry;
use crosscare_spec::model::{SearchParamComponent, SearchParamDef, SearchParamType};
use crosscare_spec::Spec;
use serde_json::Value;
use std::collections::HashSet;

/// Why a `SearchParameter` cannot be put in force. Each variant names the element at fault.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CustomParamError {
    #[error("SearchParameter.{element} is required for a search parameter the server indexes")]
    Missing { element: &'static str },
    #[error("SearchParameter.{element}: {reason}")]
    Invalid {
        element: &'static str,
        reason: String,
    },
    #[error("SearchParameter.code '{code}' is already the code of {url} on {resource_type}; a resource type has one parameter per code")]
    Clash {
        code: String,
        resource_type: String,
        url: String,
    },
    #[error("SearchParameter.expression does not compile for {resource_type}: {reason}")]
    Expression {
        resource_type: String,
        reason: String,
    },
}

impl CustomParamError {
    /// The FHIRPath location of the element at fault (for `OperationOutcome.issue.expression`).
    pub fn element(&self) -> &'static str {
        match self {
            CustomParamError::Missing { element } | CustomParamError::Invalid { element, .. } => {
                element
            }
            CustomParamError::Clash { .. } => "code",
            CustomParamError::Expression { .. } => "expression",
        }
    }
}

fn text<'a>(resource: &'a Value, element: &'static str) -> Result<&'a str, CustomParamError> {
    resource[element]
        .as_str()
        .filter(|s| !s.trim().is_empty())
        .ok_or(CustomParamError::Missing { element })
}

fn param_type(code: &str) -> Result<SearchParamType, CustomParamError> {
    use SearchParamType as T;
    Ok(match code {
        "number" => T::Number,
        "date" => T::Date,
        "string" => T::String,
        "token" => T::Token,
        "reference" => T::Reference,
        "quantity" => T::Quantity,
        "uri" => T::Uri,
        "composite" => T::Composite,
        "special" => {
            return Err(CustomParamError::Invalid {
                element: "type",
                reason: "'special' parameters have no indexable expression; use another type"
                    .into(),
            })
        }
        other => {
            return Err(CustomParamError::Invalid {
                element: "type",
                reason: format!("'{other}' is not a search parameter type"),
            })
        }
    })
}

/// Reads a `SearchParameter` resource into a definition (structure only: whether it can be put
/// in force is [`ParamRegistry::check_custom`]).
pub fn definition_from_resource(resource: &Value) -> Result<SearchParamDef, CustomParamError> {
    let url = text(resource, "url")?.to_string();
    let code = text(resource, "code")?.to_string();
    if code.starts_with('_')
        || !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(CustomParamError::Invalid {
            element: "code",
            reason: format!(
                "'{code}' is not a usable parameter name (letters, digits, '-' and '_', not \
                 starting with '_', which the specification reserves)"
            ),
        });
    }
    let param_type = param_type(text(resource, "type")?)?;
    let expression = text(resource, "expression")?.to_string();
    let base: Vec<String> = resource["base"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    if base.is_empty() {
        return Err(CustomParamError::Missing { element: "base" });
    }
    let spec = Spec::r4();
    for b in &base {
        if !spec.is_resource_type(b) {
            return Err(CustomParamError::Invalid {
                element: "base",
                reason: format!("'{b}' is not a resource type"),
            });
        }
    }
    let strings = |element: &str| -> Vec<String> {
        resource[element]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    let mut component = Vec::new();
    for c in resource["component"].as_array().into_iter().flatten() {
        let (Some(definition), Some(expression)) =
            (c["definition"].as_str(), c["expression"].as_str())
        else {
            return Err(CustomParamError::Invalid {
                element: "component",
                reason: "every component needs a definition and an expression".into(),
            });
        };
        component.push(SearchParamComponent {
            definition: definition.to_string(),
            expression: expression.to_string(),
        });
    }
    if param_type == SearchParamType::Composite && component.is_empty() {
        return Err(CustomParamError::Missing {
            element: "component",
        });
    }
    Ok(SearchParamDef {
        id: resource["id"].as_str().unwrap_or_default().to_string(),
        url,
        code,
        base,
        param_type,
        expression: Some(expression),
        target: strings("target"),
        component,
        modifier: strings("modifier"),
        comparator: strings("comparator"),
        description: resource["description"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    })
}

/// Whether `url` is one of the R4 core parameters.
pub fn is_core(url: &str) -> bool {
    ParamRegistry::r4().by_url(url).is_some()
}

impl ParamRegistry {
    /// Checks that `def` can be in force together with this registry's parameters, the custom
    /// definition with the same URL (an older version of it) left out: its code is free on
    /// every base type, its components are known, its expression compiles for every base.
    pub fn check_custom(&self, def: &SearchParamDef) -> Result<(), CustomParamError> {
        for component in &def.component {
            let known = component.definition != def.url
                && self.by_url(&component.definition).is_some_and(|c| {
                    c.param_type != SearchParamType::Composite
                        && c.param_type != SearchParamType::Special
                });
            if !known {
                return Err(CustomParamError::Invalid {
                    element: "component",
                    reason: format!(
                        "component definition {} is not a non-composite search parameter of \
                         this server",
                        component.definition
                    ),
                });
            }
        }
        let spec = Spec::r4();
        let mut others: Vec<SearchParamDef> = self
            .custom()
            .iter()
            .filter(|c| c.url != def.url)
            .map(|c| (**c).clone())
            .collect();
        for rt in self.resource_types() {
            let applies = def
                .base
                .iter()
                .any(|b| b == rt || spec.is_subtype_of(rt, b));
            if !applies {
                continue;
            }
            let clash = self
                .params(rt)
                .iter()
                .find(|p| p.code == def.code && p.url != def.url);
            if let Some(p) = clash {
                return Err(CustomParamError::Clash {
                    code: def.code.clone(),
                    resource_type: rt.to_string(),
                    url: p.url.clone(),
                });
            }
        }
        others.push(def.clone());
        let trial = ParamRegistry::with_pending(others, HashSet::new());
        for rt in trial.resource_types() {
            if !trial.params(rt).iter().any(|p| p.url == def.url) {
                continue;
            }
            if let Some(bad) = trial
                .compiled(rt)
                .and_then(|t| t.unsupported_for(&def.code))
            {
                return Err(CustomParamError::Expression {
                    resource_type: rt.to_string(),
                    reason: bad.reason.clone(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sp(code: &str, base: &[&str], ty: &str, expression: &str) -> Value {
        json!({
            "resourceType": "SearchParameter",
            "id": code,
            "url": format!("https://example.org/sp/{code}"),
            "name": code,
            "status": "active",
            "description": "test",
            "code": code,
            "base": base,
            "type": ty,
            "expression": expression,
        })
    }

    fn check(resource: Value) -> Result<(), CustomParamError> {
        let def = definition_from_resource(&resource)?;
        ParamRegistry::r4().check_custom(&def)
    }

    #[test]
    fn a_well_formed_parameter_is_accepted() {
        assert_eq!(
            check(sp(
                "birth-place",
                &["Patient"],
                "string",
                "Patient.extension.where(url='http://hl7.org/fhir/StructureDefinition/patient-birthPlace').value.city"
            )),
            Ok(())
        );
        assert_eq!(
            check(sp(
                "eye-colour",
                &["Observation", "Condition"],
                "token",
                "Observation.code | Condition.code"
            )),
            Ok(())
        );
    }

    #[test]
    fn each_defect_names_its_element() {
        let cases = [
            (sp("x", &["Patient"], "special", "Patient.name"), "type"),
            (sp("x", &["Patient"], "bogus", "Patient.name"), "type"),
            (sp("_x", &["Patient"], "string", "Patient.name"), "code"),
            (sp("a b", &["Patient"], "string", "Patient.name"), "code"),
            (sp("x", &["Nope"], "string", "Patient.name"), "base"),
            (sp("x", &[], "string", "Patient.name"), "base"),
            (sp("family", &["Patient"], "string", "Patient.name"), "code"),
            (
                sp("x", &["Patient"], "string", "Patient.name.("),
                "expression",
            ),
            (sp("x", &["Patient"], "composite", "Patient"), "component"),
        ];
        for (resource, element) in cases {
            let err = check(resource.clone()).expect_err(&resource.to_string());
            assert_eq!(err.element(), element, "{err} for {resource}");
        }
        let mut no_expression = sp("x", &["Patient"], "string", "Patient.name");
        no_expression
            .as_object_mut()
            .map(|o| o.shift_remove("expression"));
        assert_eq!(
            check(no_expression),
            Err(CustomParamError::Missing {
                element: "expression"
            })
        );
    }

    #[test]
    fn a_core_url_is_the_core_parameter() {
        let def = ParamRegistry::r4()
            .by_url("http://hl7.org/fhir/SearchParameter/individual-family")
            .cloned();
        let def = def.expect("core family");
        assert!(is_core(&def.url));
        assert!(!is_core("https://example.org/sp/x"));
    }

    #[test]
    fn a_pending_parameter_is_indexed_but_refused_in_searches() {
        let def = definition_from_resource(&sp(
            "nick",
            &["Patient"],
            "string",
            "Patient.name.where(use='nickname').given",
        ))
        .unwrap();
        let url = def.url.clone();
        let pending = ParamRegistry::with_pending(vec![def.clone()], HashSet::from([url]));
        let patient = json!({"resourceType": "Patient", "id": "p",
            "name": [{"use": "nickname", "given": ["Jo"]}]});
        let (entries, _) = pending.extract("Patient", &patient);
        assert!(entries.iter().any(|e| e.param == "nick"));
        let params = vec![("nick".to_string(), "jo".to_string())];
        let err = crate::SearchQuery::parse_with(&pending, Some("Patient"), &params, true)
            .expect_err("pending is refused, even when lenient");
        assert!(
            matches!(err, crate::SearchError::NotYetIndexed { .. }),
            "{err}"
        );
        let ready = ParamRegistry::new(vec![def]);
        assert!(crate::SearchQuery::parse_with(&ready, Some("Patient"), &params, false).is_ok());
        assert!(pending
            .searchable_params("Patient")
            .all(|p| p.code != "nick"));
        assert!(ready.searchable_params("Patient").any(|p| p.code == "nick"));
    }
}
