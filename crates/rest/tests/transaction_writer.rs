//! When a transaction takes the store's single writer: after planning for a Bundle whose
//! planning reads nothing (so that one transaction is validated and indexed while another
//! writes), before planning when a conditional create, update or reference has to read the
//! store under the same lock as the writes.
#![allow(clippy::unwrap_used)]

use crosscare_rest::request::{FhirRequest, Method};
use crosscare_rest::{Rest, RestConfig};
use crosscare_store::sqlite::SqliteStore;
use crosscare_store::{ReadTx, Store, WriteTx};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A store that counts the write transactions it opens.
struct Counting {
    inner: SqliteStore,
    writers: Arc<AtomicUsize>,
}

impl Store for Counting {
    fn read_tx(&self) -> crosscare_store::Result<Box<dyn ReadTx + '_>> {
        self.inner.read_tx()
    }
    fn write_tx(&self) -> crosscare_store::Result<Box<dyn WriteTx + '_>> {
        self.writers.fetch_add(1, Ordering::SeqCst);
        self.inner.write_tx()
    }
    fn close(&self) -> crosscare_store::Result<()> {
        self.inner.close()
    }
}

fn rest() -> (Rest, Arc<AtomicUsize>) {
    let writers = Arc::new(AtomicUsize::new(0));
    let store = Counting {
        inner: SqliteStore::temporary().unwrap(),
        writers: writers.clone(),
    };
    (Rest::new(Arc::new(store), RestConfig::default()), writers)
}

fn post(rest: &Rest, bundle: &Value) -> u16 {
    let mut req = FhirRequest::new(Method::Post, "");
    req.body = Some(serde_json::to_vec(bundle).unwrap());
    req.content_type = Some("application/fhir+json".into());
    rest.handle(req).status
}

fn put(id: &str) -> Value {
    json!({"resource": {"resourceType": "Patient", "id": id},
        "request": {"method": "PUT", "url": format!("Patient/{id}")}})
}

fn transaction(entries: Vec<Value>) -> Value {
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
}

#[test]
fn a_transaction_that_reads_nothing_to_plan_takes_the_writer_after_planning() {
    let (rest, writers) = rest();
    // Two entries writing Patient/1 fail in planning: the writer was never taken.
    let twice = transaction(vec![put("1"), put("1")]);
    assert_eq!(post(&rest, &twice), 400);
    assert_eq!(writers.load(Ordering::SeqCst), 0);
    // A valid one takes it once, and its writes are there.
    assert_eq!(post(&rest, &transaction(vec![put("1")])), 200);
    assert_eq!(writers.load(Ordering::SeqCst), 1);
    let read = rest.handle(FhirRequest::new(Method::Get, "Patient/1"));
    assert_eq!(read.status, 200);
}

#[test]
fn conditional_planning_takes_the_writer_first() {
    let (rest, writers) = rest();
    let conditional = json!({"resource": {"resourceType": "Patient"},
        "request": {"method": "POST", "url": "Patient", "ifNoneExist": "identifier=a|1"}});
    // The same failure in planning, but the conditional create read the store under the
    // writer first.
    let bundle = transaction(vec![conditional, put("1"), put("1")]);
    assert_eq!(post(&rest, &bundle), 400);
    assert_eq!(writers.load(Ordering::SeqCst), 1);
    // A conditional reference too.
    let referring = json!({"resource": {"resourceType": "Observation", "status": "final",
            "code": {"text": "x"}, "subject": {"reference": "Patient?identifier=a|1"}},
        "request": {"method": "POST", "url": "Observation"}});
    let bundle = transaction(vec![referring, put("2"), put("2")]);
    assert_eq!(post(&rest, &bundle), 400);
    assert_eq!(writers.load(Ordering::SeqCst), 2);
}

#[test]
fn transactions_prepared_concurrently_all_commit() {
    let (rest, writers) = rest();
    std::thread::scope(|s| {
        for t in 0..4 {
            let rest = &rest;
            s.spawn(move || {
                for b in 0..5 {
                    let entries = (0..40).map(|i| put(&format!("t{t}-{b}-{i}"))).collect();
                    assert_eq!(post(rest, &transaction(entries)), 200);
                }
            });
        }
    });
    assert_eq!(writers.load(Ordering::SeqCst), 20);
    let all = rest.handle(FhirRequest::new(Method::Get, "Patient?_summary=count"));
    assert_eq!(all.json().unwrap()["total"], 800);
}
