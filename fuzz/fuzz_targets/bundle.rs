//! Fuzz target: arbitrary bytes POSTed as a batch/transaction Bundle to the REST layer over a
//! real (temporary) SQLite store. Every answer must be a well-formed response: no panic, and
//! every failure an OperationOutcome.
#![no_main]

use crosscare_rest::{FhirRequest, Method, Rest, RestConfig};
use crosscare_store::sqlite::SqliteStore;
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

fn rest() -> &'static Rest {
    static REST: OnceLock<Rest> = OnceLock::new();
    REST.get_or_init(|| {
        let store = SqliteStore::temporary().expect("temporary store");
        Rest::new(Arc::new(store), RestConfig { max_bundle_entries: 50, ..RestConfig::default() })
    })
}

fuzz_target!(|data: &[u8]| {
    let mut request = FhirRequest::new(Method::Post, "");
    request.body = Some(data.to_vec());
    request.content_type = Some("application/fhir+json".to_string());
    let response = rest().handle(request);
    if response.status >= 400 {
        let body = response.body.expect("an error carries an OperationOutcome");
        assert_eq!(body["resourceType"], "OperationOutcome");
    }
});
