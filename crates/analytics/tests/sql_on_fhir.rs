//! The official SQL-on-FHIR v2 test suite (vendored under `tests/data/sql-on-fhir`, MIT): every
//! case is run, a report is written in the suite's own format to
//! `target/sql-on-fhir-report.json`, and any failure not listed with a reason in
//! `tests/data/sql-on-fhir-exclusions.json` fails the test.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crosscare_analytics::ViewPlan;
use serde_json::{json, Map, Value};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// Numbers compared by value (`5` equals `5.0`), everything else structurally.
fn canonical(v: &Value) -> Value {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) => json!(f),
            None => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), canonical(v))).collect())
        }
        other => other.clone(),
    }
}

fn row_key(row: &Map<String, Value>) -> String {
    let sorted: BTreeMap<_, _> = row.iter().map(|(k, v)| (k.clone(), canonical(v))).collect();
    serde_json::to_string(&sorted).unwrap()
}

/// Column names and the rows as objects.
type Evaluated = (Vec<String>, Vec<Map<String, Value>>);

/// Runs one case; `Ok(())` when it passes, otherwise the reason.
fn run_case(resources: &[Value], case: &Value) -> Result<(), String> {
    let expect_error = case
        .get("expectError")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let outcome = (|| -> Result<Evaluated, String> {
        let plan = ViewPlan::compile(&case["view"]).map_err(|e| e.to_string())?;
        let names: Vec<String> = plan.columns().iter().map(|c| c.name.clone()).collect();
        let mut rows = Vec::new();
        for r in resources {
            for row in plan.rows(r).map_err(|e| e.to_string())? {
                rows.push(names.iter().cloned().zip(row.values).collect::<Map<_, _>>());
            }
        }
        Ok((names, rows))
    })();
    let (names, rows) = match (outcome, expect_error) {
        (Err(_), true) => return Ok(()),
        (Ok(_), true) => return Err("expected an error, the view ran".into()),
        (Err(e), false) => return Err(format!("unexpected error: {e}")),
        (Ok(x), false) => x,
    };
    if let Some(cols) = case.get("expectColumns").and_then(Value::as_array) {
        let want: Vec<String> = cols
            .iter()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect();
        if want != names {
            return Err(format!("columns {names:?}, expected {want:?}"));
        }
    }
    let expected = case["expect"].as_array().cloned().unwrap_or_default();
    let mut want: Vec<String> = expected
        .iter()
        .map(|e| row_key(e.as_object().unwrap_or(&Map::new())))
        .collect();
    let mut got: Vec<String> = rows.iter().map(row_key).collect();
    want.sort();
    got.sort();
    if want != got {
        return Err(format!(
            "rows differ:\n  got      {got:?}\n  expected {want:?}"
        ));
    }
    Ok(())
}

#[test]
fn sql_on_fhir_v2_suite() {
    let exclusions: Value = serde_json::from_str(
        &std::fs::read_to_string(data_dir().join("sql-on-fhir-exclusions.json")).unwrap(),
    )
    .unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir().join("sql-on-fhir/tests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut report = Map::new();
    let (mut passed, mut failed) = (0, 0);
    let mut unexpected = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let suite: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let resources = suite["resources"].as_array().cloned().unwrap_or_default();
        let mut results = Vec::new();
        for case in suite["tests"].as_array().unwrap() {
            let title = case["title"].as_str().unwrap().to_string();
            let excluded = exclusions.get(&name).and_then(|f| f.get(&title)).is_some();
            let result = run_case(&resources, case);
            match &result {
                Ok(()) => {
                    passed += 1;
                    if excluded {
                        unexpected.push(format!(
                            "{name} / {title}: passes but is excluded; remove the exclusion"
                        ));
                    }
                    results.push(json!({"name": title, "result": {"passed": true}}));
                }
                Err(reason) => {
                    failed += 1;
                    if !excluded {
                        unexpected.push(format!("{name} / {title}: {reason}"));
                    }
                    results
                        .push(json!({"name": title, "result": {"passed": false, "error": reason}}));
                }
            }
        }
        report.insert(name, json!({ "tests": results }));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(
        target.join("sql-on-fhir-report.json"),
        serde_json::to_string_pretty(&Value::Object(report)).unwrap(),
    )
    .unwrap();
    println!("SQL-on-FHIR v2 suite: {passed} passed, {failed} failed");
    assert!(passed > 100, "the suite must actually run");
    assert!(
        unexpected.is_empty(),
        "unexpected results:\n{}",
        unexpected.join("\n")
    );
}
