//! Crash consistency of the whole server: writes over HTTP from several clients, `kill -9` in
//! the middle, restart on the same data folder, and every write that was acknowledged (201/200)
//! must be there with its content, twice over.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Starts `crosscare serve` on a free port and returns it with its FHIR base URL.
fn serve(data: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crosscare"))
        .args([
            "serve",
            "--insecure-no-auth",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
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
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !sent {
                if let Some(i) = line.find("listening at http://") {
                    let url = line[i + "listening at ".len()..]
                        .split('"')
                        .next()
                        .unwrap()
                        .to_string();
                    tx.send(url).unwrap();
                    sent = true;
                }
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("server did not start");
    (child, base)
}

fn body(id: &str, n: usize) -> String {
    format!(
        r#"{{"resourceType":"Observation","id":"{id}","status":"final","code":{{"text":"crash {n}"}},"valueQuantity":{{"value":{n}.50}}}}"#
    )
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..2 {
        let (mut child, base) = serve(dir.path());
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut writers = Vec::new();
        for w in 0..4 {
            let (base, acked, stop) = (base.clone(), acknowledged.clone(), stop.clone());
            writers.push(std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let id = format!("r{round}-w{w}-{n}");
                    let resp = client
                        .put(format!("{base}/Observation/{id}"))
                        .header("content-type", "application/fhir+json")
                        .header("prefer", "return=minimal")
                        .body(body(&id, n))
                        .send();
                    match resp {
                        Ok(r) if r.status().is_success() => acked.lock().unwrap().push((id, n)),
                        Ok(r) => panic!("unexpected status {}", r.status()),
                        Err(_) => return, // the server died under us: this write was never acknowledged
                    }
                    n += 1;
                }
            }));
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while acknowledged.lock().unwrap().len() < 150 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().unwrap(); // SIGKILL: no shutdown, no checkpoint
        child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.join().unwrap();
        }
        let acked = acknowledged.lock().unwrap().clone();
        assert!(
            acked.len() >= 150,
            "only {} writes acknowledged",
            acked.len()
        );

        let (mut child, base) = serve(dir.path());
        let client = reqwest::blocking::Client::new();
        for (id, n) in &acked {
            let resp = client
                .get(format!("{base}/Observation/{id}"))
                .send()
                .unwrap();
            assert_eq!(
                resp.status().as_u16(),
                200,
                "acknowledged {id} is missing after kill -9"
            );
            let text = resp.text().unwrap();
            assert!(text.contains(&format!(r#""value":{n}.50"#)), "{id}: {text}");
        }
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
