//! Runs the store's whole backend conformance suite (`crosscare_store::conformance::run_all`:
//! the core checks, then the search checks of `conformance_search`) against `PostgresStore`,
//! one fresh database per store — the same code `crates/store/tests/conformance_sqlite.rs`
//! runs against SQLite.

#![allow(clippy::unwrap_used)]

use crosscare_store::Store;
use crosscare_store_postgres::{testing, PostgresStore};

#[test]
fn postgres_passes_the_conformance_suite() {
    // Ask once up front, so that a machine without PostgreSQL skips (visibly) instead of
    // panicking inside the factory.
    if testing::database_or_skip().is_none() {
        return;
    }
    crosscare_store::conformance::run_all(&|| -> Box<dyn Store> {
        let db = testing::database_or_skip().unwrap();
        Box::new(PostgresStore::connect(&db.url, 4).unwrap())
    });
}
