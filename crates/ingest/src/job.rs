//! The loader behind the server's `$import` jobs ([`StoreImporter`], plugged into
//! `crosscare_analytics::bulk::ImportJobs`): each input is read as NDJSON from the line its
//! record says is committed, loaded with [`load_file`] (the checks of an HTTP write, one write
//! transaction per batch), and after every committed batch the rejected lines are appended
//! to the job's error report and the record is checkpointed.
//!
//! **Exactly once**: the error report is fsynced before the record that counts its bytes is
//! replaced, and a resumed run first cuts the report back to the recorded length. The lines
//! of a batch that was not checkpointed are read again; the resources it had already written
//! are then found identical to their stored version and counted as unchanged, never twice as
//! loaded.

use crate::offline::{load_file, BatchOutcome, BatchSink, FileLoad};
use crate::{Checkpoint, IngestError};
use crosscare_analytics::bulk::import::error_file;
use crosscare_analytics::bulk::{BulkError, ImportConfig, ImportRunner, ImportSpec, JobContext};
use crosscare_rest::search_params::SearchParams;
use crosscare_store::{PartitionId, Store};
use serde_json::json;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

/// Loads `$import` inputs into a store.
pub struct StoreImporter {
    store: Arc<dyn Store>,
    /// The server's search parameters; `None`: read from the store when a job runs.
    params: Option<Arc<SearchParams>>,
}

impl StoreImporter {
    pub fn new(store: Arc<dyn Store>) -> StoreImporter {
        StoreImporter {
            store,
            params: None,
        }
    }

    /// Indexes with the server's live search parameters (custom ones included).
    pub fn with_search_params(mut self, params: Arc<SearchParams>) -> StoreImporter {
        self.params = Some(params);
        self
    }
}

fn bulk_error(path: &Path) -> impl Fn(IngestError) -> BulkError + '_ {
    move |e| match e {
        IngestError::Store(s) => BulkError::Store(s),
        IngestError::Io { path, source } => BulkError::Io {
            path: path.display().to_string(),
            source,
        },
        other => BulkError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other(other.to_string()),
        },
    }
}

impl ImportRunner for StoreImporter {
    fn run(
        &self,
        config: &ImportConfig,
        job: &mut JobContext<'_, ImportSpec>,
    ) -> Result<bool, BulkError> {
        let record = job.record();
        let errors_path = error_file(job.dir());
        let io = |source| BulkError::Io {
            path: errors_path.display().to_string(),
            source,
        };
        let mut errors = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&errors_path)
            .map_err(io)?;
        // Lines written after the last checkpoint belong to a batch that will be read again.
        errors.set_len(record.error_bytes).map_err(io)?;
        errors.seek(SeekFrom::End(0)).map_err(io)?;
        let partition = PartitionId(record.partition.clone());
        let params = match &self.params {
            Some(p) => p.clone(),
            None => Arc::new(
                SearchParams::load(self.store.as_ref(), std::time::Duration::MAX)
                    .map_err(|e| BulkError::Invalid(e.to_string()))?,
            ),
        };
        let mut error_bytes = record.error_bytes;
        for (index, input) in record.inputs.iter().enumerate() {
            job.update(|spec| spec.current_input = index);
            let mut checkpoint = Checkpoint::default();
            checkpoint
                .record(None, &input.path, input.committed_lines)
                .map_err(bulk_error(&input.path))?;
            let load = FileLoad {
                file: &input.path,
                skip_lines: checkpoint.committed(&input.path),
                expected_type: Some(&input.resource_type),
                ndjson_only: true,
            };
            let mut sink = JobSink {
                job: &*job,
                index,
                url: &input.url,
                errors: &mut errors,
                error_bytes: &mut error_bytes,
                checkpoint,
                failure: None,
            };
            let done = load_file(
                self.store.as_ref(),
                &params,
                &partition,
                &load,
                config.batch_size,
                &mut sink,
            );
            if let Some(e) = sink.failure.take() {
                return Err(e);
            }
            if !done.map_err(bulk_error(&input.path))? {
                return Ok(false);
            }
        }
        // Fresh planner statistics for the searches that follow the load. The data is
        // committed whatever happens here, and the database refreshes statistics by itself
        // later, so a failure does not fail the job.
        let _ = self.store.analyze();
        Ok(true)
    }
}

/// Reports committed batches of one input into the job.
struct JobSink<'a, 'b> {
    job: &'a JobContext<'b, ImportSpec>,
    index: usize,
    url: &'a str,
    errors: &'a mut File,
    error_bytes: &'a mut u64,
    checkpoint: Checkpoint,
    /// A failure to persist, kept with its own type (the batch loop speaks `IngestError`).
    failure: Option<BulkError>,
}

/// One line of the error report: an `OperationOutcome` naming the input and the line.
pub fn error_line(url: &str, line: u64, message: &str) -> serde_json::Value {
    json!({
        "resourceType": "OperationOutcome",
        "extension": [{
            "url": crate::IMPORT_LINE_EXTENSION,
            "extension": [
                {"url": "input", "valueUri": url},
                {"url": "line", "valueInteger": line},
            ],
        }],
        "issue": [{
            "severity": "error",
            "code": "invalid",
            "diagnostics": format!("{url} line {line}: {message}"),
        }],
    })
}

impl JobSink<'_, '_> {
    fn persist(
        &mut self,
        file: &Path,
        through_line: u64,
        batch: &BatchOutcome,
    ) -> Result<(), BulkError> {
        let io = |source| BulkError::Io {
            path: "import error report".into(),
            source,
        };
        if !batch.rejected.is_empty() {
            let mut text = Vec::new();
            for r in &batch.rejected {
                let line = error_line(self.url, r.line, &r.message);
                serde_json::to_writer(&mut text, &line).map_err(|e| io(e.into()))?;
                text.push(b'\n');
            }
            self.errors.write_all(&text).map_err(io)?;
            self.errors.sync_data().map_err(io)?;
            *self.error_bytes += text.len() as u64;
        }
        self.checkpoint
            .record(None, file, through_line)
            .map_err(bulk_error(file))?;
        let committed = self.checkpoint.committed(file);
        let (index, error_bytes) = (self.index, *self.error_bytes);
        self.job.checkpoint(|spec| {
            if let Some(input) = spec.inputs.get_mut(index) {
                input.committed_lines = committed;
                input.loaded += batch.loaded;
                input.unchanged += batch.unchanged;
                input.rejected += batch.rejected.len() as u64;
            }
            spec.error_bytes = error_bytes;
        })
    }
}

impl BatchSink for JobSink<'_, '_> {
    fn committed(
        &mut self,
        file: &Path,
        through_line: u64,
        _offset: u64,
        batch: BatchOutcome,
    ) -> Result<(), IngestError> {
        if let Err(e) = self.persist(file, through_line, &batch) {
            let message = e.to_string();
            self.failure = Some(e);
            return Err(IngestError::Io {
                path: file.to_path_buf(),
                source: std::io::Error::other(message),
            });
        }
        Ok(())
    }

    fn should_stop(&self) -> bool {
        self.job.should_stop()
    }
}
