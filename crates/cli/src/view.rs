//! `crosscare view run`: run a SQL-on-FHIR v2 ViewDefinition over NDJSON files or Bundles.

use anyhow::Context;
use std::path::PathBuf;

#[derive(Debug, clap::Subcommand)]
pub enum ViewCommand {
    /// Run a ViewDefinition and write its rows.
    Run(ViewRunArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct ViewRunArgs {
    /// The ViewDefinition (JSON).
    pub view: PathBuf,
    /// NDJSON files, Bundles, single resources, or folders of them.
    #[arg(long, required = true, num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// csv, ndjson, json or parquet.
    #[arg(long, default_value = "csv")]
    pub format: crosscare_analytics::Format,
    /// Output file; standard output when absent.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(command: ViewCommand) -> anyhow::Result<()> {
    let ViewCommand::Run(args) = command;
    let text = std::fs::read_to_string(&args.view)
        .with_context(|| format!("reading {}", args.view.display()))?;
    let view: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON", args.view.display()))?;
    // Folders stand for the NDJSON and JSON files inside them, as for `import`.
    let inputs = crosscare_ingest::input_files(&args.input)?;
    let out = crosscare_analytics::open_output(args.out.as_deref())?;
    let stats = crosscare_analytics::run_files(
        &view,
        &inputs,
        crosscare_analytics::writer_for(args.format, out),
    )?;
    eprintln!(
        "{} rows from {} resources ({} files)",
        stats.rows, stats.resources, stats.files
    );
    Ok(())
}
