//! `_summary` and `_elements`: trimming a resource to the requested elements and tagging it
//! `SUBSETTED`, with "summary" decided by `ElementDefinition.isSummary` from the spec.

use crosscare_search::SummaryMode;
use crosscare_spec::Spec;
use serde_json::{json, Map, Value};

const SUBSETTED_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";

/// Elements kept in every subset: they identify the resource.
fn is_mandatory(name: &str) -> bool {
    matches!(name, "resourceType" | "id" | "meta")
}

/// Applies `_summary` (`true`, `text`, `data`; `false` and `count` leave the resource whole)
/// to a resource.
pub fn apply_summary(resource: &mut Value, mode: SummaryMode) {
    let Some(obj) = resource.as_object_mut() else {
        return;
    };
    let ty = obj
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let spec = Spec::r4();
    let keep = |name: &str| -> bool {
        let bare = name.strip_prefix('_').unwrap_or(name);
        if is_mandatory(bare) {
            return true;
        }
        match mode {
            SummaryMode::True => spec.child(&ty, bare).is_some_and(|c| c.element.is_summary),
            SummaryMode::Text => {
                bare == "text" || spec.child(&ty, bare).is_some_and(|c| c.element.min > 0)
            }
            SummaryMode::Data => bare != "text",
            SummaryMode::False | SummaryMode::Count => true,
        }
    };
    if retain(obj, keep) {
        tag_subsetted(obj);
    }
}

/// Applies `_elements=a,b`: keeps those top-level elements and the mandatory ones.
pub fn apply_elements(resource: &mut Value, elements: &[String]) {
    let Some(obj) = resource.as_object_mut() else {
        return;
    };
    let keep = |name: &str| {
        let bare = name.strip_prefix('_').unwrap_or(name);
        is_mandatory(bare) || elements.iter().any(|e| e == bare)
    };
    if retain(obj, keep) {
        tag_subsetted(obj);
    }
}

/// Keeps the members `keep` accepts; true if any was removed.
fn retain(obj: &mut Map<String, Value>, keep: impl Fn(&str) -> bool) -> bool {
    let before = obj.len();
    obj.retain(|k, _| keep(k));
    obj.len() != before
}

fn tag_subsetted(obj: &mut Map<String, Value>) {
    let meta = obj.entry("meta").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    let tags = meta
        .as_object_mut()
        .map(|m| m.entry("tag").or_insert_with(|| json!([])));
    if let Some(Value::Array(tags)) = tags {
        if !tags.iter().any(|t| t["code"] == "SUBSETTED") {
            tags.push(json!({ "system": SUBSETTED_SYSTEM, "code": "SUBSETTED" }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patient() -> Value {
        json!({"resourceType": "Patient", "id": "1", "text": {"status": "generated", "div": "<div/>"},
               "name": [{"family": "X"}], "photo": [{"url": "http://x"}], "birthDate": "2000-01-01"})
    }

    fn check_summary(mode: SummaryMode, expected_keys: &[&str]) {
        let mut p = patient();
        apply_summary(&mut p, mode);
        let keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, expected_keys, "{mode:?}");
    }

    #[test]
    fn summaries() {
        check_summary(
            SummaryMode::True,
            &["resourceType", "id", "name", "birthDate", "meta"],
        );
        check_summary(SummaryMode::Text, &["resourceType", "id", "text", "meta"]);
        check_summary(
            SummaryMode::Data,
            &["resourceType", "id", "name", "photo", "birthDate", "meta"],
        );
        check_summary(
            SummaryMode::False,
            &["resourceType", "id", "text", "name", "photo", "birthDate"],
        );
    }

    #[test]
    fn elements() {
        let mut p = patient();
        apply_elements(&mut p, &["birthDate".to_string()]);
        assert_eq!(
            p,
            json!({"resourceType": "Patient", "id": "1", "birthDate": "2000-01-01",
                   "meta": {"tag": [{"system": SUBSETTED_SYSTEM, "code": "SUBSETTED"}]}})
        );
    }
}
