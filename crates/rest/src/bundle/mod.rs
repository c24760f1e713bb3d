//! Batch and transaction Bundles (`POST [base]`): entry decoding shared by both, then
//! [`transaction`] (atomic, one write transaction) or [`batch`] (independent entries).

pub mod batch;
pub mod references;
pub mod transaction;

use crate::context::{is_format_param, Call, Ctx};
use crate::error::FhirError;
use crate::outcome::Outcome;
use crate::request::Method;
use crosscare_search::parse_query_string;
use crosscare_store::Store;
use serde_json::{json, Value};

/// One decoded entry.
pub struct Entry {
    pub index: usize,
    pub full_url: Option<String>,
    pub call: Call,
}

/// Processes a `batch` or `transaction` Bundle.
pub fn process(store: &dyn Store, ctx: &Ctx<'_>, call: &mut Call) -> Result<Outcome, FhirError> {
    let mut bundle = call.take_body()?;
    if bundle["resourceType"] != "Bundle" {
        return Err(FhirError::bad_request(
            "POST to the base URL takes a Bundle of type batch or transaction",
        )
        .at("resourceType"));
    }
    let kind = bundle["type"].as_str().unwrap_or_default().to_string();
    // The entries are moved out of the Bundle, not copied: a 1,000-entry Bundle is large.
    let raw = match bundle.get_mut("entry").map(Value::take) {
        None => Vec::new(),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(FhirError::bad_request("Bundle.entry must be an array")),
    };
    if raw.len() > ctx.config.max_bundle_entries {
        return Err(FhirError::too_large(format!(
            "the Bundle has {} entries; this server accepts at most {}",
            raw.len(),
            ctx.config.max_bundle_entries
        ))
        .at("Bundle.entry"));
    }
    let response = match kind.as_str() {
        "transaction" => {
            let entries = raw
                .into_iter()
                .enumerate()
                .map(|(i, mut e)| decode(ctx, i, &mut e).map_err(|err| err.in_entry(i)))
                .collect::<Result<Vec<_>, _>>()?;
            transaction::run(store, ctx, entries)?
        }
        "batch" => batch::run(store, ctx, raw),
        other => {
            return Err(FhirError::bad_request(format!(
                "Bundle.type must be 'batch' or 'transaction', not '{other}'"
            ))
            .at("Bundle.type"))
        }
    };
    Ok(Outcome::plain(200, Some(response)))
}

/// The response Bundle.
pub fn response_bundle(kind: &str, entries: Vec<Value>) -> Value {
    json!({ "resourceType": "Bundle", "type": kind, "entry": entries })
}

/// Decodes `entry.request` (and `entry.resource`, which is moved out of `entry`) into a
/// [`Call`].
pub fn decode(ctx: &Ctx<'_>, index: usize, entry: &mut Value) -> Result<Entry, FhirError> {
    let body = entry.get_mut("resource").map(Value::take);
    let request = entry
        .get("request")
        .ok_or_else(|| FhirError::bad_request("the entry has no request"))?;
    let method = request["method"]
        .as_str()
        .and_then(Method::parse)
        .ok_or_else(|| {
            FhirError::bad_request("entry.request.method is missing or not an HTTP verb")
        })?;
    let url = request["url"]
        .as_str()
        .ok_or_else(|| FhirError::bad_request("entry.request.url is missing"))?;
    let relative = url
        .strip_prefix(ctx.base_url)
        .unwrap_or(url)
        .trim_start_matches('/');
    let (path, query) = match relative.split_once('?') {
        Some((p, q)) => (p, parse_query_string(q)),
        None => (relative, Vec::new()),
    };
    let text = |name: &str| request[name].as_str().map(str::to_string);
    let call = Call {
        method,
        path: path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        query: query
            .into_iter()
            .filter(|(k, _)| !is_format_param(k))
            .collect(),
        body,
        content_type: None,
        if_match: text("ifMatch"),
        if_none_match: text("ifNoneMatch"),
        if_modified_since: text("ifModifiedSince"),
        if_none_exist: text("ifNoneExist"),
    };
    Ok(Entry {
        index,
        full_url: entry["fullUrl"].as_str().map(str::to_string),
        call,
    })
}
