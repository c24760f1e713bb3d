//! From one typed node (a FHIR type name and its JSON) to the index values of a search
//! parameter of a given type. The node's FHIR type decides the shape: a `HumanName` under a
//! `string` parameter yields one string per name part; a `CodeableConcept` under a `token`
//! parameter yields one token per coding.

use crate::index::IndexValue;
use crate::normalize::normalize;
use crate::param::date::DateRange;
use crate::param::number::{range_value, NumberValue};
use crate::param::quantity::QuantityValue;
use crate::param::reference::ReferenceValue;
use crate::param::string::StringValue;
use crate::param::token::TokenValue;
use crosscare_spec::model::SearchParamType;
use serde_json::Value;

/// The ISO 4217 currency system used for `Money.currency`.
pub const CURRENCY_SYSTEM: &str = "urn:iso:std:iso:4217";

/// The index values of one node for a parameter of type `param_type`. `root` is the resource
/// the node was taken from (to resolve `#id` references to contained resources). Types that
/// make no sense for the parameter type yield nothing.
pub fn index_values(
    param_type: SearchParamType,
    fhir_type: &str,
    json: &Value,
    root: &Value,
) -> Vec<IndexValue> {
    match param_type {
        SearchParamType::Token => tokens(fhir_type, json)
            .into_iter()
            .map(IndexValue::Token)
            .collect(),
        SearchParamType::String => strings(fhir_type, json)
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(|s| IndexValue::String(StringValue::new(&s)))
            .collect(),
        SearchParamType::Date => date(fhir_type, json)
            .map(IndexValue::Date)
            .into_iter()
            .collect(),
        SearchParamType::Number => number(fhir_type, json)
            .map(IndexValue::Number)
            .into_iter()
            .collect(),
        SearchParamType::Quantity => quantity(fhir_type, json)
            .map(IndexValue::Quantity)
            .into_iter()
            .collect(),
        SearchParamType::Reference => reference(fhir_type, json, root)
            .map(IndexValue::Reference)
            .into_iter()
            .collect(),
        SearchParamType::Uri => json
            .as_str()
            .map(|s| IndexValue::Uri(s.to_string()))
            .into_iter()
            .collect(),
        SearchParamType::Composite | SearchParamType::Special => Vec::new(),
    }
}

fn str_field(json: &Value, key: &str) -> Option<String> {
    json.get(key).and_then(Value::as_str).map(str::to_string)
}

fn str_list(json: &Value, key: &str) -> Vec<String> {
    match json.get(key) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn coding(json: &Value, text: Option<&str>) -> TokenValue {
    let display = || json.get("display").and_then(Value::as_str);
    TokenValue {
        system: str_field(json, "system"),
        code: str_field(json, "code"),
        text: text.or_else(display).map(normalize),
        ..TokenValue::default()
    }
}

fn codings(json: &Value) -> Vec<&Value> {
    json.get("coding")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// Tokens of one node.
pub fn tokens(fhir_type: &str, json: &Value) -> Vec<TokenValue> {
    match fhir_type {
        "Coding" => vec![coding(json, None)],
        "CodeableConcept" => {
            let text = json.get("text").and_then(Value::as_str);
            let mut out: Vec<TokenValue> =
                codings(json).into_iter().map(|c| coding(c, text)).collect();
            if out.is_empty() {
                if let Some(t) = text {
                    out.push(TokenValue {
                        text: Some(normalize(t)),
                        ..TokenValue::default()
                    });
                }
            }
            out
        }
        "Identifier" => {
            let base = TokenValue {
                system: str_field(json, "system"),
                code: str_field(json, "value"),
                text: json
                    .get("type")
                    .and_then(|t| str_field(t, "text"))
                    .map(|t| normalize(&t)),
                ..TokenValue::default()
            };
            if base.system.is_none() && base.code.is_none() {
                return Vec::new();
            }
            let types: Vec<&Value> = json.get("type").map(codings).unwrap_or_default();
            if types.is_empty() {
                return vec![base];
            }
            types
                .into_iter()
                .map(|t| TokenValue {
                    type_system: str_field(t, "system"),
                    type_code: str_field(t, "code"),
                    ..base.clone()
                })
                .collect()
        }
        "ContactPoint" => str_field(json, "value")
            .map(|v| TokenValue {
                code: Some(v),
                ..TokenValue::default()
            })
            .into_iter()
            .collect(),
        _ => scalar_text(json)
            .map(|v| TokenValue {
                code: Some(v),
                ..TokenValue::default()
            })
            .into_iter()
            .collect(),
    }
}

/// A primitive's text (`true`, `12`, `final`).
fn scalar_text(json: &Value) -> Option<String> {
    match json {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The string parts of one node.
pub fn strings(fhir_type: &str, json: &Value) -> Vec<String> {
    match fhir_type {
        "HumanName" => {
            let mut v = str_list(json, "family");
            for k in ["given", "prefix", "suffix", "text"] {
                v.extend(str_list(json, k));
            }
            v
        }
        "Address" => {
            let mut v = str_list(json, "line");
            for k in ["city", "district", "state", "postalCode", "country", "text"] {
                v.extend(str_list(json, k));
            }
            v
        }
        "CodeableConcept" => {
            let mut v = str_list(json, "text");
            v.extend(
                codings(json)
                    .into_iter()
                    .filter_map(|c| str_field(c, "display")),
            );
            v
        }
        "Coding" => str_list(json, "display"),
        "Reference" => str_list(json, "display"),
        "Annotation" => str_list(json, "text"),
        _ => scalar_text(json).into_iter().collect(),
    }
}

/// The date range of one node.
pub fn date(fhir_type: &str, json: &Value) -> Option<DateRange> {
    match fhir_type {
        "Period" => {
            let start = json
                .get("start")
                .and_then(Value::as_str)
                .and_then(|s| DateRange::parse(s).ok());
            let end = json
                .get("end")
                .and_then(Value::as_str)
                .and_then(|s| DateRange::parse(s).ok());
            if start.is_none() && end.is_none() {
                return None;
            }
            Some(DateRange::new(
                start.and_then(|r| r.low),
                end.and_then(|r| r.high),
            ))
        }
        "Timing" => {
            let mut ranges: Vec<DateRange> = json
                .get("event")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter_map(|s| DateRange::parse(s).ok())
                .collect();
            if let Some(p) = json.get("repeat").and_then(|r| r.get("boundsPeriod")) {
                ranges.extend(date("Period", p));
            }
            let low = ranges.iter().map(|r| r.low).min()?;
            let high = if ranges.iter().any(|r| r.high.is_none()) {
                None
            } else {
                ranges.iter().filter_map(|r| r.high).max()
            };
            Some(DateRange::new(low, high))
        }
        _ => json.as_str().and_then(|s| DateRange::parse(s).ok()),
    }
}

fn json_number(json: Option<&Value>) -> Option<NumberValue> {
    match json? {
        Value::Number(n) => NumberValue::parse(&n.to_string()).ok(),
        Value::String(s) => NumberValue::parse(s).ok(),
        _ => None,
    }
}

/// The number of one node.
pub fn number(fhir_type: &str, json: &Value) -> Option<NumberValue> {
    match fhir_type {
        "Range" => range_value(
            json.get("low")
                .and_then(|l| json_number(l.get("value")))
                .map(|n| n.value),
            json.get("high")
                .and_then(|h| json_number(h.get("value")))
                .map(|n| n.value),
        ),
        "Quantity" | "Age" | "Duration" | "Distance" | "Count" | "SimpleQuantity"
        | "MoneyQuantity" | "Money" => json_number(json.get("value")),
        _ => json_number(Some(json)),
    }
}

/// Where [`quantity`] reads a node's quantity from, by the node's type.
enum QuantitySource {
    /// `Money`: `value` and `currency`.
    Money,
    /// `Range`: its bounds.
    Range,
    /// A number primitive: the node itself.
    Number,
    /// Every other type, read like a `Quantity`: its `value`, `system`, `code` and `unit`.
    ValueElement,
}

fn quantity_source(fhir_type: &str) -> QuantitySource {
    match fhir_type {
        "Money" => QuantitySource::Money,
        "Range" => QuantitySource::Range,
        "integer" | "decimal" | "positiveInt" | "unsignedInt" => QuantitySource::Number,
        _ => QuantitySource::ValueElement,
    }
}

/// Whether a node of type `fhir_type` may give a value to a parameter of type `param_type`,
/// as [`index_values`] reads it; `has_element` tells whether the type defines an element of
/// that name. `true` whenever unsure: only a `false` is a promise (the derived parameters
/// rely on it, see `derived`).
pub(crate) fn may_yield(
    param_type: SearchParamType,
    fhir_type: &str,
    has_element: &dyn Fn(&str) -> bool,
) -> bool {
    match (param_type, quantity_source(fhir_type)) {
        (SearchParamType::Quantity, QuantitySource::ValueElement) => has_element("value"),
        _ => true,
    }
}

/// The quantity of one node.
pub fn quantity(fhir_type: &str, json: &Value) -> Option<QuantityValue> {
    match quantity_source(fhir_type) {
        QuantitySource::Money => Some(QuantityValue {
            number: json_number(json.get("value"))?,
            system: json.get("currency").map(|_| CURRENCY_SYSTEM.to_string()),
            code: str_field(json, "currency"),
            unit: None,
        }),
        QuantitySource::Range => {
            let unit_of = json.get("low").or_else(|| json.get("high"))?;
            Some(QuantityValue {
                number: number("Range", json)?,
                system: str_field(unit_of, "system"),
                code: str_field(unit_of, "code"),
                unit: str_field(unit_of, "unit"),
            })
        }
        QuantitySource::Number => Some(QuantityValue {
            number: json_number(Some(json))?,
            system: None,
            code: None,
            unit: None,
        }),
        QuantitySource::ValueElement => Some(QuantityValue {
            number: json_number(json.get("value"))?,
            system: str_field(json, "system"),
            code: str_field(json, "code"),
            unit: str_field(json, "unit"),
        }),
    }
}

/// The reference of one node; `#id` references take their type from the contained resource.
pub fn reference(fhir_type: &str, json: &Value, root: &Value) -> Option<ReferenceValue> {
    match fhir_type {
        "Reference" => {
            let mut v = json
                .get("reference")
                .and_then(Value::as_str)
                .map(ReferenceValue::parse)
                .unwrap_or_default();
            if v.resource_type.is_none() {
                v.resource_type = str_field(json, "type");
            }
            if let Some(local) = &v.contained {
                v.resource_type = contained_type(root, local);
            }
            v.identifier = json
                .get("identifier")
                .and_then(|i| tokens("Identifier", i).into_iter().next());
            let empty = v.id.is_none()
                && v.url.is_none()
                && v.contained.is_none()
                && v.identifier.is_none();
            (!empty).then_some(v)
        }
        _ if json.get("resourceType").is_some() => Some(ReferenceValue {
            resource_type: str_field(json, "resourceType"),
            id: str_field(json, "id"),
            ..ReferenceValue::default()
        }),
        _ => json.as_str().map(ReferenceValue::parse),
    }
}

/// The type of the contained resource with local id `id`.
pub fn contained_type(root: &Value, id: &str) -> Option<String> {
    root.get("contained")?
        .as_array()?
        .iter()
        .find(|c| c.get("id").and_then(Value::as_str) == Some(id))
        .and_then(|c| str_field(c, "resourceType"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(param_type: SearchParamType, fhir_type: &str, json: Value, expected: &str) {
        let got = index_values(param_type, fhir_type, &json, &json!({}));
        assert_eq!(format!("{got:?}"), expected, "{fhir_type} {json}");
    }

    #[test]
    fn human_name_and_address_strings() {
        let name = json!({"family": "Müller", "given": ["Anna", "Maria"], "prefix": ["Dr."], "text": "Dr. Anna Müller"});
        assert_eq!(
            strings("HumanName", &name),
            vec!["Müller", "Anna", "Maria", "Dr.", "Dr. Anna Müller"]
        );
        let addr = json!({"line": ["Hauptstraße 1"], "city": "Saarbrücken", "postalCode": "66111", "country": "DE"});
        assert_eq!(
            strings("Address", &addr),
            vec!["Hauptstraße 1", "Saarbrücken", "66111", "DE"]
        );
        check(
            SearchParamType::String,
            "string",
            json!("Straße"),
            r#"[String(StringValue { normalized: "strasse", exact: "Straße" })]"#,
        );
        check(SearchParamType::String, "HumanName", json!({}), "[]");
        check(SearchParamType::String, "string", json!(""), "[]");
    }

    #[test]
    fn token_shapes() {
        let cc = json!({"coding": [{"system": "http://loinc.org", "code": "2339-0", "display": "Glucose"}], "text": "Blood sugar"});
        let t = tokens("CodeableConcept", &cc);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].system.as_deref(), Some("http://loinc.org"));
        assert_eq!(t[0].text.as_deref(), Some("blood sugar"));
        assert_eq!(
            tokens("CodeableConcept", &json!({"text": "x"}))[0]
                .text
                .as_deref(),
            Some("x")
        );
        assert!(tokens("CodeableConcept", &json!({})).is_empty());
        let id = json!({"system": "urn:mrn", "value": "42", "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}});
        let t = tokens("Identifier", &id);
        assert_eq!(t[0].code.as_deref(), Some("42"));
        assert_eq!(t[0].type_code.as_deref(), Some("MR"));
        assert_eq!(
            tokens("boolean", &json!(true))[0].code.as_deref(),
            Some("true")
        );
        assert_eq!(
            tokens("ContactPoint", &json!({"system": "phone", "value": "555"}))[0]
                .code
                .as_deref(),
            Some("555")
        );
        assert!(tokens("Identifier", &json!({"use": "official"})).is_empty());
    }

    #[test]
    fn dates_periods_and_timing() {
        let p = date(
            "Period",
            &json!({"start": "2024-01-01", "end": "2024-01-31"}),
        )
        .unwrap();
        assert_eq!(p.low, DateRange::parse("2024-01-01").unwrap().low);
        assert_eq!(p.high, DateRange::parse("2024-01-31").unwrap().high);
        let open = date("Period", &json!({"start": "2024-01-01"})).unwrap();
        assert_eq!(open.high, None);
        assert!(date("Period", &json!({})).is_none());
        let t = date(
            "Timing",
            &json!({"event": ["2024-01-05", "2024-01-02T10:00:00Z"]}),
        )
        .unwrap();
        assert_eq!(t.low, DateRange::parse("2024-01-02T10:00:00Z").unwrap().low);
        assert_eq!(t.high, DateRange::parse("2024-01-05").unwrap().high);
        assert!(date("dateTime", &json!("not a date")).is_none());
    }

    #[test]
    fn numbers_and_quantities() {
        let n: Value = serde_json::from_str("1.50").unwrap();
        let v = number("decimal", &n).unwrap();
        assert!((v.low - 1.495).abs() < 1e-12);
        let q = quantity("Quantity", &json!({"value": 5.4, "system": "http://unitsofmeasure.org", "code": "mg", "unit": "mg"})).unwrap();
        assert_eq!(q.code.as_deref(), Some("mg"));
        let m = quantity("Money", &json!({"value": 10, "currency": "EUR"})).unwrap();
        assert_eq!(m.system.as_deref(), Some(CURRENCY_SYSTEM));
        let r = number("Range", &json!({"low": {"value": 2}, "high": {"value": 4}})).unwrap();
        assert_eq!((r.low, r.value, r.high), (2.0, 3.0, 4.0));
        assert!(quantity("Quantity", &json!({"unit": "mg"})).is_none());
    }

    #[test]
    fn references() {
        let root = json!({"contained": [{"resourceType": "Patient", "id": "p1"}]});
        let r = reference("Reference", &json!({"reference": "#p1"}), &root).unwrap();
        assert_eq!(
            (r.resource_type.as_deref(), r.contained.as_deref()),
            (Some("Patient"), Some("p1"))
        );
        let r = reference(
            "Reference",
            &json!({"identifier": {"system": "urn:x", "value": "1"}}),
            &root,
        )
        .unwrap();
        assert_eq!(r.identifier.unwrap().code.as_deref(), Some("1"));
        assert!(reference("Reference", &json!({"display": "x"}), &root).is_none());
        let c = reference(
            "canonical",
            &json!("http://hl7.org/fhir/StructureDefinition/Patient"),
            &root,
        )
        .unwrap();
        assert_eq!(
            c.url.as_deref(),
            Some("http://hl7.org/fhir/StructureDefinition/Patient")
        );
    }
}
