//! The automatic `ANALYZE`: a quiet period after writes refreshes the planner's statistics
//! (the end of an import, which the doubling trigger alone can miss by almost half the load),
//! and nothing analyzes while the quiet period has not passed.

#![allow(clippy::unwrap_used)]

use crosscare_store::{PartitionId, Store};
use crosscare_store_postgres::{testing, AnalyzePolicy, PostgresStore};
use serde_json::json;
use std::time::{Duration, Instant};

fn write_patients_from(store: &PostgresStore, from: usize, n: usize) {
    let part = PartitionId::default_partition();
    let mut tx = store.write_tx().unwrap();
    for i in from..from + n {
        tx.put(
            &part,
            json!({"resourceType": "Patient", "id": format!("p{i}")}),
            Vec::new(),
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

/// `pg_class.reltuples` of the resource table: -1 until the table is first analyzed
/// (or vacuumed), then the number of rows ANALYZE counted.
fn reltuples(db: &testing::TestDatabase) -> f64 {
    db.psql("SELECT reltuples FROM pg_class WHERE relname = 'resource'")
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// A store on `db` with the given automatic `ANALYZE` policy.
fn store_with(
    db: &testing::TestDatabase,
    first: u64,
    settle_min: u64,
    quiet: Duration,
) -> PostgresStore {
    let store = PostgresStore::connect(&db.url, 2).unwrap();
    store.set_analyze_policy(AnalyzePolicy {
        first,
        settle_min,
        quiet,
    });
    store
}

/// Waits (at most 20 s) until an `ANALYZE` has counted `rows` resources.
fn wait_for_analyze(db: &testing::TestDatabase, rows: f64, why: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while reltuples(db) < rows {
        assert!(Instant::now() < deadline, "{why}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_quiet_period_after_writes_analyzes_the_tables() {
    let Some(db) = testing::database_or_skip() else {
        return;
    };
    let store = store_with(&db, u64::MAX, 10, Duration::from_millis(300));
    assert_eq!(
        reltuples(&db),
        -1.0,
        "a fresh table has never been analyzed"
    );
    write_patients_from(&store, 0, 40);
    wait_for_analyze(&db, 40.0, "no ANALYZE after the quiet period");
    assert_eq!(store.auto_analyze_runs(), 1);
}

#[test]
fn no_analyze_before_the_quiet_period_or_below_the_minimum() {
    let Some(db) = testing::database_or_skip() else {
        return;
    };
    let store = store_with(&db, u64::MAX, 10, Duration::from_secs(3600));
    write_patients_from(&store, 0, 40);
    let small = store_with(&db, u64::MAX, 1_000, Duration::from_millis(100));
    write_patients_from(&small, 100, 5);
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(store.auto_analyze_runs(), 0);
    assert_eq!(small.auto_analyze_runs(), 0);
    assert_eq!(reltuples(&db), -1.0);
}

#[test]
fn doubling_analyzes_while_a_load_runs() {
    let Some(db) = testing::database_or_skip() else {
        return;
    };
    let store = store_with(&db, 20, u64::MAX, Duration::from_secs(3600));
    write_patients_from(&store, 0, 10);
    assert_eq!(store.auto_analyze_runs(), 0);
    write_patients_from(&store, 10, 15);
    assert_eq!(
        store.auto_analyze_runs(),
        1,
        "25 versions reach the first threshold"
    );
    wait_for_analyze(&db, 25.0, "the doubling ANALYZE did not run");
    // The statistics are visible a moment before the task marks itself finished.
    std::thread::sleep(Duration::from_millis(300));
    write_patients_from(&store, 25, 20);
    assert_eq!(store.auto_analyze_runs(), 1, "the next threshold is 50");
    write_patients_from(&store, 45, 10);
    assert_eq!(store.auto_analyze_runs(), 2);
}
