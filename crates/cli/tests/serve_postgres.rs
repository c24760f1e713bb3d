//! The real `crosscare serve --database` binary on PostgreSQL (a fresh database of the
//! throwaway cluster; `SKIPPED: PostgreSQL not available` without its binaries, a failure under
//! `CI=true`): it starts, answers, stores and reads. The in-process HTTP suites build their
//! `Rest` outside any async runtime and cannot see a start-up path that calls the store from
//! the server's runtime thread, which the PostgreSQL store forbids.
#![allow(clippy::unwrap_used)]

use crosscare_store_postgres::testing;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn serve_starts_and_answers_on_postgres() {
    let Some(db) = testing::database_or_skip() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_crosscare"))
        .args([
            "serve",
            "--insecure-no-auth",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.path().to_str().unwrap(),
            "--database",
            &db.url,
            "--log-format",
            "json",
        ])
        .env("CROSSCARE_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Reads the log to its end: a server whose stderr is closed fails its log writes.
        let (mut lines, mut sent) = (Vec::new(), false);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            match line.find("listening at http://") {
                Some(i) if !sent => {
                    let url = line[i + "listening at ".len()..].split('"').next().unwrap();
                    let _ = tx.send(Ok(url.to_string()));
                    sent = true;
                }
                _ if !sent => lines.push(line),
                _ => {}
            }
        }
        if !sent {
            let _ = tx.send(Err(lines.join("\n")));
        }
    });
    let base = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(base)) => base,
        Ok(Err(log)) => {
            let _ = child.kill();
            panic!("crosscare serve --database exited during start-up:\n{log}");
        }
        Err(e) => {
            let _ = child.kill();
            panic!("crosscare serve --database did not start: {e}");
        }
    };
    let client = reqwest::blocking::Client::new();
    let metadata = client.get(format!("{base}/metadata")).send().unwrap();
    assert_eq!(metadata.status().as_u16(), 200);
    let put = client
        .put(format!("{base}/Patient/pg1"))
        .header("content-type", "application/fhir+json")
        .body(r#"{"resourceType":"Patient","id":"pg1","name":[{"family":"Keller"}]}"#)
        .send()
        .unwrap();
    assert_eq!(put.status().as_u16(), 201);
    let read = client.get(format!("{base}/Patient/pg1")).send().unwrap();
    assert_eq!(read.status().as_u16(), 200);
    assert!(read.text().unwrap().contains("Keller"));
    let search = client
        .get(format!("{base}/Patient?family=kel&_summary=count"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(search.contains(r#""total":1"#), "{search}");
    child.kill().unwrap();
    let _ = child.wait();
}
