//! `$import` jobs on the [`JobQueue`]: what to import ([`ImportSpec`]: NDJSON inputs inside the
//! configured import folder, with the partition they go to), the per-input counts and the
//! resume point the record carries, and the seam through which the loading itself is plugged
//! in ([`ImportRunner`]).
//!
//! The loader lives above this crate (`crosscare-ingest`, which writes through the REST
//! layer's own checks); this crate only owns the job's shape, its persistence and where its
//! inputs may come from.
//!
//! **Invariant**: an input path of a job is always inside the canonical import folder
//! ([`ImportConfig::resolve`] is the only way to make one); a symbolic link leading out of it
//! is refused like any other path outside it.

use super::queue::{JobContext, JobQueue, JobWork, Record};
use super::BulkError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The name of a job's error report inside its folder: one `OperationOutcome` per rejected
/// line, NDJSON.
pub const ERROR_FILE: &str = "errors.ndjson";

/// Settings of the import queue.
#[derive(Debug, Clone)]
pub struct ImportConfig {
    /// Where job records and error reports live (one sub-directory per job).
    pub dir: PathBuf,
    /// The only folder inputs may be read from (canonicalised at start).
    pub source_dir: PathBuf,
    /// How long a finished job and its error report are kept.
    pub expiry: Duration,
    /// Resources per write transaction.
    pub batch_size: usize,
}

impl ImportConfig {
    /// Resolves an input `url` to a file inside the import folder: `file://` URLs and paths
    /// (absolute, or relative to the import folder). The file must exist; anything that
    /// resolves outside the folder (`..`, symbolic links, other schemes) is refused.
    pub fn resolve(&self, url: &str) -> Result<PathBuf, BulkError> {
        let root = std::fs::canonicalize(&self.source_dir).map_err(|e| {
            BulkError::Invalid(format!(
                "the import folder {} cannot be read: {e}",
                self.source_dir.display()
            ))
        })?;
        let raw = match url.split_once("://") {
            Some(("file", rest)) => {
                // `file:///abs/path` (empty host) or `file://localhost/abs/path`.
                let path = rest.strip_prefix("localhost").unwrap_or(rest);
                if !path.starts_with('/') {
                    return Err(BulkError::Invalid(format!(
                        "input url '{url}': only local file:/// URLs are read"
                    )));
                }
                PathBuf::from(percent_decode(path)?)
            }
            Some((scheme, _)) => {
                return Err(BulkError::Invalid(format!(
                    "input url '{url}': the '{scheme}' scheme is not supported; use file:/// \
                     URLs or paths inside the import folder"
                )))
            }
            None => PathBuf::from(url),
        };
        let joined = if raw.is_absolute() {
            raw
        } else {
            root.join(raw)
        };
        let outside = || {
            BulkError::Invalid(format!(
                "input url '{url}' is not a file inside the server's import folder"
            ))
        };
        let path = std::fs::canonicalize(&joined).map_err(|_| outside())?;
        if !path.starts_with(&root) || !path.is_file() {
            return Err(outside());
        }
        Ok(path)
    }
}

/// Decodes `%XX` escapes of a URL path.
fn percent_decode(path: &str) -> Result<String, BulkError> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| BulkError::Invalid(format!("'{path}': bad %-escape")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| BulkError::Invalid(format!("'{path}' is not UTF-8")))
}

/// One input of an import: the resource type its lines must have, the URL as the client gave
/// it, the resolved file, and what became of its lines so far.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImportInput {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub url: String,
    pub path: PathBuf,
    /// Lines known to be committed (the resume point; see `crosscare_ingest::Checkpoint`).
    pub committed_lines: u64,
    /// Resources written as new versions.
    pub loaded: u64,
    /// Resources identical to their stored current version, left alone.
    pub unchanged: u64,
    /// Lines rejected (each has one line in the error report).
    pub rejected: u64,
}

/// The import part of a job record.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImportSpec {
    /// The partition the resources go to.
    pub partition: String,
    pub inputs: Vec<ImportInput>,
    /// Bytes of the error report that belong to committed batches; a resumed run cuts the
    /// report back to this length before it continues.
    pub error_bytes: u64,
    /// Index of the input being read (not persisted).
    #[serde(skip)]
    pub current_input: usize,
}

impl ImportSpec {
    /// Totals over the inputs: (loaded, unchanged, rejected).
    pub fn totals(&self) -> (u64, u64, u64) {
        self.inputs.iter().fold((0, 0, 0), |(l, u, r), i| {
            (l + i.loaded, u + i.unchanged, r + i.rejected)
        })
    }

    /// Resources imported (new versions or unchanged) per resource type.
    pub fn by_type(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for i in &self.inputs {
            *out.entry(i.resource_type.clone()).or_default() += i.loaded + i.unchanged;
        }
        out
    }
}

/// An import job as persisted, plus its live progress.
pub type ImportRecord = Record<ImportSpec>;

/// Loads the inputs of a job into the store. Implemented by `crosscare-ingest`; called on the
/// queue's worker thread for new and resumed jobs alike.
pub trait ImportRunner: Send + Sync + 'static {
    /// Runs or resumes a job (see [`JobWork::run`]): reads each input from its recorded
    /// `committed_lines`, checkpoints after every committed batch, appends one line to the
    /// job's [`ERROR_FILE`] per rejected line.
    fn run(
        &self,
        config: &ImportConfig,
        job: &mut JobContext<'_, ImportSpec>,
    ) -> Result<bool, BulkError>;
}

/// The import work: the configuration and the plugged-in loader.
pub struct ImportWork {
    config: ImportConfig,
    runner: Arc<dyn ImportRunner>,
}

/// The `$import` jobs of one server.
pub type ImportJobs = JobQueue<ImportWork>;

impl JobQueue<ImportWork> {
    /// Loads the import jobs under `config.dir`, queues the unfinished ones, and starts the
    /// worker thread with `runner` as the loader.
    pub fn open(
        config: ImportConfig,
        runner: Arc<dyn ImportRunner>,
    ) -> Result<ImportJobs, BulkError> {
        let (dir, expiry) = (config.dir.clone(), config.expiry);
        JobQueue::start(ImportWork { config, runner }, dir, expiry)
    }

    pub fn config(&self) -> &ImportConfig {
        &self.work().config
    }

    /// Persists a new import job and queues it.
    pub fn submit(&self, spec: ImportSpec, request_url: String) -> Result<ImportRecord, BulkError> {
        if spec.inputs.is_empty() {
            return Err(BulkError::Invalid(
                "$import needs at least one input".into(),
            ));
        }
        self.enqueue(spec, request_url)
    }

    /// The path of a job's error report, once the job has finished.
    pub fn error_file(&self, id: &str) -> Option<PathBuf> {
        let record = self.record(id)?;
        if record.state == super::JobState::Running {
            return None;
        }
        self.job_dir(id).map(|d| d.join(ERROR_FILE))
    }
}

impl JobWork for ImportWork {
    type Spec = ImportSpec;

    fn name(&self) -> &'static str {
        "crosscare-import"
    }

    fn run(&self, job: &mut JobContext<'_, ImportSpec>) -> Result<bool, BulkError> {
        self.runner.run(&self.config, job)
    }
}

/// The error report of a job, as a path (for loaders).
pub fn error_file(dir: &Path) -> PathBuf {
    dir.join(ERROR_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> ImportConfig {
        ImportConfig {
            dir: dir.join("jobs"),
            source_dir: dir.join("in"),
            expiry: Duration::from_secs(60),
            batch_size: 10,
        }
    }

    #[test]
    fn inputs_resolve_inside_the_import_folder_only() {
        let tmp = tempfile::tempdir().unwrap();
        let c = config(tmp.path());
        std::fs::create_dir_all(tmp.path().join("in/sub")).unwrap();
        std::fs::write(tmp.path().join("in/sub/a b.ndjson"), "").unwrap();
        std::fs::write(tmp.path().join("secret.ndjson"), "").unwrap();
        let root = std::fs::canonicalize(tmp.path().join("in")).unwrap();
        let want = root.join("sub/a b.ndjson");
        assert_eq!(c.resolve("sub/a b.ndjson").unwrap(), want);
        let url = format!("file://{}/sub/a%20b.ndjson", root.display());
        assert_eq!(c.resolve(&url).unwrap(), want);
        for bad in [
            "../secret.ndjson".to_string(),
            tmp.path().join("secret.ndjson").display().to_string(),
            format!("file://{}/secret.ndjson", tmp.path().display()),
            "http://example.org/a.ndjson".into(),
            "sub".into(),
            "missing.ndjson".into(),
            "file://otherhost/x.ndjson".into(),
        ] {
            assert!(c.resolve(&bad).is_err(), "{bad}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(
                tmp.path().join("secret.ndjson"),
                tmp.path().join("in/link.ndjson"),
            )
            .unwrap();
            assert!(c.resolve("link.ndjson").is_err());
        }
    }
}
