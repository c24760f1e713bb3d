//! JSON output: a single array of row objects, streamed element by element.

use std::io::Write;

use super::{encoded_keys, io_error, write_object, RowWriter};
use crate::{ColumnSpec, Row, ViewError};

pub struct JsonWriter {
    out: Box<dyn Write + Send>,
    keys: Vec<String>,
    rows: u64,
}

impl JsonWriter {
    pub fn new(out: Box<dyn Write + Send>) -> JsonWriter {
        JsonWriter {
            out,
            keys: Vec::new(),
            rows: 0,
        }
    }
}

impl RowWriter for JsonWriter {
    fn start(&mut self, columns: &[ColumnSpec]) -> Result<(), ViewError> {
        self.keys = encoded_keys(columns);
        self.out.write_all(b"[").map_err(io_error)
    }

    fn write_row(&mut self, row: &Row) -> Result<(), ViewError> {
        let sep: &[u8] = if self.rows == 0 { b"\n" } else { b",\n" };
        self.out.write_all(sep).map_err(io_error)?;
        self.rows += 1;
        write_object(&mut self.out, &self.keys, row)
    }

    fn finish(mut self: Box<Self>) -> Result<(), ViewError> {
        let end: &[u8] = if self.rows == 0 { b"]\n" } else { b"\n]\n" };
        self.out.write_all(end).map_err(io_error)?;
        self.out.flush().map_err(io_error)
    }
}
