//! Bulk Data `$import` (after the Bulk Data IG's proposed import operation) over the job queue
//! of `crosscare_analytics::bulk::import`: kick-off (`POST [base]/$import` with a `Parameters`
//! body, `Prefer: respond-async` → 202 + `Content-Location`), status (202 + `X-Progress`
//! while running, 200 + manifest with counts and the error report when done), the error report
//! (`application/fhir+ndjson`, one `OperationOutcome` per rejected line) and cancellation.
//!
//! **Invariant**: an input is read only if it resolves inside the configured import folder
//! (`ImportConfig::resolve`); without a folder the operation is refused before the body is
//! looked at.

use crate::context::{Call, Ctx};
use crate::error::{FhirError, IssueCode};
use crate::operation::export::request_url;
use crate::request::{FhirResponse, RawBody};
use crosscare_analytics::bulk::import::ERROR_FILE;
use crosscare_analytics::bulk::{ImportInput, ImportJobs, ImportRecord, ImportSpec, JobState};
use serde_json::{json, Value};

/// The `inputFormat` values accepted (all mean FHIR NDJSON).
const INPUT_FORMATS: &[&str] = &["application/fhir+ndjson", "application/ndjson", "ndjson"];

/// The `storageDetail.type` values accepted: files the server reads itself.
const STORAGE_TYPES: &[&str] = &["file", "local"];

fn imports(jobs: Option<&ImportJobs>) -> Result<&ImportJobs, FhirError> {
    jobs.ok_or_else(|| {
        FhirError::new(
            403,
            IssueCode::NotSupported,
            "$import is disabled on this server: start it with --import-dir \
             (CROSSCARE_IMPORT_DIR) naming the only folder it may read input files from",
        )
    })
}

/// The `value[x]` of a parameter or part as text (strings, codes, URIs, URLs).
fn text_value(p: &Value) -> Option<&str> {
    p.as_object()?
        .iter()
        .find(|(k, _)| k.starts_with("value"))
        .and_then(|(_, v)| v.as_str())
}

fn named<'a>(p: &'a Value, what: &str) -> Result<&'a str, FhirError> {
    p["name"]
        .as_str()
        .ok_or_else(|| FhirError::bad_request(format!("a {what} has no name")))
}

fn required_text<'a>(p: &'a Value, name: &str) -> Result<&'a str, FhirError> {
    text_value(p)
        .ok_or_else(|| FhirError::bad_request(format!("$import parameter '{name}' needs a value")))
}

/// One `input` parameter: its `type` and `url` parts, the file resolved inside the folder.
fn input(jobs: &ImportJobs, p: &Value, lenient: bool) -> Result<ImportInput, FhirError> {
    let (mut ty, mut url) = (None, None);
    for part in p["part"].as_array().into_iter().flatten() {
        match named(part, "part of 'input'")? {
            "type" => ty = Some(required_text(part, "input.type")?),
            "url" => url = Some(required_text(part, "input.url")?),
            "inputDetails" => {}
            _ if lenient => {}
            other => {
                return Err(FhirError::bad_request(format!(
                    "'{other}' is not a part of an $import input (type, url)"
                )))
            }
        }
    }
    let ty = ty.ok_or_else(|| FhirError::bad_request("an $import input has no 'type' part"))?;
    let url = url.ok_or_else(|| FhirError::bad_request("an $import input has no 'url' part"))?;
    let spec = crosscare_spec::Spec::r4();
    if !spec.is_resource_type(ty) || spec.type_def(ty).is_some_and(|t| t.is_abstract) {
        return Err(FhirError::bad_request(format!(
            "input type '{ty}' is not a resource type of this server"
        )));
    }
    let path = jobs
        .config()
        .resolve(url)
        .map_err(|e| FhirError::new(400, IssueCode::Forbidden, e.to_string()))?;
    Ok(ImportInput {
        resource_type: ty.to_string(),
        url: url.to_string(),
        path,
        ..ImportInput::default()
    })
}

/// Reads the kick-off `Parameters` into an [`ImportSpec`].
fn import_spec(jobs: &ImportJobs, ctx: &Ctx<'_>, call: &Call) -> Result<ImportSpec, FhirError> {
    let lenient = ctx.prefer.lenient;
    if let Some((name, _)) = call.query.first().filter(|_| !lenient) {
        return Err(FhirError::bad_request(format!(
            "$import takes its parameters in the Parameters body, not '{name}' in the query"
        )));
    }
    let body = call
        .body
        .as_ref()
        .filter(|b| b["resourceType"] == "Parameters")
        .ok_or_else(|| FhirError::bad_request("$import needs a Parameters body"))?;
    let mut spec = ImportSpec {
        partition: ctx.partition.0.clone(),
        ..ImportSpec::default()
    };
    for p in body["parameter"].as_array().into_iter().flatten() {
        match named(p, "Parameters.parameter")? {
            "inputFormat" => {
                let format = required_text(p, "inputFormat")?;
                if !INPUT_FORMATS.contains(&format) {
                    return Err(FhirError::bad_request(format!(
                        "inputFormat '{format}' is not supported: use application/fhir+ndjson"
                    )));
                }
            }
            "inputSource" => {}
            "storageDetail" => {
                for part in p["part"].as_array().into_iter().flatten() {
                    if named(part, "part of 'storageDetail'")? == "type" {
                        let t = required_text(part, "storageDetail.type")?;
                        if !STORAGE_TYPES.contains(&t) {
                            return Err(FhirError::new(
                                400,
                                IssueCode::NotSupported,
                                format!(
                                    "storageDetail type '{t}' is not supported: this server \
                                     reads files from its import folder only"
                                ),
                            ));
                        }
                    }
                }
            }
            "input" => spec.inputs.push(input(jobs, p, lenient)?),
            _ if lenient => {}
            other => {
                return Err(FhirError::bad_request(format!(
                    "'{other}' is not a parameter of $import"
                )))
            }
        }
    }
    if spec.inputs.is_empty() {
        return Err(FhirError::bad_request(
            "$import needs at least one 'input' parameter (parts 'type' and 'url')",
        ));
    }
    Ok(spec)
}

/// `POST [base]/$import`.
pub fn kickoff(
    jobs: Option<&ImportJobs>,
    ctx: &Ctx<'_>,
    call: &Call,
) -> Result<FhirResponse, FhirError> {
    let jobs = imports(jobs)?;
    super::require_async(ctx, "$import")?;
    let spec = import_spec(jobs, ctx, call)?;
    let record = jobs.submit(spec, request_url(ctx, call))?;
    Ok(super::accepted(ctx, "import", &record.id))
}

fn job(jobs: &ImportJobs, id: &str) -> Result<ImportRecord, FhirError> {
    jobs.record(id).ok_or_else(|| {
        FhirError::not_found(format!(
            "there is no import job '{id}' (unknown, cancelled or expired)"
        ))
    })
}

/// The complete-status manifest of an import job.
pub fn manifest(ctx: &Ctx<'_>, record: &ImportRecord) -> Value {
    let output: Vec<Value> = record
        .inputs
        .iter()
        .map(|i| {
            json!({
                "type": i.resource_type,
                "inputUrl": i.url,
                "count": i.loaded + i.unchanged,
                "loaded": i.loaded,
                "unchanged": i.unchanged,
                "rejected": i.rejected,
            })
        })
        .collect();
    let (_, _, rejected) = record.totals();
    let error = if rejected > 0 {
        vec![json!({
            "type": "OperationOutcome",
            "url": ctx.url(&format!("_import/{}/{ERROR_FILE}", record.id)),
            "count": rejected,
        })]
    } else {
        Vec::new()
    };
    json!({
        "transactionTime": record.transaction_time,
        "request": record.request_url,
        "requiresAccessToken": false,
        "output": output,
        "error": error,
        "extension": { "countByType": record.by_type() },
    })
}

/// `GET _import/[job]`.
pub fn status(
    jobs: Option<&ImportJobs>,
    ctx: &Ctx<'_>,
    id: &str,
) -> Result<FhirResponse, FhirError> {
    let jobs = imports(jobs)?;
    let record = job(jobs, id)?;
    match &record.state {
        JobState::Running => {
            let (loaded, unchanged, rejected) = record.totals();
            let mut progress =
                format!("{loaded} resources imported, {unchanged} unchanged, {rejected} rejected");
            if let Some(input) = record.inputs.get(record.current_input) {
                progress.push_str(&format!(
                    "; reading input {} of {} ({})",
                    record.current_input + 1,
                    record.inputs.len(),
                    input.url
                ));
            }
            Ok(super::in_progress(progress))
        }
        JobState::Completed { finished_at } => {
            super::completed(&manifest(ctx, &record), finished_at, jobs.expiry())
        }
        JobState::Failed { message, .. } => Err(FhirError::new(
            500,
            IssueCode::Exception,
            format!("the import failed: {message}"),
        )),
    }
}

/// `DELETE _import/[job]`.
pub fn cancel(jobs: Option<&ImportJobs>, id: &str) -> Result<FhirResponse, FhirError> {
    let jobs = imports(jobs)?;
    if !jobs.cancel(id)? {
        return Err(FhirError::not_found(format!(
            "there is no import job '{id}'"
        )));
    }
    Ok(super::cancelled(format!(
        "import job {id} cancelled; the batches it had committed stay in the store"
    )))
}

/// `GET _import/[job]/errors.ndjson`.
pub fn file(jobs: Option<&ImportJobs>, id: &str, name: &str) -> Result<FhirResponse, FhirError> {
    let jobs = imports(jobs)?;
    let path = jobs
        .error_file(id)
        .filter(|_| name == ERROR_FILE)
        .ok_or_else(|| FhirError::not_found(format!("import job '{id}' has no file '{name}'")))?;
    Ok(FhirResponse::new(200).with_raw(RawBody::file("application/fhir+ndjson", path)))
}
