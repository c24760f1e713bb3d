//! `history`: instance (`[type]/[id]/_history`), type (`[type]/_history`) and system
//! (`_history`) level, newest first, deletions included, with `_count`, `_since`, `_at` and
//! offset paging.

use crate::context::{Call, Ctx};
use crate::error::FhirError;
use crate::outcome::{instant, status_line, version_json};
use crate::paging;
use chrono::{DateTime, NaiveDate, Utc};
use crosscare_store::{ChangeKind, HistoryQuery, ReadTx, ResourceVersion};
use serde_json::{json, Value};

pub fn history<T: ReadTx + ?Sized>(
    ctx: &Ctx<'_>,
    tx: &mut T,
    resource_type: Option<&str>,
    id: Option<&str>,
    call: &Call,
) -> Result<crate::outcome::Outcome, FhirError> {
    let mut applied = Vec::new();
    let mut since = None;
    let mut at = None;
    for (k, v) in &call.query {
        match k.as_str() {
            "_since" => since = Some(parse_instant("_since", v)?),
            "_at" => at = Some(parse_instant("_at", v)?),
            "_count" | "_offset" => continue,
            "_list" | "_sort" => {
                return Err(
                    FhirError::not_supported(format!("{k} is not supported on history"))
                        .at(k.clone()),
                )
            }
            other => {
                return Err(
                    FhirError::bad_request(format!("unknown history parameter '{other}'"))
                        .at(other.to_string()),
                )
            }
        }
        applied.push((k.clone(), v.clone()));
    }
    let count = paging::page_size(ctx.config, call.param("_count"))?;
    let offset = paging::offset(call.param("_offset"))?;
    if let (Some(t), Some(i)) = (resource_type, id) {
        if tx.read(ctx.partition, t, i)?.is_none() {
            return Err(FhirError::not_found(format!("{t}/{i} is not known")));
        }
    }
    let query = HistoryQuery {
        resource_type: resource_type.map(str::to_string),
        id: id.map(str::to_string),
        since,
        at,
        count,
        offset,
    };
    let (versions, total) = tx.history(ctx.partition, &query)?;
    let path = match (resource_type, id) {
        (Some(t), Some(i)) => format!("{t}/{i}/_history"),
        (Some(t), None) => format!("{t}/_history"),
        _ => "_history".to_string(),
    };
    let entries = versions
        .iter()
        .map(|v| entry(ctx, v))
        .collect::<Result<Vec<_>, _>>()?;
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "history",
        "total": total,
        "link": paging::links(&ctx.url(&path), &applied, offset, count, Some(total), entries.len()),
        "entry": entries,
    });
    Ok(crate::outcome::Outcome::plain(200, Some(bundle)))
}

/// One history entry: the version, and how it came to be.
fn entry(ctx: &Ctx<'_>, v: &ResourceVersion) -> Result<Value, FhirError> {
    let (method, url, status) = match v.change {
        ChangeKind::Create => ("POST", v.resource_type.clone(), 201),
        ChangeKind::Update => ("PUT", format!("{}/{}", v.resource_type, v.id), 200),
        ChangeKind::Delete => ("DELETE", format!("{}/{}", v.resource_type, v.id), 204),
    };
    let mut e = json!({ "fullUrl": ctx.url(&format!("{}/{}", v.resource_type, v.id)) });
    if let Some(body) = version_json(v)? {
        e["resource"] = body;
    }
    e["request"] = json!({ "method": method, "url": url });
    e["response"] = json!({
        "status": status_line(status),
        "etag": crate::headers::etag(v.version_id),
        "lastModified": instant(&v.last_updated),
    });
    Ok(e)
}

/// A FHIR `instant` or a `dateTime`/`date` with less precision (the start of that period, UTC
/// when no zone is given).
pub fn parse_instant(param: &str, value: &str) -> Result<DateTime<Utc>, FhirError> {
    let bad = || {
        FhirError::bad_request(format!("{param} '{value}' is not a FHIR instant"))
            .at(param.to_string())
    };
    if let Ok(d) = DateTime::parse_from_rfc3339(value) {
        return Ok(d.with_timezone(&Utc));
    }
    let padded = match value.len() {
        4 => format!("{value}-01-01"),
        7 => format!("{value}-01"),
        _ => value.to_string(),
    };
    NaiveDate::parse_from_str(&padded, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|n| n.and_utc())
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(value: &str, expected: Option<&str>) {
        let got = parse_instant("_since", value).ok().map(|d| d.to_rfc3339());
        assert_eq!(got.as_deref(), expected, "{value}");
    }

    #[test]
    fn instants() {
        check(
            "2024-05-01T10:00:00+02:00",
            Some("2024-05-01T08:00:00+00:00"),
        );
        check("2024-05-01", Some("2024-05-01T00:00:00+00:00"));
        check("2024-05", Some("2024-05-01T00:00:00+00:00"));
        check("2024", Some("2024-01-01T00:00:00+00:00"));
        check("yesterday", None);
    }
}
