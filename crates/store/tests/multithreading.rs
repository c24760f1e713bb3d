//! Concurrency: readers proceed while a write transaction is open (WAL snapshots), and
//! concurrent read-modify-write transactions lose no update.
#![allow(clippy::unwrap_used)]

use crosscare_store::sqlite::SqliteStore;
use crosscare_store::{PartitionId, Store};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn counter(n: u64) -> serde_json::Value {
    json!({"resourceType": "Basic", "id": "counter", "code": {"text": n.to_string()}})
}

fn value(body: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    v["code"]["text"].as_str().unwrap().parse().unwrap()
}

#[test]
fn readers_do_not_wait_for_an_open_writer() {
    let store = Arc::new(SqliteStore::temporary().unwrap());
    let d = PartitionId::default_partition();
    {
        let mut tx = store.write_tx().unwrap();
        tx.put(&d, counter(1), Vec::new()).unwrap();
        tx.commit().unwrap();
    }
    let mut writer = store.write_tx().unwrap();
    writer.put(&d, counter(2), Vec::new()).unwrap();
    // The writer holds its transaction open; a reader on another thread must finish at once
    // and see the last committed state.
    let s2 = store.clone();
    let d2 = d.clone();
    let started = Instant::now();
    let seen = std::thread::spawn(move || {
        let mut r = s2.read_tx().unwrap();
        r.read(&d2, "Basic", "counter").unwrap().unwrap().version_id
    })
    .join()
    .unwrap();
    assert_eq!(seen, 1);
    assert!(started.elapsed() < Duration::from_secs(2));
    writer.commit().unwrap();
    let mut r = store.read_tx().unwrap();
    assert_eq!(
        r.read(&d, "Basic", "counter").unwrap().unwrap().version_id,
        2
    );
}

#[test]
fn concurrent_increments_lose_no_update() {
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 50;
    let store = Arc::new(SqliteStore::temporary().unwrap());
    let d = PartitionId::default_partition();
    {
        let mut tx = store.write_tx().unwrap();
        tx.put(&d, counter(0), Vec::new()).unwrap();
        tx.commit().unwrap();
    }
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (store, d, done) = (store.clone(), d.clone(), done.clone());
            std::thread::spawn(move || {
                let mut last = 0;
                let mut reads = 0;
                while !done.load(Ordering::Acquire) {
                    let mut r = store.read_tx().unwrap();
                    let v = r.read(&d, "Basic", "counter").unwrap().unwrap();
                    let n = value(v.body.as_deref().unwrap());
                    // Snapshots only move forward, and the body matches its version.
                    assert!(n >= last, "{n} < {last}");
                    assert_eq!(v.version_id, n + 1);
                    last = n;
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let writers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (store, d) = (store.clone(), d.clone());
            std::thread::spawn(move || {
                for _ in 0..PER_THREAD {
                    let mut tx = store.write_tx().unwrap();
                    let cur = tx.read(&d, "Basic", "counter").unwrap().unwrap();
                    let n = value(cur.body.as_deref().unwrap());
                    tx.put(&d, counter(n + 1), Vec::new()).unwrap();
                    tx.commit().unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Release);
    let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(reads > 0);
    let mut r = store.read_tx().unwrap();
    let v = r.read(&d, "Basic", "counter").unwrap().unwrap();
    assert_eq!(value(v.body.as_deref().unwrap()), THREADS * PER_THREAD);
    assert_eq!(v.version_id, THREADS * PER_THREAD + 1);
}
