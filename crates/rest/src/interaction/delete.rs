//! `delete`: `DELETE [type]/[id]` and conditional delete (`DELETE [type]?…`).
//!
//! Deleting keeps the history; a later read is 410. Deleting what does not exist (or is already
//! deleted) is not an error: 204, as the spec allows, so deletes are idempotent.

use crate::context::{check_if_match, find_matches, Ctx};
use crate::error::FhirError;
use crate::outcome::{Outcome, VersionMeta};
use crate::request::ReturnPreference;
use crosscare_store::WriteTx;
use serde_json::Value;

pub fn delete(
    ctx: &Ctx<'_>,
    tx: &mut dyn WriteTx,
    resource_type: &str,
    id: &str,
    if_match: Option<&str>,
) -> Result<Outcome, FhirError> {
    if if_match.is_some() {
        let current = tx.read(ctx.partition, resource_type, id)?;
        check_if_match(if_match, current.as_ref())?;
    }
    crate::search_params::before_write(
        ctx.params,
        ctx.live_params,
        tx,
        ctx.partition,
        resource_type,
        None,
    )?;
    let deleted = tx.delete(ctx.partition, resource_type, id)?;
    let message = match &deleted {
        Some(v) => format!("deleted {resource_type}/{id} (version {})", v.version_id),
        None => format!("{resource_type}/{id} did not exist; nothing deleted"),
    };
    Ok(done(ctx, deleted.as_ref().map(VersionMeta::of), message))
}

/// `DELETE [type]?…`: no match → 204; one → delete it; several → 412 (this server deletes one
/// resource per conditional delete).
pub fn conditional_delete(
    ctx: &Ctx<'_>,
    tx: &mut dyn WriteTx,
    resource_type: &str,
    params: &[(String, String)],
    if_match: Option<&str>,
) -> Result<Outcome, FhirError> {
    let found = find_matches(ctx, tx, resource_type, params)?;
    match found.as_slice() {
        [] => Ok(done(
            ctx,
            None,
            format!("no {resource_type} matches; nothing deleted"),
        )),
        [one] => {
            let id = one.id.clone();
            delete(ctx, tx, resource_type, &id, if_match)
        }
        _ => Err(FhirError::multiple_matches(format!(
            "the condition matches several {resource_type} resources; delete them one by one"
        ))),
    }
}

fn done(ctx: &Ctx<'_>, version: Option<VersionMeta>, message: String) -> Outcome {
    let mut o = Outcome::plain(204, None);
    o.version = version;
    o.message = message;
    if ctx.prefer.return_pref == ReturnPreference::OperationOutcome {
        o.status = 200;
        o.body = Some(informational(&o.message));
    }
    o
}

fn informational(message: &str) -> Value {
    crate::error::operation_outcome(&[crate::error::Issue {
        severity: crate::error::IssueSeverity::Information,
        code: crate::error::IssueCode::Informational,
        diagnostics: message.to_string(),
        expression: Vec::new(),
    }])
}
