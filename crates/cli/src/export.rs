//! `crosscare export`: Bulk Data export of a data folder without a server, with the writer of
//! the HTTP `$export` (same files, same manifest shape).

use anyhow::Context;
use crosscare_analytics::bulk::request::format_instant;
use crosscare_analytics::bulk::{
    export_all, ExportControl, ExportRequest, Limits, OutputFile, Position, TypeFilter,
};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// Data folder of the embedded store.
    #[arg(long, env = "CROSSCARE_DATA", default_value = "./crosscare-data")]
    pub data: PathBuf,
    /// Output folder (created; must be empty if it exists).
    #[arg(long)]
    pub out: PathBuf,
    /// Resource types to export (comma-separated or repeated); all when absent.
    #[arg(long = "type", value_delimiter = ',')]
    pub types: Vec<String>,
    /// Only resources written after this FHIR instant (`2024-01-31T00:00:00Z`).
    #[arg(long)]
    pub since: Option<String>,
    /// `Type?search` filters, as `_typeFilter` (repeatable).
    #[arg(long = "type-filter")]
    pub type_filters: Vec<String>,
    /// Most resources in one file; larger types are split.
    #[arg(long, default_value_t = Limits::default().max_per_file)]
    pub max_resources_per_file: u64,
}

/// Prints progress on one line and collects the files.
struct Cli {
    files: Vec<OutputFile>,
    started: Instant,
    last_report: Instant,
}

impl ExportControl for Cli {
    fn checkpoint(
        &mut self,
        file: Option<&OutputFile>,
        _next: &Position,
    ) -> Result<(), crosscare_analytics::bulk::BulkError> {
        if let Some(f) = file {
            self.files.push(f.clone());
        }
        Ok(())
    }

    fn progress(&mut self, written: u64, resource_type: &str) {
        if self.last_report.elapsed().as_secs() >= 2 {
            self.last_report = Instant::now();
            let secs = self.started.elapsed().as_secs_f64();
            eprintln!(
                "{written} resources ({:.0}/s), now {resource_type}",
                written as f64 / secs.max(1e-9)
            );
        }
    }
}

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let mut request = ExportRequest::system();
    request.types = args.types;
    request.since = args.since;
    for f in &args.type_filters {
        request.type_filters.push(TypeFilter::parse(f)?);
    }
    request.validate()?;
    if args.out.exists()
        && std::fs::read_dir(&args.out)
            .with_context(|| format!("reading {}", args.out.display()))?
            .next()
            .is_some()
    {
        anyhow::bail!("{} is not empty", args.out.display());
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let store = crate::serve::open_store(&args.data)?;
    let until = chrono::Utc::now();
    let started = Instant::now();
    let mut control = Cli {
        files: Vec::new(),
        started,
        last_report: started,
    };
    let limits = Limits {
        max_per_file: args.max_resources_per_file.max(1),
        ..Limits::default()
    };
    export_all(
        store.as_ref(),
        &request,
        until,
        &args.out,
        limits,
        &Position::default(),
        &mut control,
    )?;
    let secs = started.elapsed().as_secs_f64();
    let total: u64 = control.files.iter().map(|f| f.count).sum();
    let manifest = serde_json::json!({
        "transactionTime": format_instant(&until),
        "request": "crosscare export",
        "requiresAccessToken": false,
        "output": control.files.iter().map(|f| serde_json::json!({
            "type": f.resource_type, "url": f.file, "count": f.count,
        })).collect::<Vec<_>>(),
        "error": [],
    });
    let path = args.out.join("manifest.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest)?)
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "{total} resources in {} files in {secs:.2} s ({:.0} resources/s); manifest: {}",
        control.files.len(),
        total as f64 / secs.max(1e-9),
        path.display()
    );
    crosscare_store::Store::close(store.as_ref())?;
    Ok(())
}
