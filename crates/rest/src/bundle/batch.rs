//! Batch Bundles: every entry is processed on its own (its own store transaction) and
//! succeeds or fails independently; the `batch-response` has one entry per request entry, in
//! order, each with its status and, on failure, its `OperationOutcome`.

use super::{decode, response_bundle};
use crate::context::Ctx;
use crate::dispatch;
use crate::error::FhirError;
use crate::outcome::error_entry;
use crosscare_store::Store;
use serde_json::Value;

pub fn run(store: &dyn Store, ctx: &Ctx<'_>, raw: Vec<Value>) -> Value {
    let entries = raw
        .into_iter()
        .enumerate()
        .map(|(i, mut e)| match one(store, ctx, i, &mut e) {
            Ok(v) => v,
            Err(err) => error_entry(&err),
        })
        .collect();
    response_bundle("batch-response", entries)
}

fn one(
    store: &dyn Store,
    ctx: &Ctx<'_>,
    index: usize,
    raw: &mut Value,
) -> Result<Value, FhirError> {
    let mut entry = decode(ctx, index, raw)?;
    let outcome = dispatch::run_entry(store, ctx, &mut entry.call)?;
    Ok(outcome.into_entry(ctx.prefer, ctx.base_url))
}
