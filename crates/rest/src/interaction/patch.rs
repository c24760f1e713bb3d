//! `patch`: `PATCH [type]/[id]` and conditional patch (`PATCH [type]?…`) with a JSON Patch
//! (`application/json-patch+json`) or a FHIRPath Patch (`Parameters`, `application/fhir+json`). The patched resource is validated like any write.

use crate::context::{check_if_match, find_matches, Call, Ctx};
use crate::error::FhirError;
use crate::interaction::read::current;
use crate::interaction::update::write_version;
use crate::outcome::{version_json, Outcome};
use crate::patch::{fhirpath_patch, json_patch, PatchError};
use crosscare_store::WriteTx;
use serde_json::Value;

pub fn patch(
    ctx: &Ctx<'_>,
    tx: &mut dyn WriteTx,
    resource_type: &str,
    id: &str,
    call: &mut Call,
) -> Result<Outcome, FhirError> {
    let document = call.take_body()?;
    let version = current(ctx, tx, resource_type, id)?;
    check_if_match(call.if_match.as_deref(), Some(&version))?;
    let mut resource = version_json(&version)?
        .ok_or_else(|| FhirError::internal("a live version without a body"))?;
    let document = unwrap_binary(document)?;
    let applied = if document.is_array() {
        json_patch::apply(&mut resource, &document)
    } else if document["resourceType"] == "Parameters" {
        fhirpath_patch::apply(&mut resource, &document)
    } else {
        return Err(FhirError::bad_request(
            "PATCH takes a JSON Patch (application/json-patch+json) or a FHIRPath Patch Parameters resource",
        ));
    };
    applied.map_err(|e| match e {
        PatchError::Malformed(m) => FhirError::bad_request(m),
        PatchError::Failed(m) => FhirError::unprocessable(m),
    })?;
    if resource["resourceType"].as_str() != Some(resource_type)
        || resource.get("id").and_then(Value::as_str) != Some(id)
    {
        return Err(FhirError::unprocessable(
            "a patch may not change the resourceType or id",
        ));
    }
    crate::body::check_for_write(resource_type, &resource)?;
    write_version(ctx, tx, resource_type, id, resource, None)
}

/// In a Bundle, a JSON Patch travels as a `Binary` with `contentType`
/// `application/json-patch+json` and the patch base64-encoded in `data`.
fn unwrap_binary(document: Value) -> Result<Value, FhirError> {
    use base64::Engine;
    if document["resourceType"] != "Binary" {
        return Ok(document);
    }
    if document["contentType"] != "application/json-patch+json" {
        return Err(FhirError::bad_request(
            "a Binary patch must have contentType application/json-patch+json",
        ));
    }
    let data = document["data"].as_str().unwrap_or_default();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| FhirError::bad_request(format!("Binary.data is not base64: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        FhirError::bad_request(format!("the JSON Patch in Binary.data is not JSON: {e}"))
    })
}

/// `PATCH [type]?…`: no match → 404, one → patch it, several → 412.
pub fn conditional_patch(
    ctx: &Ctx<'_>,
    tx: &mut dyn WriteTx,
    resource_type: &str,
    call: &mut Call,
) -> Result<Outcome, FhirError> {
    let found = find_matches(ctx, tx, resource_type, &call.query)?;
    match found.as_slice() {
        [] => Err(FhirError::not_found(format!(
            "no {resource_type} matches the condition"
        ))),
        [one] => {
            let id = one.id.clone();
            patch(ctx, tx, resource_type, &id, call)
        }
        _ => Err(FhirError::multiple_matches(format!(
            "the condition matches several {resource_type} resources"
        ))),
    }
}
