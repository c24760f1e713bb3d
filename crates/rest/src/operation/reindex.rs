//! `$reindex`: recomputes the search index entries of stored resources with the parameters in
//! force, online and asynchronously, so that a custom `SearchParameter` becomes searchable
//! over the resources stored before it (`crate::search_params`).
//!
//! Kick-off `POST [base]/$reindex` (every resource type, or those named by `type` parameters
//! of a `Parameters` body) or `POST [type]/$reindex`, with `Prefer: respond-async`: 202 and
//! `Content-Location: [base]/_reindex/[job]`. `GET` there answers 202 with `X-Progress` while
//! the job runs and 200 with a `Parameters` result once it is done; `DELETE` stops it.
//!
//! The job runs on its own queue (persisted records, one job at a time, resumed after a restart
//! from the last committed batch): for each partition and type it scans the current versions
//! in batches ([`BATCH`]), extracts their entries with the registry in force and replaces them
//! with `WriteTx::reindex`, which skips a resource written since it was read (its writer
//! indexed it already). The server keeps serving: each batch is one short write transaction.
//!
//! **Invariant**: a custom parameter is recorded searchable only by a completed job that
//! (a) was kicked off while the parameter's current `SearchParameter` version was in force,
//! (b) started scanning only after every request begun under an older registry had ended
//! here, and after the other servers' refresh interval had passed twice, and (c) covered
//! every type the parameter applies to. Every resource is then indexed for it: written before
//! the scan reached it (re-indexed) or after it was in force (indexed by its writer).

use crate::context::{Call, Ctx};
use crate::error::{FhirError, IssueCode};
use crate::request::FhirResponse;
use crate::search_params::SearchParams;
use crosscare_analytics::bulk::{BulkError, JobContext, JobQueue, JobState, JobWork, Record};
use crosscare_spec::Spec;
use crosscare_store::{PartitionId, Reindexed, ScanCursor, ScanQuery, Store};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Resources per scan batch and write transaction.
pub const BATCH: usize = 500;

/// Where a job stands in its walk over partitions and types.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReindexPosition {
    pub partition: usize,
    #[serde(rename = "type")]
    pub type_index: usize,
    /// The scan cursor inside the current type (`None`: from its start).
    pub after: Option<String>,
}

/// The reindex part of a job record.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReindexSpec {
    /// The resource types to re-index.
    pub types: Vec<String>,
    /// The custom parameters (URL → `SearchParameter` version) this job makes searchable.
    pub covers: BTreeMap<String, u64>,
    /// The partitions, listed when the job first runs.
    pub partitions: Option<Vec<String>>,
    /// Resources to visit, counted when the job first runs.
    pub total: u64,
    pub position: ReindexPosition,
    /// Current versions read so far.
    pub scanned: u64,
    /// Of which re-indexed (the others were written meanwhile, by writers that indexed them).
    pub reindexed: u64,
    /// The parameters recorded searchable at the end.
    pub searchable: Vec<String>,
}

/// A reindex job as persisted.
pub type ReindexRecord = Record<ReindexSpec>;

/// The reindex work of one server: its store and live parameters.
pub struct ReindexWork {
    store: Arc<dyn Store>,
    params: Arc<SearchParams>,
}

/// The reindex jobs of one server.
pub type ReindexJobs = JobQueue<ReindexWork>;

/// Opens the reindex queue in `dir` and resumes its unfinished jobs.
pub fn open(
    store: Arc<dyn Store>,
    params: Arc<SearchParams>,
    dir: PathBuf,
    expiry: Duration,
) -> Result<ReindexJobs, BulkError> {
    JobQueue::start(ReindexWork { store, params }, dir, expiry)
}

fn failed(e: impl std::fmt::Display) -> BulkError {
    BulkError::Invalid(e.to_string())
}

impl JobWork for ReindexWork {
    type Spec = ReindexSpec;

    fn name(&self) -> &'static str {
        "crosscare-reindex"
    }

    fn run(&self, job: &mut JobContext<'_, ReindexSpec>) -> Result<bool, BulkError> {
        // (b) of the invariant: no local request still extracts with an older registry, and
        // every other server has had two refresh intervals to load the new one.
        let stop = || job.should_stop();
        if !self.params.wait_for_retired(&stop) {
            return Ok(false);
        }
        let settle = self.params.refresh().saturating_mul(2);
        if settle < Duration::from_secs(3600) && !sleep_unless(settle, &stop) {
            return Ok(false);
        }
        let record = job.record();
        let partitions = match record.partitions.clone() {
            Some(p) => p,
            None => {
                let mut tx = self.store.read_tx()?;
                let partitions: Vec<String> = tx.partitions()?.into_iter().map(|p| p.0).collect();
                let mut total = 0;
                for p in &partitions {
                    for t in &record.types {
                        total += tx.count(&PartitionId(p.clone()), Some(t))?;
                    }
                }
                drop(tx);
                job.checkpoint(|s| {
                    s.partitions = Some(partitions.clone());
                    s.total = total;
                })?;
                partitions
            }
        };
        let types = record.types.clone();
        let mut position = job.record().position.clone();
        while position.partition < partitions.len() {
            let partition = PartitionId(partitions[position.partition].clone());
            while position.type_index < types.len() {
                let ty = &types[position.type_index];
                loop {
                    if job.should_stop() {
                        return Ok(false);
                    }
                    let mut query = ScanQuery::new(ty.clone(), BATCH);
                    query.after = position.after.clone().map(ScanCursor);
                    let page = self.store.read_tx()?.scan(&partition, &query)?;
                    let registry = self.params.current();
                    let scanned = page.versions.len() as u64;
                    let items: Vec<Reindexed> = page
                        .versions
                        .into_iter()
                        .filter_map(|v| {
                            let body: Value = serde_json::from_str(v.body.as_deref()?).ok()?;
                            Some(Reindexed {
                                index: registry.extract(&v.resource_type, &body).0,
                                resource_type: v.resource_type,
                                id: v.id,
                                version_id: v.version_id,
                            })
                        })
                        .collect();
                    let mut tx = self.store.write_tx()?;
                    let applied = tx.reindex(&partition, items)?;
                    tx.commit()?;
                    position.after = page.next.map(|c| c.0);
                    let done_type = position.after.is_none();
                    if done_type {
                        position.type_index += 1;
                    }
                    let at = position.clone();
                    job.checkpoint(|s| {
                        s.position = at;
                        s.scanned += scanned;
                        s.reindexed += applied;
                    })?;
                    if done_type {
                        break;
                    }
                }
            }
            position.partition += 1;
            position.type_index = 0;
            let at = position.clone();
            job.checkpoint(|s| s.position = at)?;
        }
        let covers = job.record().covers.clone();
        let searchable =
            crate::search_params::record_ready(self.store.as_ref(), &covers).map_err(failed)?;
        self.params.reload(self.store.as_ref()).map_err(failed)?;
        job.checkpoint(|s| s.searchable = searchable)?;
        Ok(true)
    }
}

/// Sleeps for `d` in short steps; `false` if `stop` said so meanwhile.
fn sleep_unless(d: Duration, stop: &dyn Fn() -> bool) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if stop() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20).min(d));
    }
    true
}

fn jobs(jobs: Option<&ReindexJobs>) -> Result<&ReindexJobs, FhirError> {
    jobs.ok_or_else(|| {
        FhirError::new(
            403,
            IssueCode::NotSupported,
            "$reindex is not enabled on this server",
        )
    })
}

/// The types named by the kick-off: the path's, the `type` parameters of a `Parameters` body,
/// or every concrete resource type.
fn requested_types(ctx: &Ctx<'_>, call: &Call, ty: Option<&str>) -> Result<Vec<String>, FhirError> {
    if let Some((name, _)) = call.query.first().filter(|_| !ctx.prefer.lenient) {
        return Err(FhirError::bad_request(format!(
            "$reindex takes its parameters in a Parameters body, not '{name}' in the query"
        )));
    }
    let spec = Spec::r4();
    let mut types = Vec::new();
    if let Some(body) = &call.body {
        if body["resourceType"] != "Parameters" {
            return Err(FhirError::bad_request("$reindex takes a Parameters body"));
        }
        for p in body["parameter"].as_array().into_iter().flatten() {
            match p["name"].as_str() {
                Some("type") => {
                    let t = p["valueCode"]
                        .as_str()
                        .or_else(|| p["valueString"].as_str())
                        .ok_or_else(|| {
                            FhirError::bad_request("$reindex parameter 'type' needs a valueCode")
                        })?;
                    let concrete = spec.type_def(t).is_some_and(|d| !d.is_abstract);
                    if !spec.is_resource_type(t) || !concrete {
                        return Err(FhirError::bad_request(format!(
                            "'{t}' is not a resource type of this server"
                        ))
                        .at("Parameters.parameter.valueCode".to_string()));
                    }
                    if !types.iter().any(|x| x == t) {
                        types.push(t.to_string());
                    }
                }
                _ if ctx.prefer.lenient => {}
                other => {
                    return Err(FhirError::bad_request(format!(
                        "'{}' is not a parameter of $reindex (type)",
                        other.unwrap_or("(no name)")
                    )))
                }
            }
        }
    }
    if let Some(t) = ty {
        if !types.is_empty() && types.iter().any(|x| x != t) {
            return Err(FhirError::bad_request(format!(
                "{t}/$reindex re-indexes {t} only; use [base]/$reindex for other types"
            )));
        }
        return Ok(vec![t.to_string()]);
    }
    if types.is_empty() {
        types = spec
            .resource_types()
            .filter(|t| !t.is_abstract)
            .map(|t| t.name.clone())
            .collect();
    }
    Ok(types)
}

/// The pending custom parameters a reindex of `types` makes searchable: those all of whose
/// types are among them.
fn covered(params: &SearchParams, types: &[String]) -> BTreeMap<String, u64> {
    let registry = params.current();
    let versions = params.versions();
    let spec = Spec::r4();
    registry
        .custom()
        .iter()
        .filter(|d| registry.is_pending(&d.url))
        .filter(|d| {
            registry.resource_types().into_iter().all(|rt| {
                let concrete = spec.type_def(rt).is_some_and(|t| !t.is_abstract);
                let applies = d.base.iter().any(|b| b == rt || spec.is_subtype_of(rt, b));
                !concrete || !applies || types.iter().any(|t| t == rt)
            })
        })
        .filter_map(|d| versions.0.get(&d.url).map(|v| (d.url.clone(), *v)))
        .collect()
}

/// `POST [base]/$reindex`, `POST [type]/$reindex`.
pub fn kickoff(
    reindex: Option<&ReindexJobs>,
    params: &SearchParams,
    ctx: &Ctx<'_>,
    call: &Call,
    ty: Option<&str>,
) -> Result<FhirResponse, FhirError> {
    let reindex = jobs(reindex)?;
    super::require_async(ctx, "$reindex")?;
    let types = requested_types(ctx, call, ty)?;
    let spec = ReindexSpec {
        covers: covered(params, &types),
        types,
        ..ReindexSpec::default()
    };
    let record = reindex.enqueue(spec, super::export::request_url(ctx, call))?;
    Ok(super::accepted(ctx, "reindex", &record.id))
}

fn job(reindex: &ReindexJobs, id: &str) -> Result<ReindexRecord, FhirError> {
    reindex.record(id).ok_or_else(|| {
        FhirError::not_found(format!(
            "there is no reindex job '{id}' (unknown, cancelled or expired)"
        ))
    })
}

/// `GET _reindex/[job]`.
pub fn status(reindex: Option<&ReindexJobs>, id: &str) -> Result<FhirResponse, FhirError> {
    let reindex = jobs(reindex)?;
    let record = job(reindex, id)?;
    match &record.state {
        JobState::Running => {
            let mut progress = format!(
                "{} of about {} resources read, {} re-indexed",
                record.scanned, record.total, record.reindexed
            );
            let pos = &record.position;
            if let (Some(p), Some(t)) = (
                record
                    .partitions
                    .as_ref()
                    .and_then(|p| p.get(pos.partition)),
                record.types.get(pos.type_index),
            ) {
                progress.push_str(&format!("; now {t} in partition {p}"));
            } else if record.partitions.is_none() {
                progress =
                    "waiting for requests under the previous search parameters to end".to_string();
            }
            Ok(super::in_progress(progress))
        }
        JobState::Completed { finished_at } => {
            let mut parameter = vec![
                json!({"name": "scanned", "valueInteger": record.scanned}),
                json!({"name": "reindexed", "valueInteger": record.reindexed}),
            ];
            parameter.extend(
                record
                    .types
                    .iter()
                    .map(|t| json!({"name": "type", "valueCode": t})),
            );
            parameter.extend(
                record
                    .searchable
                    .iter()
                    .map(|u| json!({"name": "searchable", "valueCanonical": u})),
            );
            let body = json!({
                "resourceType": "Parameters",
                "meta": {"lastUpdated": finished_at},
                "parameter": parameter,
            });
            Ok(FhirResponse::new(200).with_body(body))
        }
        JobState::Failed { message, .. } => Err(FhirError::new(
            500,
            IssueCode::Exception,
            format!("the reindex failed: {message}"),
        )),
    }
}

/// `DELETE _reindex/[job]`.
pub fn cancel(reindex: Option<&ReindexJobs>, id: &str) -> Result<FhirResponse, FhirError> {
    let reindex = jobs(reindex)?;
    if !reindex.cancel(id)? {
        return Err(FhirError::not_found(format!(
            "there is no reindex job '{id}'"
        )));
    }
    Ok(super::cancelled(format!(
        "reindex job {id} stopped; the batches it had committed stay re-indexed, and the \
         parameters it was to make searchable stay pending"
    )))
}
