//! What every interaction gets: the per-request context ([`Ctx`]), the decoded call
//! ([`Call`], from HTTP or from a Bundle entry), and the few store helpers they share
//! (writing with index entries, conditional matching, `If-Match`).

use crate::error::FhirError;
use crate::headers::parse_etag;
use crate::request::{Method, Prefer};
use crate::RestConfig;
use crosscare_search::{IndexEntry, SearchQuery};
use crosscare_store::{PartitionId, ReadTx, ResourceVersion, WriteTx};
use serde_json::Value;
use std::cell::RefCell;

/// Per-request settings shared by all interactions.
pub struct Ctx<'a> {
    pub config: &'a RestConfig,
    pub partition: &'a PartitionId,
    /// The absolute base URL without a trailing `/`.
    pub base_url: &'a str,
    pub prefer: &'a Prefer,
    /// Who is asking; every store access is authorised against it (`crate::guard`).
    pub access: &'a crosscare_lab::Access,
    /// Work done for this call before its write transaction (a transaction Bundle entry's
    /// validation and index entries, computed on all cores); `None` for ordinary requests.
    pub prepared: Option<&'a Prepared>,
    /// The search parameters in force for this request (held for all of it).
    pub params: &'a crosscare_search::ParamRegistry,
    /// The server's live parameters, told when this request writes a `SearchParameter`
    /// (`None` where nothing reloads, as in tests of one interaction).
    pub live_params: Option<&'a crate::search_params::SearchParams>,
}

impl<'a> Ctx<'a> {
    /// The absolute URL of a relative path (`Patient/1`).
    pub fn url(&self, relative: &str) -> String {
        format!("{}/{}", self.base_url, relative)
    }

    /// This context for one call, with what was prepared for it (if anything).
    pub fn with_prepared(&self, prepared: Option<&'a Prepared>) -> Ctx<'a> {
        Ctx {
            config: self.config,
            partition: self.partition,
            base_url: self.base_url,
            prefer: self.prefer,
            access: self.access,
            prepared,
            params: self.params,
            live_params: self.live_params,
        }
    }

    /// [`crate::body::check_for_write`] of the call's body, or its prepared result. The
    /// prepared result is consumed: it stands for the body as it arrived, checked once.
    pub fn check_for_write(&self, resource_type: &str, resource: &Value) -> Result<(), FhirError> {
        if let Some(result) = self.prepared.and_then(|p| p.checked.borrow_mut().take()) {
            return result;
        }
        crate::body::check_for_write(resource_type, resource)
    }
}

/// What can be computed for a write before its transaction starts, from the body alone: the
/// result of [`crate::body::check_for_write`] on the body as received, and the index entries
/// of the body as it will be stored (id set, server meta stripped). Each part is used once.
#[derive(Debug, Default)]
pub struct Prepared {
    checked: RefCell<Option<Result<(), FhirError>>>,
    index: RefCell<Option<Vec<IndexEntry>>>,
}

impl Prepared {
    pub fn new(checked: Result<(), FhirError>, index: Option<Vec<IndexEntry>>) -> Prepared {
        Prepared {
            checked: RefCell::new(Some(checked)),
            index: RefCell::new(index),
        }
    }
}

/// One decoded call: the top-level HTTP request or a Bundle entry's `request`.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    pub path: Vec<String>,
    /// Query parameters, without `_format` and `_pretty`.
    pub query: Vec<(String, String)>,
    /// The parsed JSON body.
    pub body: Option<Value>,
    pub content_type: Option<String>,
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<String>,
    pub if_none_exist: Option<String>,
}

impl Call {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body, which the interaction requires.
    pub fn take_body(&mut self) -> Result<Value, FhirError> {
        self.body
            .take()
            .ok_or_else(|| FhirError::bad_request("this interaction needs a request body"))
    }
}

/// Parameters that never select resources, whatever the interaction.
pub fn is_format_param(name: &str) -> bool {
    matches!(name, "_format" | "_pretty")
}

/// Stores a new version of `resource` with its search index entries.
pub fn put(
    ctx: &Ctx<'_>,
    tx: &mut dyn WriteTx,
    resource: Value,
) -> Result<ResourceVersion, FhirError> {
    let resource_type = resource["resourceType"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    check_storage_quota(ctx, tx, &resource_type, &resource)?;
    crate::search_params::before_write(
        ctx.params,
        ctx.live_params,
        tx,
        ctx.partition,
        &resource_type,
        Some(&resource),
    )?;
    let prepared = ctx.prepared.and_then(|p| p.index.borrow_mut().take());
    let index = prepared.unwrap_or_else(|| ctx.params.extract(&resource_type, &resource).0);
    Ok(tx.put(ctx.partition, resource, index)?)
}

/// A workspace's storage quota: a write that would add one more current resource to a full
/// partition is refused with 429 and `Retry-After` (the lab's rule for every quota; the
/// diagnostics say that deleting or a larger quota is what frees room). A new version of a
/// live resource adds none. Counted inside the write transaction, so the entries
/// of a transaction Bundle count one by one.
/// `Retry-After` of a full storage quota: room comes back only when the partner deletes or an
/// administrator raises the quota, so a client should not retry sooner than this.
const STORAGE_RETRY_AFTER_SECS: u64 = 3600;

fn check_storage_quota(
    ctx: &Ctx<'_>,
    tx: &mut dyn WriteTx,
    resource_type: &str,
    resource: &Value,
) -> Result<(), FhirError> {
    let Some(max) = ctx.access.storage_quota() else {
        return Ok(());
    };
    let id = resource["id"].as_str().unwrap_or_default();
    let live = tx
        .read(ctx.partition, resource_type, id)?
        .is_some_and(|v| !v.is_deleted());
    if live {
        return Ok(());
    }
    let held = tx.count(ctx.partition, None)?;
    if held >= max {
        return Err(FhirError::new(
            429,
            crate::error::IssueCode::BusinessRule,
            format!(
                "the workspace's storage quota is full: it holds {held} resources of at most \
                 {max}; delete some (or ask for a larger quota) before creating more. Reads, \
                 updates and deletes are still allowed"
            ),
        )
        .retry_after(STORAGE_RETRY_AFTER_SECS));
    }
    Ok(())
}

/// Sets `id`, placing it right after `resourceType` as FHIR JSON conventionally orders them.
pub fn set_id(resource: &mut Value, id: &str) {
    let Some(obj) = resource.as_object_mut() else {
        return;
    };
    // `shift_remove` keeps the order of the other members, so that setting the same id twice
    // gives the same document (a swap-remove would move the last member up).
    obj.shift_remove("id");
    let mut out = serde_json::Map::with_capacity(obj.len() + 1);
    let mut pending = Some(id);
    for (k, v) in std::mem::take(obj) {
        let is_type = k == "resourceType";
        out.insert(k, v);
        if is_type {
            if let Some(id) = pending.take() {
                out.insert("id".to_string(), Value::String(id.to_string()));
            }
        }
    }
    if let Some(id) = pending {
        out.insert("id".to_string(), Value::String(id.to_string()));
    }
    *obj = out;
}

/// Removes what the store owns (`meta.versionId`, `meta.lastUpdated`) from a body, so a client
/// cannot set them; an emptied `meta` is dropped.
pub fn strip_server_meta(resource: &mut Value) {
    // Order-preserving removals, like `set_id`: the two then commute, which the prepared
    // (parallel) write path relies on to store exactly what the sequential path stores.
    if let Some(meta) = resource.get_mut("meta").and_then(Value::as_object_mut) {
        meta.shift_remove("versionId");
        meta.shift_remove("lastUpdated");
        if meta.is_empty() {
            if let Some(obj) = resource.as_object_mut() {
                obj.shift_remove("meta");
            }
        }
    }
}

/// The current (non-deleted) resources of `resource_type` matching a conditional query
/// (`identifier=a|b`), at most `limit + 1` of them so that "several" can be told from "one".
pub fn find_matches<T: ReadTx + ?Sized>(
    ctx: &Ctx<'_>,
    tx: &mut T,
    resource_type: &str,
    params: &[(String, String)],
) -> Result<Vec<ResourceVersion>, FhirError> {
    let params: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| !is_format_param(k))
        .cloned()
        .collect();
    if params.is_empty() {
        return Err(FhirError::bad_request(
            "a conditional interaction needs at least one search parameter",
        ));
    }
    crate::guard::check_match(ctx, resource_type, &params)?;
    let mut query = SearchQuery::parse_with(ctx.params, Some(resource_type), &params, false)?;
    crate::guard::check_query(ctx, &query)?;
    crate::guard::restrict_search(ctx, resource_type, &mut query)?;
    query.result.count = Some(2);
    query.result.offset = 0;
    let page = tx.search(std::slice::from_ref(ctx.partition), &query)?;
    Ok(page
        .matches
        .into_iter()
        .filter(|v| !v.is_deleted())
        .take(2)
        .collect())
}

/// Checks `If-Match` against the current version: a mismatch, or no current version, is 412.
pub fn check_if_match(
    if_match: Option<&str>,
    current: Option<&ResourceVersion>,
) -> Result<(), FhirError> {
    let Some(expected) = if_match else {
        return Ok(());
    };
    let current = current.filter(|v| !v.is_deleted());
    match (parse_etag(expected), current) {
        (Some(n), Some(v)) if n == v.version_id => Ok(()),
        (_, Some(v)) => Err(FhirError::precondition_failed(format!(
            "If-Match '{expected}' does not match the current version W/\"{}\"",
            v.version_id
        ))),
        (_, None) => Err(FhirError::precondition_failed(format!(
            "If-Match '{expected}' given but the resource does not exist"
        ))),
    }
}

/// A new server-assigned logical id (a random UUID, which reveals nothing about the resource).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::{set_id, strip_server_meta};
    use serde_json::{json, Value};

    fn text(v: &Value) -> String {
        serde_json::to_string(v).unwrap_or_default()
    }

    #[test]
    fn set_id_and_strip_server_meta_commute_and_keep_member_order() {
        let bodies = [
            json!({"resourceType": "Patient", "meta": {"versionId": "3"}, "a": 1, "b": 2, "id": "x"}),
            json!({"resourceType": "Patient", "a": 1, "meta": {"lastUpdated": "2020-01-01T00:00:00Z", "tag": []}, "b": 2}),
            json!({"resourceType": "Patient", "id": "y", "meta": {"versionId": "1"}, "a": 1, "b": 2}),
        ];
        for body in bodies {
            let mut first = body.clone();
            set_id(&mut first, "x");
            strip_server_meta(&mut first);
            let mut second = body.clone();
            strip_server_meta(&mut second);
            set_id(&mut second, "x");
            assert_eq!(text(&first), text(&second), "{body}");
            // Idempotent, as the prepared path applies them twice.
            let mut again = first.clone();
            set_id(&mut again, "x");
            strip_server_meta(&mut again);
            assert_eq!(text(&again), text(&first), "{body}");
        }
        let mut b = json!({"resourceType": "Patient", "meta": {"versionId": "3"}, "a": 1, "b": 2, "id": "x"});
        strip_server_meta(&mut b);
        set_id(&mut b, "x");
        assert_eq!(
            text(&b),
            r#"{"resourceType":"Patient","id":"x","a":1,"b":2}"#
        );
    }
}
