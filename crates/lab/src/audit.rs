//! The audit trail: one FHIR `AuditEvent` (IHE Basic Audit Log Patterns shape) per request,
//! appended to `audit.ndjson` in the lab folder as a hash chain.
//!
//! Each line is `{"seq":n,"prev":"<hex>","hash":"<hex>","event":{AuditEvent}}` where
//! `hash = SHA-256("{seq}\n{prev}\n{event as compact JSON}")` and `prev` is the hash of the line
//! before (64 zeros for the first). Changing a record breaks its hash; deleting or reordering
//! records breaks the sequence and the `prev` links. [`verify`] walks the whole file and names
//! the first broken record. The file is append-only for the server (nothing in CrossCare
//! rewrites it), and no FHIR API call can create, change or delete an AuditEvent.
//!
//! The event's text is written directly (`event.rs`), not through `serde_json::Value`.
//!
//! Known limit: a chain cannot tell a truncated tail from a shorter log; `audit verify` prints
//! the last sequence number and hash so that they can be anchored elsewhere.

mod event;

use crate::files;
use crate::policy::Interaction;
use crate::LabError;
use parking_lot::Mutex;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub const AUDIT_FILE: &str = "audit.ndjson";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Longest query string kept in a record (bytes); longer ones are cut and marked.
const MAX_QUERY_BYTES: usize = 4096;

/// What one request did, as the server saw it.
#[derive(Debug, Clone, Default)]
pub struct AuditRecord {
    pub client_id: Option<String>,
    pub workspace_id: Option<String>,
    /// The token's `jti`.
    pub token_id: Option<String>,
    /// `None` when the request could not be routed (it still gets a record).
    pub interaction: Option<Interaction>,
    pub method: String,
    /// `Patient`, `Patient/1`, `Patient/1/_history/2`, `metadata`, `auth/token` …
    pub path: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// The raw query string, if any.
    pub query: Option<String>,
    pub remote: Option<String>,
    pub request_id: Option<String>,
    pub status: u16,
}

/// The append side of the log.
pub struct AuditLog {
    path: PathBuf,
    state: Mutex<Tail>,
}

struct Tail {
    file: File,
    seq: u64,
    hash: String,
}

fn chain_hash(seq: u64, prev: &str, event: &str) -> String {
    let mut h = Sha256::new();
    h.update(format!("{seq}\n{prev}\n").as_bytes());
    h.update(event.as_bytes());
    hex::encode(h.finalize())
}

impl AuditLog {
    /// Opens (creating, 0600) the log in `dir`, positioned after its last record.
    pub fn open(dir: &Path) -> Result<AuditLog, LabError> {
        files::private_dir(dir)?;
        let path = dir.join(AUDIT_FILE);
        let mut file = files::private_options()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        let (seq, hash) = match last_line(&mut file)? {
            None => (0, GENESIS.to_string()),
            Some(line) => {
                let v: Value = serde_json::from_str(&line).map_err(|_| {
                    LabError::Corrupt(format!(
                        "the last record of {} is not JSON; run `crosscare audit verify`",
                        path.display()
                    ))
                })?;
                match (v["seq"].as_u64(), v["hash"].as_str()) {
                    (Some(s), Some(h)) => (s, h.to_string()),
                    _ => {
                        return Err(LabError::Corrupt(format!(
                            "the last record of {} has no seq/hash",
                            path.display()
                        )))
                    }
                }
            }
        };
        Ok(AuditLog {
            path,
            state: Mutex::new(Tail { file, seq, hash }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record (one `write` of one line).
    pub fn append(&self, record: &AuditRecord) -> Result<(), LabError> {
        let recorded = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        let mut id_text = uuid::Uuid::encode_buffer();
        let event_text = event::render(
            record,
            id.hyphenated().encode_lower(&mut id_text),
            &recorded,
        );
        let mut tail = self.state.lock();
        let seq = tail.seq + 1;
        let hash = chain_hash(seq, &tail.hash, &event_text);
        let line = format!(
            "{{\"seq\":{seq},\"prev\":\"{}\",\"hash\":\"{hash}\",\"event\":{event_text}}}\n",
            tail.hash
        );
        tail.file.write_all(line.as_bytes())?;
        tail.seq = seq;
        tail.hash = hash;
        Ok(())
    }
}

/// The last complete line of a file, read from its end.
fn last_line(file: &mut File) -> Result<Option<String>, LabError> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(None);
    }
    let mut window = 4096u64;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::new();
        Read::by_ref(file).take(len - start).read_to_end(&mut buf)?;
        let body = buf.strip_suffix(b"\n").unwrap_or(&buf);
        if let Some(pos) = body.iter().rposition(|b| *b == b'\n') {
            return Ok(Some(String::from_utf8_lossy(&body[pos + 1..]).into_owned()));
        }
        if start == 0 {
            return Ok(Some(String::from_utf8_lossy(body).into_owned()));
        }
        window *= 4;
    }
}

/// The result of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Every record chains; the last sequence number and hash (to anchor elsewhere).
    Intact { records: u64, last_hash: String },
    /// The first broken record: its line number (1-based) and what is wrong.
    Broken { line: u64, reason: String },
}

/// Checks the whole chain in `dir`'s audit log.
pub fn verify(dir: &Path) -> Result<Verification, LabError> {
    let path = dir.join(AUDIT_FILE);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LabError::NotFound(format!(
                "no audit log at {}",
                path.display()
            )))
        }
        Err(e) => return Err(e.into()),
    };
    let mut prev = GENESIS.to_string();
    let mut n = 0u64;
    for line in BufReader::new(file).split(b'\n') {
        let line = line?;
        n += 1;
        let broken = |reason: String| Ok(Verification::Broken { line: n, reason });
        let Ok(v) = serde_json::from_slice::<Value>(&line) else {
            return broken("not a JSON record".into());
        };
        let (Some(seq), Some(p), Some(h), Some(event)) = (
            v["seq"].as_u64(),
            v["prev"].as_str(),
            v["hash"].as_str(),
            v.get("event"),
        ) else {
            return broken("missing seq, prev, hash or event".into());
        };
        if seq != n {
            return broken(format!(
                "sequence number {seq} where {n} was expected (a record was removed, added or moved)"
            ));
        }
        if p != prev {
            return broken("does not chain to the record before it (prev hash differs)".into());
        }
        if chain_hash(seq, p, &event.to_string()) != h {
            return broken("its content does not match its hash (the record was changed)".into());
        }
        prev = h.to_string();
    }
    Ok(Verification::Intact {
        records: n,
        last_hash: prev,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(i: u16) -> AuditRecord {
        AuditRecord {
            client_id: Some("cc-1".into()),
            workspace_id: Some("w".into()),
            interaction: Some(Interaction::Read),
            method: "GET".into(),
            path: format!("Patient/{i}"),
            resource_type: Some("Patient".into()),
            resource_id: Some(i.to_string()),
            query: Some("_elements=name".into()),
            remote: Some("127.0.0.1".into()),
            status: 200,
            ..Default::default()
        }
    }

    fn log_with(n: u16) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path()).unwrap();
        for i in 0..n {
            log.append(&record(i)).unwrap();
        }
        dir
    }

    fn lines(dir: &Path) -> Vec<String> {
        std::fs::read_to_string(dir.join(AUDIT_FILE))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn write(dir: &Path, lines: &[String]) {
        std::fs::write(dir.join(AUDIT_FILE), lines.join("\n") + "\n").unwrap();
    }

    #[test]
    fn intact_chain_and_reopen() {
        let dir = log_with(3);
        // Reopening continues the chain.
        AuditLog::open(dir.path())
            .unwrap()
            .append(&record(9))
            .unwrap();
        match verify(dir.path()).unwrap() {
            Verification::Intact { records, .. } => assert_eq!(records, 4),
            other => panic!("{other:?}"),
        }
        let first: Value = serde_json::from_str(&lines(dir.path())[0]).unwrap();
        assert_eq!(first["event"]["resourceType"], "AuditEvent");
        assert_eq!(first["event"]["subtype"][0]["code"], "read");
    }

    #[test]
    fn tampering_is_detected_at_the_right_record() {
        type Tamper = fn(&mut Vec<String>);
        let cases: [(&str, Tamper, u64); 4] = [
            (
                "modify",
                |l| l[2] = l[2].replace("Patient/2", "Patient/X"),
                3,
            ),
            ("delete", |l| drop(l.remove(1)), 2),
            ("reorder", |l| l.swap(2, 3), 3),
            (
                "modify and rehash",
                |l| {
                    let mut v: Value = serde_json::from_str(&l[1]).unwrap();
                    v["event"]["outcome"] = json!("8");
                    let h = chain_hash(2, v["prev"].as_str().unwrap(), &v["event"].to_string());
                    v["hash"] = json!(h);
                    l[1] = v.to_string();
                },
                3,
            ),
        ];
        for (name, tamper, expected_line) in cases {
            let dir = log_with(5);
            let mut l = lines(dir.path());
            tamper(&mut l);
            write(dir.path(), &l);
            match verify(dir.path()).unwrap() {
                Verification::Broken { line, .. } => assert_eq!(line, expected_line, "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    /// A log written by the code of commit 438265b (which built each event as a
    /// `serde_json::Value`) through a real server: metadata, reads, a sandbox write, a search
    /// with escaped characters, refused tokens, a cut query, the token endpoint.
    const OLD_LOG: &str = include_str!("../testdata/audit-438265b.ndjson");

    #[test]
    fn a_log_written_before_the_direct_writer_verifies_and_continues() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(AUDIT_FILE), OLD_LOG).unwrap();
        let old = OLD_LOG.lines().count() as u64;
        match verify(dir.path()).unwrap() {
            Verification::Intact { records, .. } => assert_eq!(records, old),
            other => panic!("{other:?}"),
        }
        let log = AuditLog::open(dir.path()).unwrap();
        log.append(&record(1)).unwrap();
        drop(log);
        match verify(dir.path()).unwrap() {
            Verification::Intact { records, .. } => assert_eq!(records, old + 1),
            other => panic!("{other:?}"),
        }
    }

    /// Every record of `dir` once, by path, and the chain intact.
    fn assert_each_once(dir: &Path, expected: impl IntoIterator<Item = String>) {
        let mut expected: Vec<String> = expected.into_iter().collect();
        expected.sort();
        match verify(dir).unwrap() {
            Verification::Intact { records, .. } => {
                assert_eq!(records, expected.len() as u64)
            }
            other => panic!("{other:?}"),
        }
        let mut seen: Vec<String> = lines(dir)
            .iter()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                let desc = v["event"]["outcomeDesc"].as_str().unwrap().to_string();
                desc.trim_start_matches("HTTP 200 GET /").to_string()
            })
            .collect();
        seen.sort();
        assert_eq!(seen, expected);
    }

    fn path_record(path: String) -> AuditRecord {
        AuditRecord {
            method: "GET".into(),
            path,
            status: 200,
            ..Default::default()
        }
    }

    #[test]
    fn concurrent_appends_from_threads_chain_and_each_is_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path()).unwrap();
        std::thread::scope(|s| {
            for t in 0..16 {
                let log = &log;
                s.spawn(move || {
                    for i in 0..200 {
                        log.append(&path_record(format!("t{t}/{i}"))).unwrap();
                    }
                });
            }
        });
        // Acknowledged means written: the file is complete before the log is closed.
        let expected = (0..16).flat_map(|t| (0..200).map(move |i| format!("t{t}/{i}")));
        assert_each_once(dir.path(), expected);
    }
}
