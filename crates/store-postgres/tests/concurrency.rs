//! Concurrency suite: concurrent writers of one resource serialise, optimistic version checks
//! made inside a write transaction let exactly one writer win, retried increments lose
//! nothing, and concurrent migrations do not race.

#![allow(clippy::unwrap_used)]

use crosscare_store::{PartitionId, Store, StoreError};
use crosscare_store_postgres::{migrate, testing, PostgresStore, SCHEMA_VERSION};
use serde_json::json;
use std::sync::{Arc, Barrier};

fn part() -> PartitionId {
    PartitionId::default_partition()
}

fn store() -> Option<Arc<PostgresStore>> {
    let db = testing::database_or_skip()?;
    Some(Arc::new(PostgresStore::connect(&db.url, 16).unwrap()))
}

/// The REST layer's conditional update: read inside the write transaction, compare the
/// version with If-Match, then put. Returns whether this writer's update committed.
fn update_if_match(
    store: &PostgresStore,
    expected: u64,
    value: &str,
    barrier: &Barrier,
) -> Result<bool, StoreError> {
    let mut tx = store.write_tx()?;
    barrier.wait();
    let current = tx.read(&part(), "Patient", "p")?.unwrap();
    if current.version_id != expected {
        return Ok(false);
    }
    let r = json!({"resourceType": "Patient", "id": "p", "name": [{"family": value}]});
    tx.put(&part(), r, Vec::new())?;
    // Hold the lock a little so the other writer really waits on it.
    std::thread::sleep(std::time::Duration::from_millis(50));
    tx.commit()?;
    Ok(true)
}

#[test]
fn two_updates_with_the_same_expected_version_exactly_one_wins() {
    let Some(store) = store() else { return };
    let mut tx = store.write_tx().unwrap();
    tx.put(
        &part(),
        json!({"resourceType": "Patient", "id": "p"}),
        Vec::new(),
    )
    .unwrap();
    tx.commit().unwrap();
    for round in 0..5u64 {
        let expected = round + 1;
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = (0..2)
            .map(|i| {
                let (store, barrier) = (store.clone(), barrier.clone());
                std::thread::spawn(move || {
                    update_if_match(&store, expected, &format!("w{round}-{i}"), &barrier)
                })
            })
            .collect();
        let outcomes: Vec<bool> = handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect();
        assert_eq!(
            outcomes.iter().filter(|w| **w).count(),
            1,
            "round {round}: {outcomes:?}"
        );
        let mut r = store.read_tx().unwrap();
        let now = r.read(&part(), "Patient", "p").unwrap().unwrap();
        assert_eq!(now.version_id, expected + 1);
    }
}

/// Increments a counter in the resource body, retrying on `Conflict`.
fn increment(store: &PostgresStore, id: &str) -> u32 {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let result = (|| -> Result<(), StoreError> {
            let mut tx = store.write_tx()?;
            let n = match tx.read(&part(), "Basic", id)? {
                Some(v) if !v.is_deleted() => {
                    let body: serde_json::Value =
                        serde_json::from_str(v.body.as_deref().unwrap()).unwrap();
                    body["extension"][0]["valueInteger"].as_i64().unwrap()
                }
                _ => 0,
            };
            let r = json!({"resourceType": "Basic", "id": id, "extension": [
                {"url": "http://example.org/counter", "valueInteger": n + 1}]});
            tx.put(&part(), r, Vec::new())?;
            tx.commit()
        })();
        match result {
            Ok(()) => return attempts,
            Err(StoreError::Conflict) if attempts < 50 => continue,
            Err(e) => panic!("increment failed: {e}"),
        }
    }
}

#[test]
fn concurrent_increments_lose_no_update() {
    let Some(store) = store() else { return };
    const THREADS: usize = 8;
    const PER_THREAD: usize = 25;
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || {
                (0..PER_THREAD)
                    .map(|_| increment(&store, "counter"))
                    .sum::<u32>()
            })
        })
        .collect();
    let attempts: u32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let mut r = store.read_tx().unwrap();
    let v = r.read(&part(), "Basic", "counter").unwrap().unwrap();
    let body: serde_json::Value = serde_json::from_str(v.body.as_deref().unwrap()).unwrap();
    let total = (THREADS * PER_THREAD) as i64;
    assert_eq!(body["extension"][0]["valueInteger"], total);
    assert_eq!(v.version_id, total as u64);
    let (history, count) = r
        .history(
            &part(),
            &crosscare_store::HistoryQuery {
                resource_type: Some("Basic".into()),
                id: Some("counter".into()),
                count: 1000,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(count, total as u64);
    let versions: Vec<u64> = history.iter().map(|v| v.version_id).collect();
    let expected: Vec<u64> = (1..=total as u64).rev().collect();
    assert_eq!(versions, expected);
    eprintln!("{total} increments took {attempts} attempts");
}

#[test]
fn concurrent_creates_of_one_id_become_create_then_update() {
    let Some(store) = store() else { return };
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut tx = store.write_tx().unwrap();
                barrier.wait();
                let r = json!({"resourceType": "Patient", "id": "same", "gender": format!("g{i}")});
                let v = tx.put(&part(), r, Vec::new()).unwrap();
                tx.commit().unwrap();
                v.version_id
            })
        })
        .collect();
    let mut versions: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    versions.sort_unstable();
    assert_eq!(versions, vec![1, 2, 3, 4]);
}

#[test]
fn concurrent_migrations_queue_on_the_advisory_lock() {
    let Some(cluster) = testing::dedicated_cluster() else {
        return;
    };
    cluster.psql("postgres", "CREATE DATABASE m").unwrap();
    let url = cluster.url("m");
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || migrate(&url))
        })
        .collect();
    let reports: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    // Exactly one run found the empty database; the others found it migrated.
    assert_eq!(
        reports.iter().filter(|r| r.from == 0).count(),
        1,
        "{reports:?}"
    );
    assert!(reports.iter().all(|r| r.to == SCHEMA_VERSION));
    let applied = cluster
        .psql(
            "m",
            "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations",
        )
        .unwrap();
    let every: Vec<String> = (1..=SCHEMA_VERSION).map(|v| v.to_string()).collect();
    assert_eq!(applied, every.join(","));
}

/// One transaction increments a counter in each of `ids` after announcing them all with
/// `prefetch`; an error when PostgreSQL aborted it (a deadlock would show up here).
fn increment_all(store: &PostgresStore, ids: &[String]) -> Result<(), StoreError> {
    let mut tx = store.write_tx()?;
    let keys: Vec<(String, String)> = ids
        .iter()
        .map(|id| ("Basic".to_string(), id.clone()))
        .collect();
    tx.prefetch(&part(), &keys)?;
    for id in ids {
        let n = match tx.read(&part(), "Basic", id)? {
            Some(v) => {
                let body: serde_json::Value =
                    serde_json::from_str(v.body.as_deref().unwrap()).unwrap();
                body["n"].as_u64().unwrap()
            }
            None => 0,
        };
        let r = json!({"resourceType": "Basic", "id": id, "n": n + 1});
        tx.put(&part(), r, Vec::new())?;
    }
    tx.commit()
}

#[test]
fn prefetched_transactions_in_opposite_orders_neither_deadlock_nor_lose_updates() {
    let Some(store) = store() else { return };
    let ids: Vec<String> = (0..20).map(|i| format!("b{i:02}")).collect();
    const ROUNDS: usize = 10;
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let store = store.clone();
            let mut mine = ids.clone();
            if t % 2 == 1 {
                mine.reverse();
            }
            std::thread::spawn(move || {
                for _ in 0..ROUNDS {
                    // Prefetch locks and claims in key order whatever the entry order, so
                    // opposite orders queue on each other's locks and never deadlock.
                    increment_all(&store, &mine).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut r = store.read_tx().unwrap();
    for id in &ids {
        let v = r.read(&part(), "Basic", id).unwrap().unwrap();
        let body: serde_json::Value = serde_json::from_str(v.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["n"].as_u64(), Some(4 * ROUNDS as u64), "{id}");
        assert_eq!(v.version_id, 4 * ROUNDS as u64, "{id}");
    }
}
