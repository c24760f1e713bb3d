//! `create`: `POST [type]`, with a server-assigned id, and conditional create
//! (`If-None-Exist`).

use crate::context::{find_matches, new_id, put, set_id, strip_server_meta, Ctx};
use crate::error::FhirError;
use crate::outcome::Outcome;
use crosscare_search::parse_query_string;
use crosscare_store::{ResourceVersion, WriteTx};
use serde_json::Value;

/// What a conditional create found.
pub enum Existing {
    None,
    One(ResourceVersion),
}

/// Runs the `If-None-Exist` query: no match → create; one → that resource; several → 412.
pub fn resolve_if_none_exist(
    ctx: &Ctx<'_>,
    tx: &mut dyn WriteTx,
    resource_type: &str,
    if_none_exist: Option<&str>,
) -> Result<Existing, FhirError> {
    let Some(q) = if_none_exist else {
        return Ok(Existing::None);
    };
    let q = q.trim_start_matches('?');
    let q = q.rsplit_once('?').map_or(q, |(_, query)| query);
    let mut found = find_matches(ctx, tx, resource_type, &parse_query_string(q))?;
    match found.len() {
        0 => Ok(Existing::None),
        1 => Ok(Existing::One(found.remove(0))),
        _ => Err(FhirError::multiple_matches(format!(
            "If-None-Exist '{q}' matches several {resource_type} resources"
        ))),
    }
}

/// `POST [type]`. Any `id` in the body is ignored and replaced by a new one, as the spec says.
pub fn create(
    ctx: &Ctx<'_>,
    tx: &mut dyn WriteTx,
    resource_type: &str,
    resource: Value,
    if_none_exist: Option<&str>,
) -> Result<Outcome, FhirError> {
    ctx.check_for_write(resource_type, &resource)?;
    match resolve_if_none_exist(ctx, tx, resource_type, if_none_exist)? {
        Existing::One(v) => Outcome::written(
            ctx.prefer,
            200,
            &v,
            format!(
                "{resource_type}/{} matches If-None-Exist; nothing created",
                v.id
            ),
        ),
        Existing::None => create_checked(ctx, tx, resource_type, resource, new_id()),
    }
}

/// Creates with an id the server chose (a Bundle entry's id is chosen before processing).
pub fn create_with_id(
    ctx: &Ctx<'_>,
    tx: &mut dyn WriteTx,
    resource_type: &str,
    resource: Value,
    id: String,
) -> Result<Outcome, FhirError> {
    ctx.check_for_write(resource_type, &resource)?;
    create_checked(ctx, tx, resource_type, resource, id)
}

/// Creates a resource that passed [`Ctx::check_for_write`].
fn create_checked(
    ctx: &Ctx<'_>,
    tx: &mut dyn WriteTx,
    resource_type: &str,
    mut resource: Value,
    id: String,
) -> Result<Outcome, FhirError> {
    set_id(&mut resource, &id);
    strip_server_meta(&mut resource);
    let v = put(ctx, tx, resource)?;
    Outcome::written(
        ctx.prefer,
        201,
        &v,
        format!("created {resource_type}/{}", v.id),
    )
}
