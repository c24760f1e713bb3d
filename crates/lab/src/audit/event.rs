//! The text of one record's `AuditEvent`, written directly as compact JSON.
//!
//! The chain hashes this text, and `audit verify` recomputes the hash from the event parsed
//! back into a `serde_json::Value` and printed compactly. The text must therefore be exactly
//! what serde_json prints for that value: keys in the order written here (the workspace builds
//! serde_json with `preserve_order`), no spaces, and strings escaped the way serde_json escapes
//! them (`"`, `\` and control characters only; `\b \t \n \f \r` short, the other control
//! characters as `\u00xx`). The tests compare this writer with a `Value` built the way the
//! records were built before, for random records.

use super::{AuditRecord, MAX_QUERY_BYTES};
use crate::policy::Interaction;
use base64::Engine;

const CLIENT_ROLE: &str = r#"{"type":{"coding":[{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"110153","display":"Source Role ID"}]},"requestor":true"#;
const SERVER_AGENT: &str = r#"{"type":{"coding":[{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"110152","display":"Destination Role ID"}]},"who":{"display":"CrossCare FHIR server"},"requestor":false}"#;
const ENTITY_TYPE: &str = r#""type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"2","display":"System Object"}"#;
const QUERY_ROLE: &str = r#""role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"24","display":"Query"}"#;
const EVENT_TYPE: &str = r#""type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest","display":"RESTful Operation"}"#;
const SOURCE: &str = r#""source":{"observer":{"display":"CrossCare"},"type":[{"system":"http://terminology.hl7.org/CodeSystem/security-source-type","code":"4","display":"Application Server"}]"#;

/// Appends `s` as a JSON string (quotes included), escaped as serde_json escapes it.
fn string(out: &mut String, s: &str) {
    out.push('"');
    escaped(out, s);
    out.push('"');
}

/// Appends the escaped content of a JSON string, without quotes.
fn escaped(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            b'\t' => "\\t",
            b'\n' => "\\n",
            0x0c => "\\f",
            b'\r' => "\\r",
            0x00..=0x1f => "",
            _ => continue,
        };
        // Every byte that needs escaping is ASCII, so `start..i` ends on a char boundary.
        out.push_str(&s[start..i]);
        if short.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(short);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// The query string as recorded: at most [`MAX_QUERY_BYTES`], cut on a character boundary,
/// and whether it was cut.
fn recorded_query(q: &str) -> (&str, bool) {
    if q.len() <= MAX_QUERY_BYTES {
        return (q, false);
    }
    let mut end = MAX_QUERY_BYTES;
    while !q.is_char_boundary(end) {
        end -= 1;
    }
    (&q[..end], true)
}

/// The record's `AuditEvent` as compact JSON text, with the given `id` and `recorded` instant.
pub(crate) fn render(record: &AuditRecord, id: &str, recorded: &str) -> String {
    let mut out = String::with_capacity(1536);
    let outcome = match record.status {
        0..=399 => "0",
        400..=499 => "4",
        _ => "8",
    };
    let (sub_system, sub_code) = match record.interaction {
        Some(i) => ("http://hl7.org/fhir/restful-interaction", i.code()),
        None => ("urn:crosscare:audit", "unrouted"),
    };
    out.push_str(r#"{"resourceType":"AuditEvent","id":"#);
    string(&mut out, id);
    out.push(',');
    out.push_str(EVENT_TYPE);
    out.push_str(r#","subtype":[{"system":""#);
    out.push_str(sub_system);
    out.push_str(r#"","code":""#);
    out.push_str(sub_code);
    out.push_str(r#""}],"action":""#);
    out.push_str(record.interaction.map(Interaction::action).unwrap_or("E"));
    out.push_str(r#"","recorded":"#);
    string(&mut out, recorded);
    out.push_str(r#","outcome":""#);
    out.push_str(outcome);
    out.push_str(r#"","outcomeDesc":"HTTP "#);
    out.push_str(&record.status.to_string());
    out.push(' ');
    escaped(&mut out, &record.method);
    out.push_str(" /");
    escaped(&mut out, &record.path);
    out.push_str(r#"","agent":["#);
    out.push_str(CLIENT_ROLE);
    match &record.client_id {
        Some(c) => {
            out.push_str(r#","who":{"identifier":{"system":"urn:crosscare:client","value":"#);
            string(&mut out, c);
            out.push_str("}}");
        }
        None => out.push_str(r#","who":{"display":"unauthenticated"}"#),
    }
    if let Some(ip) = &record.remote {
        out.push_str(r#","network":{"address":"#);
        string(&mut out, ip);
        out.push_str(r#","type":"2"}"#);
    }
    if let Some(jti) = &record.token_id {
        out.push_str(r#","policy":["#);
        string(&mut out, jti);
        out.push(']');
    }
    out.push_str("},");
    out.push_str(SERVER_AGENT);
    out.push_str("],");
    out.push_str(SOURCE);
    if let Some(rid) = &record.request_id {
        out.push_str(r#","site":"#);
        string(&mut out, rid);
    }
    out.push('}');
    entities(&mut out, record);
    out.push('}');
    out
}

/// `,"entity":[…]` when the record names a workspace, a resource or a query.
fn entities(out: &mut String, record: &AuditRecord) {
    let reference = match (&record.resource_type, &record.resource_id) {
        (Some(t), Some(id)) => Some((t, id)),
        _ => None,
    };
    if record.workspace_id.is_none() && reference.is_none() && record.query.is_none() {
        return;
    }
    out.push_str(r#","entity":["#);
    let mut first = true;
    let mut next = |out: &mut String| {
        if !std::mem::take(&mut first) {
            out.push(',');
        }
    };
    if let Some(ws) = &record.workspace_id {
        next(out);
        out.push_str(r#"{"what":{"identifier":{"system":"urn:crosscare:workspace","value":"#);
        string(out, ws);
        out.push_str("}},");
        out.push_str(ENTITY_TYPE);
        out.push_str(r#","description":"workspace"}"#);
    }
    if let Some((t, id)) = reference {
        next(out);
        out.push_str(r#"{"what":{"reference":""#);
        escaped(out, t);
        out.push('/');
        escaped(out, id);
        out.push_str(r#""},"#);
        out.push_str(ENTITY_TYPE);
        out.push('}');
    }
    if let Some(q) = &record.query {
        next(out);
        let (q, cut) = recorded_query(q);
        out.push('{');
        out.push_str(ENTITY_TYPE);
        out.push(',');
        out.push_str(QUERY_ROLE);
        out.push_str(r#","query":""#);
        // Base64 needs no escaping.
        base64::engine::general_purpose::STANDARD.encode_string(q, out);
        out.push('"');
        if let Some(t) = &record.resource_type {
            out.push_str(r#","description":"#);
            string(out, t);
        }
        if cut {
            out.push_str(r#","detail":[{"type":"truncated","valueString":"true"}]"#);
        }
        out.push('}');
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    /// The event as the log built it up to commit 438265b, kept as the reference that the
    /// direct writer must match byte for byte.
    fn reference(record: &AuditRecord, id: &str, recorded: &str) -> Value {
        let outcome = match record.status {
            0..=399 => "0",
            400..=499 => "4",
            _ => "8",
        };
        let (sub_system, sub_code) = match record.interaction {
            Some(i) => ("http://hl7.org/fhir/restful-interaction", i.code()),
            None => ("urn:crosscare:audit", "unrouted"),
        };
        let mut client = json!({
            "type": { "coding": [{
                "system": "http://dicom.nema.org/resources/ontology/DCM",
                "code": "110153", "display": "Source Role ID" }] },
            "requestor": true,
        });
        match &record.client_id {
            Some(c) => {
                client["who"] =
                    json!({ "identifier": { "system": "urn:crosscare:client", "value": c } })
            }
            None => client["who"] = json!({ "display": "unauthenticated" }),
        }
        if let Some(ip) = &record.remote {
            client["network"] = json!({ "address": ip, "type": "2" });
        }
        if let Some(jti) = &record.token_id {
            client["policy"] = json!([jti]);
        }
        let server = json!({
            "type": { "coding": [{
                "system": "http://dicom.nema.org/resources/ontology/DCM",
                "code": "110152", "display": "Destination Role ID" }] },
            "who": { "display": "CrossCare FHIR server" },
            "requestor": false,
        });
        let mut entity = Vec::new();
        if let Some(ws) = &record.workspace_id {
            entity.push(json!({
                "what": { "identifier": { "system": "urn:crosscare:workspace", "value": ws } },
                "type": { "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                          "code": "2", "display": "System Object" },
                "description": "workspace",
            }));
        }
        if let (Some(t), Some(id)) = (&record.resource_type, &record.resource_id) {
            entity.push(json!({
                "what": { "reference": format!("{t}/{id}") },
                "type": { "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                          "code": "2", "display": "System Object" },
            }));
        }
        if let Some(q) = &record.query {
            let (q, cut) = recorded_query(q);
            let mut e = json!({
                "type": { "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                          "code": "2", "display": "System Object" },
                "role": { "system": "http://terminology.hl7.org/CodeSystem/object-role",
                          "code": "24", "display": "Query" },
                "query": base64::engine::general_purpose::STANDARD.encode(q),
            });
            if let Some(t) = &record.resource_type {
                e["description"] = json!(t);
            }
            if cut {
                e["detail"] = json!([{ "type": "truncated", "valueString": "true" }]);
            }
            entity.push(e);
        }
        let mut event = json!({
            "resourceType": "AuditEvent",
            "id": id,
            "type": { "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
                      "code": "rest", "display": "RESTful Operation" },
            "subtype": [{ "system": sub_system, "code": sub_code }],
            "action": record.interaction.map(Interaction::action).unwrap_or("E"),
            "recorded": recorded,
            "outcome": outcome,
            "outcomeDesc": format!("HTTP {} {} /{}", record.status, record.method, record.path),
            "agent": [client, server],
            "source": {
                "observer": { "display": "CrossCare" },
                "type": [{ "system": "http://terminology.hl7.org/CodeSystem/security-source-type",
                           "code": "4", "display": "Application Server" }],
            },
        });
        if !entity.is_empty() {
            event["entity"] = json!(entity);
        }
        if let Some(rid) = &record.request_id {
            event["source"]["site"] = json!(rid);
        }
        event
    }

    /// The direct text equals the reference, and survives the parse-and-print of `verify`.
    fn check(record: &AuditRecord, id: &str, recorded: &str) {
        let text = render(record, id, recorded);
        assert_eq!(text, reference(record, id, recorded).to_string());
        let reparsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(reparsed.to_string(), text);
    }

    #[test]
    fn minimal_and_full_records() {
        check(&AuditRecord::default(), "", "");
        check(
            &AuditRecord {
                client_id: Some("cc-1".into()),
                workspace_id: Some("w".into()),
                token_id: Some("jti".into()),
                interaction: Some(Interaction::Read),
                method: "GET".into(),
                path: "Patient/1".into(),
                resource_type: Some("Patient".into()),
                resource_id: Some("1".into()),
                query: Some("_elements=name".into()),
                remote: Some("127.0.0.1".into()),
                request_id: Some("r\"1\\\u{1}\u{7f}é\u{2028}".into()),
                status: 200,
            },
            "id",
            "2026-12-02T20:00:00.000000Z",
        );
    }

    #[test]
    fn long_queries_are_cut_on_a_character_boundary() {
        for len in [MAX_QUERY_BYTES - 1, MAX_QUERY_BYTES, MAX_QUERY_BYTES + 1] {
            let record = AuditRecord {
                query: Some("é".repeat(len / 2) + "x"),
                resource_type: Some("Patient".into()),
                ..Default::default()
            };
            check(&record, "i", "r");
        }
    }

    const INTERACTIONS: [Interaction; 8] = [
        Interaction::Read,
        Interaction::SearchType,
        Interaction::Create,
        Interaction::Update,
        Interaction::Delete,
        Interaction::Bundle,
        Interaction::Reset,
        Interaction::Capabilities,
    ];

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[\\x00-\\x7f]{0,40}",
            prop::collection::vec(any::<char>(), 0..2000).prop_map(String::from_iter),
        ]
    }

    fn record() -> impl Strategy<Value = AuditRecord> {
        (
            (
                prop::option::of(text()),
                prop::option::of(text()),
                prop::option::of(text()),
                prop::option::of(0..INTERACTIONS.len()),
                text(),
                text(),
            ),
            (
                prop::option::of(text()),
                prop::option::of(text()),
                prop::option::of(text()),
                prop::option::of(text()),
                prop::option::of(text()),
                any::<u16>(),
            ),
        )
            .prop_map(
                |(
                    (client_id, workspace_id, token_id, interaction, method, path),
                    (resource_type, resource_id, query, remote, request_id, status),
                )| AuditRecord {
                    client_id,
                    workspace_id,
                    token_id,
                    interaction: interaction.map(|i| INTERACTIONS[i]),
                    method,
                    path,
                    resource_type,
                    resource_id,
                    query,
                    remote,
                    request_id,
                    status,
                },
            )
    }

    proptest! {
        #[test]
        fn direct_text_equals_the_value_built_text(
            record in record(),
            id in text(),
            recorded in text(),
        ) {
            check(&record, &id, &recorded);
        }
    }
}
