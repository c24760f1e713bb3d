//! The choke point: every route and every Bundle entry is put to the lab's policy decision
//! point ([`crosscare_lab::authorize`]) here, before the store is touched. The partition comes
//! from the same [`crosscare_lab::Access`] (see [`crate::Rest`]), and search results pass
//! [`visible`] so an `_include`, `_revinclude`, compartment search or `$everything` can never
//! return a type out of scope.

use crate::context::{Call, Ctx};
use crate::error::{FhirError, IssueCode};
use crate::request::Method;
use crate::router::{route, Route};
use crosscare_lab::{authorize, Decision, Interaction, Request};
use crosscare_search::{Filter, SearchQuery};

/// The lab's name for a route, with the type in the path, the compartment target and the id.
pub fn describe(route: &Route) -> (Interaction, Option<&str>, Option<&str>, Option<&str>) {
    use Interaction as I;
    match route {
        Route::Capabilities => (I::Capabilities, None, None, None),
        Route::Bundle => (I::Bundle, None, None, None),
        Route::HistorySystem => (I::HistorySystem, None, None, None),
        Route::SearchSystem => (I::SearchSystem, None, None, None),
        Route::SearchType(t) => (I::SearchType, Some(t), None, None),
        Route::SearchCompartment {
            compartment,
            id,
            target,
        } => (
            I::SearchCompartment,
            Some(compartment),
            (target != "*").then_some(target.as_str()),
            Some(id),
        ),
        Route::Create(t) => (I::Create, Some(t), None, None),
        Route::ConditionalUpdate(t) => (I::ConditionalUpdate, Some(t), None, None),
        Route::ConditionalDelete(t) => (I::ConditionalDelete, Some(t), None, None),
        Route::ConditionalPatch(t) => (I::ConditionalPatch, Some(t), None, None),
        Route::HistoryType(t) => (I::HistoryType, Some(t), None, None),
        Route::Read(t, id) => (I::Read, Some(t), None, Some(id)),
        Route::VRead(t, id, _) => (I::VRead, Some(t), None, Some(id)),
        Route::Update(t, id) => (I::Update, Some(t), None, Some(id)),
        Route::Delete(t, id) => (I::Delete, Some(t), None, Some(id)),
        Route::Patch(t, id) => (I::Patch, Some(t), None, Some(id)),
        Route::HistoryInstance(t, id) => (I::HistoryInstance, Some(t), None, Some(id)),
        Route::Validate(t, id) => (I::Validate, Some(t), None, id.as_deref()),
        Route::Everything(t, id) => (I::Everything, Some(t), None, Some(id)),
        Route::Export(_)
        | Route::ExportStatus(_)
        | Route::ExportCancel(_)
        | Route::ExportFile(_, _) => (I::BulkExport, None, None, None),
        Route::Import
        | Route::ImportStatus(_)
        | Route::ImportCancel(_)
        | Route::ImportFile(_, _) => (I::BulkImport, None, None, None),
        Route::ViewRun(_) => (I::ViewRun, Some("ViewDefinition"), None, None),
    }
}

/// What a request is, for the audit trail: interaction, type and id (`None` if unroutable).
pub fn classify(
    method: Method,
    path: &[String],
    has_query: bool,
) -> Option<(Interaction, Option<String>, Option<String>)> {
    let r = route(method, path, has_query).ok()?;
    let (i, t, _, id) = describe(&r);
    Some((i, t.map(str::to_string), id.map(str::to_string)))
}

/// Asks the policy decision point about `route`; a refusal is the error to answer with.
pub fn check(ctx: &Ctx<'_>, route: &Route, call: &Call) -> Result<(), FhirError> {
    let (interaction, resource_type, target_type, _) = describe(route);
    decide(
        ctx,
        Request {
            interaction,
            resource_type,
            target_type,
            query: &call.query,
            body: call.body.as_ref(),
        },
    )
}

/// The search behind a conditional interaction or reference on `resource_type`.
pub fn check_match(
    ctx: &Ctx<'_>,
    resource_type: &str,
    params: &[(String, String)],
) -> Result<(), FhirError> {
    let mut req = Request::new(Interaction::ConditionalMatch, Some(resource_type));
    req.query = params;
    decide(ctx, req)
}

fn decide(ctx: &Ctx<'_>, req: Request<'_>) -> Result<(), FhirError> {
    match authorize(ctx.access, &req) {
        Decision::Permit => Ok(()),
        Decision::Deny(d) => {
            let code = match d.code {
                "business-rule" => IssueCode::BusinessRule,
                "not-supported" => IssueCode::NotSupported,
                _ => IssueCode::Forbidden,
            };
            Err(FhirError::new(d.status, code, d.message))
        }
    }
}

/// Whether a resource of `resource_type` may appear in a response to this request.
pub fn visible(ctx: &Ctx<'_>, resource_type: &str) -> bool {
    ctx.access.may_see(resource_type)
}

/// A search may only look *through* types in scope: a chain (`subject:Patient.name=…`), a
/// reverse chain (`_has:Observation:subject:code=…`) or `_list` on a type the token cannot see
/// would reveal, through which resources match, what it holds. Refused with 403.
pub fn check_query(ctx: &Ctx<'_>, query: &SearchQuery) -> Result<(), FhirError> {
    fn walk(ctx: &Ctx<'_>, filter: &Filter) -> Result<(), FhirError> {
        let seen = |t: &str| {
            if visible(ctx, t) {
                Ok(())
            } else {
                Err(FhirError::new(
                    403,
                    IssueCode::Forbidden,
                    format!("this search looks through {t}, which the token grants no access to"),
                ))
            }
        };
        match filter {
            Filter::Chain {
                target_type,
                filter,
                ..
            } => {
                seen(target_type)?;
                walk(ctx, filter)
            }
            Filter::Has {
                resource_type,
                filter,
                ..
            } => {
                seen(resource_type)?;
                walk(ctx, filter)
            }
            Filter::Not(inner) => walk(ctx, inner),
            Filter::Any(all) => all.iter().try_for_each(|f| walk(ctx, f)),
            Filter::List(_) => seen("List"),
            Filter::Param(_) | Filter::Missing { .. } => Ok(()),
        }
    }
    query.filters.iter().try_for_each(|f| walk(ctx, f))
}
