//! Writers end to end: CSV and JSON snapshots, a Parquet round trip read back with the parquet
//! crate, NDJSON lines, and `run_files` over NDJSON and Bundle inputs.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use arrow::array::{
    Array, BooleanArray, Date32Array, Decimal128Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, TimeUnit};
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
            ("weight".to_string(), DataType::Decimal128(38, 18)),
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
    let weight = weight.as_any().downcast_ref::<Decimal128Array>().unwrap();
    assert_eq!(weight.value(0), 7250 * 10i128.pow(16));
    assert_eq!(weight.value_as_string(0), "72.500000000000000000");
    let given = col(4);
    let given = given.as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(given.value(0), "[\"Ann\",\"Marie\"]");
    let family = col(5);
    let family = family.as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(family.value(1), "Line\nBreak");
    assert!(family.is_null(2));
}

/// Writes `rows` of a view over Patients to Parquet; the bytes or the writer's error.
fn parquet_of(view: &Value, resources: &[Value]) -> Result<bytes::Bytes, String> {
    let plan = ViewPlan::compile(view).unwrap();
    let out = Shared::default();
    let mut w: Box<dyn RowWriter> = Box::new(ParquetWriter::new(Box::new(out.clone())));
    w.start(plan.columns()).unwrap();
    for r in resources {
        for row in plan.rows(r).unwrap() {
            w.write_row(&row).map_err(|e| e.to_string())?;
        }
    }
    w.finish().map_err(|e| e.to_string())?;
    Ok(bytes::Bytes::from(out.bytes()))
}

fn temporal_view() -> Value {
    json!({"resourceType": "ViewDefinition", "resource": "Patient", "select": [{"column": [
        {"name": "born", "path": "birthDate", "type": "date"},
        {"name": "died", "path": "deceased.ofType(dateTime)", "type": "dateTime"},
        {"name": "updated", "path": "meta.lastUpdated", "type": "instant"},
        {"name": "score", "path": "extension('http://x/score').value.ofType(decimal)", "type": "decimal"}]}]})
}

#[test]
fn parquet_columns_are_typed_and_exact() {
    // Parsed from text, so the decimal keeps every digit (`arbitrary_precision`).
    let first: Value = serde_json::from_str(
        r#"{"resourceType": "Patient", "birthDate": "1969-12-31",
            "deceasedDateTime": "2020-05-17T10:30:00.123456+02:00",
            "meta": {"lastUpdated": "1970-01-01T00:00:01Z"},
            "extension": [{"url": "http://x/score",
                           "valueDecimal": 12345678901234567890.123456789012345678}]}"#,
    )
    .unwrap();
    let resources = [first, json!({"resourceType": "Patient"})];
    let bytes = parquet_of(&temporal_view(), &resources).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
    let schema = builder.schema().clone();
    let types: Vec<DataType> = schema
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    assert_eq!(
        types,
        [
            DataType::Date32,
            utc.clone(),
            utc,
            DataType::Decimal128(38, 18)
        ]
    );
    let batches: Vec<_> = builder.build().unwrap().map(|b| b.unwrap()).collect();
    let batch = arrow::compute::concat_batches(&schema, &batches).unwrap();
    let born = batch
        .column(0)
        .as_any()
        .downcast_ref::<Date32Array>()
        .unwrap();
    assert_eq!(born.value(0), -1);
    assert!(born.is_null(1));
    let died = batch
        .column(1)
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .unwrap();
    // 2020-05-17T08:30:00.123456Z
    assert_eq!(died.value(0), 1_589_704_200_123_456);
    let updated = batch
        .column(2)
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .unwrap();
    assert_eq!(updated.value(0), 1_000_000);
    assert!(updated.is_null(1));
    let score = batch
        .column(3)
        .as_any()
        .downcast_ref::<Decimal128Array>()
        .unwrap();
    assert_eq!(
        score.value_as_string(0),
        "12345678901234567890.123456789012345678"
    );
}

#[test]
fn parquet_refuses_values_its_types_cannot_hold_exactly() {
    let patient = |field: &str, value: Value| {
        let mut p = json!({"resourceType": "Patient"});
        p[field] = value;
        p
    };
    let decimal = |text: &str| {
        json!({"resourceType": "Patient", "extension": [
            {"url": "http://x/score", "valueDecimal": serde_json::from_str::<Value>(text).unwrap()}]})
    };
    for (resource, column) in [
        (patient("birthDate", json!("1970-05")), "born"),
        (patient("deceasedDateTime", json!("2020-05-17")), "died"),
        (decimal("0.0000000000000000001"), "score"),
        (decimal("123456789012345678901"), "score"),
    ] {
        let err = parquet_of(&temporal_view(), &[resource]).unwrap_err();
        assert!(
            err.contains(&format!("{column:?}")) && err.contains("exactly"),
            "{err}"
        );
    }
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
