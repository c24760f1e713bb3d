//! Outages: a database that is not there fails `connect` with one clear line; a database that
//! goes away makes calls fail with `StoreError::Unavailable`, and the pool reconnects once it
//! is back.

#![allow(clippy::unwrap_used)]

use crosscare_store::{PartitionId, Store, StoreError};
use crosscare_store_postgres::{testing, PostgresStore};
use serde_json::json;

#[test]
fn unreachable_database_at_connect_is_one_clear_line() {
    // A port nobody listens on: bind one, then release it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/nothing");
    let err = PostgresStore::connect(&url, 2).err().unwrap();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Unavailable(_)), "{msg}");
    assert!(msg.contains(&format!("127.0.0.1:{port}/nothing")), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
}

#[test]
fn wrong_database_name_is_one_clear_line() {
    let Some(db) = testing::database_or_skip() else {
        return;
    };
    let url = db.url.replace(&db.name, "no_such_db");
    let err = PostgresStore::connect(&url, 2).err().unwrap();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Unavailable(_)), "{msg}");
    assert!(msg.contains("no_such_db"), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
}

#[test]
fn outage_is_unavailable_and_the_pool_recovers() {
    let Some(cluster) = testing::dedicated_cluster() else {
        return;
    };
    cluster.psql("postgres", "CREATE DATABASE o").unwrap();
    let store = PostgresStore::connect(&cluster.url("o"), 4).unwrap();
    let part = PartitionId::default_partition();
    let put = |id: &str| -> Result<(), StoreError> {
        let mut tx = store.write_tx()?;
        tx.put(
            &part,
            json!({"resourceType": "Patient", "id": id}),
            Vec::new(),
        )?;
        tx.commit()
    };
    put("before").unwrap();
    cluster.stop().unwrap();
    for _ in 0..3 {
        match put("during") {
            Err(StoreError::Unavailable(m)) => assert!(!m.is_empty()),
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
    match store.read_tx() {
        Err(StoreError::Unavailable(_)) => {}
        Err(e) => panic!("expected Unavailable, got {e}"),
        Ok(_) => panic!("expected Unavailable, got a transaction"),
    }
    cluster.restart().unwrap();
    // The first call after the restart may still meet a stale pooled connection; the pool
    // drops it, and within a few calls the store works again.
    let mut recovered = false;
    for _ in 0..10 {
        match put("after") {
            Ok(()) => {
                recovered = true;
                break;
            }
            Err(e) => eprintln!("after restart: {e}"),
        }
    }
    assert!(
        recovered,
        "the store did not recover after the database came back"
    );
    let mut r = store.read_tx().unwrap();
    assert!(r.read(&part, "Patient", "before").unwrap().is_some());
    assert!(r.read(&part, "Patient", "during").unwrap().is_none());
}
