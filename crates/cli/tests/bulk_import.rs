//! Bulk Data `$import` over HTTP: the real router, REST layer, job queue and loader on a free
//! loopback port, on the embedded SQLite store and on PostgreSQL (a fresh database of the
//! throwaway cluster of `crosscare_store_postgres::testing`; skipped visibly without it).
//! Inputs are NDJSON files in a temporary import folder.
#![allow(clippy::unwrap_used)]

mod support;

use crosscare_analytics::bulk::{ImportConfig, ImportJobs};
use crosscare_ingest::StoreImporter;
use crosscare_rest::{Rest, RestConfig};
use crosscare_server::ServerConfig;
use crosscare_store::sqlite::SqliteStore;
use crosscare_store::Store;
use crosscare_store_postgres::{testing, PostgresStore};
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A store of `backend` (`None` when PostgreSQL is not available and the test is skipped).
fn store(backend: Backend) -> Option<Arc<dyn Store>> {
    match backend {
        Backend::Sqlite => Some(Arc::new(SqliteStore::temporary().unwrap())),
        Backend::Postgres => {
            let db = testing::database_or_skip()?;
            Some(Arc::new(PostgresStore::connect(&db.url, 4).unwrap()))
        }
    }
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[test]
            fn $name() {
                super::$name(super::Backend::Sqlite);
            })*
        }
        mod on_postgres {
            $(#[test]
            fn $name() {
                super::$name(super::Backend::Postgres);
            })*
        }
    };
}

on_both_backends!(
    valid_lines_load_and_bad_lines_are_reported_by_line,
    inputs_outside_the_import_folder_are_refused,
    an_interrupted_import_resumes_after_a_restart,
    a_cancelled_import_stops_at_a_batch_boundary,
);

/// The folders of one test: `in` (the import folder), `jobs`, and an outside file.
struct Dirs {
    tmp: tempfile::TempDir,
}

impl Dirs {
    fn new() -> Dirs {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("in")).unwrap();
        std::fs::write(
            tmp.path().join("outside.ndjson"),
            json!({"resourceType": "Patient", "id": "secret"}).to_string(),
        )
        .unwrap();
        Dirs { tmp }
    }

    fn input(&self) -> PathBuf {
        std::fs::canonicalize(self.tmp.path().join("in")).unwrap()
    }

    fn config(&self, batch_size: usize) -> ImportConfig {
        ImportConfig {
            dir: self.tmp.path().join("jobs"),
            source_dir: self.tmp.path().join("in"),
            expiry: Duration::from_secs(3600),
            batch_size,
        }
    }

    fn write(&self, name: &str, lines: &[String]) {
        std::fs::write(self.input().join(name), lines.join("\n") + "\n").unwrap();
    }
}

struct Server {
    base: String,
    rt: Option<tokio::runtime::Runtime>,
    jobs: Option<Arc<ImportJobs>>,
    client: Client,
}

impl Server {
    /// Serves `store`; `$import` is enabled when `config` is given.
    fn start(store: Arc<dyn Store>, config: Option<ImportConfig>) -> Server {
        let mut rest = Rest::new(store.clone(), RestConfig::default());
        let jobs = config.map(|c| {
            let jobs =
                Arc::new(ImportJobs::open(c, Arc::new(StoreImporter::new(store.clone()))).unwrap());
            rest = Rest::new(store.clone(), RestConfig::default()).with_imports(jobs.clone());
            jobs
        });
        let config = ServerConfig::default();
        let (rt, addr) = support::spawn(Arc::new(rest), config);
        Server {
            base: format!("http://{addr}/fhir"),
            rt: Some(rt),
            jobs,
            client: Client::new(),
        }
    }

    /// Stops the job worker (at a batch boundary) and the HTTP server.
    fn stop(mut self) {
        if let Some(jobs) = self.jobs.take() {
            jobs.shutdown();
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    /// POSTs a kick-off; returns status and body (or Content-Location on 202).
    fn kickoff_raw(&self, body: &Value, prefer: &str) -> (u16, Value, Option<String>) {
        let resp = self
            .client
            .post(self.url("$import"))
            .header("prefer", prefer)
            .header("content-type", "application/fhir+json")
            .body(body.to_string())
            .send()
            .unwrap();
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("content-location")
            .map(|v| v.to_str().unwrap().to_string());
        (status, resp.json().unwrap_or(Value::Null), location)
    }

    fn kickoff(&self, inputs: &[(&str, &str)]) -> String {
        let (status, body, location) = self.kickoff_raw(&parameters(inputs), "respond-async");
        assert_eq!(status, 202, "{body}");
        location.unwrap()
    }

    /// Polls a status URL until the manifest comes.
    fn wait(&self, status_url: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let resp = self.client.get(status_url).send().unwrap();
            match resp.status().as_u16() {
                202 => assert!(resp.headers().contains_key("x-progress")),
                200 => return resp.json().unwrap(),
                other => panic!("status {other}: {}", resp.text().unwrap()),
            }
            assert!(Instant::now() < deadline, "import did not finish");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Polls until at least `n` resources are imported; panics if the job finished first.
    fn wait_for_progress(&self, status_url: &str, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let resp = self.client.get(status_url).send().unwrap();
            assert_eq!(
                resp.status().as_u16(),
                202,
                "the import finished too early to be interrupted"
            );
            let progress = resp.headers()["x-progress"].to_str().unwrap().to_string();
            let done: u64 = progress.split(' ').next().unwrap().parse().unwrap();
            if done >= n {
                return;
            }
            assert!(Instant::now() < deadline, "no progress: {progress}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn status_of(&self, path: &str) -> u16 {
        self.client
            .get(self.url(path))
            .send()
            .unwrap()
            .status()
            .as_u16()
    }
}

fn parameters(inputs: &[(&str, &str)]) -> Value {
    let mut params = vec![
        json!({"name": "inputFormat", "valueCode": "application/fhir+ndjson"}),
        json!({"name": "storageDetail", "part": [{"name": "type", "valueCode": "file"}]}),
    ];
    for (ty, url) in inputs {
        params.push(json!({"name": "input", "part": [
            {"name": "type", "valueCode": ty},
            {"name": "url", "valueUri": url},
        ]}));
    }
    json!({"resourceType": "Parameters", "parameter": params})
}

fn patient(id: &str) -> String {
    json!({"resourceType": "Patient", "id": id, "gender": "female"}).to_string()
}

fn patients(n: usize) -> Vec<String> {
    (0..n).map(|i| patient(&format!("q{i:05}"))).collect()
}

fn job_dir(dirs: &Dirs, status_url: &str) -> PathBuf {
    dirs.tmp
        .path()
        .join("jobs")
        .join(status_url.rsplit('/').next().unwrap())
}

fn error_lines(server: &Server, manifest: &Value) -> Vec<Value> {
    let Some(url) = manifest["error"][0]["url"].as_str() else {
        return Vec::new();
    };
    let resp = server.client.get(url).send().unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "application/fhir+ndjson"
    );
    resp.text()
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `(input url, line)` of an error report line.
fn error_position(outcome: &Value) -> (String, u64) {
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    let parts = outcome["extension"][0]["extension"].as_array().unwrap();
    let input = parts.iter().find(|p| p["url"] == "input").unwrap();
    let line = parts.iter().find(|p| p["url"] == "line").unwrap();
    (
        input["valueUri"].as_str().unwrap().to_string(),
        line["valueInteger"].as_u64().unwrap(),
    )
}

fn valid_lines_load_and_bad_lines_are_reported_by_line(backend: Backend) {
    let Some(store) = store(backend) else { return };
    let dirs = Dirs::new();
    dirs.write(
        "patients.ndjson",
        &[
            patient("p1"),
            "{not json".to_string(),
            patient("p2"),
            // Line 4: an element R4 does not have.
            json!({"resourceType": "Patient", "id": "p3", "colour": "blue"}).to_string(),
            String::new(),
            patient("p4"),
            // Line 7: another type than the input declares.
            json!({"resourceType": "Observation", "id": "o9", "status": "final",
                   "code": {"text": "x"}})
            .to_string(),
        ],
    );
    dirs.write(
        "obs.ndjson",
        &[
            json!({"resourceType": "Observation", "id": "o1", "status": "final",
                  "code": {"text": "weight"}, "subject": {"reference": "Patient/p1"}})
            .to_string(),
        ],
    );
    // A logical model stored like a resource goes through its own rule too.
    let view = |name: &str| {
        json!({"resourceType": "ViewDefinition", "id": "v1", "status": "active",
               "resource": "Patient", "select": [{"column": [{"name": name, "path": "id"}]}]})
        .to_string()
    };
    dirs.write("views.ndjson", &[view("not a name"), view("id")]);
    let server = Server::start(store, Some(dirs.config(2)));
    let obs_url = format!("file://{}/obs.ndjson", dirs.input().display());
    let status = server.kickoff(&[
        ("Patient", "patients.ndjson"),
        ("Observation", &obs_url),
        ("ViewDefinition", "views.ndjson"),
    ]);
    let manifest = server.wait(&status);
    assert_eq!(manifest["output"][0]["type"], "Patient");
    assert_eq!(manifest["output"][0]["inputUrl"], "patients.ndjson");
    assert_eq!(manifest["output"][0]["count"], 3, "{manifest}");
    assert_eq!(manifest["output"][0]["rejected"], 3);
    assert_eq!(manifest["output"][1]["count"], 1);
    assert_eq!(manifest["output"][2]["count"], 1);
    assert_eq!(
        manifest["extension"]["countByType"],
        json!({"Observation": 1, "Patient": 3, "ViewDefinition": 1})
    );
    assert_eq!(manifest["error"][0]["count"], 4);
    let errors = error_lines(&server, &manifest);
    let positions: Vec<(String, u64)> = errors.iter().map(error_position).collect();
    let at = |l| ("patients.ndjson".to_string(), l);
    assert_eq!(
        positions,
        [at(2), at(4), at(7), ("views.ndjson".to_string(), 1)]
    );
    let diagnostics = errors[1]["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(
        diagnostics.contains("line 4") && diagnostics.contains("colour"),
        "{diagnostics}"
    );
    assert!(errors[2]["issue"][0]["diagnostics"]
        .as_str()
        .unwrap()
        .contains("declared as Patient"));
    for ok in [
        "Patient/p1",
        "Patient/p2",
        "Patient/p4",
        "Observation/o1",
        "ViewDefinition/v1",
    ] {
        assert_eq!(server.status_of(ok), 200, "{ok}");
    }
    // The imported view is searchable by the parameters the spec extra defines.
    let found: Value = server
        .client
        .get(server.url("ViewDefinition?resource=Patient&status=active"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(found["total"], 1, "{found}");
    for missing in ["Patient/p3", "Observation/o9"] {
        assert_eq!(server.status_of(missing), 404, "{missing}");
    }

    // The same inputs again: nothing new, the identical resources are left alone.
    let status = server.kickoff(&[("Patient", "patients.ndjson")]);
    let manifest = server.wait(&status);
    assert_eq!(manifest["output"][0]["loaded"], 0);
    assert_eq!(manifest["output"][0]["unchanged"], 3);
    assert_eq!(server.status_of("Patient/p1/_history/2"), 404);
    server.stop();
}

fn inputs_outside_the_import_folder_are_refused(backend: Backend) {
    let Some(store) = store(backend) else { return };
    let dirs = Dirs::new();
    dirs.write("ok.ndjson", &[patient("p1")]);
    let outside = dirs.tmp.path().join("outside.ndjson");
    std::os::unix::fs::symlink(&outside, dirs.input().join("link.ndjson")).unwrap();
    let server = Server::start(store.clone(), Some(dirs.config(10)));
    for url in [
        "../outside.ndjson".to_string(),
        outside.display().to_string(),
        format!("file://{}", outside.display()),
        "link.ndjson".into(),
        "https://example.org/p.ndjson".into(),
        "missing.ndjson".into(),
    ] {
        let (status, body, _) =
            server.kickoff_raw(&parameters(&[("Patient", &url)]), "respond-async");
        assert_eq!(status, 400, "{url}: {body}");
        assert_eq!(body["resourceType"], "OperationOutcome", "{url}");
        assert!(
            body["issue"][0]["diagnostics"]
                .as_str()
                .unwrap()
                .contains("import folder")
                || url.starts_with("https"),
            "{url}: {body}"
        );
    }
    // Other malformed kick-offs.
    let bad = [
        (parameters(&[("Patient", "ok.ndjson")]), "", 400),
        (
            parameters(&[("Pationt", "ok.ndjson")]),
            "respond-async",
            400,
        ),
        (parameters(&[]), "respond-async", 400),
        (
            json!({"resourceType": "Parameters", "parameter": [
                {"name": "inputFormat", "valueCode": "text/csv"}]}),
            "respond-async",
            400,
        ),
        (json!({"resourceType": "Patient"}), "respond-async", 400),
    ];
    for (body, prefer, want) in bad {
        let (status, outcome, _) = server.kickoff_raw(&body, prefer);
        assert_eq!(status, want, "{body}: {outcome}");
        assert_eq!(outcome["resourceType"], "OperationOutcome");
    }
    assert_eq!(server.status_of("_import/0123abcd"), 404);
    assert!(system_operations(&server).contains(&"import".to_string()));
    assert_eq!(server.status_of("Patient/secret"), 404);
    server.stop();

    // Without an import folder the operation is refused outright.
    let server = Server::start(store, None);
    let (status, outcome, _) =
        server.kickoff_raw(&parameters(&[("Patient", "ok.ndjson")]), "respond-async");
    assert_eq!(status, 403, "{outcome}");
    assert!(outcome["issue"][0]["diagnostics"]
        .as_str()
        .unwrap()
        .contains("--import-dir"));
    assert!(!system_operations(&server).contains(&"import".to_string()));
    server.stop();
}

/// The names in the CapabilityStatement's `rest.operation`.
fn system_operations(server: &Server) -> Vec<String> {
    let cs: Value = server
        .client
        .get(server.url("metadata"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    cs["rest"][0]["operation"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| o["name"].as_str().unwrap().to_string())
        .collect()
}

fn read_record(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("job.json")).unwrap()).unwrap()
}

fn an_interrupted_import_resumes_after_a_restart(backend: Backend) {
    let Some(store) = store(backend) else { return };
    let dirs = Dirs::new();
    let n = 1500;
    let mut lines = patients(n);
    lines[n - 3] = "not json at all".into();
    dirs.write("many.ndjson", &lines);
    let server = Server::start(store.clone(), Some(dirs.config(1)));
    let status = server.kickoff(&[("Patient", "many.ndjson")]);
    server.wait_for_progress(&status, 10);
    server.stop();

    let dir = job_dir(&dirs, &status);
    let record = read_record(&dir);
    assert_eq!(record["state"]["state"], "running", "{record}");
    let committed = record["inputs"][0]["committed_lines"].as_u64().unwrap();
    assert!(committed >= 10 && committed < n as u64 / 2, "{record}");

    // A new server (and job queue) on the same folders and store.
    let server = Server::start(store, Some(dirs.config(1)));
    let path = status.split("/fhir/").nth(1).unwrap();
    let manifest = server.wait(&server.url(path));
    let output = &manifest["output"][0];
    assert_eq!(output["loaded"], n as u64 - 1, "{manifest}");
    assert_eq!(output["unchanged"], 0, "{manifest}");
    assert_eq!(output["rejected"], 1);
    let errors = error_lines(&server, &manifest);
    assert_eq!(errors.len(), 1);
    assert_eq!(error_position(&errors[0]).1, n as u64 - 2);
    for i in [0, committed as usize, n - 1] {
        assert_eq!(server.status_of(&format!("Patient/q{i:05}")), 200);
        assert_eq!(
            server.status_of(&format!("Patient/q{i:05}/_history/2")),
            404
        );
    }
    server.stop();
}

fn a_cancelled_import_stops_at_a_batch_boundary(backend: Backend) {
    let Some(store) = store(backend) else { return };
    let dirs = Dirs::new();
    let n = 1500;
    dirs.write("many.ndjson", &patients(n));
    let server = Server::start(store, Some(dirs.config(1)));
    let status = server.kickoff(&[("Patient", "many.ndjson")]);
    server.wait_for_progress(&status, 5);
    let resp = server.client.delete(&status).send().unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let outcome: Value = resp.json().unwrap();
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert!(!job_dir(&dirs, &status).exists());
    assert_eq!(
        server.client.get(&status).send().unwrap().status().as_u16(),
        404
    );
    assert_eq!(
        server
            .client
            .delete(&status)
            .send()
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    // The worker left the job: what it committed stays, the rest never comes.
    assert_eq!(server.status_of("Patient/q00000"), 200);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.status_of(&format!("Patient/q{:05}", n - 1)), 404);
    server.stop();
}
