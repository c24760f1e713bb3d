//! SQL-on-FHIR v2 ViewDefinitions: compile a view once into a [`ViewPlan`], stream resources
//! from NDJSON or Bundle files through it, and write the rows as CSV, NDJSON, JSON or Parquet.
//!
//! ```text
//! ViewDefinition JSON ──ViewPlan::compile──▶ ViewPlan ──rows(resource)──▶ Row ──RowWriter──▶ file
//!                                               ▲
//!                     input::for_each_resource ─┘ (NDJSON lines, Bundle entries)
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod input;
pub mod output;
pub mod view;

use std::io::Write;
use std::path::PathBuf;

use serde_json::Value;

pub use output::{writer_for, Format, RowWriter};
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
    #[error("I/O error on {file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

impl ViewError {
    /// Adds the input position to an evaluation error, so users can find the resource.
    fn at_input(self, file: &str, line: usize) -> ViewError {
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

/// Counters of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunStats {
    pub files: usize,
    /// Resources read from the inputs, of any type.
    pub resources: u64,
    /// Resources of the view's type that passed its `where` paths.
    pub matched: u64,
    pub rows: u64,
}

/// Runs a view over NDJSON (`.ndjson`, `.jsonl`) and JSON (a Bundle or one resource) files,
/// streaming rows into `writer` and finishing it.
pub fn run_files(
    view: &Value,
    inputs: &[PathBuf],
    writer: Box<dyn RowWriter>,
) -> Result<RunStats, ViewError> {
    let plan = ViewPlan::compile(view)?;
    run_plan(&plan, inputs, writer)
}

/// [`run_files`] with an already compiled plan.
pub fn run_plan(
    plan: &ViewPlan,
    inputs: &[PathBuf],
    mut writer: Box<dyn RowWriter>,
) -> Result<RunStats, ViewError> {
    writer.start(plan.columns())?;
    let mut stats = RunStats::default();
    for path in inputs {
        stats.files += 1;
        input::for_each_resource(path, &mut |resource, file, line| {
            stats.resources += 1;
            let rows = &mut stats.rows;
            let matched = plan
                .for_each_row(&resource, &mut |row| {
                    *rows += 1;
                    writer.write_row(&row)
                })
                .map_err(|e| e.at_input(file, line))?;
            stats.matched += u64::from(matched);
            Ok(())
        })?;
    }
    writer.finish()?;
    Ok(stats)
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
