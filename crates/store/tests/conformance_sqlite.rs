//! Runs the backend conformance suite against the SQLite store.

use crosscare_store::sqlite::SqliteStore;
use crosscare_store::Store;

#[test]
fn sqlite_passes_the_conformance_suite() {
    crosscare_store::conformance::run_all(&|| -> Box<dyn Store> {
        match SqliteStore::temporary() {
            Ok(s) => Box::new(s),
            Err(e) => panic!("cannot open a temporary store: {e}"),
        }
    });
}
