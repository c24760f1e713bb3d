//! `update`: `PUT [type]/[id]` (update-as-create with a client id), and conditional update
//! (`PUT [type]?…`).

use crate::context::{check_if_match, find_matches, new_id, put, set_id, strip_server_meta, Ctx};
use crate::error::FhirError;
use crate::outcome::Outcome;
use crosscare_store::WriteTx;
use serde_json::Value;

/// `PUT [type]/[id]`: 200 when a current version existed, 201 when this creates it (also after a
/// deletion). The body must carry the same `id` as the URL (400 otherwise).
pub fn update(
    ctx: &Ctx<'_>,
    tx: &mut dyn WriteTx,
    resource_type: &str,
    id: &str,
    resource: Value,
    if_match: Option<&str>,
) -> Result<Outcome, FhirError> {
    ctx.check_for_write(resource_type, &resource)?;
    match resource.get("id") {
        None => {
            return Err(FhirError::bad_request(format!(
                "the body has no id; it must be '{id}' as in the URL"
            ))
            .at(format!("{resource_type}.id")))
        }
        Some(Value::String(body_id)) if body_id == id => {}
        Some(other) => {
            return Err(FhirError::bad_request(format!(
                "the body id {other} does not match the id '{id}' in the URL"
            ))
            .at(format!("{resource_type}.id")))
        }
    }
    write_version(ctx, tx, resource_type, id, resource, if_match)
}

/// Writes the next version of `resource_type/id` after the `If-Match` check.
pub fn write_version(
    ctx: &Ctx<'_>,
    tx: &mut dyn WriteTx,
    resource_type: &str,
    id: &str,
    mut resource: Value,
    if_match: Option<&str>,
) -> Result<Outcome, FhirError> {
    let current = tx
        .read(ctx.partition, resource_type, id)?
        .filter(|v| !v.is_deleted());
    check_if_match(if_match, current.as_ref())?;
    set_id(&mut resource, id);
    strip_server_meta(&mut resource);
    let v = put(ctx, tx, resource)?;
    if current.is_some() {
        Outcome::written(ctx.prefer, 200, &v, format!("updated {resource_type}/{id}"))
    } else {
        Outcome::written(ctx.prefer, 201, &v, format!("created {resource_type}/{id}"))
    }
}

/// `PUT [type]?…`: no match → create (with the body's id if it has one and it is free, 409 if
/// that id is taken); one match → update it (400 if the body names another id); several → 412.
pub fn conditional_update(
    ctx: &Ctx<'_>,
    tx: &mut dyn WriteTx,
    resource_type: &str,
    params: &[(String, String)],
    resource: Value,
    if_match: Option<&str>,
) -> Result<Outcome, FhirError> {
    ctx.check_for_write(resource_type, &resource)?;
    let body_id = match resource.get("id") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => return Err(FhirError::bad_request(format!("invalid id {other}"))),
    };
    let mut found = find_matches(ctx, tx, resource_type, params)?;
    match (found.len(), body_id) {
        (0, None) => write_version(ctx, tx, resource_type, &new_id(), resource, if_match),
        (0, Some(id)) => {
            let live = tx
                .read(ctx.partition, resource_type, &id)?
                .is_some_and(|v| !v.is_deleted());
            if live {
                return Err(FhirError::conflict(format!(
                    "no {resource_type} matches the condition, but {resource_type}/{id} exists"
                )));
            }
            write_version(ctx, tx, resource_type, &id, resource, if_match)
        }
        (1, body_id) => {
            let target = found.remove(0);
            if let Some(id) = body_id.filter(|id| *id != target.id) {
                return Err(FhirError::bad_request(format!(
                    "the body id '{id}' differs from the matching resource {resource_type}/{}",
                    target.id
                )));
            }
            write_version(ctx, tx, resource_type, &target.id, resource, if_match)
        }
        _ => Err(FhirError::multiple_matches(format!(
            "the condition matches several {resource_type} resources"
        ))),
    }
}
