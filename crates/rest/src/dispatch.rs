//! Runs a routed [`Call`] against a store transaction: read-only interactions on any
//! [`ReadTx`], writes on a [`WriteTx`]. Used for top-level requests and for Bundle entries alike.

use crate::context::{Call, Ctx};
use crate::error::FhirError;
use crate::guard;
use crate::interaction::search::Scope;
use crate::interaction::{create, delete, history, patch, read, search, update, validate, vread};
use crate::outcome::Outcome;
use crate::router::{route, Route};
use crosscare_store::{ReadTx, Store, WriteTx};

/// Read-only interactions, authorised first.
pub fn run_read<T: ReadTx + ?Sized>(
    ctx: &Ctx<'_>,
    tx: &mut T,
    route: &Route,
    call: &mut Call,
) -> Result<Outcome, FhirError> {
    guard::check(ctx, route, call)?;
    read_authorised(ctx, tx, route, call)
}

fn read_authorised<T: ReadTx + ?Sized>(
    ctx: &Ctx<'_>,
    tx: &mut T,
    route: &Route,
    call: &mut Call,
) -> Result<Outcome, FhirError> {
    match route {
        Route::Read(t, id) => read::read(ctx, tx, t, id, call),
        Route::VRead(t, id, v) => vread::vread(ctx, tx, t, id, v),
        Route::HistoryInstance(t, id) => history::history(ctx, tx, Some(t), Some(id), call),
        Route::HistoryType(t) => history::history(ctx, tx, Some(t), None, call),
        Route::HistorySystem => history::history(ctx, tx, None, None, call),
        Route::SearchType(t) => search::search(ctx, tx, Scope::Type(t), call),
        Route::SearchSystem => search::search(ctx, tx, Scope::System, call),
        Route::SearchCompartment {
            compartment,
            id,
            target,
        } => search::search(
            ctx,
            tx,
            Scope::Compartment {
                compartment,
                id,
                target,
            },
            call,
        ),
        Route::Everything(t, id) => search::everything(ctx, tx, t, id, call),
        Route::Validate(t, id) => validate::validate(t, id.as_deref(), call),
        Route::Capabilities => Ok(Outcome::plain(
            200,
            Some(crate::interaction::capabilities::capability_statement(
                ctx.config,
                ctx.params,
                ctx.base_url,
                &chrono::Utc::now(),
            )),
        )),
        Route::Export(_)
        | Route::ExportStatus(_)
        | Route::ExportCancel(_)
        | Route::ExportFile(..)
        | Route::Import
        | Route::ImportStatus(_)
        | Route::ImportCancel(_)
        | Route::ImportFile(..)
        | Route::ViewRun(_) => Err(FhirError::bad_request(
            "Bulk Data and $run operations are not available inside a Bundle",
        )),
        Route::Reset => Err(FhirError::bad_request(
            "$reset is not available inside a Bundle",
        )),
        Route::Reindex(_) | Route::ReindexStatus(_) | Route::ReindexCancel(_) => Err(
            FhirError::bad_request("$reindex is not available inside a Bundle"),
        ),
        Route::Bundle
        | Route::Create(_)
        | Route::ConditionalUpdate(_)
        | Route::ConditionalDelete(_)
        | Route::ConditionalPatch(_)
        | Route::Update(..)
        | Route::Delete(..)
        | Route::Patch(..) => Err(FhirError::internal(format!("{route:?} routed as a read"))),
    }
}

/// Any interaction except Bundles, inside a write transaction, authorised first.
pub fn run_write(
    ctx: &Ctx<'_>,
    tx: &mut dyn WriteTx,
    route: &Route,
    call: &mut Call,
) -> Result<Outcome, FhirError> {
    guard::check(ctx, route, call)?;
    match route {
        Route::Create(t) => {
            let body = call.take_body()?;
            create::create(ctx, tx, t, body, call.if_none_exist.as_deref())
        }
        Route::Update(t, id) => {
            let body = call.take_body()?;
            update::update(ctx, tx, t, id, body, call.if_match.as_deref())
        }
        Route::ConditionalUpdate(t) => {
            let body = call.take_body()?;
            update::conditional_update(ctx, tx, t, &call.query, body, call.if_match.as_deref())
        }
        Route::Delete(t, id) => delete::delete(ctx, tx, t, id, call.if_match.as_deref()),
        Route::ConditionalDelete(t) => {
            delete::conditional_delete(ctx, tx, t, &call.query, call.if_match.as_deref())
        }
        Route::Patch(t, id) => patch::patch(ctx, tx, t, id, call),
        Route::ConditionalPatch(t) => patch::conditional_patch(ctx, tx, t, call),
        Route::Bundle => Err(FhirError::bad_request(
            "a Bundle entry cannot itself be a batch or transaction",
        )),
        Route::Reset => Err(FhirError::bad_request(
            "$reset is not available inside a Bundle",
        )),
        Route::Reindex(_) => Err(FhirError::bad_request(
            "$reindex is not available inside a Bundle",
        )),
        read_only => read_authorised(ctx, tx, read_only, call),
    }
}

/// Routes and runs one call in its own store transaction (a top-level request or a batch entry).
pub fn run_entry(store: &dyn Store, ctx: &Ctx<'_>, call: &mut Call) -> Result<Outcome, FhirError> {
    let r = route(call.method, &call.path, !call.query.is_empty())?;
    if r == Route::Bundle {
        return Err(FhirError::bad_request(
            "a Bundle entry cannot itself be a batch or transaction",
        ));
    }
    if r.is_read_only() {
        let mut tx = store.read_tx()?;
        run_read(ctx, tx.as_mut(), &r, call)
    } else {
        let mut tx = store.write_tx()?;
        let outcome = run_write(ctx, tx.as_mut(), &r, call)?;
        tx.commit()?;
        Ok(outcome)
    }
}
