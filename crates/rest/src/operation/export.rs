//! Bulk Data `$export` (Bulk Data Access IG v2) over the job queue of
//! `crosscare_analytics::bulk`: kick-off (`Prefer: respond-async` → 202 + `Content-Location`),
//! status (`202` + `X-Progress` while running, `200` + manifest when complete), output files
//! (`application/fhir+ndjson`) and cancellation (`DELETE` → 202, files removed).

use crate::context::{Call, Ctx};
use crate::error::{FhirError, IssueCode};
use crate::operation::parameters::operation_params;
use crate::request::{FhirResponse, RawBody};
use crosscare_analytics::bulk::request::parse_instant;
use crosscare_analytics::bulk::{
    BulkError, ExportJobs, ExportLevel, ExportRequest, JobRecord, JobState, TypeFilter,
};
use crosscare_store::Store;
use serde_json::{json, Value};

/// The `_outputFormat` values accepted (all mean FHIR NDJSON).
const OUTPUT_FORMATS: &[&str] = &["application/fhir+ndjson", "application/ndjson", "ndjson"];

/// Parameters of the IG this server does not implement: 400, or ignored with
/// `Prefer: handling=lenient`.
const UNSUPPORTED: &[&str] = &[
    "_elements",
    "includeAssociatedData",
    "organizeOutputBy",
    "allowPartialManifests",
];

impl From<BulkError> for FhirError {
    fn from(e: BulkError) -> Self {
        match e {
            BulkError::Store(s) => s.into(),
            BulkError::Search(s) => {
                let mut f: FhirError = s.into();
                for issue in &mut f.issues {
                    issue.diagnostics = format!("_typeFilter: {}", issue.diagnostics);
                }
                f
            }
            BulkError::Invalid(m) => FhirError::bad_request(m),
            other => FhirError::internal(other.to_string()),
        }
    }
}

fn exports(jobs: Option<&ExportJobs>) -> Result<&ExportJobs, FhirError> {
    jobs.ok_or_else(|| {
        FhirError::not_supported("Bulk Data export is not configured on this server")
    })
}

/// The kick-off request as a URL (the manifest's `request`).
pub(crate) fn request_url(ctx: &Ctx<'_>, call: &Call) -> String {
    let mut url = ctx.url(&call.path.join("/"));
    if !call.query.is_empty() {
        let q: Vec<String> = call
            .query
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    crosscare_search::percent_encode(k),
                    crosscare_search::percent_encode(v)
                )
            })
            .collect();
        url.push('?');
        url.push_str(&q.join("&"));
    }
    url
}

/// Splits a `_typeFilter` value that may list several queries separated by commas: a comma
/// starts a new query only when what follows is `Type?`.
fn split_type_filters(value: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for piece in value.split(',') {
        let starts_query = piece
            .split_once('?')
            .is_some_and(|(t, _)| crosscare_spec::Spec::r4().is_resource_type(t));
        match out.last_mut() {
            Some(last) if !starts_query => {
                last.push(',');
                last.push_str(piece);
            }
            _ => out.push(piece.to_string()),
        }
    }
    out
}

/// A `patient` value: `Patient/[id]` (relative or absolute).
fn patient_id(reference: &str) -> Result<String, FhirError> {
    let mut parts = reference.trim_end_matches('/').rsplit('/');
    match (parts.next(), parts.next()) {
        (Some(id), Some("Patient")) if crate::router::is_valid_id(id) => Ok(id.to_string()),
        _ => Err(FhirError::bad_request(format!(
            "patient: '{reference}' is not a Patient reference"
        ))),
    }
}

/// The ids of the active Patient members of a Group (`Group.member.entity`).
pub(crate) fn group_members(
    store: &dyn Store,
    ctx: &Ctx<'_>,
    id: &str,
) -> Result<Vec<String>, FhirError> {
    let mut tx = store.read_tx()?;
    let group = tx
        .read(ctx.partition, "Group", id)?
        .filter(|v| !v.is_deleted())
        .ok_or_else(|| FhirError::not_found(format!("Group/{id} does not exist")))?;
    let body: Value = group
        .body
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| FhirError::internal(format!("stored Group/{id} is not JSON: {e}")))?
        .unwrap_or(Value::Null);
    let mut members = Vec::new();
    for m in body["member"].as_array().into_iter().flatten() {
        if m["inactive"] == true {
            continue;
        }
        if let Some(r) = m["entity"]["reference"].as_str() {
            if let Ok(p) = patient_id(r) {
                members.push(p);
            }
        }
    }
    members.sort();
    members.dedup();
    Ok(members)
}

/// Reads the kick-off parameters into an [`ExportRequest`].
fn export_request(
    store: &dyn Store,
    ctx: &Ctx<'_>,
    call: &Call,
    level: &ExportLevel,
) -> Result<ExportRequest, FhirError> {
    let params = operation_params(&call.query, call.body.as_ref())?;
    let lenient = ctx.prefer.lenient;
    let mut request = ExportRequest::system();
    request.level = level.clone();
    request.partition = ctx.partition.0.clone();
    let mut patients: Option<Vec<String>> = None;
    for (name, value) in &params {
        match name.as_str() {
            "_outputFormat" => {
                if !OUTPUT_FORMATS.contains(&value.as_str()) {
                    return Err(FhirError::bad_request(format!(
                        "_outputFormat '{value}' is not supported: use application/fhir+ndjson"
                    )));
                }
            }
            "_since" => {
                parse_instant(value)?;
                request.since = Some(value.clone());
            }
            "_type" => request.types.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string),
            ),
            "_typeFilter" => {
                for f in split_type_filters(value) {
                    request.type_filters.push(TypeFilter::parse(&f)?);
                }
            }
            "patient" if *level != ExportLevel::System => {
                let list = patients.get_or_insert_with(Vec::new);
                for r in value.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                    list.push(patient_id(r)?);
                }
            }
            _ if lenient => {}
            other if UNSUPPORTED.contains(&other) => {
                return Err(FhirError::new(
                    400,
                    IssueCode::NotSupported,
                    format!("$export parameter '{other}' is not supported by this server"),
                ))
            }
            other => {
                return Err(FhirError::bad_request(format!(
                    "'{other}' is not a parameter of $export at this level"
                )))
            }
        }
    }
    if lenient {
        // Types outside the Patient compartment have nothing in a patient export.
        let compartment = crosscare_search::compartment_types("Patient");
        if *level != ExportLevel::System {
            request.types.retain(|t| compartment.contains(t));
        }
    }
    request.patients = match level {
        ExportLevel::System => None,
        ExportLevel::Patient => patients,
        ExportLevel::Group(id) => {
            let members = group_members(store, ctx, id)?;
            Some(match patients {
                Some(p) => members.into_iter().filter(|m| p.contains(m)).collect(),
                None => members,
            })
        }
    };
    if let Some(p) = &mut request.patients {
        p.sort();
        p.dedup();
    }
    request.validate()?;
    Ok(request)
}

/// `$export` kick-off.
pub fn kickoff(
    jobs: Option<&ExportJobs>,
    store: &dyn Store,
    ctx: &Ctx<'_>,
    call: &Call,
    level: &ExportLevel,
) -> Result<FhirResponse, FhirError> {
    let jobs = exports(jobs)?;
    super::require_async(ctx, "$export")?;
    let request = export_request(store, ctx, call, level)?;
    let record = jobs.submit(request, request_url(ctx, call))?;
    Ok(super::accepted(ctx, "export", &record.id))
}

fn job(jobs: &ExportJobs, id: &str) -> Result<JobRecord, FhirError> {
    jobs.record(id).ok_or_else(|| {
        FhirError::not_found(format!(
            "there is no export job '{id}' (unknown, cancelled or expired)"
        ))
    })
}

/// The complete-status manifest of a job.
pub fn manifest(ctx: &Ctx<'_>, record: &JobRecord) -> Value {
    let output: Vec<Value> = record
        .output
        .iter()
        .map(|f| {
            json!({
                "type": f.resource_type,
                "url": ctx.url(&format!("_export/{}/{}", record.id, f.file)),
                "count": f.count,
            })
        })
        .collect();
    json!({
        "transactionTime": record.transaction_time,
        "request": record.request_url,
        "requiresAccessToken": false,
        "output": output,
        "error": [],
    })
}

/// `GET _export/[job]`.
pub fn status(
    jobs: Option<&ExportJobs>,
    ctx: &Ctx<'_>,
    id: &str,
) -> Result<FhirResponse, FhirError> {
    let jobs = exports(jobs)?;
    let record = job(jobs, id)?;
    match &record.state {
        JobState::Running => {
            let done = record.exported() + record.in_flight;
            let progress = if record.current_type.is_empty() {
                format!("{done} resources exported")
            } else {
                format!("{done} resources exported, now {}", record.current_type)
            };
            Ok(super::in_progress(progress))
        }
        JobState::Completed { finished_at } => {
            super::completed(&manifest(ctx, &record), finished_at, jobs.config().expiry)
        }
        JobState::Failed { message, .. } => Err(FhirError::new(
            500,
            IssueCode::Exception,
            format!("the export failed: {message}"),
        )),
    }
}

/// `DELETE _export/[job]`.
pub fn cancel(jobs: Option<&ExportJobs>, id: &str) -> Result<FhirResponse, FhirError> {
    let jobs = exports(jobs)?;
    if !jobs.cancel(id)? {
        return Err(FhirError::not_found(format!(
            "there is no export job '{id}'"
        )));
    }
    Ok(super::cancelled(format!(
        "export job {id} cancelled; its files are deleted"
    )))
}

/// `GET _export/[job]/[file]`.
pub fn file(jobs: Option<&ExportJobs>, id: &str, name: &str) -> Result<FhirResponse, FhirError> {
    let jobs = exports(jobs)?;
    let path = jobs
        .file(id, name)
        .ok_or_else(|| FhirError::not_found(format!("export job '{id}' has no file '{name}'")))?;
    Ok(FhirResponse::new(200).with_raw(RawBody::file("application/fhir+ndjson", path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_filter_lists() {
        assert_eq!(
            split_type_filters("Observation?code=a,b&status=final,Patient?gender=male"),
            ["Observation?code=a,b&status=final", "Patient?gender=male"]
        );
    }

    #[test]
    fn patient_references() {
        assert_eq!(patient_id("Patient/p1").unwrap(), "p1");
        assert_eq!(patient_id("http://x/fhir/Patient/p1").unwrap(), "p1");
        assert!(patient_id("Group/g").is_err());
        assert!(patient_id("p1").is_err());
    }
}
