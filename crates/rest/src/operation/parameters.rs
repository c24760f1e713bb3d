//! Operation parameters from the query string and from a `Parameters` body, as one list of
//! `(name, value)` pairs.

use crate::error::FhirError;
use serde_json::Value;

/// The parameters of an operation call: the query pairs, then each `Parameters.parameter`
/// of a POST body (its `value[x]` as text; a `valueReference` as its `reference`).
pub fn operation_params(
    query: &[(String, String)],
    body: Option<&Value>,
) -> Result<Vec<(String, String)>, FhirError> {
    let mut out: Vec<(String, String)> = query.to_vec();
    let Some(body) = body else {
        return Ok(out);
    };
    if body["resourceType"] != "Parameters" {
        return Err(FhirError::bad_request(
            "the body of this operation must be a Parameters resource",
        ));
    }
    for p in body["parameter"].as_array().into_iter().flatten() {
        let Some(name) = p["name"].as_str() else {
            return Err(FhirError::bad_request("a Parameters.parameter has no name"));
        };
        let value = p.as_object().and_then(|o| {
            o.iter()
                .find(|(k, _)| k.starts_with("value") || *k == "resource")
                .map(|(k, v)| (k.clone(), v.clone()))
        });
        let text = match value {
            Some((k, v)) if k == "valueReference" => v["reference"].as_str().map(str::to_string),
            Some((k, v)) if k == "resource" => Some(v.to_string()),
            Some((_, Value::String(s))) => Some(s),
            Some((_, v @ (Value::Number(_) | Value::Bool(_)))) => Some(v.to_string()),
            _ => None,
        };
        let text = text.ok_or_else(|| {
            FhirError::bad_request(format!(
                "parameter '{name}' has no value this operation can read"
            ))
        })?;
        out.push((name.to_string(), text));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_and_body() {
        let body = json!({"resourceType": "Parameters", "parameter": [
            {"name": "_type", "valueString": "Patient"},
            {"name": "patient", "valueReference": {"reference": "Patient/1"}},
            {"name": "_limit", "valueInteger": 3}
        ]});
        let got = operation_params(&[("_since".into(), "x".into())], Some(&body)).unwrap();
        let names: Vec<String> = got.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            names,
            ["_since=x", "_type=Patient", "patient=Patient/1", "_limit=3"]
        );
        assert!(operation_params(&[], Some(&json!({"resourceType": "Patient"}))).is_err());
        let no_value = json!({"resourceType": "Parameters", "parameter": [{"name": "a"}]});
        assert!(operation_params(&[], Some(&no_value)).is_err());
    }
}
