//! Row writers: one module per output format behind the [`RowWriter`] trait.

pub mod csv;
pub mod json;
pub mod ndjson;
pub mod parquet;

use std::io::Write;
use std::str::FromStr;

use serde_json::Value;

use crate::{ColumnSpec, Row, ViewError};

/// A sink for the rows of one view run: `start` once with the columns, `write_row` per row,
/// `finish` to flush and close.
pub trait RowWriter {
    fn start(&mut self, columns: &[ColumnSpec]) -> Result<(), ViewError>;
    fn write_row(&mut self, row: &Row) -> Result<(), ViewError>;
    fn finish(self: Box<Self>) -> Result<(), ViewError>;
}

/// The output formats of `crosscare view run --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180 CSV with a header line.
    Csv,
    /// One JSON object per row and line.
    Ndjson,
    /// One JSON array of row objects.
    Json,
    /// Apache Parquet, one typed column per view column.
    Parquet,
}

impl FromStr for Format {
    type Err = ViewError;

    fn from_str(s: &str) -> Result<Format, ViewError> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "ndjson" | "jsonl" => Ok(Format::Ndjson),
            "json" => Ok(Format::Json),
            "parquet" => Ok(Format::Parquet),
            other => Err(ViewError::Output(format!(
                "unknown format {other:?}; expected csv, ndjson, json or parquet"
            ))),
        }
    }
}

/// A writer of the given format over `out`.
pub fn writer_for(format: Format, out: Box<dyn Write + Send>) -> Box<dyn RowWriter> {
    match format {
        Format::Csv => Box::new(csv::CsvWriter::new(out)),
        Format::Ndjson => Box::new(ndjson::NdjsonWriter::new(out)),
        Format::Json => Box::new(json::JsonWriter::new(out)),
        Format::Parquet => Box::new(parquet::ParquetWriter::new(out)),
    }
}

pub(crate) fn io_error(e: std::io::Error) -> ViewError {
    ViewError::Output(e.to_string())
}

/// Writes `{"name":value,...}` with the keys pre-encoded by [`encoded_keys`].
pub(crate) fn write_object(
    out: &mut dyn Write,
    keys: &[String],
    row: &Row,
) -> Result<(), ViewError> {
    out.write_all(b"{").map_err(io_error)?;
    for (i, (key, value)) in keys.iter().zip(&row.values).enumerate() {
        if i > 0 {
            out.write_all(b",").map_err(io_error)?;
        }
        out.write_all(key.as_bytes()).map_err(io_error)?;
        serde_json::to_writer(&mut *out, value).map_err(|e| ViewError::Output(e.to_string()))?;
    }
    out.write_all(b"}").map_err(io_error)
}

/// `"name":` for every column, JSON-escaped once.
pub(crate) fn encoded_keys(columns: &[ColumnSpec]) -> Vec<String> {
    columns
        .iter()
        .map(|c| format!("{}:", Value::String(c.name.clone())))
        .collect()
}
