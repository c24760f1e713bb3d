//! Transaction Bundles: all entries in one store write transaction, so any failure leaves
//! nothing stored. Ids are chosen first (fullUrl → `Type/id`, conditional creates and updates
//! resolved), references are rewritten in every resource, then entries run in the order the
//! spec prescribes (DELETE, POST, PUT/PATCH, GET/HEAD) and the response lists them in the
//! original order.

use super::references::{conditional_references, rewrite};
use super::{response_bundle, Entry};
use crate::context::{find_matches, new_id, set_id, strip_server_meta, Ctx, Prepared};
use crate::dispatch;
use crate::error::FhirError;
use crate::interaction::create::{create_with_id, resolve_if_none_exist, Existing};
use crate::interaction::update::write_version;
use crate::outcome::Outcome;
use crate::request::Method;
use crate::router::{route, Route};
use crosscare_search::parse_query_string;
use crosscare_store::{ResourceVersion, Store, WriteTx};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// What the first pass decided for an entry.
enum Plan {
    /// Run the interaction as routed.
    Route(Route),
    /// A create with the id chosen up front.
    Create { resource_type: String, id: String },
    /// A conditional create that matched this resource.
    Existing(ResourceVersion),
    /// A conditional update resolved to this id.
    Update { resource_type: String, id: String },
}

impl Plan {
    /// The resource this entry creates, updates, patches or deletes.
    fn target(&self) -> Option<(&str, &str)> {
        match self {
            Plan::Create { resource_type, id } | Plan::Update { resource_type, id } => {
                Some((resource_type, id))
            }
            Plan::Route(Route::Update(t, id) | Route::Delete(t, id) | Route::Patch(t, id)) => {
                Some((t, id))
            }
            Plan::Existing(_) | Plan::Route(_) => None,
        }
    }
}

fn phase(method: Method) -> u8 {
    match method {
        Method::Delete => 0,
        Method::Post => 1,
        Method::Put | Method::Patch => 2,
        Method::Get | Method::Head => 3,
    }
}

pub fn run<'s>(
    store: &'s dyn Store,
    ctx: &Ctx<'_>,
    mut entries: Vec<Entry>,
) -> Result<Value, FhirError> {
    // A transaction whose planning reads nothing from the store (no conditional create,
    // update or reference: an import of PUTs or POSTs) is planned, validated and indexed
    // before it takes the writer, which it then holds only to write and commit; while one
    // such transaction writes, the next one is prepared. Otherwise the writer is taken first,
    // so that what planning reads cannot change before the writes.
    let conditional = conditional_references_of(&entries);
    let mut writer: Option<Box<dyn WriteTx + 's>> = None;
    let plans = if needs_store(&entries, &conditional) {
        let tx = writer.insert(store.write_tx()?);
        plan(ctx, Some(tx.as_mut()), &mut entries, conditional)?
    } else {
        plan(ctx, None, &mut entries, conditional)?
    };
    // Every resource the entries write is known now; announced together, a store with round
    // trips (PostgreSQL) locks and fetches them in a few statements instead of per entry.
    let targets: Vec<(String, String)> = plans
        .iter()
        .filter_map(Plan::target)
        .map(|(t, id)| (t.to_string(), id.to_string()))
        .collect();
    // The writer (taken now if planning did not take it) and the prefetch, once, before the
    // first entry is executed.
    let mut prefetched = false;
    let mut open = |writer: &mut Option<Box<dyn WriteTx + 's>>| -> Result<(), FhirError> {
        if !prefetched {
            let tx = match writer {
                Some(tx) => tx,
                None => writer.insert(store.write_tx()?),
            };
            tx.prefetch(ctx.partition, &targets)?;
            prefetched = true;
        }
        Ok(())
    };
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| phase(entries[i].call.method));
    // Bodies are validated and indexed on worker threads ahead of the writer, which takes
    // them back in processing order (see `prepare`).
    let jobs: Vec<(usize, Option<Job<'_>>)> = order
        .iter()
        .map(|&i| (i, job(&plans[i], &mut entries[i])))
        .collect();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; entries.len()];
    let params = ctx.params;
    crate::parallel::pipeline(
        jobs,
        |job| prepare(params, job),
        |_, (i, prepared)| {
            open(&mut writer)?;
            let Some(tx) = writer.as_mut() else {
                return Err(FhirError::internal("no write transaction"));
            };
            let entry = &mut entries[i];
            let prepared = prepared.map(|(body, p)| {
                entry.call.body = Some(body);
                p
            });
            let entry_ctx = ctx.with_prepared(prepared.as_ref());
            let outcome = execute(&entry_ctx, tx.as_mut(), &plans[i], entry)
                .map_err(|e| e.in_entry(entry.index))?;
            outcomes[i] = Some(outcome);
            Ok::<(), FhirError>(())
        },
    )?;
    open(&mut writer)?;
    if let Some(tx) = writer {
        tx.commit()?;
    }
    let response = outcomes
        .into_iter()
        .flatten()
        .map(|o| o.into_entry(ctx.prefer, ctx.base_url))
        .collect();
    Ok(response_bundle("transaction-response", response))
}

/// The conditional references (`Patient?identifier=…`) in each entry's body, found once for
/// [`needs_store`] and [`plan`].
fn conditional_references_of(entries: &[Entry]) -> Vec<Vec<String>> {
    entries
        .iter()
        .map(|entry| {
            let mut found = Vec::new();
            if let Some(body) = &entry.call.body {
                conditional_references(body, &mut found);
            }
            found
        })
        .collect()
}

/// Whether planning the entries reads the store: a conditional create (`If-None-Exist`), a
/// conditional update, or a conditional reference in a body (`conditional`, per entry).
fn needs_store(entries: &[Entry], conditional: &[Vec<String>]) -> bool {
    conditional.iter().any(|c| !c.is_empty())
        || entries.iter().any(|entry| {
            let call = &entry.call;
            call.if_none_exist.is_some()
                || matches!(
                    route(call.method, &call.path, !call.query.is_empty()),
                    Ok(Route::ConditionalUpdate(_))
                )
        })
}

/// The store for a planning step that reads it; `None` only when [`needs_store`] said no step
/// would.
fn reading<'t>(tx: &'t mut Option<&mut dyn WriteTx>) -> Result<&'t mut dyn WriteTx, FhirError> {
    match tx {
        Some(tx) => Ok(&mut **tx),
        None => Err(FhirError::internal(
            "planning the transaction read the store after all",
        )),
    }
}

/// First pass: route every entry, choose ids, and rewrite references.
fn plan(
    ctx: &Ctx<'_>,
    mut tx: Option<&mut dyn WriteTx>,
    entries: &mut [Entry],
    conditional: Vec<Vec<String>>,
) -> Result<Vec<Plan>, FhirError> {
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut plans = Vec::with_capacity(entries.len());
    let mut written: HashSet<String> = HashSet::new();
    for entry in entries.iter() {
        let i = entry.index;
        let call = &entry.call;
        let r =
            route(call.method, &call.path, !call.query.is_empty()).map_err(|e| e.in_entry(i))?;
        crate::guard::check(ctx, &r, call).map_err(|e| e.in_entry(i))?;
        let p = match r {
            Route::Bundle => {
                return Err(
                    FhirError::bad_request("a transaction cannot contain a Bundle request")
                        .in_entry(i),
                )
            }
            Route::Create(t) if call.if_none_exist.is_none() => Plan::Create {
                resource_type: t,
                id: new_id(),
            },
            Route::Create(t) => {
                let tx = reading(&mut tx).map_err(|e| e.in_entry(i))?;
                match resolve_if_none_exist(ctx, tx, &t, call.if_none_exist.as_deref())
                    .map_err(|e| e.in_entry(i))?
                {
                    Existing::One(v) => Plan::Existing(v),
                    Existing::None => Plan::Create {
                        resource_type: t,
                        id: new_id(),
                    },
                }
            }
            Route::ConditionalUpdate(t) => {
                let tx = reading(&mut tx).map_err(|e| e.in_entry(i))?;
                let found = find_matches(ctx, tx, &t, &call.query).map_err(|e| e.in_entry(i))?;
                let body_id = call
                    .body
                    .as_ref()
                    .and_then(|b| b["id"].as_str())
                    .map(str::to_string);
                let id = match found.as_slice() {
                    [] => match body_id {
                        Some(id) => {
                            let live = tx
                                .read(ctx.partition, &t, &id)?
                                .is_some_and(|v| !v.is_deleted());
                            if live {
                                return Err(FhirError::conflict(format!(
                                    "no {t} matches the condition, but {t}/{id} exists"
                                ))
                                .in_entry(i));
                            }
                            id
                        }
                        None => new_id(),
                    },
                    [one] => one.id.clone(),
                    _ => {
                        return Err(FhirError::multiple_matches(format!(
                            "the condition matches several {t} resources"
                        ))
                        .in_entry(i))
                    }
                };
                Plan::Update {
                    resource_type: t,
                    id,
                }
            }
            other => Plan::Route(other),
        };
        let target = match &p {
            Plan::Existing(v) => Some(format!("{}/{}", v.resource_type, v.id)),
            other => other.target().map(|(t, id)| format!("{t}/{id}")),
        };
        if let Some(target) = &target {
            if !matches!(p, Plan::Existing(_)) && !written.insert(target.clone()) {
                return Err(FhirError::bad_request(format!(
                    "{target} is written by more than one entry of the transaction"
                ))
                .in_entry(i));
            }
            if let Some(full_url) = &entry.full_url {
                ids.insert(full_url.clone(), target.clone());
            }
        }
        plans.push(p);
    }
    for (entry, conditional) in entries.iter_mut().zip(conditional) {
        let Some(body) = entry.call.body.as_mut() else {
            continue;
        };
        if conditional.is_empty() {
            rewrite(body, &ids);
            continue;
        }
        // Conditional references resolve per entry; the shared map is copied only then (a copy
        // per entry would make a large transaction quadratic).
        let mut map = ids.clone();
        for reference in conditional {
            let tx = reading(&mut tx).map_err(|e| e.in_entry(entry.index))?;
            let target =
                resolve_conditional(ctx, tx, &reference).map_err(|e| e.in_entry(entry.index))?;
            map.insert(reference, target);
        }
        rewrite(body, &map);
    }
    Ok(plans)
}

/// One create or update whose validation and index extraction can run before its write: the
/// body (moved out of the entry) and where it will be stored.
struct Job<'a> {
    body: Value,
    resource_type: &'a str,
    id: &'a str,
    id_rule: IdRule,
}

/// How the interaction treats the body's id.
#[derive(Clone, Copy, PartialEq, Eq)]
enum IdRule {
    /// Create: the body's id is replaced.
    Replace,
    /// Conditional update: a body without id takes the matched id.
    SetIfAbsent,
    /// Update: the body's id must already be the URL's.
    MustMatch,
}

/// The job of an entry that creates or updates a resource from its body.
fn job<'a>(plan: &'a Plan, entry: &mut Entry) -> Option<Job<'a>> {
    let (resource_type, id, id_rule) = match plan {
        Plan::Create { resource_type, id } => {
            (resource_type.as_str(), id.as_str(), IdRule::Replace)
        }
        Plan::Update { resource_type, id } => {
            (resource_type.as_str(), id.as_str(), IdRule::SetIfAbsent)
        }
        Plan::Route(Route::Update(t, id)) => (t.as_str(), id.as_str(), IdRule::MustMatch),
        Plan::Existing(_) | Plan::Route(_) => return None,
    };
    let body = entry.call.body.take()?;
    Some(Job {
        body,
        resource_type,
        id,
        id_rule,
    })
}

/// Validates a created or updated body and extracts its index entries, after references were
/// rewritten and off the writer's thread. The body is checked as received; then, if it passed
/// and its id is the one it will be stored under, it is given that id and stripped of server
/// meta exactly as the interaction would do, and indexed in that form. The interaction
/// consumes the results through [`Ctx::check_for_write`] and `put`, so what is stored is what a
/// sequential run would store.
fn prepare<'a>(
    params: &crosscare_search::ParamRegistry,
    (i, job): (usize, Option<Job<'a>>),
) -> (usize, Option<(Value, Prepared)>) {
    let Some(mut job) = job else {
        return (i, None);
    };
    let body = &mut job.body;
    let checked = crate::body::check_for_write(job.resource_type, body);
    let index = if checked.is_ok() {
        let body_id = body.get("id").map(|v| v.as_str());
        let stored_as_is = match (job.id_rule, body_id) {
            (IdRule::Replace, _) | (IdRule::SetIfAbsent, None) => {
                set_id(body, job.id);
                true
            }
            (_, Some(Some(b))) => b == job.id,
            _ => false,
        };
        stored_as_is.then(|| {
            strip_server_meta(body);
            params.extract(job.resource_type, body).0
        })
    } else {
        None
    };
    (i, Some((job.body, Prepared::new(checked, index))))
}

/// `Patient?identifier=s|v` → `Patient/123`; no match or several fail the transaction (412).
fn resolve_conditional(
    ctx: &Ctx<'_>,
    tx: &mut dyn WriteTx,
    reference: &str,
) -> Result<String, FhirError> {
    let (ty, query) = reference.split_once('?').unwrap_or((reference, ""));
    let found = find_matches(ctx, tx, ty, &parse_query_string(query))?;
    match found.as_slice() {
        [one] => Ok(format!("{ty}/{}", one.id)),
        [] => Err(FhirError::precondition_failed(format!(
            "conditional reference '{reference}' matches no resource"
        ))),
        _ => Err(FhirError::multiple_matches(format!(
            "conditional reference '{reference}' matches several resources"
        ))),
    }
}

fn execute(
    ctx: &Ctx<'_>,
    tx: &mut dyn WriteTx,
    plan: &Plan,
    entry: &mut Entry,
) -> Result<Outcome, FhirError> {
    match plan {
        Plan::Existing(v) => Outcome::written(
            ctx.prefer,
            200,
            v,
            format!(
                "{}/{} matches ifNoneExist; nothing created",
                v.resource_type, v.id
            ),
        ),
        Plan::Create { resource_type, id } => {
            let body = entry.call.take_body()?;
            create_with_id(ctx, tx, resource_type, body, id.clone())
        }
        Plan::Update { resource_type, id } => {
            let body = entry.call.take_body()?;
            ctx.check_for_write(resource_type, &body)?;
            if let Some(body_id) = body.get("id").and_then(Value::as_str) {
                if body_id != id {
                    return Err(FhirError::bad_request(format!(
                        "the body id '{body_id}' differs from the matching resource {resource_type}/{id}"
                    )));
                }
            }
            let if_match = entry.call.if_match.clone();
            write_version(ctx, tx, resource_type, id, body, if_match.as_deref())
        }
        Plan::Route(r) => dispatch::run_write(ctx, tx, r, &mut entry.call),
    }
}
