//! `ViewDefinition/$run` (SQL-on-FHIR v2): runs a view over the store and streams its rows as
//! CSV, NDJSON, JSON or Parquet. The view comes inline (`viewResource` in a `Parameters` body),
//! from the store (`ViewDefinition/[id]/$run`, or `viewReference` to `ViewDefinition/[id]`);
//! `patient`, `group`, `_since` and `_limit` narrow what is read.

use crate::context::{Call, Ctx};
use crate::error::FhirError;
use crate::operation::parameters::operation_params;
use crate::request::{FhirResponse, RawBody};
use crosscare_analytics::bulk::request::parse_instant;
use crosscare_analytics::{writer_for, Format, ViewError, ViewPlan};
use crosscare_store::{CompartmentScope, ScanQuery, Store};
use serde_json::Value;
use std::sync::Arc;

/// Resources read per batch.
const BATCH: usize = 1000;

impl From<ViewError> for FhirError {
    fn from(e: ViewError) -> Self {
        FhirError::bad_request(e.to_string())
    }
}

/// `_format` (a name or a media type) to an output format and its media type.
fn format(value: &str) -> Result<(Format, &'static str), FhirError> {
    Ok(match value.to_ascii_lowercase().as_str() {
        "csv" | "text/csv" => (Format::Csv, "text/csv"),
        "ndjson" | "application/x-ndjson" | "application/ndjson" | "application/fhir+ndjson" => {
            (Format::Ndjson, "application/x-ndjson")
        }
        "json" | "application/json" | "application/fhir+json" => (Format::Json, "application/json"),
        "parquet" | "application/vnd.apache.parquet" => {
            (Format::Parquet, "application/vnd.apache.parquet")
        }
        other => {
            return Err(FhirError::bad_request(format!(
                "_format '{other}' is not supported: csv, ndjson, json or parquet"
            )))
        }
    })
}

fn reference_id(value: &str, ty: &str) -> Result<String, FhirError> {
    let mut parts = value.trim_end_matches('/').rsplit('/');
    match (parts.next(), parts.next()) {
        (Some(id), Some(t)) if t == ty && crate::router::is_valid_id(id) => Ok(id.to_string()),
        _ => Err(FhirError::bad_request(format!(
            "'{value}' is not a {ty} reference"
        ))),
    }
}

/// The current version of a stored ViewDefinition.
fn stored_view(store: &dyn Store, ctx: &Ctx<'_>, id: &str) -> Result<Value, FhirError> {
    let mut tx = store.read_tx()?;
    let stored = tx
        .read(ctx.partition, "ViewDefinition", id)?
        .filter(|v| !v.is_deleted())
        .ok_or_else(|| FhirError::not_found(format!("ViewDefinition/{id} does not exist")))?;
    stored
        .body
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| FhirError::internal(format!("stored ViewDefinition/{id} is not JSON: {e}")))?
        .ok_or_else(|| FhirError::not_found(format!("ViewDefinition/{id} does not exist")))
}

/// `POST ViewDefinition/$run` (and `GET`/`POST ViewDefinition/[id]/$run`).
pub fn run(
    store: &Arc<dyn Store>,
    ctx: &Ctx<'_>,
    call: &Call,
    id: Option<&str>,
) -> Result<FhirResponse, FhirError> {
    let mut params = operation_params(&[], call.body.as_ref())?;
    // `_format` is dropped from the query by the request decoder; read it from the original.
    params.extend(call.query.iter().cloned());
    let mut view: Option<Value> = match id {
        Some(id) => Some(stored_view(store.as_ref(), ctx, id)?),
        None => None,
    };
    let mut out = (Format::Csv, "text/csv");
    let mut since = None;
    let mut limit = None;
    let mut patients: Option<Vec<String>> = None;
    for (name, value) in &params {
        match name.as_str() {
            "viewResource" => {
                if view.is_some() {
                    return Err(FhirError::bad_request(
                        "$run takes one view: viewReference, viewResource or the URL's id",
                    ));
                }
                view = Some(serde_json::from_str(value).map_err(|e| {
                    FhirError::bad_request(format!("viewResource is not JSON: {e}"))
                })?)
            }
            "_format" => out = format(value)?,
            "_since" => since = Some(parse_instant(value)?),
            "_limit" => {
                limit = Some(value.parse::<u64>().map_err(|_| {
                    FhirError::bad_request(format!("_limit '{value}' is not a whole number"))
                })?)
            }
            "patient" => patients
                .get_or_insert_with(Vec::new)
                .push(reference_id(value, "Patient")?),
            "group" => {
                let gid = reference_id(value, "Group")?;
                let members = crate::operation::export::group_members(store.as_ref(), ctx, &gid)?;
                patients.get_or_insert_with(Vec::new).extend(members);
            }
            "viewReference" => {
                if view.is_some() {
                    return Err(FhirError::bad_request(
                        "$run takes one view: viewReference, viewResource or the URL's id",
                    ));
                }
                let vid = reference_id(value, "ViewDefinition")?;
                view = Some(stored_view(store.as_ref(), ctx, &vid)?);
            }
            _ if ctx.prefer.lenient => {}
            other => {
                return Err(FhirError::bad_request(format!(
                    "'{other}' is not a parameter of $run"
                )))
            }
        }
    }
    let view = view.ok_or_else(|| {
        FhirError::bad_request(
            "$run needs the view: ViewDefinition/[id]/$run, or a 'viewResource' or \
             'viewReference' parameter in a Parameters body",
        )
    })?;
    let plan = ViewPlan::compile(&view)?;
    let mut scan = ScanQuery::new(plan.resource_type(), BATCH);
    scan.since = since;
    if let Some(mut ids) = patients {
        ids.sort();
        ids.dedup();
        let (params, includes_self) =
            crosscare_search::compartment_params("Patient", plan.resource_type()).ok_or_else(
                || {
                    FhirError::bad_request(format!(
                        "patient/group: {} is not in the Patient compartment",
                        plan.resource_type()
                    ))
                },
            )?;
        scan.compartment = Some(CompartmentScope {
            compartment: "Patient".into(),
            params,
            includes_self,
            ids: Some(ids),
        });
    }
    let (format, media_type) = out;
    let store = store.clone();
    let partition = ctx.partition.clone();
    let producer = Box::new(move |w: Box<dyn std::io::Write + Send>| {
        let writer = writer_for(
            format,
            Box::new(std::io::BufWriter::with_capacity(1 << 16, w)),
        );
        crosscare_analytics::run_store(&plan, store.as_ref(), &partition, scan, limit, writer)
            .map(|_| ())
            .map_err(|e| std::io::Error::other(e.to_string()))
    });
    Ok(FhirResponse::new(200).with_raw(RawBody::new(media_type, producer)))
}
