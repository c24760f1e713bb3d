//! Reference rewriting inside transaction Bundles: `urn:uuid:`/`urn:oid:` (and any other entry
//! `fullUrl`) in every `reference` anywhere in a resource (nested elements, extensions,
//! contained resources) and in narrative links, and conditional references
//! (`Patient?identifier=sys|val`) collected for resolution.
//!
//! The walk is generic over the JSON: every object member named `reference` holding a string is
//! a `Reference.reference` in FHIR R4 JSON (no other element of the base specification has that
//! name with a string value), so no type information is needed to find them.

use serde_json::Value;
use std::collections::HashMap;

/// Replaces mapped references: `map` goes from a `fullUrl` to `Type/id`. Returns how many
/// references were replaced.
pub fn rewrite(value: &mut Value, map: &HashMap<String, String>) -> usize {
    let mut n = 0;
    match value {
        Value::Object(obj) => {
            for (k, v) in obj.iter_mut() {
                match (k.as_str(), &mut *v) {
                    ("reference", Value::String(s)) => {
                        if let Some(new) = map.get(s.as_str()) {
                            *s = new.clone();
                            n += 1;
                        }
                    }
                    ("div", Value::String(s)) => n += rewrite_narrative(s, map),
                    _ => n += rewrite(v, map),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                n += rewrite(item, map);
            }
        }
        _ => {}
    }
    n
}

/// Replaces `href="urn:uuid:…"`/`src="…"` attribute values in XHTML narrative.
fn rewrite_narrative(div: &mut String, map: &HashMap<String, String>) -> usize {
    let mut n = 0;
    if !div.contains("urn:") {
        return 0;
    }
    for (from, to) in map {
        if !(from.starts_with("urn:uuid:") || from.starts_with("urn:oid:")) {
            continue;
        }
        for quote in ['"', '\''] {
            let needle = format!("{quote}{from}{quote}");
            if div.contains(&needle) {
                *div = div.replace(&needle, &format!("{quote}{to}{quote}"));
                n += 1;
            }
        }
    }
    n
}

/// Every conditional reference (`Type?query`) in a resource, deduplicated, in document order.
pub fn conditional_references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(obj) => {
            for (k, v) in obj {
                match (k.as_str(), v) {
                    ("reference", Value::String(s)) if is_conditional(s) => {
                        if !out.contains(s) {
                            out.push(s.clone());
                        }
                    }
                    _ => conditional_references(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| conditional_references(i, out)),
        _ => {}
    }
}

/// `Type?query` with a relative type (not `http://…?…`).
pub fn is_conditional(reference: &str) -> bool {
    match reference.split_once('?') {
        Some((ty, _)) => {
            !ty.contains('/')
                && !ty.contains(':')
                && crosscare_spec::Spec::r4().is_resource_type(ty)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(mut resource: Value, expected: Value, replaced: usize) {
        let map: HashMap<String, String> = [
            (
                "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
                "Patient/p1",
            ),
            ("urn:oid:1.2.3", "Practitioner/d1"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(rewrite(&mut resource, &map), replaced);
        assert_eq!(resource, expected);
    }

    #[test]
    fn rewrites_everywhere() {
        let p = "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a";
        check(
            json!({
                "resourceType": "Observation",
                "subject": {"reference": p},
                "performer": [{"reference": "urn:oid:1.2.3"}, {"reference": "Practitioner/x"}],
                "extension": [{"url": "http://e", "valueReference": {"reference": p}}],
                "contained": [{"resourceType": "Provenance", "target": [{"reference": p}]}],
                "text": {"status": "generated", "div": format!("<div><a href=\"{p}\">p</a></div>")},
                "note": [{"text": p}],
            }),
            json!({
                "resourceType": "Observation",
                "subject": {"reference": "Patient/p1"},
                "performer": [{"reference": "Practitioner/d1"}, {"reference": "Practitioner/x"}],
                "extension": [{"url": "http://e", "valueReference": {"reference": "Patient/p1"}}],
                "contained": [{"resourceType": "Provenance", "target": [{"reference": "Patient/p1"}]}],
                "text": {"status": "generated", "div": "<div><a href=\"Patient/p1\">p</a></div>"},
                "note": [{"text": p}],
            }),
            5,
        );
    }

    #[test]
    fn conditional() {
        let r = json!({"subject": {"reference": "Patient?identifier=s|v"},
                       "a": [{"reference": "http://x/Patient?x=1"}, {"reference": "Patient/1"},
                             {"reference": "Patient?identifier=s|v"}]});
        let mut out = Vec::new();
        conditional_references(&r, &mut out);
        assert_eq!(out, vec!["Patient?identifier=s|v".to_string()]);
        assert!(!is_conditional("Nope?x=1"));
    }
}
