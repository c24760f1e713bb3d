//! `search`: type (`GET [type]?…`, `POST [type]/_search`), system (`GET [base]?_type=…`),
//! compartment (`GET Patient/123/Observation`, `Patient/123/*`) and `Patient/[id]/$everything`.
//! Builds `searchset` Bundles with paging links, `total`, `search.mode` and
//! `_summary`/`_elements`.

use crate::context::{is_format_param, Call, Ctx};
use crate::error::{operation_outcome, FhirError, Issue, IssueCode, IssueSeverity};
use crate::interaction::read::current;
use crate::outcome::{version_json, Outcome};
use crate::paging;
use crate::summary::{apply_elements, apply_summary};
use crosscare_search::{compartment_filter, SearchQuery, SummaryMode, TotalMode};
use crosscare_spec::Spec;
use crosscare_store::{ReadTx, ResourceVersion, SearchPage};
use serde_json::{json, Value};

/// Where a search runs.
pub enum Scope<'a> {
    System,
    Type(&'a str),
    /// `compartment/id/target`; `target` is a type or `*`.
    Compartment {
        compartment: &'a str,
        id: &'a str,
        target: &'a str,
    },
}

pub fn search<T: ReadTx + ?Sized>(
    ctx: &Ctx<'_>,
    tx: &mut T,
    scope: Scope<'_>,
    call: &Call,
) -> Result<Outcome, FhirError> {
    let params: Vec<(String, String)> = call
        .query
        .iter()
        .filter(|(k, _)| !is_format_param(k))
        .cloned()
        .collect();
    let (path, types): (String, Vec<String>) = match &scope {
        Scope::System => (String::new(), Vec::new()),
        Scope::Type(t) => (t.to_string(), vec![t.to_string()]),
        Scope::Compartment {
            compartment,
            id,
            target,
        } => {
            let members = compartment_members(compartment, target)?;
            (format!("{compartment}/{id}/{target}"), members)
        }
    };
    let resource_type = match &scope {
        Scope::System => None,
        _ if types.len() == 1 => Some(types[0].as_str()),
        _ => None,
    };
    let mut query =
        SearchQuery::parse_with(ctx.params, resource_type, &params, ctx.prefer.lenient)?;
    crate::guard::check_query(ctx, &query)?;
    if let Some(t) = resource_type {
        crate::guard::restrict_search(ctx, t, &mut query)?;
    }
    let count = match query.result.count {
        None => ctx.config.default_page_size,
        Some(c) => c.min(ctx.config.max_page_size),
    };
    query.result.count = Some(count);
    // Without `_total`, Bundle.total is given when counting is cheap: up to a limit of matches
    // (and whenever the page itself proves it). `_total=accurate` always counts.
    if query.result.total.is_none() {
        query.result.total = Some(TotalMode::UpTo(ctx.config.search_total_limit));
    }
    let offset = query.result.offset;
    let mut page = if let Scope::Compartment {
        compartment, id, ..
    } = &scope
    {
        search_compartment(ctx, tx, &query, compartment, id, &types)?
    } else {
        tx.search(std::slice::from_ref(ctx.partition), &query)?
    };
    page.matches.retain(|v| !v.is_deleted());
    // Whatever the query (`_include`, `_revinclude`, `*` compartments), nothing out of scope.
    page.matches
        .retain(|v| crate::guard::visible_version(ctx, v));
    page.included
        .retain(|v| crate::guard::visible_version(ctx, v));
    let links_params: Vec<(String, String)> = query
        .applied
        .iter()
        .filter(|(k, _)| k != "_count" && k != "_offset")
        .cloned()
        .collect();
    let url = if path.is_empty() {
        ctx.base_url.to_string()
    } else {
        ctx.url(&path)
    };
    let mut links = paging::links(
        &url,
        &links_params,
        offset,
        count,
        page.total,
        page.matches.len(),
    );
    if query.result.summary == Some(crosscare_search::SummaryMode::Count) {
        // A count carries no entries: there is no other page to link to.
        links.retain(|l| l["relation"] == "self");
    }
    let bundle = searchset(ctx, &query, page, links)?;
    Ok(Outcome::plain(200, Some(bundle)))
}

/// The resource types of a compartment that `target` (`*` or one type) covers.
fn compartment_members(compartment: &str, target: &str) -> Result<Vec<String>, FhirError> {
    let def = Spec::r4()
        .compartment(compartment)
        .ok_or_else(|| FhirError::not_found(format!("there is no {compartment} compartment")))?;
    let mut members: Vec<String> = def
        .resources
        .iter()
        .filter(|r| !r.params.is_empty() || r.code == compartment)
        .map(|r| r.code.clone())
        .filter(|c| target == "*" || c == target)
        .collect();
    if target == compartment && !members.contains(&target.to_string()) {
        members.push(target.to_string());
    }
    if members.is_empty() {
        return Err(FhirError::bad_request(format!(
            "{target} is not in the {compartment} compartment"
        )));
    }
    Ok(members)
}

/// Searches each member type with the compartment filter added, concatenating the results.
/// With several types, paging applies to the concatenation (each type is searched whole).
fn search_compartment<T: ReadTx + ?Sized>(
    ctx: &Ctx<'_>,
    tx: &mut T,
    query: &SearchQuery,
    compartment: &str,
    id: &str,
    types: &[String],
) -> Result<SearchPage, FhirError> {
    current(ctx, tx, compartment, id)?;
    if let [only] = types {
        let mut q = query.clone();
        q.resource_type = Some(only.clone());
        q.filters.extend(compartment_filter(compartment, id, only));
        return Ok(tx.search(std::slice::from_ref(ctx.partition), &q)?);
    }
    // Each type is counted, and only the types the page overlaps are searched, from the
    // page's offset within them: the cost follows the page, not the compartment's size (a
    // patient's `$everything` page of 50 used to load all of its 1,400 resources).
    let count = query.result.count.unwrap_or(ctx.config.default_page_size);
    let mut skip = query.result.offset;
    let mut all = SearchPage::default();
    let mut total = 0u64;
    // Types without a reference to the compartment's resource have no members (but the
    // compartment's own type, whose member is that resource itself): skipped, when the store
    // tells, instead of counted one statement each.
    let referring = tx.referring_types(std::slice::from_ref(ctx.partition), compartment, id)?;
    for t in types {
        if let Some(referring) = &referring {
            if t != compartment && !referring.contains(t) {
                continue;
            }
        }
        let Some(filter) = compartment_filter(compartment, id, t) else {
            continue;
        };
        let mut q = query.clone();
        q.resource_type = Some(t.clone());
        q.filters.push(filter);
        q.result.cursor = None;
        let mut counting = q.clone();
        counting.result.summary = Some(crosscare_search::SummaryMode::Count);
        counting.result.include.clear();
        counting.result.revinclude.clear();
        let n = tx
            .search(std::slice::from_ref(ctx.partition), &counting)?
            .total
            .unwrap_or(0);
        total += n;
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        if skip >= n {
            skip -= n;
            continue;
        }
        let wanted = count.saturating_sub(all.matches.len());
        if wanted == 0 {
            continue;
        }
        q.result.offset = skip;
        q.result.count = Some(wanted);
        q.result.total = Some(TotalMode::None);
        skip = 0;
        let page = tx.search(std::slice::from_ref(ctx.partition), &q)?;
        all.matches.extend(page.matches);
        all.included.extend(page.included);
    }
    all.total = Some(total);
    Ok(all)
}

/// `Patient/[id]/$everything`: the patient and every resource in its compartment.
pub fn everything<T: ReadTx + ?Sized>(
    ctx: &Ctx<'_>,
    tx: &mut T,
    compartment: &str,
    id: &str,
    call: &Call,
) -> Result<Outcome, FhirError> {
    let mut call = call.clone();
    call.query.retain(|(k, _)| k == "_count" || k == "_offset");
    search(
        ctx,
        tx,
        Scope::Compartment {
            compartment,
            id,
            target: "*",
        },
        &call,
    )
}

fn searchset(
    ctx: &Ctx<'_>,
    query: &SearchQuery,
    page: SearchPage,
    links: Vec<Value>,
) -> Result<Value, FhirError> {
    let summary = query.result.summary;
    let mut entries = Vec::new();
    if !query.ignored.is_empty() {
        let issues: Vec<Issue> = query
            .ignored
            .iter()
            .map(|(k, v)| Issue {
                severity: IssueSeverity::Warning,
                code: IssueCode::NotSupported,
                diagnostics: format!("search parameter '{k}={v}' was ignored"),
                expression: vec![k.clone()],
            })
            .collect();
        entries.push(
            json!({ "resource": operation_outcome(&issues), "search": { "mode": "outcome" } }),
        );
    }
    if summary != Some(SummaryMode::Count) {
        for (mode, versions) in [("match", &page.matches), ("include", &page.included)] {
            for v in versions.iter() {
                entries.push(entry(ctx, query, v, mode)?);
            }
        }
    }
    let mut bundle = json!({ "resourceType": "Bundle", "type": "searchset" });
    if let Some(t) = page.total {
        bundle["total"] = json!(t);
    }
    bundle["link"] = json!(links);
    if !entries.is_empty() {
        bundle["entry"] = json!(entries);
    }
    Ok(bundle)
}

fn entry(
    ctx: &Ctx<'_>,
    query: &SearchQuery,
    v: &ResourceVersion,
    mode: &str,
) -> Result<Value, FhirError> {
    let mut resource = version_json(v)?.unwrap_or(Value::Null);
    if let Some(s) = query.result.summary {
        apply_summary(&mut resource, s);
    }
    if !query.result.elements.is_empty() {
        apply_elements(&mut resource, &query.result.elements);
    }
    Ok(json!({
        "fullUrl": ctx.url(&format!("{}/{}", v.resource_type, v.id)),
        "resource": resource,
        "search": { "mode": mode },
    }))
}
