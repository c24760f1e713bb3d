//! Runs the scan conformance checks (Bulk export's walk over a type) against SQLite.

use crosscare_store::sqlite::SqliteStore;
use crosscare_store::Store;

#[test]
fn sqlite_passes_the_scan_checks() {
    crosscare_store::conformance_scan::run_all(&|| -> Box<dyn Store> {
        match SqliteStore::temporary() {
            Ok(s) => Box::new(s),
            Err(e) => panic!("cannot open a temporary store: {e}"),
        }
    });
}
