//! The `crosscare` binary's commands, run as a user would run them.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Stdio};

fn crosscare(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crosscare"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const PATIENT: &str =
    r#"{"resourceType":"Patient","birthDate":"1974-12-25","name":[{"given":["Anne","Marie"]}]}"#;

#[test]
fn fhirpath_from_stdin() {
    let (code, out, _) = crosscare(&["fhirpath", "name.given"], PATIENT);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), r#"["Anne","Marie"]"#);
}

#[test]
fn fhirpath_typed_from_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.json");
    std::fs::write(&file, PATIENT).unwrap();
    let (code, out, _) = crosscare(
        &[
            "fhirpath",
            "--typed",
            "--input",
            file.to_str().unwrap(),
            "birthDate",
        ],
        "",
    );
    assert_eq!(code, 0);
    assert_eq!(out.trim(), r#"[{"type":"FHIR.date","value":"1974-12-25"}]"#);
}

#[test]
fn fhirpath_errors_go_to_stderr() {
    for (expr, input) in [("name.", PATIENT), ("name", "not json")] {
        let (code, out, err) = crosscare(&["fhirpath", expr], input);
        assert_ne!(code, 0, "{expr}");
        assert!(out.is_empty());
        assert!(err.starts_with("error: "), "{err}");
        assert!(!err.contains("backtrace"), "{err}");
    }
}

fn run_ok(args: &[&str]) -> String {
    let (code, out, err) = crosscare(args, "");
    assert_eq!(code, 0, "crosscare {args:?} failed: {err}");
    out
}

#[test]
fn synth_import_and_view() {
    let dir = tempfile::tempdir().unwrap();
    let synth = dir.path().join("synth");
    let data = dir.path().join("data");
    let (s, d) = (synth.to_str().unwrap(), data.to_str().unwrap());
    let out = run_ok(&[
        "synth",
        "--patients",
        "3",
        "--volume",
        "0.1",
        "--seed",
        "7",
        "--out",
        s,
    ]);
    assert!(out.starts_with("wrote "), "{out}");

    // A file with one broken and one invalid line: both are reported, the rest still loads.
    let extra = dir.path().join("extra.ndjson");
    std::fs::write(
        &extra,
        concat!(
            "{\"resourceType\":\"Patient\",\"id\":\"ok-1\"}\n",
            "{not json\n",
            "{\"resourceType\":\"Patient\",\"id\":\"bad-1\",\"gender\":\"femme\"}\n",
            "{\"resourceType\":\"Patient\",\"id\":\"ok-2\"}\n",
        ),
    )
    .unwrap();
    let (code, out, err) = crosscare(&["import", "--data", d, s, extra.to_str().unwrap()], "");
    assert_ne!(code, 0, "rejections make the exit status non-zero");
    assert!(out.contains("extra.ndjson:2: not valid JSON"), "{out}");
    assert!(
        out.contains("extra.ndjson:3:") && out.contains("gender"),
        "{out}"
    );
    assert!(err.contains("2 resource(s) were rejected"), "{err}");
    assert!(
        !data.join("import-checkpoint.json").exists(),
        "a finished import removes its checkpoint"
    );

    // Importing the same files again changes nothing.
    let out = run_ok(&["import", "--data", d, s]);
    assert!(out.contains("imported 0 resources"), "{out}");
    assert!(!out.contains(" 0 unchanged"), "{out}");

    // A checkpoint left by an interrupted run makes the next run skip what it records.
    let patients = synth.join("Patient.ndjson");
    let key = std::fs::canonicalize(&patients)
        .unwrap()
        .display()
        .to_string();
    std::fs::write(
        data.join("import-checkpoint.json"),
        serde_json::json!({ "files": { key: 2 } }).to_string(),
    )
    .unwrap();
    let out = run_ok(&["import", "--data", d, patients.to_str().unwrap()]);
    assert!(
        out.contains("resumed past 2 already committed lines"),
        "{out}"
    );
    assert!(out.contains("1 unchanged"), "{out}");

    let view = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/examples/patient-view.json"
    );
    let csv = run_ok(&["view", "run", view, "--input", s]);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("id,gender,birth_date,country,city,postal_code,id_system,id_value")
    );
    assert_eq!(lines.count(), 3, "{csv}");
}

#[test]
fn admin_workspaces_and_clients() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let ws = |extra: &[&str]| {
        let mut args = vec!["admin", "workspace", "create", "--data", d];
        args.extend_from_slice(extra);
        crosscare(&args, "")
    };
    let base = [
        "--organisation",
        "Universität des Saarlandes",
        "--purpose",
        "app testing",
        "--owner",
        "lab@uni-saarland.example",
    ];
    let (code, out, err) = ws(&[&base[..], &["--id", "uds", "--class", "sandbox"]].concat());
    assert_eq!(code, 0, "{err}");
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(created["partition"], "ws-uds");
    assert_eq!(created["status"], "active");

    // Classes of later issues are a clear error, never a fallback.
    for class in ["pseudonymised-pilot", "feasibility"] {
        let (code, _, err) = ws(&[&base[..], &["--class", class]].concat());
        assert_ne!(code, 0);
        assert!(err.contains("not available yet"), "{err}");
    }
    // Ids are never reused.
    let (code, _, _) = ws(&[&base[..], &["--id", "uds", "--class", "training"]].concat());
    assert_ne!(code, 0);

    let out = run_ok(&[
        "admin",
        "client",
        "create",
        "--data",
        d,
        "--workspace",
        "uds",
        "--scope",
        "system/Patient.rs system/Observation.read",
    ]);
    let client: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = client["client_id"].as_str().unwrap();
    let secret = client["client_secret"].as_str().unwrap();
    assert_eq!(
        client["allowed_scopes"],
        "system/Patient.rs system/Observation.rs"
    );
    // The secret is in no file of the data folder.
    for entry in std::fs::read_dir(dir.path().join("lab")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(secret));
    }

    let out = run_ok(&["admin", "workspace", "show", "--data", d, "uds"]);
    assert!(out.contains(id) && !out.contains(secret), "{out}");
    let out = run_ok(&["admin", "client", "rotate", "--data", d, id]);
    assert!(!out.contains(secret), "{out}");
    run_ok(&["admin", "workspace", "suspend", "--data", d, "uds"]);
    let out = run_ok(&["admin", "workspace", "list", "--data", d]);
    assert!(out.contains("\"suspended\""), "{out}");
    run_ok(&["admin", "client", "revoke", "--data", d, id]);
    run_ok(&["admin", "workspace", "delete", "--data", d, "uds"]);
    let (code, _, err) = crosscare(&["admin", "client", "revoke", "--data", d, "cc-none"], "");
    assert_ne!(code, 0);
    assert!(err.contains("no client"), "{err}");
    run_ok(&["admin", "key", "rotate", "--data", d]);
}

/// `id`s per resource type of every NDJSON file in a folder.
fn ids_by_type(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("ndjson") {
            continue;
        }
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let r: serde_json::Value = serde_json::from_str(line).unwrap();
            out.entry(r["resourceType"].as_str().unwrap().to_string())
                .or_default()
                .push(r["id"].as_str().unwrap().to_string());
        }
    }
    for ids in out.values_mut() {
        ids.sort();
    }
    out
}

#[test]
fn synth_import_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let synth = dir.path().join("synth");
    let data = dir.path().join("data");
    let out = dir.path().join("out");
    let (s, d, o) = (
        synth.to_str().unwrap(),
        data.to_str().unwrap(),
        out.to_str().unwrap(),
    );
    run_ok(&[
        "synth",
        "--patients",
        "2",
        "--volume",
        "0.1",
        "--seed",
        "3",
        "--out",
        s,
    ]);
    run_ok(&["import", "--data", d, s]);
    let (code, _, err) = crosscare(
        &[
            "export",
            "--data",
            d,
            "--out",
            o,
            "--max-resources-per-file",
            "25",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("resources/s"), "{err}");
    // Exactly what was imported, type by type.
    assert_eq!(ids_by_type(&out), ids_by_type(&synth));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let files = manifest["output"].as_array().unwrap();
    assert!(files.iter().all(|f| f["count"].as_u64().unwrap() <= 25));
    assert!(
        files.len() > ids_by_type(&synth).len(),
        "large types are split"
    );

    // A second export into the same (now non-empty) folder is refused.
    let (code, _, err) = crosscare(&["export", "--data", d, "--out", o], "");
    assert_ne!(code, 0);
    assert!(err.contains("not empty"), "{err}");

    // `--type` and a `--since` after every write.
    let only = dir.path().join("only");
    run_ok(&[
        "export",
        "--data",
        d,
        "--out",
        only.to_str().unwrap(),
        "--type",
        "Patient",
    ]);
    let got = ids_by_type(&only);
    assert_eq!(got.keys().collect::<Vec<_>>(), ["Patient"]);
    assert_eq!(got["Patient"], ids_by_type(&synth)["Patient"]);
    let none = dir.path().join("none");
    run_ok(&[
        "export",
        "--data",
        d,
        "--out",
        none.to_str().unwrap(),
        "--since",
        "2999-01-01T00:00:00Z",
    ]);
    assert!(ids_by_type(&none).is_empty());
}
