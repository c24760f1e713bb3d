//! Apache Parquet output: one typed column per view column, rows buffered into Arrow record
//! batches and flushed into row groups of bounded size, so memory does not grow with input.
//!
//! Type mapping (by `column.type`; the schema comes from the view alone, before any row):
//! `boolean` → Boolean; `integer`, `positiveInt`, `unsignedInt`, `integer64` → Int64;
//! `decimal` → Decimal128(38, 18); `date` → Date32; `dateTime`, `instant` →
//! Timestamp(microsecond, "UTC"); everything else (strings, codes, `time`) → Utf8. A
//! `collection: true` column is Utf8 holding the JSON array text.
//!
//! **Invariant**: a typed cell holds its value exactly or the run fails. A value the column's
//! type cannot hold without loss (a decimal with more than 18 fractional or 20 integer digits,
//! a date or dateTime with less than full precision, fractions of a microsecond, text in a
//! number column) is an error naming the column and the value; such columns can be declared
//! `string` in the view to keep the text. Decimals are read from their JSON text
//! (`serde_json`'s `arbitrary_precision`), never through a float.

use std::io::Write;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
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

/// Precision of decimal columns: the most an `i128` holds in full (38 digits).
pub const DECIMAL_PRECISION: u8 = 38;
/// Scale of decimal columns: 18 fractional digits (so 20 integer digits remain).
pub const DECIMAL_SCALE: i8 = 18;
/// The time zone of timestamp columns: instants are converted to UTC.
const UTC: &str = "UTC";

/// The Arrow type of a view column.
pub fn arrow_type(column: &ColumnSpec) -> DataType {
    if column.collection {
        return DataType::Utf8;
    }
    match column.fhir_type.as_deref() {
        Some("boolean") => DataType::Boolean,
        Some("integer" | "positiveInt" | "unsignedInt" | "integer64") => DataType::Int64,
        Some("decimal") => DataType::Decimal128(DECIMAL_PRECISION, DECIMAL_SCALE),
        Some("date") => DataType::Date32,
        Some("dateTime" | "instant") => {
            DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
        }
        _ => DataType::Utf8,
    }
}

enum Builder {
    Utf8(StringBuilder),
    Int64(Int64Builder),
    Decimal(Decimal128Builder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
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
                DataType::Decimal128(..) => Builder::Decimal(
                    Decimal128Builder::with_capacity(BATCH_ROWS)
                        .with_data_type(DataType::Decimal128(DECIMAL_PRECISION, DECIMAL_SCALE)),
                ),
                DataType::Date32 => Builder::Date(Date32Builder::with_capacity(BATCH_ROWS)),
                DataType::Timestamp(..) => Builder::Timestamp(
                    TimestampMicrosecondBuilder::with_capacity(BATCH_ROWS).with_timezone(UTC),
                ),
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
                    Builder::Decimal(b) => Arc::new(b.finish()),
                    Builder::Date(b) => Arc::new(b.finish()),
                    Builder::Timestamp(b) => Arc::new(b.finish()),
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
        "column {:?} is declared {ty} but a row has {value}, which its Parquet type cannot \
         hold exactly (declare the column `string` to keep the text)",
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

/// A decimal's exact text as an `i128` at [`DECIMAL_SCALE`], when it fits without loss.
pub fn decimal_units(text: &str) -> Option<i128> {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (negative, digits) = match mantissa.as_bytes().first()? {
        b'-' => (true, &mantissa[1..]),
        b'+' => (false, &mantissa[1..]),
        _ => (false, mantissa),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let all = format!("{int}{frac}");
    let mut kept = all.trim_start_matches('0');
    if kept.is_empty() {
        return Some(0);
    }
    // value = all digits × 10^(exponent − fractional digits); rescale to DECIMAL_SCALE.
    let mut shift = i64::from(DECIMAL_SCALE) + i64::from(exponent) - frac.len() as i64;
    // Dropping trailing zeros is exact; any other digit below the scale is not.
    while shift < 0 {
        kept = kept.strip_suffix('0')?;
        shift += 1;
    }
    let mut units: i128 = kept.parse().ok()?;
    for _ in 0..shift {
        units = units.checked_mul(10)?;
    }
    if units >= 10i128.pow(u32::from(DECIMAL_PRECISION)) {
        return None;
    }
    Some(if negative { -units } else { units })
}

fn decimal_of(v: &Value) -> Option<i128> {
    match v {
        Value::Number(n) => decimal_units(&n.to_string()),
        Value::String(s) => decimal_units(s),
        _ => None,
    }
}

/// A full date (`YYYY-MM-DD`) as days since 1970-01-01.
pub fn date_days(text: &str) -> Option<i32> {
    if text.len() != 10 {
        return None;
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((date - epoch).num_days()).ok()
}

/// A dateTime or instant with full precision (time of day to the second and a time zone) as
/// microseconds since the epoch in UTC; `None` for less precision or sub-microsecond digits.
pub fn timestamp_micros(text: &str) -> Option<i64> {
    let t = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    if t.timestamp_subsec_nanos() % 1000 != 0 {
        return None;
    }
    Some(t.timestamp_micros())
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
                Builder::Decimal(b) => match value {
                    Value::Null => b.append_null(),
                    v => b.append_value(decimal_of(v).ok_or_else(|| {
                        mismatch(
                            column,
                            v,
                            "decimal (at most 20 integer and 18 fractional digits)",
                        )
                    })?),
                },
                Builder::Date(b) => match value {
                    Value::Null => b.append_null(),
                    v => b.append_value(
                        v.as_str()
                            .and_then(date_days)
                            .ok_or_else(|| mismatch(column, v, "date (a full YYYY-MM-DD date)"))?,
                    ),
                },
                Builder::Timestamp(b) => match value {
                    Value::Null => b.append_null(),
                    v => {
                        b.append_value(v.as_str().and_then(timestamp_micros).ok_or_else(|| {
                            mismatch(
                                column,
                                v,
                                "dateTime (with time to the second and a time zone)",
                            )
                        })?)
                    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact_or_refused() {
        let e18 = 10i128.pow(18);
        let check =
            |text: &str, want: Option<i128>| assert_eq!(decimal_units(text), want, "{text}");
        check("0", Some(0));
        check("-0.0000000000000000000000", Some(0));
        check("1.50", Some(15 * e18 / 10));
        check("-0.000000000000000001", Some(-1));
        check(
            "123456789012345678.123456789012345678",
            Some(123456789012345678 * e18 + 123456789012345678),
        );
        check("1e3", Some(1000 * e18));
        check("1.5E-7", Some(15 * 10i128.pow(10)));
        check("2.0000000000000000000000", Some(2 * e18));
        check("0.0000000000000000001", None);
        check("100000000000000000000", None);
        check(
            "99999999999999999999.999999999999999999",
            Some(10i128.pow(38) - 1),
        );
        check("abc", None);
        check("", None);
        check(".", None);
        check("1.2.3", None);
    }

    #[test]
    fn dates_and_instants_need_full_precision() {
        assert_eq!(date_days("1970-01-02"), Some(1));
        assert_eq!(date_days("1969-12-31"), Some(-1));
        assert_eq!(date_days("2020-05"), None);
        assert_eq!(date_days("2020"), None);
        assert_eq!(date_days("2020-02-30"), None);
        assert_eq!(timestamp_micros("1970-01-01T00:00:01Z"), Some(1_000_000));
        assert_eq!(
            timestamp_micros("1970-01-01T02:00:00.5+02:00"),
            Some(500_000)
        );
        assert_eq!(timestamp_micros("2020-05-17"), None);
        assert_eq!(timestamp_micros("2020-05-17T10:00:00"), None);
        assert_eq!(timestamp_micros("2020-05-17T10:00:00.0000001Z"), None);
    }
}
