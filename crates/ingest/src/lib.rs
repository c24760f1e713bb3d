//! Loading FHIR resources in bulk: NDJSON files (one resource per line) and Bundles, either
//! offline into a store ([`import_into_store`]) or over HTTP into a running server
//! ([`import_over_http`]).
//!
//! Both paths share the same guarantees: an invalid resource is reported with its file and line
//! and never stops the rest; progress is reported as bytes read and resources loaded; a
//! checkpoint records how far each file was committed, so an interrupted import resumes where it
//! stopped instead of starting again. The same batch loop ([`load_file`]) is the loader of the
//! server's `$import` jobs ([`StoreImporter`]).

mod checkpoint;
mod http;
pub mod job;
mod offline;
mod source;

pub use checkpoint::Checkpoint;
pub use http::import_over_http;
pub use job::StoreImporter;

/// The extension on each `OperationOutcome` of an `$import` error report that names the input
/// (`input`, its URL as given) and the 1-based line (`line`).
pub const IMPORT_LINE_EXTENSION: &str =
    "https://crosscare.dev/fhir/StructureDefinition/import-line";
pub use offline::{import_into_store, load_file, BatchOutcome, BatchSink, FileLoad};
pub use source::{input_files, read_ndjson, read_resources, SourceItem};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Settings shared by both import paths.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Resources per write transaction (offline) or per transaction Bundle (HTTP).
    pub batch_size: usize,
    /// Where progress is recorded for resuming; `None` disables resuming.
    pub checkpoint: Option<PathBuf>,
    /// HTTP only: the OAuth2 client to get access tokens with (renewed before they expire).
    pub credentials: Option<ClientCredentials>,
    /// HTTP only: transaction Bundles on their way at once (at least 1).
    pub in_flight: usize,
}

/// An OAuth2 client (`client_credentials` grant); the secret is never printed.
#[derive(Clone)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            batch_size: 1000,
            checkpoint: None,
            credentials: None,
            in_flight: 2,
        }
    }
}

/// One resource that was not loaded, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub file: PathBuf,
    /// 1-based line (NDJSON) or entry number (Bundle).
    pub line: u64,
    pub message: String,
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportSummary {
    pub files: usize,
    /// Resources written as new versions.
    pub loaded: u64,
    /// Resources identical to their stored current version, left alone.
    pub unchanged: u64,
    /// Lines skipped because an earlier run had already committed them.
    pub resumed_past: u64,
    pub rejected: Vec<Rejected>,
    pub by_type: BTreeMap<String, u64>,
    pub elapsed: Duration,
}

impl ImportSummary {
    /// A few human-readable lines for the end of a run.
    pub fn render(&self) -> String {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let mut out = format!(
            "imported {} resources from {} file(s) in {:.1} s ({:.0} resources/s); {} unchanged, {} rejected",
            self.loaded,
            self.files,
            secs,
            self.loaded as f64 / secs,
            self.unchanged,
            self.rejected.len()
        );
        if self.resumed_past > 0 {
            out.push_str(&format!(
                "; resumed past {} already committed lines",
                self.resumed_past
            ));
        }
        for r in self.rejected.iter().take(20) {
            out.push_str(&format!(
                "\n  {}:{}: {}",
                r.file.display(),
                r.line,
                r.message
            ));
        }
        if self.rejected.len() > 20 {
            out.push_str(&format!("\n  … and {} more", self.rejected.len() - 20));
        }
        out
    }
}

/// Progress callbacks (a progress bar in the CLI, nothing in tests).
pub trait Progress {
    /// Total input size in bytes, once known.
    fn start(&self, _total_bytes: u64) {}
    /// Bytes read so far and resources loaded so far.
    fn update(&self, _bytes_read: u64, _loaded: u64) {}
}

/// A [`Progress`] that reports nothing.
pub struct Silent;
impl Progress for Silent {}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("storage failed: {0}")]
    Store(#[from] crosscare_store::StoreError),
    #[error("the server at {url} failed: {message}")]
    Server { url: String, message: String },
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    /// The load was asked to stop at a batch boundary (cancellation, shutdown); internal to the
    /// batch loop, which returns `Ok(false)` instead.
    #[error("the import was stopped")]
    Stopped,
}
