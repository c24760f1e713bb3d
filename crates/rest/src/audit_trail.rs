//! `AuditEvent` reads and searches answered from the lab's audit trail (`lab/audit.ndjson`)
//! rather than the store: the trail is where the server records every request, and no API call
//! can write an AuditEvent (405, decided by the lab's policy). Only administrators and
//! unauthenticated local use get here; workspace clients are refused by the policy (403) before.

use crate::context::{Call, Ctx};
use crate::error::{FhirError, IssueCode};
use crate::outcome::Outcome;
use crate::paging;
use crate::router::Route;
use crosscare_lab::audit_query::AuditQuery;
use crosscare_lab::Lab;
use serde_json::{json, Value};

/// Whether the trail answers this route.
pub fn answers(route: &Route) -> bool {
    match route {
        Route::Read(t, _) | Route::SearchType(t) => t == "AuditEvent",
        _ => false,
    }
}

/// Answers an authorised `AuditEvent/[id]` or `AuditEvent?…` from the trail.
pub fn answer(lab: &Lab, ctx: &Ctx<'_>, route: &Route, call: &Call) -> Result<Outcome, FhirError> {
    let failed = |e: crosscare_lab::LabError| {
        tracing::error!(error = %e, "the audit trail could not be searched");
        FhirError::internal("the audit trail could not be read")
    };
    match route {
        Route::Read(_, id) => {
            let query = AuditQuery::parse(&[("_id".to_string(), id.clone())])
                .map_err(FhirError::bad_request)?;
            let (events, _) = lab.audit_search(&query).map_err(failed)?;
            match events.into_iter().next() {
                Some(event) => Ok(Outcome::plain(200, Some(event))),
                None => Err(FhirError::new(
                    404,
                    IssueCode::NotFound,
                    format!("no AuditEvent/{id} in the audit trail"),
                )),
            }
        }
        _ => {
            let query = AuditQuery::parse(&call.query).map_err(FhirError::bad_request)?;
            let (events, total) = lab.audit_search(&query).map_err(failed)?;
            let applied: Vec<(String, String)> = call
                .query
                .iter()
                .filter(|(k, _)| k != "_count" && k != "_offset")
                .cloned()
                .collect();
            let returned = events.len();
            let entries: Vec<Value> = events
                .into_iter()
                .map(|e| {
                    let id = e["id"].as_str().unwrap_or_default().to_string();
                    json!({
                        "fullUrl": ctx.url(&format!("AuditEvent/{id}")),
                        "resource": e,
                        "search": {"mode": "match"},
                    })
                })
                .collect();
            let links = paging::links(
                &ctx.url("AuditEvent"),
                &applied,
                query.offset,
                query.count,
                Some(total as u64),
                returned,
            );
            Ok(Outcome::plain(
                200,
                Some(json!({
                    "resourceType": "Bundle",
                    "type": "searchset",
                    "total": total,
                    "link": links,
                    "entry": entries,
                })),
            ))
        }
    }
}
