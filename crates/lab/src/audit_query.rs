//! Searching the audit trail: the `AuditEvent` search parameters an administrator needs
//! (`date`, `agent`, `entity`, `patient`, `type`, `subtype`, `action`, `outcome`, `_id`,
//! `_count`, `_offset`), evaluated over `audit.ndjson` record by record.
//!
//! The trail is read from its start for every search, oldest record first: simple and exact,
//! at a cost linear in the size of the trail (fine for a lab's trail; a rotated, indexed trail
//! is future work). Values separated by commas are alternatives (OR); different parameters
//! must all match (AND), as in FHIR search.

use crate::audit::AUDIT_FILE;
use crate::LabError;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::Value;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Page size when `_count` is absent, and the largest accepted.
pub const DEFAULT_COUNT: usize = 50;
pub const MAX_COUNT: usize = 1000;

/// A parsed AuditEvent search.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditQuery {
    /// Every `date` parameter: each a list of alternatives.
    dates: Vec<Vec<DateBound>>,
    /// The other parameters: name and alternatives.
    tokens: Vec<(Param, Vec<String>)>,
    pub count: usize,
    pub offset: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Param {
    Id,
    Agent,
    Entity,
    Patient,
    Type,
    Subtype,
    Action,
    Outcome,
}

/// `date=[prefix]value`: the value's precision gives the range `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct DateBound {
    prefix: Prefix,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefix {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
}

impl AuditQuery {
    /// Parses the query parameters of `GET AuditEvent?…`; an unknown parameter or a bad value
    /// is an error (a search that silently ignored a filter would show too much).
    pub fn parse(params: &[(String, String)]) -> Result<AuditQuery, String> {
        let mut q = AuditQuery {
            count: DEFAULT_COUNT,
            ..AuditQuery::default()
        };
        for (name, value) in params {
            let values = || -> Vec<String> {
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
                    .collect()
            };
            let param = match name.as_str() {
                "_count" => {
                    q.count = value
                        .parse::<usize>()
                        .map_err(|_| format!("_count '{value}' is not a number"))?
                        .min(MAX_COUNT);
                    continue;
                }
                "_offset" => {
                    q.offset = value
                        .parse()
                        .map_err(|_| format!("_offset '{value}' is not a number"))?;
                    continue;
                }
                "date" => {
                    let alternatives = values()
                        .iter()
                        .map(|v| parse_date(v))
                        .collect::<Result<Vec<_>, _>>()?;
                    q.dates.push(alternatives);
                    continue;
                }
                "_id" => Param::Id,
                "agent" => Param::Agent,
                "entity" => Param::Entity,
                "patient" => Param::Patient,
                "type" => Param::Type,
                "subtype" => Param::Subtype,
                "action" => Param::Action,
                "outcome" => Param::Outcome,
                other => {
                    return Err(format!(
                        "the AuditEvent search parameter '{other}' is not supported on the \
                         audit trail (supported: date, agent, entity, patient, type, subtype, \
                         action, outcome, _id, _count, _offset)"
                    ))
                }
            };
            q.tokens.push((param, values()));
        }
        Ok(q)
    }

    /// Whether an `AuditEvent` matches every parameter.
    pub fn matches(&self, event: &Value) -> bool {
        let recorded = event["recorded"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc));
        let dates_ok = self.dates.iter().all(|alternatives| {
            recorded.is_some_and(|t| alternatives.iter().any(|b| b.contains(t)))
        });
        dates_ok
            && self
                .tokens
                .iter()
                .all(|(param, alternatives)| alternatives.iter().any(|v| token(*param, event, v)))
    }
}

impl DateBound {
    fn contains(&self, t: DateTime<Utc>) -> bool {
        match self.prefix {
            Prefix::Eq => self.start <= t && t < self.end,
            Prefix::Ne => !(self.start <= t && t < self.end),
            Prefix::Gt => t >= self.end,
            Prefix::Lt => t < self.start,
            Prefix::Ge => t >= self.start,
            Prefix::Le => t < self.end,
        }
    }
}

fn parse_date(text: &str) -> Result<DateBound, String> {
    let (prefix, value) = match text.get(..2) {
        Some("eq") => (Prefix::Eq, &text[2..]),
        Some("ne") => (Prefix::Ne, &text[2..]),
        Some("gt") => (Prefix::Gt, &text[2..]),
        Some("lt") => (Prefix::Lt, &text[2..]),
        Some("ge") => (Prefix::Ge, &text[2..]),
        Some("le") => (Prefix::Le, &text[2..]),
        _ => (Prefix::Eq, text),
    };
    let bad = || format!("date '{text}' is not YYYY, YYYY-MM, YYYY-MM-DD or an RFC 3339 instant");
    let day = |y: i32, m: u32, d: u32| {
        NaiveDate::from_ymd_opt(y, m, d)
            .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
            .ok_or_else(bad)
    };
    let number = |s: &str| s.parse::<u32>().map_err(|_| bad());
    let (start, end) = match value.len() {
        4 => {
            let y = number(value)? as i32;
            (day(y, 1, 1)?, day(y + 1, 1, 1)?)
        }
        7 => {
            let (y, m) = value.split_once('-').ok_or_else(bad)?;
            let (y, m) = (number(y)? as i32, number(m)?);
            let next = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            (day(y, m, 1)?, day(next.0, next.1, 1)?)
        }
        10 => {
            let d = NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| bad())?;
            let start = d.and_time(chrono::NaiveTime::MIN).and_utc();
            (start, start + Duration::days(1))
        }
        _ => {
            let t = DateTime::parse_from_rfc3339(value)
                .map_err(|_| bad())?
                .with_timezone(&Utc);
            // An instant to the second (or finer) stands for its whole second.
            let start = t - Duration::nanoseconds(i64::from(t.timestamp_subsec_nanos()));
            (start, start + Duration::seconds(1))
        }
    };
    Ok(DateBound { prefix, start, end })
}

/// `system|code`, `|code` or `code` against a coding.
fn coding_matches(coding: &Value, wanted: &str) -> bool {
    let code = coding["code"].as_str();
    match wanted.split_once('|') {
        Some(("", c)) => code == Some(c) && coding.get("system").is_none(),
        Some((s, c)) => coding["system"].as_str() == Some(s) && code == Some(c),
        None => code == Some(wanted),
    }
}

fn token(param: Param, event: &Value, wanted: &str) -> bool {
    let agents = || event["agent"].as_array().into_iter().flatten();
    let entities = || event["entity"].as_array().into_iter().flatten();
    match param {
        Param::Id => event["id"].as_str() == Some(wanted),
        // The client id, or `urn:crosscare:client|id`.
        Param::Agent => agents().any(|a| {
            let id = &a["who"]["identifier"];
            match wanted.split_once('|') {
                Some((s, v)) => id["system"].as_str() == Some(s) && id["value"].as_str() == Some(v),
                None => id["value"].as_str() == Some(wanted),
            }
        }),
        // A resource (`Patient/1`) or a workspace id.
        Param::Entity => entities().any(|e| {
            e["what"]["reference"].as_str() == Some(wanted)
                || e["what"]["identifier"]["value"].as_str() == Some(wanted)
        }),
        Param::Patient => {
            let reference = if wanted.starts_with("Patient/") {
                wanted.to_string()
            } else {
                format!("Patient/{wanted}")
            };
            entities().any(|e| e["what"]["reference"].as_str() == Some(reference.as_str()))
        }
        Param::Type => coding_matches(&event["type"], wanted),
        Param::Subtype => event["subtype"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| coding_matches(c, wanted)),
        Param::Action => event["action"].as_str() == Some(wanted),
        Param::Outcome => event["outcome"].as_str() == Some(wanted),
    }
}

/// One page of the matching events of the trail in `lab_dir`, oldest first, and how many
/// match in all.
pub fn search(lab_dir: &Path, query: &AuditQuery) -> Result<(Vec<Value>, usize), LabError> {
    let path = lab_dir.join(AUDIT_FILE);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e.into()),
    };
    let mut page = Vec::new();
    let mut total = 0usize;
    // A last line that is not JSON may be a record being appended right now: it is skipped.
    // Anywhere else it is damage, reported.
    let mut unreadable: Option<usize> = None;
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        if let Some(bad) = unreadable {
            return Err(LabError::Corrupt(format!(
                "audit record {bad} is not JSON; run `crosscare audit verify`"
            )));
        }
        let Ok(record) = serde_json::from_str::<Value>(&line) else {
            unreadable = Some(n + 1);
            continue;
        };
        let event = &record["event"];
        if query.matches(event) {
            if total >= query.offset && page.len() < query.count {
                page.push(event.clone());
            }
            total += 1;
        }
    }
    Ok((page, total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> Value {
        json!({
            "resourceType": "AuditEvent", "id": "e1",
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
            "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}],
            "action": "R", "recorded": "2026-11-29T12:30:15.123456Z", "outcome": "0",
            "agent": [{"who": {"identifier": {"system": "urn:crosscare:client", "value": "cc-1"}}},
                      {"who": {"display": "CrossCare FHIR server"}}],
            "entity": [{"what": {"identifier": {"system": "urn:crosscare:workspace", "value": "uds"}}},
                       {"what": {"reference": "Patient/p1"}}],
        })
    }

    fn check(query: &str, expected: bool) {
        let params: Vec<(String, String)> = form_pairs(query);
        let q = AuditQuery::parse(&params).unwrap();
        assert_eq!(q.matches(&event()), expected, "{query}");
    }

    fn form_pairs(query: &str) -> Vec<(String, String)> {
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect()
    }

    #[test]
    fn parameters() {
        for (q, expected) in [
            ("", true),
            ("date=2026", true),
            ("date=2026-11", true),
            ("date=2026-11-29", true),
            ("date=2026-11-28", false),
            ("date=ge2026-11-29T12:30:00Z", true),
            ("date=gt2026-11-29T12:30:15Z", false),
            ("date=le2026-11-29T12:30:15Z", true),
            ("date=lt2026-11-29T12:30:15Z", false),
            ("date=ge2026-11-29&date=lt2026-11-30", true),
            ("date=2025,2026", true),
            ("date=ne2026", false),
            ("agent=cc-1", true),
            ("agent=urn:crosscare:client|cc-1", true),
            ("agent=cc-2", false),
            ("agent=cc-2,cc-1", true),
            ("entity=Patient/p1", true),
            ("entity=uds", true),
            ("entity=Patient/p2", false),
            ("patient=p1", true),
            ("patient=Patient/p1", true),
            ("patient=p2", false),
            ("type=rest", true),
            (
                "type=http://terminology.hl7.org/CodeSystem/audit-event-type|rest",
                true,
            ),
            ("type=other", false),
            ("subtype=read", true),
            ("subtype=create", false),
            ("action=R", true),
            ("action=C", false),
            ("outcome=0", true),
            ("outcome=4", false),
            ("_id=e1", true),
            ("agent=cc-1&outcome=4", false),
        ] {
            check(q, expected);
        }
    }

    #[test]
    fn bad_queries_are_errors() {
        for q in ["name=x", "date=yesterday", "date=2026-13", "_count=many"] {
            assert!(AuditQuery::parse(&form_pairs(q)).is_err(), "{q}");
        }
        let q = AuditQuery::parse(&form_pairs("_count=5000&_offset=3")).unwrap();
        assert_eq!((q.count, q.offset), (MAX_COUNT, 3));
    }
}
