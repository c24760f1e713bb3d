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
