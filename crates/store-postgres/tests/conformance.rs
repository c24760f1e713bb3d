//! Runs the store's backend conformance suite (`crosscare_store::conformance`) against
//! `PostgresStore`, one fresh database per check.

#![allow(clippy::unwrap_used)]

use crosscare_store::Store;
use crosscare_store_postgres::{testing, PostgresStore};

fn fresh_store() -> Option<Box<dyn Store>> {
    let db = testing::database_or_skip()?;
    Some(Box::new(PostgresStore::connect(&db.url, 4).unwrap()))
}

#[test]
fn postgres_passes_the_core_conformance_checks() {
    if fresh_store().is_none() {
        return;
    }
    for (name, check) in crosscare_store::conformance::CHECKS {
        let store = fresh_store().unwrap();
        eprintln!("conformance check {name}");
        check(store.as_ref());
        store.close().unwrap();
    }
}
