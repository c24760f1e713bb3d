//! The audit log's writer thread: it chains the queued events and writes each batch with one
//! `write`, then tells every request of the batch that its record is in the file.
//!
//! **Invariants.** The writer is the only code that appends to the file while the log is open,
//! so sequence numbers and `prev` links follow the order in which events left the queue. A
//! request is acknowledged only after the `write` that holds its line returned: a record
//! acknowledged to a request is in the operating system's file (not fsynced, as before the
//! thread existed: a process crash cannot lose it, an OS crash or power cut can). A full queue
//! makes requests wait (back-pressure), it never drops a record. When the log is dropped, the
//! queue closes and the writer writes what is left in it before it exits.

use super::{chain_hash, Tail};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot};

/// Events waiting for the writer; a request waits for room beyond this.
pub(super) const QUEUE: usize = 1024;
/// Most events chained and written with one `write`.
const MAX_BATCH: usize = 256;

/// What a request learns about its record: written, or why not.
pub(super) type Outcome = Result<(), (io::ErrorKind, String)>;

/// One event's text on its way to the file, and who waits for it.
pub(super) struct Job {
    pub(super) event: String,
    pub(super) done: oneshot::Sender<Outcome>,
}

pub(super) fn spawn(tail: Tail, queue: mpsc::Receiver<Job>) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("audit-writer".into())
        .spawn(move || run(tail, queue))
}

fn run(mut tail: Tail, mut queue: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    let mut buf = String::new();
    // `blocking_recv` returns what is still queued after the log closed the queue, then `None`:
    // that is the drain at shutdown.
    while let Some(job) = queue.blocking_recv() {
        batch.push(job);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let outcome = tail
            .write_batch(batch.iter().map(|j| j.event.as_str()), &mut buf)
            .map_err(|e| (e.kind(), e.to_string()));
        for job in batch.drain(..) {
            // A request that stopped waiting (its connection closed) still has its record.
            let _ = job.done.send(outcome.clone());
        }
    }
}

impl Tail {
    /// Chains `events` after the tail and appends them with one `write`. On failure the tail is
    /// unchanged and the file is cut back to its last complete record, so that the next batch
    /// chains on what is really in the file.
    fn write_batch<'a>(
        &mut self,
        events: impl Iterator<Item = &'a str>,
        buf: &mut String,
    ) -> io::Result<()> {
        buf.clear();
        let mut seq = self.seq;
        let mut prev = self.hash.clone();
        for event in events {
            seq += 1;
            let hash = chain_hash(seq, &prev, event);
            // Writing into a String cannot fail.
            let _ = writeln!(
                buf,
                "{{\"seq\":{seq},\"prev\":\"{prev}\",\"hash\":\"{hash}\",\"event\":{event}}}"
            );
            prev = hash;
        }
        if let Err(e) = self.file.write_all(buf.as_bytes()) {
            // Best effort: if even this fails, `audit verify` names the torn record.
            let _ = self.file.set_len(self.len);
            return Err(e);
        }
        self.len += buf.len() as u64;
        self.seq = seq;
        self.hash = prev;
        Ok(())
    }
}
