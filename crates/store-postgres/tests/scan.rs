//! Runs the scan conformance checks (Bulk export's walk over a type) against PostgreSQL, one
//! fresh database per check; skipped with a notice when PostgreSQL is not installed.

#![allow(clippy::unwrap_used)]

use crosscare_store::Store;
use crosscare_store_postgres::{testing, PostgresStore};

fn fresh_store() -> Option<Box<dyn Store>> {
    let db = testing::database_or_skip()?;
    Some(Box::new(PostgresStore::connect(&db.url, 4).unwrap()))
}

#[test]
fn postgres_passes_the_scan_checks() {
    if fresh_store().is_none() {
        return;
    }
    for (name, check) in crosscare_store::conformance_scan::CHECKS {
        let store = fresh_store().unwrap();
        eprintln!("scan check {name}");
        check(store.as_ref());
        store.close().unwrap();
    }
}
