//! Crash consistency: a child process writes resources and prints each id once its commit
//! returned; the parent kills it with SIGKILL mid-ingest, reopens the store and checks every
//! acknowledged resource is there (at the acknowledged version) and the database is sound.
//!
//! The file has its own `main` (`harness = false`): run without arguments it is the parent,
//! re-executed with `CROSSCARE_CRASH_CHILD=<dir>` it is the writer.
#![allow(clippy::unwrap_used)]

use crosscare_store::sqlite::{SqliteOptions, SqliteStore};
use crosscare_store::{PartitionId, Store};
use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

const CHILD_ENV: &str = "CROSSCARE_CRASH_CHILD";
/// Acknowledged writes to wait for before each kill.
const ACKS_BEFORE_KILL: usize = 150;
const ROUNDS: usize = 3;

fn main() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child(&dir);
        return;
    }
    parent();
    println!("crash_consistency: ok");
}

/// Writes forever: transactions of 1..=5 resources, each version of `Patient/p<k>` carrying
/// its own sequence number, and prints `id version` per resource after the commit returned.
fn child(dir: &str) {
    let store = SqliteStore::open(dir.as_ref(), SqliteOptions::default()).unwrap();
    let part = PartitionId::default_partition();
    let mut out = std::io::stdout().lock();
    let mut n: u64 = std::process::id() as u64 * 1_000_000;
    loop {
        let batch = (n % 5 + 1) as usize;
        let mut tx = store.write_tx().unwrap();
        let mut acks = Vec::new();
        for _ in 0..batch {
            n += 1;
            // A few ids repeat so updates are exercised too.
            let id = format!("p{}", n % 97);
            let body = json!({"resourceType": "Patient", "id": id, "active": true,
                "identifier": [{"value": n.to_string()}]});
            let v = tx.put(&part, body, Vec::new()).unwrap();
            acks.push(format!("{} {} {}", v.id, v.version_id, n));
        }
        tx.commit().unwrap();
        for a in acks {
            writeln!(out, "{a}").unwrap();
        }
        out.flush().unwrap();
    }
}

fn parent() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    // id -> (version, sequence number) of the latest acknowledged write.
    let mut acked: std::collections::HashMap<String, (u64, u64)> = Default::default();
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = 0;
        while seen < ACKS_BEFORE_KILL {
            let line = lines.next().expect("child exited early").unwrap();
            let mut parts = line.split(' ');
            let (id, v, n) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
            );
            acked.insert(id.to_string(), (v.parse().unwrap(), n.parse().unwrap()));
            seen += 1;
        }
        // SIGKILL while the child keeps writing; lines it printed after we stopped reading
        // were acknowledged too, so read what is buffered before checking.
        child.kill().unwrap();
        for line in lines.map_while(Result::ok) {
            let mut parts = line.split(' ');
            if let (Some(id), Some(v), Some(n)) = (parts.next(), parts.next(), parts.next()) {
                if let (Ok(v), Ok(n)) = (v.parse(), n.parse()) {
                    acked.insert(id.to_string(), (v, n));
                }
            }
        }
        child.wait().unwrap();

        let store = SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap();
        assert_eq!(store.integrity_check().unwrap(), ["ok"], "round {round}");
        let part = PartitionId::default_partition();
        let mut r = store.read_tx().unwrap();
        for (id, (version, n)) in &acked {
            let cur = r
                .read(&part, "Patient", id)
                .unwrap()
                .expect("acknowledged write lost");
            // Later unacknowledged writes may have committed too, never fewer.
            assert!(
                cur.version_id >= *version,
                "{id}: {} < {version}",
                cur.version_id
            );
            let v = r.vread(&part, "Patient", id, *version).unwrap().unwrap();
            let body: serde_json::Value = serde_json::from_str(v.body.as_deref().unwrap()).unwrap();
            assert_eq!(
                body["identifier"][0]["value"],
                n.to_string(),
                "{id}/{version}"
            );
        }
        drop(r);
        store.close().unwrap();
        println!(
            "round {round}: {} resources acknowledged, all present",
            acked.len()
        );
    }
}
