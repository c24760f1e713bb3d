//! The background checkpointer: copies committed WAL frames into the database file on its own
//! thread and connection, so that the single writer does not pay for it inside its commits.
//!
//! SQLite's default is an automatic checkpoint run by the committing connection once the WAL
//! holds 1,000 pages; a 1,000-resource transaction dirties more than that, so every ingest
//! commit also copied its pages into the database file and fsynced it (a sixth of the writer's
//! time in the ingest benchmark). Here the writer only wakes this thread after each commit; the
//! thread runs a `PASSIVE` checkpoint (it never blocks readers or the writer), at most once per
//! [`MIN_INTERVAL`], coalescing the wake-ups in between. Pages rewritten by several commits in
//! that interval are copied once.
//!
//! Durability does not depend on checkpoints: a commit is durable once its WAL frames are
//! synced (`synchronous=FULL`), and recovery replays the WAL. The writer keeps an automatic
//! checkpoint at [`WRITER_BACKSTOP_PAGES`] so the WAL stays bounded if this thread falls behind.

use super::{open_connection, SqliteOptions};
use crate::{Result, StoreError};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The shortest time between two background checkpoints.
pub(crate) const MIN_INTERVAL: Duration = Duration::from_millis(200);

/// WAL size (pages) at which the writer checkpoints by itself, in case this thread lags.
pub(crate) const WRITER_BACKSTOP_PAGES: u32 = 16_384;

/// The handle the store keeps: wakes the thread, and stops it when dropped.
pub(crate) struct Checkpointer {
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    runs: Arc<AtomicU64>,
}

impl Checkpointer {
    /// Starts the thread with a connection of its own to the database at `path`.
    pub(crate) fn start(path: &Path, options: &SqliteOptions) -> Result<Checkpointer> {
        let conn = open_connection(path, options, false)?;
        // A checkpoint copies frames from the WAL to the file: it needs no large page cache.
        conn.execute_batch("PRAGMA wal_autocheckpoint=0; PRAGMA cache_size=-2048")
            .map_err(super::engine)?;
        let (wake, rx) = mpsc::sync_channel::<()>(1);
        let runs = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&runs);
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                // Each wake-up is one checkpoint; wake-ups during the pause coalesce into the next.
                while rx.recv().is_ok() {
                    // A busy or failed passive checkpoint is harmless: the frames stay in the
                    // WAL, the next run (or the writer's backstop) copies them.
                    let _ = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)");
                    counter.fetch_add(1, Ordering::Relaxed);
                    let until = Instant::now() + MIN_INTERVAL;
                    loop {
                        let left = until.saturating_duration_since(Instant::now());
                        match rx.recv_timeout(left) {
                            Ok(()) => continue,
                            Err(RecvTimeoutError::Timeout) => break,
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                    }
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("checkpoint thread: {e}")))?;
        Ok(Checkpointer {
            wake: Some(wake),
            thread: Some(thread),
            runs,
        })
    }

    /// Asks for a checkpoint after a commit; never blocks (a pending request already covers it).
    pub(crate) fn wake(&self) {
        if let Some(tx) = &self.wake {
            match tx.try_send(()) {
                Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
            }
        }
    }

    /// How many background checkpoints have run (for tests).
    pub(crate) fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// Stops the thread and waits for it (a running checkpoint finishes first).
    pub(crate) fn stop(&mut self) {
        self.wake = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use crate::sqlite::SqliteStore;
    use crate::{PartitionId, Store};
    use serde_json::json;
    use std::time::{Duration, Instant};

    #[test]
    fn a_commit_wakes_the_checkpointer_and_the_data_stays_readable() {
        let store = SqliteStore::temporary().unwrap();
        let p = PartitionId::default_partition();
        for i in 0..3 {
            let mut tx = store.write_tx().unwrap();
            let patient = json!({"resourceType": "Patient", "id": format!("p{i}")});
            tx.put(&p, patient, Vec::new()).unwrap();
            tx.commit().unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while store.checkpoints_run() == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(store.checkpoints_run() >= 1);
        let mut read = store.read_tx().unwrap();
        assert!(read.read(&p, "Patient", "p2").unwrap().is_some());
        drop(read);
        store.close().unwrap();
    }
}
