//! RFC 4180 CSV: a header line of column names, CRLF line ends, fields quoted when they hold
//! a comma, quote, CR or LF; nulls are empty fields, arrays and objects their JSON text.

use std::io::Write;

use serde_json::Value;

use super::{io_error, RowWriter};
use crate::{ColumnSpec, Row, ViewError};

pub struct CsvWriter {
    out: Box<dyn Write + Send>,
    field: String,
}

impl CsvWriter {
    pub fn new(out: Box<dyn Write + Send>) -> CsvWriter {
        CsvWriter {
            out,
            field: String::new(),
        }
    }

    fn line<'v>(&mut self, fields: impl Iterator<Item = FieldText<'v>>) -> Result<(), ViewError> {
        for (i, f) in fields.enumerate() {
            if i > 0 {
                self.out.write_all(b",").map_err(io_error)?;
            }
            let text = match f {
                FieldText::Str(s) => s,
                FieldText::Value(v) => {
                    self.field.clear();
                    field_text(v, &mut self.field);
                    self.field.as_str()
                }
            };
            write_field(&mut self.out, text)?;
        }
        self.out.write_all(b"\r\n").map_err(io_error)
    }
}

enum FieldText<'v> {
    Str(&'v str),
    Value(&'v Value),
}

/// The text of one value: strings as they are, other scalars in JSON form, null empty.
pub fn field_text(v: &Value, out: &mut String) {
    match v {
        Value::Null => {}
        Value::String(s) => out.push_str(s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        other => out.push_str(&other.to_string()),
    }
}

/// Writes one field, quoted only when RFC 4180 requires it.
pub fn write_field(out: &mut dyn Write, text: &str) -> Result<(), ViewError> {
    if text.contains([',', '"', '\r', '\n']) {
        out.write_all(b"\"").map_err(io_error)?;
        out.write_all(text.replace('"', "\"\"").as_bytes())
            .map_err(io_error)?;
        out.write_all(b"\"").map_err(io_error)
    } else {
        out.write_all(text.as_bytes()).map_err(io_error)
    }
}

impl RowWriter for CsvWriter {
    fn start(&mut self, columns: &[ColumnSpec]) -> Result<(), ViewError> {
        self.line(columns.iter().map(|c| FieldText::Str(&c.name)))
    }

    fn write_row(&mut self, row: &Row) -> Result<(), ViewError> {
        self.line(row.values.iter().map(FieldText::Value))
    }

    fn finish(mut self: Box<Self>) -> Result<(), ViewError> {
        self.out.flush().map_err(io_error)
    }
}

/// Splits CSV text back into records (used by the round-trip tests and tools).
pub fn parse(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                any = false;
            }
            c => field.push(c),
        }
    }
    if any {
        record.push(field);
        records.push(record);
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(value: Value, expected: &str) {
        let mut s = String::new();
        field_text(&value, &mut s);
        let mut out = Vec::new();
        write_field(&mut out, &s).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn fields() {
        check(Value::Null, "");
        check(serde_json::json!("plain"), "plain");
        check(serde_json::json!("a,b"), "\"a,b\"");
        check(serde_json::json!("say \"hi\""), "\"say \"\"hi\"\"\"");
        check(serde_json::json!("two\nlines"), "\"two\nlines\"");
        check(serde_json::json!(true), "true");
        check(serde_json::from_str("1.50").unwrap(), "1.50");
        check(serde_json::json!(["a", "b"]), "\"[\"\"a\"\",\"\"b\"\"]\"");
    }

    proptest! {
        #[test]
        fn escaping_round_trips(rows in proptest::collection::vec(proptest::collection::vec("[a-z,\"\r\n é]{0,10}", 1..5), 1..5)) {
            let mut out = Vec::new();
            for r in &rows {
                for (i, f) in r.iter().enumerate() {
                    if i > 0 { out.push(b','); }
                    write_field(&mut out, f).unwrap();
                }
                out.extend_from_slice(b"\r\n");
            }
            let parsed = parse(&String::from_utf8(out).unwrap());
            prop_assert_eq!(parsed, rows);
        }
    }
}
