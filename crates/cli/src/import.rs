//! `crosscare import`: load NDJSON files or Bundles into a data folder or a running server.

use crate::progress::Bar;
use anyhow::Context;
use crosscare_ingest::{ImportOptions, ImportSummary};
use crosscare_store::{PartitionId, Store};
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// Load over HTTP into the FHIR server at this base URL (`http://127.0.0.1:8080/fhir`).
    #[arg(long, conflicts_with = "data")]
    pub server: Option<String>,
    /// Load offline into this data folder (the server must not be running on it).
    #[arg(long, env = "CROSSCARE_DATA")]
    pub data: Option<PathBuf>,
    /// Resources per transaction.
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// Resume record; kept after an interrupted run, removed after a complete one.
    /// Default: `import-checkpoint.json` in the data folder, or in the current folder with --server.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// With --server: a JSON file with `client_id` and `client_secret` (such as
    /// `<data>/lab/admin-credential.json`) to get access tokens with.
    #[arg(long, requires = "server")]
    pub credential: Option<PathBuf>,
    /// With --server: transaction Bundles on their way at once, so the server validates one
    /// while it writes another.
    #[arg(long, default_value_t = 2, requires = "server", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub in_flight: u16,
    /// NDJSON files, Bundle files, or folders of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    let summary = match &args.server {
        Some(url) => {
            let checkpoint = args
                .checkpoint
                .clone()
                .unwrap_or_else(|| PathBuf::from("import-checkpoint.json"));
            let options = ImportOptions {
                batch_size: args.batch_size,
                checkpoint: Some(checkpoint.clone()),
                credentials: args
                    .credential
                    .as_deref()
                    .map(read_credential)
                    .transpose()?,
                in_flight: usize::from(args.in_flight),
            };
            let bar = Bar::new("importing");
            let summary = crosscare_ingest::import_over_http(
                url.trim_end_matches('/'),
                &args.paths,
                &options,
                &bar,
            )?;
            bar.finish();
            remove_checkpoint(&checkpoint);
            summary
        }
        None => {
            let data = args
                .data
                .clone()
                .unwrap_or_else(|| PathBuf::from("./crosscare-data"));
            let checkpoint = args
                .checkpoint
                .clone()
                .unwrap_or_else(|| data.join("import-checkpoint.json"));
            offline(&data, &args.paths, args.batch_size, &checkpoint)?
        }
    };
    println!("{}", summary.render());
    if !summary.rejected.is_empty() {
        anyhow::bail!(
            "{} resource(s) were rejected (listed above); the others were loaded",
            summary.rejected.len()
        );
    }
    Ok(())
}

/// Offline import into a data folder, with a progress bar and a resume checkpoint.
pub fn offline(
    data: &std::path::Path,
    paths: &[PathBuf],
    batch_size: usize,
    checkpoint: &std::path::Path,
) -> anyhow::Result<ImportSummary> {
    offline_into(
        data,
        &PartitionId::default_partition(),
        paths,
        batch_size,
        checkpoint,
    )
}

/// Offline import into one partition of a data folder (a lab workspace's, for the demo).
pub fn offline_into(
    data: &std::path::Path,
    partition: &PartitionId,
    paths: &[PathBuf],
    batch_size: usize,
    checkpoint: &std::path::Path,
) -> anyhow::Result<ImportSummary> {
    let store = crate::serve::open_store(data)?;
    let options = ImportOptions {
        batch_size,
        checkpoint: Some(checkpoint.to_path_buf()),
        ..ImportOptions::default()
    };
    let bar = Bar::new("importing");
    let result = crosscare_ingest::import_into_store(&*store, partition, paths, &options, &bar);
    bar.finish();
    store.close().context("closing the store")?;
    let summary = result?;
    remove_checkpoint(checkpoint);
    Ok(summary)
}

fn remove_checkpoint(path: &std::path::Path) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), "cannot remove the import checkpoint: {e}");
        }
    }
}

/// Reads `client_id` and `client_secret` from a JSON credential file.
fn read_credential(path: &std::path::Path) -> anyhow::Result<crosscare_ingest::ClientCredentials> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("reading the credential {}", path.display()))?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not JSON", path.display()))?;
    match (v["client_id"].as_str(), v["client_secret"].as_str()) {
        (Some(id), Some(secret)) => Ok(crosscare_ingest::ClientCredentials {
            client_id: id.to_string(),
            client_secret: secret.to_string(),
        }),
        _ => anyhow::bail!(
            "{} needs the fields client_id and client_secret",
            path.display()
        ),
    }
}
