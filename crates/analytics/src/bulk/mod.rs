//! FHIR Bulk Data export (Bulk Data Access IG v2) and import: what to export
//! ([`ExportRequest`]), the streaming NDJSON writer shared by the HTTP `$export` jobs and
//! `crosscare export` ([`writer`]), the persisted, resumable job queue behind `$export` and
//! `$import` ([`queue`]), export jobs ([`jobs`]) and import jobs ([`import`]).
//!
//! **Invariants**: an export never holds more than one scan batch and one output buffer in
//! memory; every file is written from versions current at the export's transaction time
//! (`ScanQuery::until`); patient and group exports take compartment membership from the
//! spec's `Patient` CompartmentDefinition (`crosscare_search::compartment_params`).

pub mod import;
pub mod jobs;
pub mod queue;
pub mod request;
pub mod writer;

pub use import::{ImportConfig, ImportInput, ImportJobs, ImportRecord, ImportRunner, ImportSpec};
pub use jobs::{ExportConfig, ExportJobs, ExportSpec, JobRecord};
pub use queue::{JobContext, JobQueue, JobState, JobWork, Record};
pub use request::{ExportLevel, ExportRequest, TypeFilter};
pub use writer::{export_all, ExportControl, Limits, OutputFile, Position};

/// What can go wrong planning, running or serving an export.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BulkError {
    #[error(transparent)]
    Store(#[from] crosscare_store::StoreError),
    #[error("_typeFilter: {0}")]
    Search(#[from] crosscare_search::SearchError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// A request that cannot be exported as given.
    #[error("{0}")]
    Invalid(String),
    /// A job record on disk that cannot be read.
    #[error("export job record {path}: {message}")]
    Record { path: String, message: String },
}

pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> BulkError + '_ {
    move |source| BulkError::Io {
        path: path.display().to_string(),
        source,
    }
}
