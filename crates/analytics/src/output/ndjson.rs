//! NDJSON output: one JSON object per row, keys in column order, one row per line.

use std::io::Write;

use super::{encoded_keys, io_error, write_object, RowWriter};
use crate::{ColumnSpec, Row, ViewError};

pub struct NdjsonWriter {
    out: Box<dyn Write + Send>,
    keys: Vec<String>,
}

impl NdjsonWriter {
    pub fn new(out: Box<dyn Write + Send>) -> NdjsonWriter {
        NdjsonWriter {
            out,
            keys: Vec::new(),
        }
    }
}

impl RowWriter for NdjsonWriter {
    fn start(&mut self, columns: &[ColumnSpec]) -> Result<(), ViewError> {
        self.keys = encoded_keys(columns);
        Ok(())
    }

    fn write_row(&mut self, row: &Row) -> Result<(), ViewError> {
        write_object(&mut self.out, &self.keys, row)?;
        self.out.write_all(b"\n").map_err(io_error)
    }

    fn finish(mut self: Box<Self>) -> Result<(), ViewError> {
        self.out.flush().map_err(io_error)
    }
}
