//! The `$export` job queue: jobs persisted as `<dir>/<id>/job.json` next to their output
//! files, run one at a time by a worker thread, resumed after a restart from their last
//! checkpoint, cancelled (files removed) on request, and deleted once expired.
//!
//! **Durability**: a record is replaced atomically (write `job.json.tmp`, fsync, rename)
//! after each completed, fsynced output file. A restarted process deletes every file of an
//! unfinished job that its record does not list (the file being written when it stopped) and
//! continues from the recorded scan position, so each resource is written exactly once.

use super::request::{format_instant, parse_instant, ExportRequest};
use super::writer::{export_all, ExportControl, Limits, OutputFile, Position};
use super::{io_err, BulkError};
use chrono::{DateTime, Utc};
use crosscare_store::Store;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

const RECORD: &str = "job.json";

/// Settings of the job queue.
#[derive(Debug, Clone)]
pub struct ExportConfig {
    /// Where jobs and their files live (one sub-directory per job).
    pub dir: PathBuf,
    pub limits: Limits,
    /// How long a finished job and its files are kept.
    pub expiry: Duration,
}

/// Where a job stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum JobState {
    Running,
    Completed {
        finished_at: String,
    },
    Failed {
        finished_at: String,
        message: String,
    },
}

/// A job as persisted, plus its live progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: String,
    /// The kick-off request URL (the manifest's `request`).
    pub request_url: String,
    /// The kick-off instant: the export holds the versions current at this time.
    pub transaction_time: String,
    pub request: ExportRequest,
    pub state: JobState,
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

impl JobRecord {
    /// Resources in completed files.
    pub fn exported(&self) -> u64 {
        self.output.iter().map(|f| f.count).sum()
    }

    fn finished_at(&self) -> Option<DateTime<Utc>> {
        match &self.state {
            JobState::Running => None,
            JobState::Completed { finished_at } | JobState::Failed { finished_at, .. } => {
                parse_instant(finished_at).ok()
            }
        }
    }
}

struct Job {
    record: Mutex<JobRecord>,
    cancel: AtomicBool,
}

#[derive(Default)]
struct Schedule {
    queue: VecDeque<String>,
    /// The job the worker is running.
    current: Option<String>,
}

struct Inner {
    store: Arc<dyn Store>,
    config: ExportConfig,
    jobs: Mutex<HashMap<String, Arc<Job>>>,
    schedule: Mutex<Schedule>,
    wake: Condvar,
    shutdown: AtomicBool,
}

/// The `$export` jobs of one server.
pub struct ExportJobs {
    inner: Arc<Inner>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

/// Locks, recovering the data of a mutex poisoned by a panicking thread (the records stay
/// consistent: every update is a single assignment).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A job id from a URL: only what [`ExportJobs::submit`] issues (hex and dashes).
fn is_job_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

impl ExportJobs {
    /// Loads the jobs under `config.dir` (creating it), queues the unfinished ones, and starts
    /// the worker thread.
    pub fn open(store: Arc<dyn Store>, config: ExportConfig) -> Result<ExportJobs, BulkError> {
        std::fs::create_dir_all(&config.dir).map_err(io_err(&config.dir))?;
        let mut jobs = HashMap::new();
        let mut unfinished = Vec::new();
        for entry in std::fs::read_dir(&config.dir).map_err(io_err(&config.dir))? {
            let entry = entry.map_err(io_err(&config.dir))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if !path.is_dir() || !is_job_id(&name) {
                continue;
            }
            let record_path = path.join(RECORD);
            let record: JobRecord = match std::fs::read(&record_path) {
                Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| BulkError::Record {
                    path: record_path.display().to_string(),
                    message: e.to_string(),
                })?,
                // A kick-off that stopped before its record was written: nothing to resume.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    std::fs::remove_dir_all(&path).map_err(io_err(&path))?;
                    continue;
                }
                Err(e) => return Err(io_err(&record_path)(e)),
            };
            if record.state == JobState::Running {
                unfinished.push((record.transaction_time.clone(), record.id.clone()));
            }
            jobs.insert(
                record.id.clone(),
                Arc::new(Job {
                    record: Mutex::new(record),
                    cancel: AtomicBool::new(false),
                }),
            );
        }
        unfinished.sort();
        let inner = Arc::new(Inner {
            store,
            config,
            jobs: Mutex::new(jobs),
            schedule: Mutex::new(Schedule {
                queue: unfinished.into_iter().map(|(_, id)| id).collect(),
                current: None,
            }),
            wake: Condvar::new(),
            shutdown: AtomicBool::new(false),
        });
        let worker_inner = inner.clone();
        let worker = std::thread::Builder::new()
            .name("crosscare-export".into())
            .spawn(move || worker_inner.work())
            .map_err(io_err(Path::new("export worker thread")))?;
        Ok(ExportJobs {
            inner,
            worker: Mutex::new(Some(worker)),
        })
    }

    pub fn config(&self) -> &ExportConfig {
        &self.inner.config
    }

    /// Validates and persists a new job, and queues it. The transaction time is now.
    pub fn submit(
        &self,
        request: ExportRequest,
        request_url: String,
    ) -> Result<JobRecord, BulkError> {
        request.validate()?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let record = JobRecord {
            id: id.clone(),
            request_url,
            transaction_time: format_instant(&Utc::now()),
            request,
            state: JobState::Running,
            position: Position::default(),
            output: Vec::new(),
            in_flight: 0,
            current_type: String::new(),
        };
        let dir = self.inner.job_dir(&id);
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        save(&dir, &record)?;
        lock(&self.inner.jobs).insert(
            id.clone(),
            Arc::new(Job {
                record: Mutex::new(record.clone()),
                cancel: AtomicBool::new(false),
            }),
        );
        lock(&self.inner.schedule).queue.push_back(id);
        self.inner.wake.notify_all();
        Ok(record)
    }

    /// The job's record with its live progress; `None` for an unknown or expired job.
    pub fn record(&self, id: &str) -> Option<JobRecord> {
        self.inner.expire();
        let job = self.inner.job(id)?;
        let record = lock(&job.record).clone();
        Some(record)
    }

    /// The path of a completed job's output file; `None` unless `name` is one of its files.
    pub fn file(&self, id: &str, name: &str) -> Option<PathBuf> {
        let record = self.record(id)?;
        if !matches!(record.state, JobState::Completed { .. }) {
            return None;
        }
        record
            .output
            .iter()
            .any(|f| f.file == name)
            .then(|| self.inner.job_dir(id).join(name))
    }

    /// Cancels a job (running or finished) and deletes its files. Returns `false` for an
    /// unknown job. Waits for the worker to leave the job (at most one scan batch).
    pub fn cancel(&self, id: &str) -> Result<bool, BulkError> {
        let Some(job) = self.inner.job(id) else {
            return Ok(false);
        };
        job.cancel.store(true, Ordering::SeqCst);
        {
            let mut schedule = lock(&self.inner.schedule);
            schedule.queue.retain(|q| q != id);
            while schedule.current.as_deref() == Some(id) {
                schedule = self
                    .inner
                    .wake
                    .wait(schedule)
                    .unwrap_or_else(|e| e.into_inner());
            }
        }
        lock(&self.inner.jobs).remove(id);
        self.inner.remove_dir(id)?;
        Ok(true)
    }

    /// Stops the worker at its next batch boundary (unfinished jobs stay persisted and resume
    /// at the next [`ExportJobs::open`]) and waits for it.
    pub fn shutdown(&self) {
        self.inner.shutdown.store(true, Ordering::SeqCst);
        {
            let _schedule = lock(&self.inner.schedule);
            self.inner.wake.notify_all();
        }
        if let Some(worker) = lock(&self.worker).take() {
            let _ = worker.join();
        }
    }
}

impl Drop for ExportJobs {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Replaces a job record atomically and durably.
fn save(dir: &Path, record: &JobRecord) -> Result<(), BulkError> {
    let tmp = dir.join("job.json.tmp");
    let bytes = serde_json::to_vec_pretty(record).map_err(|e| BulkError::Record {
        path: tmp.display().to_string(),
        message: e.to_string(),
    })?;
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(&bytes).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
    }
    let path = dir.join(RECORD);
    std::fs::rename(&tmp, &path).map_err(io_err(&path))
}

impl Inner {
    fn job_dir(&self, id: &str) -> PathBuf {
        self.config.dir.join(id)
    }

    fn job(&self, id: &str) -> Option<Arc<Job>> {
        if !is_job_id(id) {
            return None;
        }
        lock(&self.jobs).get(id).cloned()
    }

    fn remove_dir(&self, id: &str) -> Result<(), BulkError> {
        let dir = self.job_dir(id);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(&dir)(e)),
            _ => Ok(()),
        }
    }

    /// Deletes finished jobs older than the expiry, with their files.
    fn expire(&self) {
        let Ok(expiry) = chrono::Duration::from_std(self.config.expiry) else {
            return;
        };
        let now = Utc::now();
        let expired: Vec<String> = lock(&self.jobs)
            .iter()
            .filter(|(_, job)| {
                lock(&job.record)
                    .finished_at()
                    .is_some_and(|t| t + expiry <= now)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            lock(&self.jobs).remove(&id);
            // A failure leaves the directory for the next start, which sees the record again.
            let _ = self.remove_dir(&id);
        }
    }

    fn work(&self) {
        let tick = self
            .config
            .expiry
            .min(Duration::from_secs(60))
            .max(Duration::from_millis(50));
        loop {
            self.expire();
            let mut schedule = lock(&self.schedule);
            if self.shutdown.load(Ordering::SeqCst) {
                return;
            }
            let Some(id) = schedule.queue.pop_front() else {
                let _ = self.wake.wait_timeout(schedule, tick);
                continue;
            };
            let Some(job) = lock(&self.jobs).get(&id).cloned() else {
                continue;
            };
            if job.cancel.load(Ordering::SeqCst) {
                continue;
            }
            schedule.current = Some(id);
            drop(schedule);
            self.run(&job);
            lock(&self.schedule).current = None;
            self.wake.notify_all();
        }
    }

    fn run(&self, job: &Job) {
        let record = lock(&job.record).clone();
        let dir = self.job_dir(&record.id);
        let result = (|| -> Result<bool, BulkError> {
            clean_partial_files(&dir, &record)?;
            let until = parse_instant(&record.transaction_time)?;
            let mut control = JobControl {
                job,
                inner: self,
                dir: &dir,
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
        })();
        let finished_at = format_instant(&Utc::now());
        let state = match result {
            Ok(false) => return,
            Ok(true) => JobState::Completed { finished_at },
            Err(e) => JobState::Failed {
                finished_at,
                message: e.to_string(),
            },
        };
        if job.cancel.load(Ordering::SeqCst) {
            return;
        }
        let mut record = lock(&job.record);
        record.state = state;
        // If the record cannot be saved the job stays "running" on disk and is redone from its
        // last checkpoint at the next start; the live state is still reported now.
        let _ = save(&dir, &record);
    }
}

/// Deletes the files of `dir` that the record does not list (a file cut by a stop).
fn clean_partial_files(dir: &Path, record: &JobRecord) -> Result<(), BulkError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
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

struct JobControl<'a> {
    job: &'a Job,
    inner: &'a Inner,
    dir: &'a Path,
    /// Resources in the files this run completed.
    completed_in_run: u64,
}

impl ExportControl for JobControl<'_> {
    fn should_stop(&self) -> bool {
        self.job.cancel.load(Ordering::SeqCst) || self.inner.shutdown.load(Ordering::SeqCst)
    }

    fn checkpoint(&mut self, file: Option<&OutputFile>, next: &Position) -> Result<(), BulkError> {
        let mut record = lock(&self.job.record);
        if let Some(f) = file {
            record.output.push(f.clone());
            self.completed_in_run += f.count;
        }
        record.position = next.clone();
        record.in_flight = 0;
        save(self.dir, &record)
    }

    fn progress(&mut self, written: u64, resource_type: &str) {
        let mut record = lock(&self.job.record);
        record.in_flight = written.saturating_sub(self.completed_in_run);
        if record.current_type != resource_type {
            record.current_type = resource_type.to_string();
        }
    }
}
