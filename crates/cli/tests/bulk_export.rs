//! Bulk Data `$export` over HTTP: the real router, REST layer, SQLite store and job queue on a
//! free loopback port. Every export is compared with what the search engine returns for the
//! same question, so the checks do not depend on hand-written expectations.
#![allow(clippy::unwrap_used)]

mod support;

use crosscare_analytics::bulk::{ExportConfig, ExportJobs, Limits};
use crosscare_rest::{Rest, RestConfig};
use crosscare_server::ServerConfig;
use crosscare_store::sqlite::{SqliteOptions, SqliteStore};
use crosscare_store::{PartitionId, Store};
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Server {
    base: String,
    rt: Option<tokio::runtime::Runtime>,
    jobs: Arc<ExportJobs>,
    client: Client,
}

impl Server {
    fn start(store: Arc<dyn Store>, export_dir: &Path, limits: Limits) -> Server {
        let jobs = Arc::new(
            ExportJobs::open(
                store.clone(),
                ExportConfig {
                    dir: export_dir.to_path_buf(),
                    limits,
                    expiry: Duration::from_secs(3600),
                },
            )
            .unwrap(),
        );
        let rest = Arc::new(Rest::new(store, RestConfig::default()).with_exports(jobs.clone()));
        let config = ServerConfig::default();
        let (rt, addr) = support::spawn(rest, config);
        Server {
            base: format!("http://{addr}/fhir"),
            rt: Some(rt),
            jobs,
            client: Client::new(),
        }
    }

    /// Stops the job worker (at a batch boundary) and the HTTP server.
    fn stop(mut self) {
        self.jobs.shutdown();
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    fn transaction(&self, resources: &[Value]) {
        let entries: Vec<Value> = resources
            .iter()
            .map(|r| {
                let path = format!(
                    "{}/{}",
                    r["resourceType"].as_str().unwrap(),
                    r["id"].as_str().unwrap()
                );
                json!({"resource": r, "request": {"method": "PUT", "url": path}})
            })
            .collect();
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
        let resp = self
            .client
            .post(&self.base)
            .header("content-type", "application/fhir+json")
            .body(bundle.to_string())
            .send()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{}", resp.text().unwrap());
    }

    /// `Type/id/versionId` of every match of a search, following `next` links.
    fn search(&self, query: &str) -> BTreeSet<String> {
        let sep = if query.contains('?') { '&' } else { '?' };
        let mut url = Some(self.url(&format!("{query}{sep}_count=1000")));
        let mut out = BTreeSet::new();
        while let Some(u) = url.take() {
            let bundle: Value = self.client.get(&u).send().unwrap().json().unwrap();
            assert_eq!(bundle["resourceType"], "Bundle", "{u}: {bundle}");
            for e in bundle["entry"].as_array().into_iter().flatten() {
                if e["search"]["mode"] == "match" {
                    out.insert(key(&e["resource"]));
                }
            }
            url = bundle["link"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|l| l["relation"] == "next")
                .and_then(|l| l["url"].as_str())
                .map(str::to_string);
        }
        out
    }

    fn kickoff(&self, path: &str) -> String {
        let resp = self
            .client
            .get(self.url(path))
            .header("prefer", "respond-async")
            .header("accept", "application/fhir+json")
            .send()
            .unwrap();
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("content-location")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(status, 202, "{path}: {}", resp.text().unwrap());
        location.unwrap()
    }

    /// Polls a status URL until the manifest comes.
    fn wait(&self, status_url: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let resp = self.client.get(status_url).send().unwrap();
            match resp.status().as_u16() {
                202 => {
                    assert!(resp.headers().get("x-progress").is_some());
                    assert!(Instant::now() < deadline, "export did not finish");
                    std::thread::sleep(Duration::from_millis(20));
                }
                200 => {
                    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
                    assert!(ct.starts_with("application/json"), "{ct}");
                    assert!(resp.headers().get("expires").is_some());
                    return resp.json().unwrap();
                }
                other => panic!("status {other}: {}", resp.text().unwrap()),
            }
        }
    }

    /// Downloads every output file of a manifest; returns `Type/id/versionId` of every line
    /// (asserting there are no duplicates) and the number of files.
    fn download(&self, manifest: &Value) -> (BTreeSet<String>, usize) {
        let mut out = BTreeSet::new();
        let outputs = manifest["output"].as_array().unwrap();
        for o in outputs {
            let resp = self.client.get(o["url"].as_str().unwrap()).send().unwrap();
            assert_eq!(resp.status().as_u16(), 200);
            assert_eq!(resp.headers()["content-type"], "application/fhir+ndjson");
            let text = resp.text().unwrap();
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len() as u64, o["count"].as_u64().unwrap(), "{o}");
            for line in lines {
                let r: Value = serde_json::from_str(line).unwrap();
                assert_eq!(r["resourceType"], o["type"]);
                assert!(out.insert(key(&r)), "{} exported twice", key(&r));
            }
        }
        (out, outputs.len())
    }

    fn export(&self, path: &str) -> BTreeSet<String> {
        let status = self.kickoff(path);
        let manifest = self.wait(&status);
        assert_eq!(manifest["requiresAccessToken"], false);
        assert!(manifest["transactionTime"].is_string());
        assert!(manifest["request"].as_str().unwrap().contains("$export"));
        assert_eq!(manifest["error"], json!([]));
        self.download(&manifest).0
    }
}

fn key(r: &Value) -> String {
    format!(
        "{}/{}/{}",
        r["resourceType"].as_str().unwrap(),
        r["id"].as_str().unwrap(),
        r["meta"]["versionId"].as_str().unwrap()
    )
}

fn temp_store() -> (tempfile::TempDir, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(SqliteStore::open(&dir.path().join("data"), SqliteOptions::default()).unwrap());
    (dir, store)
}

fn patient(id: &str) -> Value {
    json!({"resourceType": "Patient", "id": id, "name": [{"family": format!("F{id}")}]})
}

fn observation(id: &str, subject: &str, code: &str) -> Value {
    json!({"resourceType": "Observation", "id": id, "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
           "subject": {"reference": format!("Patient/{subject}")}})
}

/// Patients p1–p6, 12 observations, 4 encounters, a practitioner and a group of p1, p3
/// (and p5, inactive); o12 deleted, o1 updated.
fn load_population(server: &Server) {
    let mut rs: Vec<Value> = (1..=6).map(|i| patient(&format!("p{i}"))).collect();
    for i in 1..=12 {
        let code = if i % 2 == 0 { "A" } else { "B" };
        rs.push(observation(
            &format!("o{i}"),
            &format!("p{}", (i - 1) % 6 + 1),
            code,
        ));
    }
    for i in 1..=4 {
        rs.push(
            json!({"resourceType": "Encounter", "id": format!("e{i}"), "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": format!("Patient/p{i}")}}),
        );
    }
    rs.push(json!({"resourceType": "Practitioner", "id": "dr1"}));
    rs.push(
        json!({"resourceType": "Group", "id": "g1", "type": "person", "actual": true,
        "member": [{"entity": {"reference": "Patient/p1"}},
                   {"entity": {"reference": "Patient/p3"}},
                   {"entity": {"reference": "Patient/p5"}, "inactive": true}]}),
    );
    server.transaction(&rs);
    let resp = server
        .client
        .delete(server.url("Observation/o12"))
        .send()
        .unwrap();
    assert!(resp.status().is_success());
    server.transaction(&[observation("o1", "p1", "A")]);
}

const TYPES: &[&str] = &[
    "Patient",
    "Observation",
    "Encounter",
    "Practitioner",
    "Group",
];

#[test]
fn system_export_has_exactly_what_search_returns() {
    let (dir, store) = temp_store();
    let limits = Limits {
        max_per_file: 5,
        batch: 3,
    };
    let server = Server::start(store, &dir.path().join("exports"), limits);
    load_population(&server);
    let mut expected = BTreeSet::new();
    for t in TYPES {
        expected.extend(server.search(t));
    }
    assert_eq!(expected.len(), 6 + 11 + 4 + 1 + 1);
    let status = server.kickoff("$export");
    let manifest = server.wait(&status);
    let (got, files) = server.download(&manifest);
    assert_eq!(got, expected);
    // 11 observations at 5 per file: three files; every file within the limit.
    let obs_files: Vec<&Value> = manifest["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["type"] == "Observation")
        .collect();
    assert_eq!(obs_files.len(), 3);
    // Patients 2 files, observations 3, encounters, practitioner and group 1 each.
    assert_eq!(files, 2 + 3 + 1 + 1 + 1);
    assert!(manifest["output"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["count"].as_u64().unwrap() <= 5));

    // `_type` restricts; `_outputFormat` spellings of NDJSON are accepted.
    for format in ["application/fhir%2Bndjson", "application/ndjson", "ndjson"] {
        let got = server.export(&format!(
            "$export?_type=Encounter,Practitioner&_outputFormat={format}"
        ));
        let mut want = server.search("Encounter");
        want.extend(server.search("Practitioner"));
        assert_eq!(got, want);
    }
    server.stop();
}

#[test]
fn since_and_type_filter_are_exact() {
    let (dir, store) = temp_store();
    let server = Server::start(store, &dir.path().join("exports"), Limits::default());
    load_population(&server);
    // Everything after the first load: read the newest lastUpdated the server assigned.
    let t: Value = server
        .client
        .get(server.url("Observation/o1"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let since = t["meta"]["lastUpdated"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_millis(5));
    server.transaction(&[
        observation("o2", "p2", "B"),
        observation("o20", "p6", "A"),
        patient("p7"),
    ]);

    let got = server.export(&format!("$export?_since={since}"));
    let mut want = BTreeSet::new();
    for ty in TYPES {
        want.extend(server.search(&format!("{ty}?_lastUpdated=gt{since}")));
    }
    assert_eq!(want.len(), 3);
    assert_eq!(got, want);

    let filter = "Observation%3Fcode%3Dhttp%3A%2F%2Floinc.org%7CA";
    let got = server.export(&format!("$export?_type=Observation&_typeFilter={filter}"));
    let want = server.search("Observation?code=http://loinc.org|A");
    assert!(!want.is_empty());
    assert_eq!(got, want);

    // Two filters on one type are alternatives; a type without a filter is exported whole.
    let got = server.export(&format!(
        "$export?_type=Observation,Encounter&_typeFilter={filter}&_typeFilter=Observation%3Fsubject%3DPatient%2Fp1"
    ));
    let mut want = server.search("Observation?code=http://loinc.org|A");
    want.extend(server.search("Observation?subject=Patient/p1"));
    want.extend(server.search("Encounter"));
    assert_eq!(got, want);

    // `_since` and `_typeFilter` together.
    let got = server.export(&format!(
        "$export?_since={since}&_typeFilter={filter}&_type=Observation"
    ));
    assert_eq!(
        got,
        server.search(&format!(
            "Observation?code=http://loinc.org|A&_lastUpdated=gt{since}"
        ))
    );
    server.stop();
}

/// The union of the `Patient/[id]/*` compartment searches of some patients.
fn compartments(server: &Server, patients: &[&str]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for p in patients {
        out.extend(server.search(&format!("Patient/{p}/*")));
    }
    out
}

#[test]
fn group_and_patient_exports_hold_exactly_the_compartments() {
    let (dir, store) = temp_store();
    let server = Server::start(
        store,
        &dir.path().join("exports"),
        Limits {
            max_per_file: 4,
            batch: 2,
        },
    );
    load_population(&server);
    // p2 links to p1: it is in p1's compartment too (Patient.link is a compartment parameter).
    server.transaction(&[json!({"resourceType": "Patient", "id": "p2",
        "link": [{"other": {"reference": "Patient/p1"}, "type": "seealso"}]})]);

    let got = server.export("Group/g1/$export");
    let want = compartments(&server, &["p1", "p3"]);
    assert!(want.iter().any(|k| k.starts_with("Encounter/")));
    assert!(want.iter().any(|k| k.starts_with("Patient/p2/")));
    assert_eq!(got, want);

    let got = server.export("Group/g1/$export?_type=Observation");
    let want: BTreeSet<String> = want
        .into_iter()
        .filter(|k| k.starts_with("Observation/"))
        .collect();
    assert_eq!(got, want);

    let all: Vec<String> = (1..=6).map(|i| format!("p{i}")).collect();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    assert_eq!(
        server.export("Patient/$export"),
        compartments(&server, &all)
    );

    // `patient` in a POST Parameters body.
    let params = json!({"resourceType": "Parameters", "parameter": [
        {"name": "patient", "valueReference": {"reference": "Patient/p4"}},
        {"name": "patient", "valueReference": {"reference": "Patient/p6"}}]});
    let resp = server
        .client
        .post(server.url("Patient/$export"))
        .header("prefer", "respond-async")
        .header("content-type", "application/fhir+json")
        .body(params.to_string())
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let status = resp.headers()["content-location"]
        .to_str()
        .unwrap()
        .to_string();
    let (got, _) = server.download(&server.wait(&status));
    assert_eq!(got, compartments(&server, &["p4", "p6"]));

    // A group export intersected with `patient`.
    let got = server.export("Group/g1/$export?patient=Patient/p3,Patient/p4");
    assert_eq!(got, compartments(&server, &["p3"]));
    server.stop();
}

fn load_patients(store: &SqliteStore, n: usize) {
    let d = PartitionId::default_partition();
    let mut tx = store.write_tx().unwrap();
    for i in 0..n {
        let p = patient(&format!("q{i:05}"));
        let entries = crosscare_search::extract("Patient", &p);
        tx.put(&d, p, entries).unwrap();
    }
    tx.commit().unwrap();
}

/// Kicks off a slow export (one resource per batch, three per file, an fsync per file) and
/// returns its status URL once some of it is written.
fn start_slow_export(server: &Server) -> String {
    let status = server.kickoff("$export?_type=Patient");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let resp = server.client.get(&status).send().unwrap();
        assert_eq!(
            resp.status().as_u16(),
            202,
            "the export finished too early to be interrupted"
        );
        let progress = resp.headers()["x-progress"].to_str().unwrap().to_string();
        let done: u64 = progress.split(' ').next().unwrap().parse().unwrap();
        if done >= 10 {
            return status;
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
}

const SLOW: Limits = Limits {
    max_per_file: 3,
    batch: 1,
};

fn job_dir(exports: &Path, status_url: &str) -> PathBuf {
    exports.join(status_url.rsplit('/').next().unwrap())
}

#[test]
fn an_interrupted_job_resumes_after_a_restart() {
    let (dir, store) = temp_store();
    let n = 1500;
    load_patients(&store, n);
    let exports = dir.path().join("exports");
    let server = Server::start(store.clone(), &exports, SLOW);
    let status = start_slow_export(&server);
    server.stop();

    let record: Value = serde_json::from_slice(
        &std::fs::read(job_dir(&exports, &status).join("job.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(record["state"]["state"], "running", "{record}");
    let done_before = record["output"].as_array().unwrap().len();
    assert!(done_before > 0 && done_before * 3 < n);

    // A new server on the same data folder (and a reopened store).
    store.close().unwrap();
    drop(store);
    let store =
        Arc::new(SqliteStore::open(&dir.path().join("data"), SqliteOptions::default()).unwrap());
    let server = Server::start(store, &exports, SLOW);
    let path = status.split("/fhir/").nth(1).unwrap();
    let manifest = server.wait(&server.url(path));
    let (got, files) = server.download(&manifest);
    assert_eq!(got.len(), n);
    assert_eq!(files, n / 3);
    let want: BTreeSet<String> = (0..n).map(|i| format!("Patient/q{i:05}/1")).collect();
    assert_eq!(got, want);
    // No stray file: exactly the manifest's files and the record.
    let on_disk = std::fs::read_dir(job_dir(&exports, &status))
        .unwrap()
        .count();
    assert_eq!(on_disk, files + 1);
    server.stop();
}

#[test]
fn a_cancelled_job_leaves_no_files() {
    let (dir, store) = temp_store();
    load_patients(&store, 1500);
    let exports = dir.path().join("exports");
    let server = Server::start(store, &exports, SLOW);
    let status = start_slow_export(&server);
    assert!(job_dir(&exports, &status).exists());
    let resp = server.client.delete(&status).send().unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    assert!(!job_dir(&exports, &status).exists());
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

    // A completed job: its files go too.
    let status =
        server.kickoff("$export?_type=Practitioner,Patient&_typeFilter=Patient%3F_id%3Dq00001");
    let manifest = server.wait(&status);
    let file_url = manifest["output"][0]["url"].as_str().unwrap().to_string();
    assert_eq!(
        server
            .client
            .get(&file_url)
            .send()
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        server
            .client
            .delete(&status)
            .send()
            .unwrap()
            .status()
            .as_u16(),
        202
    );
    assert!(!job_dir(&exports, &status).exists());
    assert_eq!(
        server
            .client
            .get(&file_url)
            .send()
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    // Nothing else is left in the export folder.
    assert_eq!(std::fs::read_dir(&exports).unwrap().count(), 0);
    server.stop();
}

#[test]
fn bad_kickoffs_are_400_operation_outcomes() {
    let (dir, store) = temp_store();
    let server = Server::start(store, &dir.path().join("exports"), Limits::default());
    load_population(&server);
    let check = |path: &str, prefer: &str, expected: u16| {
        let mut req = server.client.get(server.url(path));
        if !prefer.is_empty() {
            req = req.header("prefer", prefer);
        }
        let resp = req.send().unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().unwrap_or(Value::Null);
        assert_eq!(status, expected, "{path} ({prefer}): {body}");
        if expected >= 400 {
            assert_eq!(body["resourceType"], "OperationOutcome", "{path}");
        }
    };
    let strict = "respond-async";
    let lenient = "respond-async, handling=lenient";
    check("$export", "", 400);
    check("$export?_outputFormat=text/csv", strict, 400);
    check("$export?_since=yesterday", strict, 400);
    check("$export?_type=Nope", strict, 400);
    check("$export?_typeFilter=Observation%3Fnope%3D1", strict, 400);
    check("$export?_typeFilter=Observation", strict, 400);
    check(
        "$export?_type=Patient&_typeFilter=Observation%3Fstatus%3Dfinal",
        strict,
        400,
    );
    check("$export?_elements=id", strict, 400);
    check(
        "$export?includeAssociatedData=LatestProvenanceResources",
        strict,
        400,
    );
    check("$export?foo=bar", strict, 400);
    check("$export?patient=Patient/p1", strict, 400);
    check("Patient/$export?patient=Group/g1", strict, 400);
    check("Patient/$export?_type=Practitioner", strict, 400);
    check("Group/nope/$export", strict, 404);
    check("Observation/$export", strict, 501);
    check("_export/0123abcd", "", 404);
    check("_export/0123abcd/Patient-1.ndjson", "", 404);
    check("_export/..%2F..%2Fetc/passwd", "", 404);
    // Lenient handling ignores what it does not support.
    check("$export?_elements=id&foo=bar", lenient, 202);
    check("Patient/$export?_type=Practitioner,Patient", lenient, 202);
    server.stop();
}
