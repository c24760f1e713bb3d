//! `POST [base]/$reset`: a training workspace back to its starting data in one call.
//!
//! Inside one write transaction, every current resource of the trainee's partition is deleted
//! (deletions are versions: the history keeps what the trainee did) and every current
//! resource of the template's partition is written in with the same type and id. The lab
//! decides who may call it ([`crosscare_lab::Interaction::Reset`]: trainee workspaces, those
//! with a template); this module checks again, so the operation can never empty the
//! hospital's partition or a course's template.

use crate::context::{self, Ctx};
use crate::error::{FhirError, IssueCode};
use crate::outcome::Outcome;
use crosscare_lab::model::{partition_of, ServiceClass};
use crosscare_spec::Spec;
use crosscare_store::{PartitionId, ReadTx, ResourceVersion, ScanQuery, Store};
use serde_json::json;

/// Resources read per scan batch.
const BATCH: usize = 500;

/// Resets the partition of the request's training workspace to its template's data.
pub fn reset(store: &dyn Store, ctx: &Ctx<'_>) -> Result<Outcome, FhirError> {
    let ws = ctx
        .access
        .workspace()
        .filter(|ws| ws.class == ServiceClass::Training)
        .ok_or_else(|| {
            FhirError::new(
                403,
                IssueCode::Forbidden,
                "$reset is only available in a training workspace",
            )
        })?;
    let Some(template_id) = ws.template.as_deref() else {
        return Err(FhirError::new(
            400,
            IssueCode::BusinessRule,
            format!("training workspace '{}' has no template to reset to", ws.id),
        ));
    };
    if *ctx.partition != partition_of(&ws.id) {
        return Err(FhirError::internal(
            "a training workspace's request is not in its own partition",
        ));
    }
    let template = partition_of(template_id);
    let mut tx = store.write_tx()?;
    let mut deleted = 0u64;
    let mut copied = 0u64;
    for ty in Spec::r4().resource_types() {
        let ty = ty.name.as_str();
        for v in current(tx.as_mut(), ctx.partition, ty)? {
            tx.delete(ctx.partition, ty, &v.id)?;
            deleted += 1;
        }
        for v in current(tx.as_mut(), &template, ty)? {
            let body = v.body.as_deref().unwrap_or("null");
            let mut resource: serde_json::Value = serde_json::from_str(body).map_err(|_| {
                FhirError::internal(format!("the template's {ty}/{} is damaged", v.id))
            })?;
            context::strip_server_meta(&mut resource);
            context::put(ctx, tx.as_mut(), resource)?;
            copied += 1;
        }
    }
    tx.commit()?;
    let text = format!(
        "workspace '{}' reset to the data of its template '{template_id}': {deleted} resources \
         deleted, {copied} copied",
        ws.id
    );
    Ok(Outcome::plain(
        200,
        Some(json!({
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "information", "code": "informational", "diagnostics": text}],
        })),
    ))
}

/// Every current resource of `resource_type` in `partition`, read in batches before anything
/// is changed (a scan's cursor is a position, so the partition must not change under it).
fn current<T: ReadTx + ?Sized>(
    tx: &mut T,
    partition: &PartitionId,
    resource_type: &str,
) -> Result<Vec<ResourceVersion>, FhirError> {
    let mut out = Vec::new();
    let mut query = ScanQuery::new(resource_type, BATCH);
    loop {
        let page = tx.scan(partition, &query)?;
        out.extend(
            page.versions
                .into_iter()
                .filter(|v| !v.is_deleted() && v.body.is_some()),
        );
        match page.next {
            Some(next) => query.after = Some(next),
            None => return Ok(out),
        }
    }
}
