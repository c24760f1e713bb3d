//! Media types: which request bodies are accepted and which response formats can be produced.
//!
//! CrossCare speaks FHIR JSON only. XML and other formats are refused explicitly (415 for a
//! body, 406 for a requested response format) rather than answered in JSON by surprise.

/// The media type of a request body, lower-cased and without parameters.
pub(crate) fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Request bodies the FHIR endpoint accepts.
pub(crate) fn is_supported_body(essence: &str) -> bool {
    matches!(
        essence,
        "application/fhir+json"
            | "application/json"
            | "application/json-patch+json"
            | "application/x-www-form-urlencoded"
            | "application/fhir+ndjson"
            | "application/ndjson"
            | "text/json"
    )
}

/// True when a `_format` value asks for JSON (the only format served).
pub(crate) fn format_is_json(format: &str) -> bool {
    matches!(
        format.trim().to_ascii_lowercase().as_str(),
        "json" | "application/json" | "application/fhir+json" | "application/json+fhir"
    )
}

/// True when an `Accept` header admits a JSON response.
pub(crate) fn accept_admits_json(accept: &str) -> bool {
    accept.split(',').any(|part| {
        let t = essence(part);
        t.is_empty()
            || t == "*/*"
            || t == "application/*"
            || t.ends_with("json")
            || t == "application/fhir+ndjson"
            || t == "text/html"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_header() {
        assert!(accept_admits_json("application/fhir+json"));
        assert!(accept_admits_json(
            "application/fhir+xml;q=0.9, application/fhir+json"
        ));
        assert!(accept_admits_json("*/*"));
        assert!(!accept_admits_json("application/fhir+xml"));
    }

    #[test]
    fn formats() {
        assert!(format_is_json("json"));
        assert!(format_is_json("application/fhir+json"));
        assert!(!format_is_json("xml"));
        assert_eq!(
            essence("Application/FHIR+JSON; charset=utf-8"),
            "application/fhir+json"
        );
    }
}
