//! Writers end to end: CSV and JSON snapshots, a Parquet round trip read back with the parquet
//! crate, NDJSON lines, and `run_files` over NDJSON and Bundle inputs.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use arrow::array::{Array, BooleanArray, Float64Array, Int64Array, StringArray};
use arrow::datatypes::DataType;
use crosscare_analytics::output::parquet::ParquetWriter;
use crosscare_analytics::{run_files, writer_for, Format, RowWriter, ViewPlan};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{json, Value};

/// A `Write` whose bytes the test can read after the writer is finished.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

fn view() -> Value {
    json!({"resourceType": "ViewDefinition", "resource": "Patient", "select": [
        {"column": [
            {"name": "id", "path": "id", "type": "id"},
            {"name": "active", "path": "active", "type": "boolean"},
            {"name": "births", "path": "multipleBirth.ofType(integer)", "type": "integer"},
            {"name": "weight", "path": "extension('http://x/weight').value.ofType(decimal)", "type": "decimal"},
            {"name": "given", "path": "name.given", "type": "string", "collection": true}]},
        {"forEachOrNull": "name", "column": [{"name": "family", "path": "family", "type": "string"}]}]})
}

fn resources() -> Vec<Value> {
    vec![
        json!({"resourceType": "Patient", "id": "p1", "active": true, "multipleBirthInteger": 2,
            "extension": [{"url": "http://x/weight", "valueDecimal": 72.50}],
            "name": [{"family": "O'Brien, \"Jr\"", "given": ["Ann", "Marie"]}, {"family": "Line\nBreak"}]}),
        json!({"resourceType": "Patient", "id": "p2"}),
        json!({"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"}}),
    ]
}

fn run(format: Format) -> Vec<u8> {
    let plan = ViewPlan::compile(&view()).unwrap();
    let out = Shared::default();
    let mut w = writer_for(format, Box::new(out.clone()));
    w.start(plan.columns()).unwrap();
    for r in resources() {
        for row in plan.rows(&r).unwrap() {
            w.write_row(&row).unwrap();
        }
    }
    w.finish().unwrap();
    out.bytes()
}

#[test]
fn csv_snapshot() {
    insta::assert_snapshot!(String::from_utf8(run(Format::Csv)).unwrap());
}

#[test]
fn json_snapshot() {
    let text = String::from_utf8(run(Format::Json)).unwrap();
    let parsed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed.as_array().unwrap().len(), 3);
    insta::assert_snapshot!(text);
}

#[test]
fn ndjson_lines_parse() {
    let text = String::from_utf8(run(Format::Ndjson)).unwrap();
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[2],
        json!({"id": "p2", "active": null, "births": null, "weight": null, "given": [], "family": null})
    );
}

#[test]
fn empty_json_is_an_empty_array() {
    let plan = ViewPlan::compile(&view()).unwrap();
    let out = Shared::default();
    let mut w = writer_for(Format::Json, Box::new(out.clone()));
    w.start(plan.columns()).unwrap();
    w.finish().unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&out.bytes()).unwrap(),
        json!([])
    );
}

#[test]
fn parquet_round_trip() {
    let plan = ViewPlan::compile(&view()).unwrap();
    let out = Shared::default();
    // Row groups of two rows: the three rows must span two row groups.
    let mut w: Box<dyn RowWriter> =
        Box::new(ParquetWriter::new(Box::new(out.clone())).with_row_group_rows(2));
    w.start(plan.columns()).unwrap();
    for r in resources() {
        for row in plan.rows(&r).unwrap() {
            w.write_row(&row).unwrap();
        }
    }
    w.finish().unwrap();
    let bytes = bytes::Bytes::from(out.bytes());
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
    assert_eq!(builder.metadata().num_row_groups(), 2);
    let schema = builder.schema().clone();
    let types: Vec<(String, DataType)> = schema
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();
    assert_eq!(
        types,
        vec![
            ("id".to_string(), DataType::Utf8),
            ("active".to_string(), DataType::Boolean),
            ("births".to_string(), DataType::Int64),
            ("weight".to_string(), DataType::Float64),
            ("given".to_string(), DataType::Utf8),
            ("family".to_string(), DataType::Utf8),
        ]
    );
    let batches: Vec<_> = builder.build().unwrap().map(|b| b.unwrap()).collect();
    let batch = arrow::compute::concat_batches(&schema, &batches).unwrap();
    assert_eq!(batch.num_rows(), 3);
    let col = |i: usize| batch.column(i).clone();
    let ids = col(0);
    let ids = ids.as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!((ids.value(0), ids.value(2)), ("p1", "p2"));
    let active = col(1);
    let active = active.as_any().downcast_ref::<BooleanArray>().unwrap();
    assert!(active.value(0) && active.is_null(2));
    let births = col(2);
    let births = births.as_any().downcast_ref::<Int64Array>().unwrap();
    assert_eq!(births.value(1), 2);
    assert!(births.is_null(2));
    let weight = col(3);
    let weight = weight.as_any().downcast_ref::<Float64Array>().unwrap();
    assert_eq!(weight.value(0), 72.5);
    let given = col(4);
    let given = given.as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(given.value(0), "[\"Ann\",\"Marie\"]");
    let family = col(5);
    let family = family.as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(family.value(1), "Line\nBreak");
    assert!(family.is_null(2));
}

#[test]
fn run_files_reads_ndjson_and_bundles() {
    let dir = tempfile::tempdir().unwrap();
    let nd = dir.path().join("a.ndjson");
    let lines: Vec<String> = resources().iter().map(|r| r.to_string()).collect();
    std::fs::write(&nd, lines.join("\n")).unwrap();
    let bundle = dir.path().join("b.json");
    let entries: Vec<Value> = resources()
        .into_iter()
        .map(|r| json!({"resource": r}))
        .collect();
    std::fs::write(
        &bundle,
        json!({"resourceType": "Bundle", "type": "collection", "entry": entries}).to_string(),
    )
    .unwrap();
    let out = Shared::default();
    let stats = run_files(
        &view(),
        &[nd.clone(), bundle],
        writer_for(Format::Ndjson, Box::new(out.clone())),
    )
    .unwrap();
    assert_eq!(
        (stats.files, stats.resources, stats.matched, stats.rows),
        (2, 6, 4, 6)
    );

    std::fs::write(&nd, format!("{}\n{{\"resourceType\": \"Patient\", \"id\": \"bad\", \"name\": [{{\"family\": \"a\"}}, {{\"family\": \"b\"}}]}}\n", lines[0])).unwrap();
    let one_column = json!({"resource": "Patient", "select": [{"column": [{"name": "f", "path": "name.family"}]}]});
    let err = run_files(
        &one_column,
        std::slice::from_ref(&nd),
        writer_for(Format::Csv, Box::new(Shared::default())),
    )
    .unwrap_err();
    assert!(err.to_string().contains("a.ndjson:1"), "{err}");
    std::fs::write(&nd, "{\"resourceType\": \"Patient\"}\nnot json\n").unwrap();
    let err = run_files(
        &view(),
        &[nd],
        writer_for(Format::Csv, Box::new(Shared::default())),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("a.ndjson:2: invalid JSON"),
        "{err}"
    );
}

#[test]
fn parallel_ndjson_keeps_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let nd = dir.path().join("many.ndjson");
    let lines: Vec<String> = (0..3000)
        .map(|i| json!({"resourceType": "Patient", "id": format!("p{i}")}).to_string())
        .collect();
    std::fs::write(&nd, lines.join("\n\n")).unwrap();
    let out = Shared::default();
    let one_column =
        json!({"resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}]}]});
    let stats = run_files(
        &one_column,
        &[nd],
        writer_for(Format::Csv, Box::new(out.clone())),
    )
    .unwrap();
    assert_eq!(stats.rows, 3000);
    let text = String::from_utf8(out.bytes()).unwrap();
    let ids: Vec<&str> = text.lines().skip(1).collect();
    let want: Vec<String> = (0..3000).map(|i| format!("p{i}")).collect();
    assert_eq!(ids, want);
}
