//! Apache Parquet output: one typed column per view column, rows buffered into Arrow record
//! batches and flushed into row groups of bounded size, so memory does not grow with input.
//!
//! Type mapping (by `column.type`): `boolean` → Boolean; `integer`, `positiveInt`,
//! `unsignedInt`, `integer64` → Int64; `decimal` → Float64; everything else (strings, codes,
//! `date`/`dateTime`/`instant`/`time` as their ISO text) → Utf8. A `collection: true` column is
//! Utf8 holding the JSON array text. Values that do not fit the declared type are an error.

use std::io::Write;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde_json::Value;

use super::RowWriter;
use crate::{ColumnSpec, Row, ViewError};

/// Rows per Arrow batch handed to the Parquet writer.
const BATCH_ROWS: usize = 8192;
/// Default rows per Parquet row group.
pub const DEFAULT_ROW_GROUP_ROWS: usize = 65536;

/// The Arrow type of a view column.
pub fn arrow_type(column: &ColumnSpec) -> DataType {
    if column.collection {
        return DataType::Utf8;
    }
    match column.fhir_type.as_deref() {
        Some("boolean") => DataType::Boolean,
        Some("integer" | "positiveInt" | "unsignedInt" | "integer64") => DataType::Int64,
        Some("decimal") => DataType::Float64,
        _ => DataType::Utf8,
    }
}

enum Builder {
    Utf8(StringBuilder),
    Int64(Int64Builder),
    Float64(Float64Builder),
    Boolean(BooleanBuilder),
}

pub struct ParquetWriter {
    out: Option<Box<dyn Write + Send>>,
    writer: Option<ArrowWriter<Box<dyn Write + Send>>>,
    schema: Option<SchemaRef>,
    columns: Vec<ColumnSpec>,
    builders: Vec<Builder>,
    buffered: usize,
    row_group_rows: usize,
    text: String,
}

impl ParquetWriter {
    pub fn new(out: Box<dyn Write + Send>) -> ParquetWriter {
        ParquetWriter {
            out: Some(out),
            writer: None,
            schema: None,
            columns: Vec::new(),
            builders: Vec::new(),
            buffered: 0,
            row_group_rows: DEFAULT_ROW_GROUP_ROWS,
            text: String::new(),
        }
    }

    /// Sets the rows per row group (at least one batch is always buffered).
    pub fn with_row_group_rows(mut self, rows: usize) -> ParquetWriter {
        self.row_group_rows = rows.max(1);
        self
    }

    fn new_builders(&self) -> Vec<Builder> {
        self.columns
            .iter()
            .map(|c| match arrow_type(c) {
                DataType::Boolean => Builder::Boolean(BooleanBuilder::with_capacity(BATCH_ROWS)),
                DataType::Int64 => Builder::Int64(Int64Builder::with_capacity(BATCH_ROWS)),
                DataType::Float64 => Builder::Float64(Float64Builder::with_capacity(BATCH_ROWS)),
                _ => Builder::Utf8(StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 16)),
            })
            .collect()
    }

    fn flush_batch(&mut self) -> Result<(), ViewError> {
        if self.buffered == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|b| -> ArrayRef {
                match b {
                    Builder::Utf8(b) => Arc::new(b.finish()),
                    Builder::Int64(b) => Arc::new(b.finish()),
                    Builder::Float64(b) => Arc::new(b.finish()),
                    Builder::Boolean(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        let schema = self.schema.clone().ok_or_else(not_started)?;
        let batch =
            RecordBatch::try_new(schema, arrays).map_err(|e| ViewError::Output(e.to_string()))?;
        let writer = self.writer.as_mut().ok_or_else(not_started)?;
        writer
            .write(&batch)
            .map_err(|e| ViewError::Output(e.to_string()))?;
        self.buffered = 0;
        Ok(())
    }
}

fn not_started() -> ViewError {
    ViewError::Output("Parquet writer used before start".into())
}

fn mismatch(column: &ColumnSpec, value: &Value, ty: &str) -> ViewError {
    ViewError::Output(format!(
        "column {:?} is declared {ty} but a row has {value}",
        column.name
    ))
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
        }),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

impl RowWriter for ParquetWriter {
    fn start(&mut self, columns: &[ColumnSpec]) -> Result<(), ViewError> {
        self.columns = columns.to_vec();
        let fields: Vec<Field> = columns
            .iter()
            .map(|c| Field::new(c.name.clone(), arrow_type(c), true))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_size(self.row_group_rows)
            .build();
        let out = self
            .out
            .take()
            .ok_or_else(|| ViewError::Output("Parquet writer started twice".into()))?;
        let writer = ArrowWriter::try_new(out, schema.clone(), Some(props))
            .map_err(|e| ViewError::Output(e.to_string()))?;
        self.writer = Some(writer);
        self.schema = Some(schema);
        self.builders = self.new_builders();
        Ok(())
    }

    fn write_row(&mut self, row: &Row) -> Result<(), ViewError> {
        if self.builders.len() != row.values.len() {
            return Err(ViewError::Output(format!(
                "row has {} values for {} columns",
                row.values.len(),
                self.builders.len()
            )));
        }
        for ((builder, value), column) in
            self.builders.iter_mut().zip(&row.values).zip(&self.columns)
        {
            match builder {
                Builder::Utf8(b) => match value {
                    Value::Null => b.append_null(),
                    Value::String(s) => b.append_value(s),
                    other => {
                        self.text.clear();
                        super::csv::field_text(other, &mut self.text);
                        b.append_value(&self.text);
                    }
                },
                Builder::Int64(b) => match value {
                    Value::Null => b.append_null(),
                    v => b.append_value(as_i64(v).ok_or_else(|| mismatch(column, v, "integer"))?),
                },
                Builder::Float64(b) => match value {
                    Value::Null => b.append_null(),
                    v => b.append_value(as_f64(v).ok_or_else(|| mismatch(column, v, "decimal"))?),
                },
                Builder::Boolean(b) => match value {
                    Value::Null => b.append_null(),
                    Value::Bool(x) => b.append_value(*x),
                    v => return Err(mismatch(column, v, "boolean")),
                },
            }
        }
        self.buffered += 1;
        if self.buffered >= BATCH_ROWS.min(self.row_group_rows) {
            self.flush_batch()?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), ViewError> {
        self.flush_batch()?;
        let writer = self.writer.take().ok_or_else(not_started)?;
        let mut out = writer
            .into_inner()
            .map_err(|e| ViewError::Output(e.to_string()))?;
        out.flush().map_err(super::io_error)
    }
}
