//! `read`: `GET [type]/[id]`, with `If-None-Match` and `If-Modified-Since` (304), and
//! `_summary`/`_elements`.

use crate::context::{Call, Ctx};
use crate::error::FhirError;
use crate::headers::{parse_etag, parse_http_date};
use crate::outcome::{Outcome, VersionMeta};
use crate::summary::{apply_elements, apply_summary};
use crosscare_search::SummaryMode;
use crosscare_store::{ReadTx, ResourceVersion};

/// Reads the current version: 404 if it never existed, 410 if it is deleted.
pub fn read<T: ReadTx + ?Sized>(
    ctx: &Ctx<'_>,
    tx: &mut T,
    resource_type: &str,
    id: &str,
    call: &Call,
) -> Result<Outcome, FhirError> {
    let version = current(ctx, tx, resource_type, id)?;
    let subsetting = call.param("_summary").is_some() || call.param("_elements").is_some();
    if !subsetting && crate::guard::reads_unrestricted(ctx, resource_type) {
        // The stored text is the answer: sent as is, never parsed.
        if not_modified(&version, call) {
            let mut o = Outcome::plain(304, None);
            o.version = Some(VersionMeta::of(&version));
            return Ok(o);
        }
        return Ok(Outcome::read_stored(&version));
    }
    let mut outcome = Outcome::read(&version)?;
    if let Some(body) = &outcome.body {
        crate::guard::check_resource(ctx, resource_type, body)?;
    }
    if not_modified(&version, call) {
        let mut o = Outcome::plain(304, None);
        o.version = Some(VersionMeta::of(&version));
        return Ok(o);
    }
    if let Some(body) = outcome.body.as_mut() {
        subset(body, call)?;
    }
    Ok(outcome)
}

/// `_summary` and `_elements` on a read.
fn subset(body: &mut serde_json::Value, call: &Call) -> Result<(), FhirError> {
    if let Some(s) = call.param("_summary") {
        let mode = match s {
            "true" => SummaryMode::True,
            "text" => SummaryMode::Text,
            "data" => SummaryMode::Data,
            "false" => SummaryMode::False,
            other => {
                return Err(FhirError::bad_request(format!(
                    "_summary '{other}' is not one of true, text, data, false"
                ))
                .at("_summary"))
            }
        };
        apply_summary(body, mode);
    }
    if let Some(e) = call.param("_elements") {
        let names: Vec<String> = e.split(',').map(|s| s.trim().to_string()).collect();
        apply_elements(body, &names);
    }
    Ok(())
}

/// The current, live version of a resource, or the 404/410 error.
pub fn current<T: ReadTx + ?Sized>(
    ctx: &Ctx<'_>,
    tx: &mut T,
    resource_type: &str,
    id: &str,
) -> Result<ResourceVersion, FhirError> {
    match tx.read(ctx.partition, resource_type, id)? {
        None => Err(FhirError::not_found(format!(
            "{resource_type}/{id} is not known"
        ))),
        Some(v) if v.is_deleted() => Err(FhirError::gone(format!(
            "{resource_type}/{id} was deleted (version {})",
            v.version_id
        ))),
        Some(v) => Ok(v),
    }
}

/// True when a conditional read's preconditions say the client's copy is current:
/// `If-None-Match` names this version (or is `*`), or the resource has not changed since
/// `If-Modified-Since` (HTTP dates have whole seconds). `If-None-Match` wins when both are given.
fn not_modified(version: &ResourceVersion, call: &Call) -> bool {
    if let Some(inm) = &call.if_none_match {
        return inm
            .split(',')
            .any(|tag| tag.trim() == "*" || parse_etag(tag) == Some(version.version_id));
    }
    if let Some(since) = call.if_modified_since.as_deref().and_then(parse_http_date) {
        return version.last_updated.timestamp() <= since.timestamp();
    }
    false
}
