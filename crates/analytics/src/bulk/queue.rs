//! The job queue behind the asynchronous Bulk Data operations (`$export`, `$import`): jobs
//! persisted as `<dir>/<id>/job.json` next to their files, run one at a time by a worker thread,
//! resumed after a restart from their last checkpoint, cancelled (folder removed) on request,
//! and deleted once expired. What a job does is a [`JobWork`]; the queue knows only records.
//!
//! **Durability**: a record is replaced atomically (write `job.json.tmp`, fsync, rename) at
//! every checkpoint the work asks for ([`JobContext::checkpoint`]). A restarted process queues
//! every record still `running` in kick-off order, and the work resumes from what the record
//! says; making the files agree with the record again is the work's business.

use super::request::{format_instant, parse_instant};
use super::{io_err, BulkError};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// The record file of a job, inside its folder.
pub const RECORD: &str = "job.json";

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

/// A job as persisted: what every kind shares, and the kind's own part (`spec`, stored
/// flattened into the same JSON object). Dereferences to the kind's part.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record<S> {
    pub id: String,
    /// The kick-off request URL (the manifest's `request`).
    pub request_url: String,
    /// The kick-off instant.
    pub transaction_time: String,
    pub state: JobState,
    #[serde(flatten)]
    pub spec: S,
}

impl<S> std::ops::Deref for Record<S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.spec
    }
}

impl<S> std::ops::DerefMut for Record<S> {
    fn deref_mut(&mut self) -> &mut S {
        &mut self.spec
    }
}

impl<S> Record<S> {
    fn finished_at(&self) -> Option<DateTime<Utc>> {
        match &self.state {
            JobState::Running => None,
            JobState::Completed { finished_at } | JobState::Failed { finished_at, .. } => {
                parse_instant(finished_at).ok()
            }
        }
    }
}

/// What one kind of job does. `run` is called on the worker thread for a new job and for
/// every job found unfinished at start-up.
pub trait JobWork: Send + Sync + 'static {
    /// The kind's part of the record (persisted; `#[serde(skip)]` fields are live only).
    type Spec: Clone + Serialize + DeserializeOwned + Send + Sync + 'static;

    /// The worker thread's name.
    fn name(&self) -> &'static str;

    /// Runs or resumes a job. `Ok(true)` when it is complete, `Ok(false)` when it stopped
    /// early because [`JobContext::should_stop`] said so.
    fn run(&self, job: &mut JobContext<'_, Self::Spec>) -> Result<bool, BulkError>;
}

/// What a running job sees of the queue.
pub struct JobContext<'a, S> {
    job: &'a Job<S>,
    stop: &'a AtomicBool,
    dir: &'a Path,
}

impl<S: Clone + Serialize> JobContext<'_, S> {
    /// The job's folder.
    pub fn dir(&self) -> &Path {
        self.dir
    }

    /// A copy of the record as it is now.
    pub fn record(&self) -> Record<S> {
        lock(&self.job.record).clone()
    }

    /// True once the job is cancelled or the queue shuts down: stop at the next boundary.
    pub fn should_stop(&self) -> bool {
        self.job.cancel.load(Ordering::SeqCst) || self.stop.load(Ordering::SeqCst)
    }

    /// Changes the live record (progress), without persisting it.
    pub fn update(&self, f: impl FnOnce(&mut S)) {
        f(&mut lock(&self.job.record).spec);
    }

    /// Changes the record and persists it atomically: the point a restart resumes from.
    pub fn checkpoint(&self, f: impl FnOnce(&mut S)) -> Result<(), BulkError> {
        let mut record = lock(&self.job.record);
        f(&mut record.spec);
        save(self.dir, &*record)
    }
}

struct Job<S> {
    record: Mutex<Record<S>>,
    cancel: AtomicBool,
}

#[derive(Default)]
struct Schedule {
    queue: VecDeque<String>,
    /// The job the worker is running.
    current: Option<String>,
}

struct Inner<W: JobWork> {
    work: W,
    dir: PathBuf,
    expiry: Duration,
    jobs: Mutex<HashMap<String, Arc<Job<W::Spec>>>>,
    schedule: Mutex<Schedule>,
    wake: Condvar,
    shutdown: AtomicBool,
}

/// The jobs of one kind on one server.
pub struct JobQueue<W: JobWork> {
    inner: Arc<Inner<W>>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

/// Locks, recovering the data of a mutex poisoned by a panicking thread (the records stay
/// consistent: every update is a single assignment).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A job id from a URL: only what [`JobQueue::enqueue`] issues (hex and dashes).
fn is_job_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

impl<W: JobWork> JobQueue<W> {
    /// Loads the jobs under `dir` (creating it), queues the unfinished ones, and starts the
    /// worker thread.
    pub fn start(work: W, dir: PathBuf, expiry: Duration) -> Result<JobQueue<W>, BulkError> {
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let mut jobs = HashMap::new();
        let mut unfinished = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(io_err(&dir))? {
            let entry = entry.map_err(io_err(&dir))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if !path.is_dir() || !is_job_id(&name) {
                continue;
            }
            let record_path = path.join(RECORD);
            let record: Record<W::Spec> = match std::fs::read(&record_path) {
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
        let name = work.name();
        let inner = Arc::new(Inner {
            work,
            dir,
            expiry,
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
            .name(name.into())
            .spawn(move || worker_inner.work())
            .map_err(io_err(Path::new(name)))?;
        Ok(JobQueue {
            inner,
            worker: Mutex::new(Some(worker)),
        })
    }

    /// The kind of work this queue runs (and its settings).
    pub fn work(&self) -> &W {
        &self.inner.work
    }

    /// How long a finished job and its files are kept.
    pub fn expiry(&self) -> Duration {
        self.inner.expiry
    }

    /// The folder of a job (whether or not it exists).
    pub fn job_dir(&self, id: &str) -> Option<PathBuf> {
        is_job_id(id).then(|| self.inner.job_dir(id))
    }

    /// Persists a new job and queues it. The transaction time is now.
    pub fn enqueue(
        &self,
        spec: W::Spec,
        request_url: String,
    ) -> Result<Record<W::Spec>, BulkError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let record = Record {
            id: id.clone(),
            request_url,
            transaction_time: format_instant(&Utc::now()),
            state: JobState::Running,
            spec,
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
    pub fn record(&self, id: &str) -> Option<Record<W::Spec>> {
        self.inner.expire();
        let job = self.inner.job(id)?;
        let record = lock(&job.record).clone();
        Some(record)
    }

    /// Cancels a job (running or finished) and deletes its folder. Returns `false` for an
    /// unknown job. Waits for the worker to leave the job (at most one of its batches).
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
    /// at the next start) and waits for it.
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

impl<W: JobWork> Drop for JobQueue<W> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Replaces a job record atomically and durably.
fn save<S: Serialize>(dir: &Path, record: &Record<S>) -> Result<(), BulkError> {
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

impl<W: JobWork> Inner<W> {
    fn job_dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    fn job(&self, id: &str) -> Option<Arc<Job<W::Spec>>> {
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
        let Ok(expiry) = chrono::Duration::from_std(self.expiry) else {
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

    fn run(&self, job: &Job<W::Spec>) {
        let id = lock(&job.record).id.clone();
        let dir = self.job_dir(&id);
        let result = std::fs::create_dir_all(&dir)
            .map_err(io_err(&dir))
            .and_then(|()| {
                let mut context = JobContext {
                    job,
                    stop: &self.shutdown,
                    dir: &dir,
                };
                self.work.run(&mut context)
            });
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
        let _ = save(&dir, &*record);
    }
}
