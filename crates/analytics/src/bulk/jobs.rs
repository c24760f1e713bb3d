//! `$export` jobs on the [`JobQueue`]: the export part of a record ([`ExportSpec`]: request,
//! scan position, completed files) and the work that writes the files ([`ExportWork`]).
//!
//! **Resumption**: a record is checkpointed after each completed, fsynced output file. A
//! resumed run deletes every file of the job that its record does not list (the file being
//! written when it stopped) and continues from the recorded scan position, so each resource
//! is written exactly once.

use super::queue::{JobContext, JobQueue, JobWork, Record, RECORD};
use super::request::{parse_instant, ExportRequest};
use super::writer::{export_all, ExportControl, Limits, OutputFile, Position};
use super::{io_err, BulkError};
use crosscare_store::Store;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use super::queue::JobState;

/// Settings of the export queue.
#[derive(Debug, Clone)]
pub struct ExportConfig {
    /// Where jobs and their files live (one sub-directory per job).
    pub dir: PathBuf,
    pub limits: Limits,
    /// How long a finished job and its files are kept.
    pub expiry: Duration,
}

/// The export part of a job record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportSpec {
    pub request: ExportRequest,
    /// Where a resumed run continues.
    pub position: Position,
    /// Completed files, in order.
    pub output: Vec<OutputFile>,
    /// Resources in the file being written (not persisted).
    #[serde(skip)]
    pub in_flight: u64,
    /// The type being written (not persisted).
    #[serde(skip)]
    pub current_type: String,
}

impl ExportSpec {
    /// Resources in completed files.
    pub fn exported(&self) -> u64 {
        self.output.iter().map(|f| f.count).sum()
    }
}

/// An export job as persisted, plus its live progress.
pub type JobRecord = Record<ExportSpec>;

/// Writes the files of export jobs.
pub struct ExportWork {
    store: Arc<dyn Store>,
    config: ExportConfig,
}

/// The `$export` jobs of one server.
pub type ExportJobs = JobQueue<ExportWork>;

impl JobQueue<ExportWork> {
    /// Loads the export jobs under `config.dir`, queues the unfinished ones, and starts the
    /// worker thread.
    pub fn open(store: Arc<dyn Store>, config: ExportConfig) -> Result<ExportJobs, BulkError> {
        let (dir, expiry) = (config.dir.clone(), config.expiry);
        JobQueue::start(ExportWork { store, config }, dir, expiry)
    }

    pub fn config(&self) -> &ExportConfig {
        &self.work().config
    }

    /// Validates and persists a new export job, and queues it. The transaction time is now.
    pub fn submit(
        &self,
        request: ExportRequest,
        request_url: String,
    ) -> Result<JobRecord, BulkError> {
        request.validate()?;
        let spec = ExportSpec {
            request,
            position: Position::default(),
            output: Vec::new(),
            in_flight: 0,
            current_type: String::new(),
        };
        self.enqueue(spec, request_url)
    }

    /// The path of a completed job's output file; `None` unless `name` is one of its files.
    pub fn file(&self, id: &str, name: &str) -> Option<PathBuf> {
        let record = self.record(id)?;
        if !matches!(record.state, JobState::Completed { .. }) {
            return None;
        }
        let listed = record.output.iter().any(|f| f.file == name);
        self.job_dir(id).filter(|_| listed).map(|d| d.join(name))
    }
}

impl JobWork for ExportWork {
    type Spec = ExportSpec;

    fn name(&self) -> &'static str {
        "crosscare-export"
    }

    fn run(&self, job: &mut JobContext<'_, ExportSpec>) -> Result<bool, BulkError> {
        let record = job.record();
        clean_partial_files(job.dir(), &record)?;
        let until = parse_instant(&record.transaction_time)?;
        let dir = job.dir().to_path_buf();
        let mut control = JobControl {
            job,
            completed_in_run: 0,
        };
        export_all(
            self.store.as_ref(),
            &record.request,
            until,
            &dir,
            self.config.limits,
            &record.position,
            &mut control,
        )
    }
}

/// Deletes the files of `dir` that the record does not list (a file cut by a stop).
fn clean_partial_files(dir: &Path, record: &JobRecord) -> Result<(), BulkError> {
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != RECORD && !record.output.iter().any(|f| f.file == name) {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(io_err(&path))?;
        }
    }
    Ok(())
}

struct JobControl<'a, 'b> {
    job: &'a JobContext<'b, ExportSpec>,
    /// Resources in the files this run completed.
    completed_in_run: u64,
}

impl ExportControl for JobControl<'_, '_> {
    fn should_stop(&self) -> bool {
        self.job.should_stop()
    }

    fn checkpoint(&mut self, file: Option<&OutputFile>, next: &Position) -> Result<(), BulkError> {
        if let Some(f) = file {
            self.completed_in_run += f.count;
        }
        self.job.checkpoint(|spec| {
            if let Some(f) = file {
                spec.output.push(f.clone());
            }
            spec.position = next.clone();
            spec.in_flight = 0;
        })
    }

    fn progress(&mut self, written: u64, resource_type: &str) {
        let completed = self.completed_in_run;
        self.job.update(|spec| {
            spec.in_flight = written.saturating_sub(completed);
            if spec.current_type != resource_type {
                spec.current_type = resource_type.to_string();
            }
        });
    }
}
