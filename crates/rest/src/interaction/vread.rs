//! `vread`: `GET [type]/[id]/_history/[vid]`.

use crate::context::Ctx;
use crate::error::FhirError;
use crate::outcome::Outcome;
use crosscare_store::ReadTx;

/// Reads one version: 404 if it does not exist, 410 if that version is a deletion.
pub fn vread<T: ReadTx + ?Sized>(
    ctx: &Ctx<'_>,
    tx: &mut T,
    resource_type: &str,
    id: &str,
    version: &str,
) -> Result<Outcome, FhirError> {
    let not_found = || {
        FhirError::not_found(format!(
            "{resource_type}/{id}/_history/{version} is not known"
        ))
    };
    let vid: u64 = version.parse().map_err(|_| not_found())?;
    match tx.vread(ctx.partition, resource_type, id, vid)? {
        None => Err(not_found()),
        Some(v) if v.is_deleted() => Err(FhirError::gone(format!(
            "{resource_type}/{id}/_history/{vid} is a deletion"
        ))),
        Some(v) => {
            let outcome = Outcome::read(&v)?;
            if let Some(body) = &outcome.body {
                crate::guard::check_resource(ctx, resource_type, body)?;
            }
            Ok(outcome)
        }
    }
}
