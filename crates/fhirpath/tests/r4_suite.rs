//! Runs the official FHIRPath R4 test suite (tests/data/tests-fhir-r4.xml) as one test.
//!
//! Every test must pass unless it is listed in tests/data/exclusions.txt with a reason; an
//! excluded test that starts passing also fails the run, so the list only ever shrinks.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crosscare_fhirpath::{Expression, Item, Temporal};

struct Case {
    name: String,
    input: Option<String>,
    expression: String,
    invalid: bool,
    predicate: bool,
    outputs: Vec<(Option<String>, String)>,
}

fn load_cases(dir: &Path) -> Vec<Case> {
    let xml = std::fs::read_to_string(dir.join("tests-fhir-r4.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let mut cases = Vec::new();
    for group in doc
        .root_element()
        .children()
        .filter(|n| n.has_tag_name("group"))
    {
        let gname = group.attribute("name").unwrap_or("group");
        for (i, test) in group
            .children()
            .filter(|n| n.has_tag_name("test"))
            .enumerate()
        {
            let name = test
                .attribute("name")
                .map_or_else(|| format!("{gname}#{i}"), str::to_string);
            let expr_node = test
                .children()
                .find(|n| n.has_tag_name("expression"))
                .unwrap();
            let outputs = test
                .children()
                .filter(|n| n.has_tag_name("output"))
                .map(|o| {
                    (
                        o.attribute("type").map(str::to_string),
                        o.text().unwrap_or("").to_string(),
                    )
                })
                .collect();
            cases.push(Case {
                name,
                input: test
                    .attribute("inputfile")
                    .map(|f| f.replace(".xml", ".json")),
                expression: expr_node.text().unwrap_or("").to_string(),
                invalid: expr_node.attribute("invalid").is_some(),
                predicate: test.attribute("predicate") == Some("true"),
                outputs,
            });
        }
    }
    cases
}

fn temporal_eq(expected: &str, got: &Item<'_>, time: bool) -> bool {
    let text = match got.json() {
        Some(v) => v.as_str().unwrap_or("").to_string(),
        None => got.to_json().as_str().unwrap_or("").to_string(),
    };
    let (e, g) = if time {
        (
            Temporal::parse_time(expected.trim_start_matches("@T")),
            Temporal::parse_time(&text),
        )
    } else {
        (
            Temporal::parse_date_time(expected.trim_start_matches('@'), true),
            Temporal::parse_date_time(&text, true),
        )
    };
    match (e, g) {
        (Some(e), Some(g)) => e == g,
        _ => false,
    }
}

fn output_matches(ty: Option<&str>, expected: &str, got: &Item<'_>) -> bool {
    match ty {
        Some("boolean") => got.as_bool() == Some(expected == "true"),
        Some("integer") => {
            let integral = got.type_name() == "System.Integer"
                || got
                    .fhir_type()
                    .is_some_and(|t| t == "integer" || t.ends_with("Int"));
            integral && got.to_json().to_string().as_str() == expected
        }
        Some("decimal") => {
            let g = got.to_json().to_string();
            g.parse::<f64>().ok() == expected.parse::<f64>().ok()
        }
        Some("string" | "code" | "id") => got.as_str() == Some(expected),
        Some("date" | "dateTime") => temporal_eq(expected, got, false),
        Some("time") => temporal_eq(expected, got, true),
        Some("Quantity") => quantity_text(got).as_deref() == Some(expected),
        _ => {
            // Untyped outputs (boundary functions): compare the literal text.
            let g = match got.type_name().as_str() {
                "System.Quantity" => quantity_text(got).unwrap_or_default(),
                "System.Date" | "System.DateTime" => {
                    format!("@{}", got.to_json().as_str().unwrap_or(""))
                }
                "System.Time" => format!("@T{}", got.to_json().as_str().unwrap_or("")),
                _ => got.to_json().to_string(),
            };
            g == expected
        }
    }
}

fn quantity_text(got: &Item<'_>) -> Option<String> {
    let j = got.to_json();
    Some(format!(
        "{} '{}'",
        j.get("value")?,
        j.get("unit")?.as_str()?
    ))
}

/// Runs one case: `Ok(())` on pass, `Err(reason)` on failure.
fn run_case(
    dir: &Path,
    case: &Case,
    inputs: &mut BTreeMap<String, serde_json::Value>,
) -> Result<(), String> {
    let input = match &case.input {
        Some(f) => inputs
            .entry(f.clone())
            .or_insert_with(|| {
                let text = std::fs::read_to_string(dir.join("input").join(f)).unwrap();
                serde_json::from_str(&text).unwrap()
            })
            .clone(),
        None => serde_json::json!({}),
    };
    let result = Expression::compile(&case.expression)
        .map_err(|e| e.to_string())
        .and_then(|e| e.evaluate(&input).map_err(|e| e.to_string()));
    let items = match (result, case.invalid) {
        (Err(_), true) => return Ok(()),
        (Ok(_), true) => return Err("expected an error".into()),
        (Err(e), false) => return Err(format!("error: {e}")),
        (Ok(items), false) => items,
    };
    let items: Vec<Item<'_>> = if case.predicate {
        vec![Item::Boolean(!items.is_empty())]
    } else {
        items
    };
    let shown = || {
        items
            .iter()
            .map(|i| format!("{}:{}", i.type_name(), i.to_json()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if items.len() != case.outputs.len() {
        return Err(format!(
            "expected {} items, got [{}]",
            case.outputs.len(),
            shown()
        ));
    }
    for ((ty, text), got) in case.outputs.iter().zip(&items) {
        if !output_matches(ty.as_deref(), text, got) {
            return Err(format!("expected {ty:?} {text}, got [{}]", shown()));
        }
    }
    Ok(())
}

#[test]
fn official_r4_suite() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let exclusions: BTreeMap<String, String> = std::fs::read_to_string(dir.join("exclusions.txt"))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(" # ") {
            Some((n, r)) => (n.trim().to_string(), r.trim().to_string()),
            None => (l.trim().to_string(), String::new()),
        })
        .collect();
    let cases = load_cases(&dir);
    let mut inputs = BTreeMap::new();
    let (mut passed, mut failed, mut excluded) = (0, Vec::new(), 0);
    let mut now_passing = Vec::new();
    let mut seen = BTreeSet::new();
    for case in &cases {
        seen.insert(case.name.clone());
        let outcome = run_case(&dir, case, &mut inputs);
        match (outcome, exclusions.contains_key(&case.name)) {
            (Ok(()), false) => passed += 1,
            (Ok(()), true) => now_passing.push(case.name.clone()),
            (Err(_), true) => excluded += 1,
            (Err(why), false) => {
                failed.push(format!("{}: `{}`: {why}", case.name, case.expression))
            }
        }
    }
    let stale: Vec<_> = exclusions.keys().filter(|k| !seen.contains(*k)).collect();
    println!(
        "FHIRPath R4 suite: {} tests, {passed} passed, {} failed, {excluded} excluded",
        cases.len(),
        failed.len()
    );
    for f in &failed {
        println!("FAIL {f}");
    }
    for n in &now_passing {
        println!("NOW PASSING (remove from exclusions.txt): {n}");
    }
    assert!(stale.is_empty(), "exclusions for unknown tests: {stale:?}");
    assert!(
        failed.is_empty() && now_passing.is_empty(),
        "suite regressions, see output"
    );
}
