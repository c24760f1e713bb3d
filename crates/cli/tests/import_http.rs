//! `import_over_http` with several Bundles in flight, against the real server on a free
//! loopback port: every resource arrives, invalid ones are reported by line in reading order
//! whatever order the answers came in, the checkpoint ends at each file's last line, a resumed
//! run sends nothing new, and an unreachable server fails without moving the checkpoint.
#![allow(clippy::unwrap_used)]

mod support;

use crosscare_ingest::{import_over_http, Checkpoint, ImportOptions, Silent};
use crosscare_rest::{Rest, RestConfig};
use crosscare_server::ServerConfig;
use crosscare_store::sqlite::SqliteStore;
use serde_json::Value;
use std::sync::Arc;

fn write_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut patients = String::new();
    for i in 0..120 {
        // Every 37th Patient has a gender outside the required binding.
        let gender = if i % 37 == 5 { "femme" } else { "female" };
        patients.push_str(&format!(
            "{{\"resourceType\":\"Patient\",\"id\":\"p{i}\",\"gender\":\"{gender}\"}}\n"
        ));
    }
    let mut observations = String::new();
    for i in 0..90 {
        observations.push_str(&format!(
            "{{\"resourceType\":\"Observation\",\"id\":\"o{i}\",\"status\":\"final\",\
             \"code\":{{\"text\":\"hr\"}},\"subject\":{{\"reference\":\"Patient/p{}\"}}}}\n",
            i % 120
        ));
    }
    let a = dir.join("a-patients.ndjson");
    let b = dir.join("b-observations.ndjson");
    std::fs::write(&a, patients).unwrap();
    std::fs::write(&b, observations).unwrap();
    vec![a, b]
}

#[test]
fn several_bundles_in_flight_load_everything_and_checkpoint_in_order() {
    let rest = Rest::new(
        Arc::new(SqliteStore::temporary().unwrap()),
        RestConfig::default(),
    );
    let (_rt, addr) = support::spawn(Arc::new(rest), ServerConfig::default());
    let base = format!("http://{addr}/fhir");
    let dir = tempfile::tempdir().unwrap();
    let files = write_files(dir.path());
    let checkpoint = dir.path().join("ck.json");
    let options = ImportOptions {
        batch_size: 7,
        checkpoint: Some(checkpoint.clone()),
        in_flight: 4,
        ..ImportOptions::default()
    };
    let summary = import_over_http(&base, &files, &options, &Silent).unwrap();
    // Lines 6, 43, 80 and 117 (1-based) hold the invalid Patients.
    let lines: Vec<u64> = summary.rejected.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![6, 43, 80, 117], "{:?}", summary.rejected);
    assert!(summary.rejected[0].message.contains("femme"));
    assert_eq!(summary.loaded, 116 + 90);
    assert_eq!(summary.by_type["Patient"], 116);
    assert_eq!(summary.by_type["Observation"], 90);

    let client = reqwest::blocking::Client::new();
    for (ty, n) in [("Patient", 116), ("Observation", 90)] {
        let body: Value = client
            .get(format!("{base}/{ty}?_summary=count"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(body["total"], n, "{ty}");
    }
    let saved = Checkpoint::load(&checkpoint).unwrap();
    assert_eq!(saved.committed(&files[0]), 120);
    assert_eq!(saved.committed(&files[1]), 90);

    // Resuming from the checkpoint finds nothing left to send.
    let again = import_over_http(&base, &files, &options, &Silent).unwrap();
    assert_eq!(again.loaded, 0);
    assert_eq!(again.resumed_past, 210);
}

#[test]
fn an_unreachable_server_fails_and_leaves_the_checkpoint_alone() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let files = write_files(dir.path());
    let checkpoint = dir.path().join("ck.json");
    let options = ImportOptions {
        batch_size: 5,
        checkpoint: Some(checkpoint.clone()),
        in_flight: 3,
        ..ImportOptions::default()
    };
    let err = import_over_http(
        &format!("http://127.0.0.1:{port}/fhir"),
        &files,
        &options,
        &Silent,
    )
    .unwrap_err();
    assert!(err.to_string().contains(&port.to_string()), "{err}");
    assert!(!checkpoint.exists());
}
