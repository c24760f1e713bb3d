//! Transport-agnostic FHIR REST: a [`FhirRequest`] goes in, a [`FhirResponse`] comes out.
//!
//! This crate owns the interactions (one module each), the operations, Bundle processing,
//! paging, and the single table that turns every error into an `OperationOutcome` with its HTTP
//! status ([`error`]). It knows nothing of axum or sockets, and builds no SQL: it talks to a
//! [`crosscare_store::Store`].
//!
//! Request path: [`Rest::handle`] decodes the body ([`body`]), routes path and method
//! ([`router`]), opens a read or write transaction and runs the interaction ([`dispatch`],
//! [`interaction`], [`bundle`]), and renders the [`outcome::Outcome`] with its headers.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod audit_trail;
pub mod body;
pub mod bundle;
pub mod context;
pub mod dispatch;
pub mod error;
pub mod guard;
pub mod headers;
pub mod interaction;
pub mod logical;
pub mod operation;
pub mod outcome;
pub mod paging;
pub mod parallel;
pub mod patch;
pub mod request;
pub mod router;
pub mod search_params;
pub mod summary;

pub use error::{FhirError, IssueCode, IssueSeverity};
pub use request::{FhirRequest, FhirResponse, Method, Prefer, RawBody, ReturnPreference};

use context::{is_format_param, Call, Ctx};
use crosscare_analytics::bulk::{ExportJobs, ImportJobs};
use crosscare_store::Store;
use operation::reindex::ReindexJobs;
use router::Route;
use search_params::SearchParams;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// Settings of the REST layer (see `docs/api/` for what each one changes).
#[derive(Debug, Clone)]
pub struct RestConfig {
    /// Most entries a batch or transaction Bundle may have (more is 413).
    pub max_bundle_entries: usize,
    /// Page size of searches and histories without `_count`.
    pub default_page_size: usize,
    /// Largest page size; a larger `_count` is reduced to it.
    pub max_page_size: usize,
    /// Without `_total`, a search's `Bundle.total` is exact when there are at most this many
    /// matches and absent beyond (`_total=accurate` always counts; `0`: only when the page
    /// itself proves it).
    pub search_total_limit: u64,
    /// Nesting depth and string length limits for request bodies (over them: 413).
    pub parse_limits: crosscare_validation::ParseLimits,
    /// The Bulk Data operations this server answers; set by [`Rest::with_exports`] and
    /// [`Rest::with_imports`] so that the CapabilityStatement says what is really there.
    pub bulk: BulkOperations,
    /// How often a server compares the store's search parameter stamp, to see custom
    /// `SearchParameter`s written by another server sharing the store.
    pub search_params_refresh: std::time::Duration,
}

/// Which asynchronous Bulk Data operations are configured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BulkOperations {
    /// `$export` at system, Patient and Group level.
    pub export: bool,
    /// `$import` at system level.
    pub import: bool,
    /// `$reindex` at system and type level.
    pub reindex: bool,
}

impl Default for RestConfig {
    fn default() -> Self {
        RestConfig {
            max_bundle_entries: 1000,
            default_page_size: 20,
            max_page_size: 1000,
            search_total_limit: 1_000,
            parse_limits: crosscare_validation::ParseLimits::default(),
            bulk: BulkOperations::default(),
            search_params_refresh: std::time::Duration::from_secs(5),
        }
    }
}

/// The FHIR REST API over one store.
pub struct Rest {
    store: Arc<dyn Store>,
    config: RestConfig,
    exports: Option<Arc<ExportJobs>>,
    imports: Option<Arc<ImportJobs>>,
    /// The lab whose audit trail answers `AuditEvent` reads and searches.
    lab: Option<Arc<crosscare_lab::Lab>>,
    /// The search parameters in force (core and custom), reloaded as they change.
    params: Arc<SearchParams>,
    reindex: Option<Arc<ReindexJobs>>,
}

/// What [`Rest::run`] produced: an interaction outcome, or an operation's own response.
enum Reply {
    Outcome(outcome::Outcome),
    Response(FhirResponse),
}

/// Whether `dispatch::run_entry` (which authorises every route it runs) serves `route`.
fn dispatch_handles(route: &Route) -> bool {
    !matches!(
        route,
        Route::Bundle
            | Route::Export(_)
            | Route::ExportStatus(_)
            | Route::ExportCancel(_)
            | Route::ExportFile(_, _)
            | Route::Import
            | Route::ImportStatus(_)
            | Route::ImportCancel(_)
            | Route::ImportFile(_, _)
            | Route::ViewRun(_)
            | Route::Reset
            | Route::Reindex(_)
            | Route::ReindexStatus(_)
            | Route::ReindexCancel(_)
    )
}

impl Rest {
    /// The API over `store`, with the custom search parameters it defines. If they cannot be
    /// read now (the store is unavailable), the core parameters serve until the first request
    /// after which a reload succeeds.
    pub fn new(store: Arc<dyn Store>, config: RestConfig) -> Rest {
        let params = match SearchParams::load(store.as_ref(), config.search_params_refresh) {
            Ok(params) => params,
            Err(e) => {
                tracing::warn!(error = %e, "custom search parameters could not be read; core parameters only until they can");
                let params = SearchParams::core_refreshing(config.search_params_refresh);
                params.mark_changed();
                params
            }
        };
        Rest {
            store,
            config,
            exports: None,
            imports: None,
            lab: None,
            params: Arc::new(params),
            reindex: None,
        }
    }

    /// Enables `$reindex` with a job queue in `dir` (finished jobs kept for `expiry`); its
    /// unfinished jobs resume now.
    pub fn with_reindex(
        mut self,
        dir: std::path::PathBuf,
        expiry: std::time::Duration,
    ) -> Result<Rest, FhirError> {
        let jobs = operation::reindex::open(self.store.clone(), self.params.clone(), dir, expiry)?;
        self.reindex = Some(Arc::new(jobs));
        self.config.bulk.reindex = true;
        Ok(self)
    }

    /// The search parameters in force (shared with the importers, which index like writes).
    pub fn search_params(&self) -> &Arc<SearchParams> {
        &self.params
    }

    /// Stops the reindex queue at its next batch (unfinished jobs resume at the next start).
    pub fn shutdown_jobs(&self) {
        if let Some(jobs) = &self.reindex {
            jobs.shutdown();
        }
    }

    /// Enables Bulk Data `$export` with this job queue.
    pub fn with_exports(mut self, exports: Arc<ExportJobs>) -> Rest {
        self.exports = Some(exports);
        self.config.bulk.export = true;
        self
    }

    /// Enables Bulk Data `$import` with this job queue (without one, `$import` is refused).
    pub fn with_imports(mut self, imports: Arc<ImportJobs>) -> Rest {
        self.imports = Some(imports);
        self.config.bulk.import = true;
        self
    }

    /// Answers `AuditEvent` reads and searches from this lab's audit trail.
    pub fn with_lab(mut self, lab: Arc<crosscare_lab::Lab>) -> Rest {
        self.lab = Some(lab);
        self
    }

    /// The store this API serves (for readiness checks and administration).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn config(&self) -> &RestConfig {
        &self.config
    }

    /// Handles one request. Never panics: every failure, including a bug caught as a panic,
    /// is an `OperationOutcome` with its status.
    pub fn handle(&self, req: FhirRequest) -> FhirResponse {
        let prefer = req.prefer.clone();
        let base_url = req.base_url.trim_end_matches('/').to_string();
        let is_head = req.method == Method::Head;
        self.params.before_request(self.store.as_ref());
        let result = catch_unwind(AssertUnwindSafe(|| self.run(req, &base_url)));
        self.params.after_request(self.store.as_ref());
        let mut resp = match result {
            Ok(Ok(Reply::Outcome(outcome))) => outcome.into_response(&prefer, &base_url),
            Ok(Ok(Reply::Response(response))) => response,
            Ok(Err(err)) => error_response(&err),
            Err(_) => error_response(&FhirError::internal(
                "the server failed while processing this request",
            )),
        };
        if is_head {
            resp.body = None;
            resp.raw = None;
            resp.stored = None;
        }
        resp
    }

    fn run(&self, req: FhirRequest, base_url: &str) -> Result<Reply, FhirError> {
        // The lab decides the partition: an authenticated client never chooses its own.
        let partition = req.access.partition(&req.partition);
        let params = self.params.current();
        let ctx = Ctx {
            config: &self.config,
            partition: &partition,
            base_url,
            prefer: &req.prefer,
            access: &req.access,
            prepared: None,
            params: &params,
            live_params: Some(&self.params),
        };
        let mut call = decode_call(&req, &self.config)?;
        let route = router::route(call.method, &call.path, !call.query.is_empty())?;
        let exports = self.exports.as_deref();
        use operation::export;
        if let Some(lab) = self.lab.as_deref().filter(|_| audit_trail::answers(&route)) {
            guard::check(&ctx, &route, &call)?;
            return audit_trail::answer(lab, &ctx, &route, &call).map(Reply::Outcome);
        }
        if dispatch_handles(&route) {
            return dispatch::run_entry(self.store.as_ref(), &ctx, &mut call).map(Reply::Outcome);
        }
        // The Bundle as a whole and every operation below are authorised here; Bundle entries
        // and the interactions of `dispatch` are authorised there (the lab's one choke point).
        guard::check(&ctx, &route, &call)?;
        let response = match &route {
            Route::Bundle => {
                return bundle::process(self.store.as_ref(), &ctx, &mut call).map(Reply::Outcome)
            }
            Route::Reset => {
                return operation::reset::reset(self.store.as_ref(), &ctx).map(Reply::Outcome)
            }
            Route::Export(level) => {
                export::kickoff(exports, self.store.as_ref(), &ctx, &call, level)
            }
            Route::ExportStatus(id) => export::status(exports, &ctx, id),
            Route::ExportCancel(id) => export::cancel(exports, id),
            Route::ExportFile(id, file) => export::file(exports, id, file),
            Route::Import => operation::import::kickoff(self.imports.as_deref(), &ctx, &call),
            Route::ImportStatus(id) => operation::import::status(self.imports.as_deref(), &ctx, id),
            Route::ImportCancel(id) => operation::import::cancel(self.imports.as_deref(), id),
            Route::ImportFile(id, file) => {
                operation::import::file(self.imports.as_deref(), id, file)
            }
            Route::Reindex(ty) => operation::reindex::kickoff(
                self.reindex.as_deref(),
                &self.params,
                &ctx,
                &call,
                ty.as_deref(),
            ),
            Route::ReindexStatus(id) => operation::reindex::status(self.reindex.as_deref(), id),
            Route::ReindexCancel(id) => operation::reindex::cancel(self.reindex.as_deref(), id),
            Route::ViewRun(id) => {
                let format = req.query.iter().filter(|(k, _)| k == "_format").cloned();
                call.query.extend(format);
                operation::run::run(&self.store, &ctx, &call, id.as_deref())
            }
            _ => {
                return dispatch::run_entry(self.store.as_ref(), &ctx, &mut call)
                    .map(Reply::Outcome)
            }
        };
        response.map(Reply::Response)
    }
}

/// The server shares one `Rest` between threads (`spawn_blocking`).
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Rest>();
};

fn error_response(err: &FhirError) -> FhirResponse {
    let response = FhirResponse::new(err.status).with_body(err.to_operation_outcome());
    match err.retry_after {
        Some(seconds) => response.with_header("Retry-After", seconds.to_string()),
        None => response,
    }
}

/// The HTTP request as a [`Call`]: the body parsed as JSON (form bodies of `_search` become
/// query parameters), `_format`/`_pretty` dropped.
fn decode_call(req: &FhirRequest, config: &RestConfig) -> Result<Call, FhirError> {
    let mut query: Vec<(String, String)> = req
        .query
        .iter()
        .filter(|(k, _)| !is_format_param(k))
        .cloned()
        .collect();
    let mut body = None;
    let content_type = req.content_type.as_deref().map(str::to_ascii_lowercase);
    if let Some(bytes) = req
        .body
        .as_deref()
        .filter(|b| !b.iter().all(u8::is_ascii_whitespace))
    {
        match content_type.as_deref() {
            Some("application/x-www-form-urlencoded") => {
                let text = std::str::from_utf8(bytes)
                    .map_err(|_| FhirError::bad_request("the form body is not UTF-8"))?;
                query.extend(crosscare_search::parse_query_string(text));
            }
            Some(ct) if ct.contains("xml") => {
                return Err(FhirError::unsupported_media_type(
                    "this server reads FHIR JSON only (application/fhir+json)",
                ))
            }
            Some("application/json-patch+json") => {
                body = Some(serde_json::from_slice(bytes).map_err(|e| {
                    FhirError::bad_request(format!("the JSON Patch is not valid JSON: {e}"))
                })?);
            }
            _ => body = Some(body::parse_resource(bytes, &config.parse_limits)?),
        }
    }
    Ok(Call {
        method: req.method,
        path: req.path.clone(),
        query,
        body,
        content_type,
        if_match: req.if_match.clone(),
        if_none_match: req.if_none_match.clone(),
        if_modified_since: req.if_modified_since.clone(),
        if_none_exist: req.if_none_exist.clone(),
    })
}
