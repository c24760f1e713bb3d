//! Property tests: `parse_resource` never panics on any bytes, valid JSON objects round-trip
//! exactly, and `validate` never panics on arbitrary JSON shaped like a resource.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::{Map, Number, Value};

use crosscare_validation::{parse_resource, validate, ParseError, ParseLimits, ValidationOptions};

/// Decimal texts as FHIR writes them: optional sign, no exponent, trailing zeros kept.
fn decimal_text() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        0u64..1_000_000,
        proptest::option::of("[0-9]{1,6}"),
    )
        .prop_map(|(neg, int, frac)| {
            let sign = if neg { "-" } else { "" };
            match frac {
                Some(f) => format!("{sign}{int}.{f}"),
                None => format!("{sign}{int}"),
            }
        })
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        decimal_text().prop_map(|t| Value::Number(serde_json::from_str::<Number>(&t).unwrap())),
        "\\PC{0,12}".prop_map(Value::String),
    ]
}

/// Property names drawn partly from real Patient/Observation elements so that the walk goes
/// deep, partly at random.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "id",
            "name",
            "given",
            "family",
            "extension",
            "url",
            "valueString",
            "_birthDate",
            "birthDate",
            "contained",
            "resourceType",
            "status",
            "code",
            "coding",
            "system",
            "valueQuantity",
            "value",
            "gender",
            "telecom",
            "period",
            "start",
            "end",
            "text",
        ])
        .prop_map(str::to_string),
        "[a-zA-Z_]{1,8}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn resource() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec!["Patient", "Observation", "Bundle", "Questionnaire"]),
        prop::collection::vec((key(), json_value()), 0..6),
    )
        .prop_map(|(rt, kv)| {
            let mut map: Map<String, Value> = kv.into_iter().collect();
            map.insert("resourceType".into(), Value::String(rt.into()));
            Value::Object(map)
        })
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_resource(&bytes, &ParseLimits::default());
    }

    #[test]
    fn json_text_never_panics(text in "[\\[\\]{}\":,0-9a-z\\\\ .eE+-]{0,64}") {
        let _ = parse_resource(text.as_bytes(), &ParseLimits::default());
    }

    #[test]
    fn objects_round_trip(value in json_value()) {
        let text = serde_json::to_string(&value).unwrap();
        match parse_resource(text.as_bytes(), &ParseLimits::default()) {
            Ok(parsed) => {
                prop_assert_eq!(&parsed, &value);
                prop_assert_eq!(serde_json::to_string(&parsed).unwrap(), text);
            }
            Err(ParseError::NotAnObject) => prop_assert!(!value.is_object()),
            Err(e) => prop_assert!(false, "{e} for {text}"),
        }
    }

    #[test]
    fn validate_never_panics(value in resource()) {
        let report = validate(&value, &ValidationOptions::default());
        for issue in &report.issues {
            prop_assert!(!issue.expression.is_empty());
        }
    }
}
