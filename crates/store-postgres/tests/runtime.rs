//! The store inside a server's tokio runtime: connected from an async task, used from
//! `spawn_blocking`, dropped inside the runtime — none of which may panic or deadlock.

#![allow(clippy::unwrap_used)]

use crosscare_store::{PartitionId, Store};
use crosscare_store_postgres::{testing, PostgresStore};
use serde_json::json;
use std::sync::Arc;

#[test]
fn connect_in_async_use_in_spawn_blocking_drop_in_async() {
    let Some(db) = testing::database_or_skip() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let store = Arc::new(PostgresStore::connect(&db.url, 4).unwrap());
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                tokio::task::spawn_blocking(move || {
                    let part = PartitionId::default_partition();
                    let id = format!("p{i}");
                    let mut tx = store.write_tx().unwrap();
                    tx.put(
                        &part,
                        json!({"resourceType": "Patient", "id": id}),
                        Vec::new(),
                    )
                    .unwrap();
                    tx.commit().unwrap();
                    let mut r = store.read_tx().unwrap();
                    r.read(&part, "Patient", &id).unwrap().unwrap().version_id
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), 1);
        }
        let part = PartitionId::default_partition();
        let s2 = store.clone();
        let n =
            tokio::task::spawn_blocking(move || s2.read_tx().unwrap().count(&part, None).unwrap())
                .await
                .unwrap();
        assert_eq!(n, 8);
        drop(store);
    });
}
