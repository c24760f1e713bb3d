//! The search half of the backend conformance suite (see [`crate::conformance`]).

use crate::conformance::MakeStore;

/// Runs the search checks.
pub fn run_all(make_store: MakeStore<'_>) {
    let _ = make_store;
}
