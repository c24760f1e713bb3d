//! The choke point: every route and every Bundle entry is put to the lab's policy decision
//! point ([`crosscare_lab::authorize`]) here, before the store is touched. The partition comes
//! from the same [`crosscare_lab::Access`] (see [`crate::Rest`]), and search results pass
//! [`visible`] so an `_include`, `_revinclude`, compartment search or `$everything` can never
//! return a type out of scope.
//!
//! Scopes restricted by search parameters (`system/Observation.rs?category=laboratory`) are
//! applied here too: [`restrict_search`] adds the restriction to a search of the type as an
//! extra filter, and [`visible_version`] / [`check_resource`] match every resource returned
//! (read by id, vread, search results and includes) against it with the search crate's matcher
//! over the resource's own index entries.

use crate::context::{Call, Ctx};
use crate::error::{FhirError, IssueCode};
use crate::request::Method;
use crate::router::{route, Route};
use crosscare_lab::scope::{Perm, Restriction};
use crosscare_lab::{authorize, Decision, Interaction, Request};
use crosscare_search::{Filter, SearchQuery};
use crosscare_store::ResourceVersion;
use serde_json::Value;

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
        Route::Reset => (I::Reset, None, None, None),
        Route::Reindex(t) => (I::Reindex, t.as_deref(), None, None),
        Route::ReindexStatus(_) | Route::ReindexCancel(_) => (I::Reindex, None, None, None),
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

/// The filters of a scope restriction (`category=laboratory`) on `resource_type`. A
/// restriction that no longer parses (the spec tables changed) grants nothing.
fn restriction_filters(resource_type: &str, query: &str) -> Option<Vec<Filter>> {
    let params = crosscare_search::parse_query_string(query);
    SearchQuery::parse(Some(resource_type), &params, false)
        .ok()
        .map(|q| q.filters)
}

/// Whether `resource` matches one of the restrictions (every filter of it). A filter that
/// cannot be decided from the resource alone does not match.
fn matches_any(resource_type: &str, resource: &Value, queries: &[&str]) -> bool {
    let entries = crosscare_search::extract(resource_type, resource);
    queries.iter().any(|q| {
        restriction_filters(resource_type, q)
            .is_some_and(|filters| filters.iter().all(|f| f.matches(&entries) == Some(true)))
    })
}

/// Adds the token's restriction on `resource_type` (searches: `s`) to a search of that type:
/// one restriction is ANDed in; several are alternatives, combined into one `Any` filter when
/// each is a single filter. Otherwise the search is refused (403), never widened.
pub fn restrict_search(
    ctx: &Ctx<'_>,
    resource_type: &str,
    query: &mut SearchQuery,
) -> Result<(), FhirError> {
    let Restriction::AnyOf(queries) = ctx.access.restriction(resource_type, &[Perm::Search]) else {
        return Ok(());
    };
    let mut alternatives = Vec::with_capacity(queries.len());
    for q in &queries {
        let filters = restriction_filters(resource_type, q).ok_or_else(|| {
            FhirError::new(
                403,
                IssueCode::Forbidden,
                format!("the scope restriction '{q}' on {resource_type} cannot be applied"),
            )
        })?;
        alternatives.push(filters);
    }
    if alternatives.len() == 1 {
        query.filters.extend(alternatives.into_iter().flatten());
        return Ok(());
    }
    if alternatives.iter().all(|f| f.len() == 1) {
        query
            .filters
            .push(Filter::Any(alternatives.into_iter().flatten().collect()));
        return Ok(());
    }
    Err(FhirError::new(
        403,
        IssueCode::Forbidden,
        format!(
            "the token's scopes restrict {resource_type} in several ways that cannot be \
             searched at once; ask for a token with one of them"
        ),
    ))
}

/// Whether a stored version may appear in a response: its type is in scope and, if the scopes
/// on that type are restricted, it matches one of the restrictions. Deletions carry no body
/// and are decided by type.
pub fn visible_version(ctx: &Ctx<'_>, v: &ResourceVersion) -> bool {
    if !visible(ctx, &v.resource_type) {
        return false;
    }
    match ctx
        .access
        .restriction(&v.resource_type, &[Perm::Read, Perm::Search])
    {
        Restriction::All => true,
        Restriction::Denied => false,
        Restriction::AnyOf(queries) => v
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str::<Value>(b).ok())
            .is_some_and(|r| matches_any(&v.resource_type, &r, &queries)),
    }
}

/// Whether every resource of `resource_type` may be read (no search restriction in the
/// token's scopes), so that a read needs no look inside the resource.
pub fn reads_unrestricted(ctx: &Ctx<'_>, resource_type: &str) -> bool {
    matches!(
        ctx.access.restriction(resource_type, &[Perm::Read]),
        Restriction::All
    )
}

/// A read (or vread) by id of a resource the token's restriction on its type does not cover
/// is refused (403).
pub fn check_resource(
    ctx: &Ctx<'_>,
    resource_type: &str,
    resource: &Value,
) -> Result<(), FhirError> {
    match ctx.access.restriction(resource_type, &[Perm::Read]) {
        Restriction::All => Ok(()),
        Restriction::AnyOf(queries) if matches_any(resource_type, resource, &queries) => Ok(()),
        _ => Err(FhirError::new(
            403,
            IssueCode::Forbidden,
            format!(
                "this {resource_type} is outside the token's scopes: they grant only the \
                 {resource_type} resources matching their search restrictions"
            ),
        )),
    }
}

/// A search may only look *through* types in scope: a chain (`subject:Patient.name=…`), a
/// reverse chain (`_has:Observation:subject:code=…`) or `_list` on a type the token cannot see
/// would reveal, through which resources match, what it holds. Refused with 403.
pub fn check_query(ctx: &Ctx<'_>, query: &SearchQuery) -> Result<(), FhirError> {
    fn walk(ctx: &Ctx<'_>, filter: &Filter) -> Result<(), FhirError> {
        // Looking through a type needs access to all of it: a restricted scope
        // (`?category=laboratory`) would otherwise leak, through which resources match, what
        // its other resources hold.
        let seen = |t: &str| {
            let whole = ctx.access.restriction(t, &[Perm::Read, Perm::Search]) == Restriction::All;
            if visible(ctx, t) && whole {
                Ok(())
            } else {
                Err(FhirError::new(
                    403,
                    IssueCode::Forbidden,
                    format!(
                        "this search looks through {t}, which the token grants no access to \
                         (or only to some of its resources)"
                    ),
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
            Filter::Any(list) | Filter::All(list) => list.iter().try_for_each(|f| walk(ctx, f)),
            Filter::List(_) => seen("List"),
            Filter::Param(_) | Filter::Missing { .. } => Ok(()),
        }
    }
    query.filters.iter().try_for_each(|f| walk(ctx, f))
}
