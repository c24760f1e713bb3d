//! SQL-on-FHIR v2 ViewDefinitions: compile a view once into a [`ViewPlan`], stream resources
//! from NDJSON or Bundle files through it, and write the rows as CSV, NDJSON, JSON or Parquet.
//!
//! ```text
//! ViewDefinition JSON ──ViewPlan::compile──▶ ViewPlan ──rows(resource)──▶ Row ──RowWriter──▶ file
//!                                               ▲
//!                     input::for_each_resource ─┘ (NDJSON lines, Bundle entries)
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod bulk;
pub mod input;
pub mod output;
mod run;
mod store_run;
pub mod view;

pub use output::{writer_for, Format, RowWriter};
pub use run::{run_files, run_plan, RunStats};
use std::io::Write;
pub use store_run::run_store;
pub use view::definition::ViewDefinition;
pub use view::eval::Row;
pub use view::plan::{ColumnSpec, ViewPlan};

/// Everything that can go wrong compiling a view, reading input, evaluating or writing rows.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ViewError {
    /// The ViewDefinition breaks a structural rule of the specification.
    #[error("invalid ViewDefinition at {at}: {message}")]
    Definition { at: String, message: String },
    /// A path in the ViewDefinition does not compile or breaks a typing rule.
    #[error("invalid path {path:?} at {at}: {message}")]
    Path {
        at: String,
        path: String,
        message: String,
    },
    /// Evaluating a path on a resource failed (type error, several values for a column, ...).
    #[error("evaluating {path:?}: {message}")]
    Evaluation { path: String, message: String },
    /// An input line or document could not be read.
    #[error("{file}:{line}: {message}")]
    Input {
        file: String,
        line: usize,
        message: String,
    },
    /// Writing the output failed.
    #[error("writing output: {0}")]
    Output(String),
    /// Reading resources from the store failed.
    #[error("reading the store: {0}")]
    Store(#[from] crosscare_store::StoreError),
    #[error("I/O error on {file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

impl ViewError {
    /// Adds the input position to an evaluation error, so users can find the resource.
    pub(crate) fn at_input(self, file: &str, line: usize) -> ViewError {
        match self {
            ViewError::Evaluation { path, message } => ViewError::Input {
                file: file.to_string(),
                line,
                message: format!("evaluating {path:?}: {message}"),
            },
            other => other,
        }
    }
}

/// Opens `path` for writing, or standard output for `None`, as a writer output.
pub fn open_output(path: Option<&std::path::Path>) -> Result<Box<dyn Write + Send>, ViewError> {
    match path {
        None => Ok(Box::new(std::io::stdout())),
        Some(p) => {
            let f = std::fs::File::create(p).map_err(|source| ViewError::Io {
                file: p.display().to_string(),
                source,
            })?;
            Ok(Box::new(std::io::BufWriter::with_capacity(1 << 16, f)))
        }
    }
}
