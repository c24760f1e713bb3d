//! `crosscare-bench`: end-to-end benchmarks against a running CrossCare server.
//!
//! Usage: `cargo run --release -p crosscare-bench -- --url http://127.0.0.1:8080/fhir`
//! with a server already loaded (see docs/benchmarks.md for the full procedure), and
//! `cargo run --release -p crosscare-bench -- ingest` for the in-process ingest benchmark
//! (docs/bench/ingest.md).

mod ingest;
mod load;

use anyhow::Context;
use clap::Parser;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Parser)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// FHIR base URL of the server under test.
    #[arg(long, default_value = "http://127.0.0.1:8080/fhir")]
    url: String,
    /// Concurrent connections.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds per scenario.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Transaction ingest through the REST layer into a fresh SQLite store, against the ceiling.
    Ingest(ingest::IngestArgs),
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(Command::Ingest(ingest_args)) = &args.command {
        return ingest::run(ingest_args);
    }
    let rt = tokio::runtime::Runtime::new().context("runtime")?;
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(args.concurrency)
            .build()?;
        let ids = sample_ids(&client, &args.url, "Patient", 200).await?;
        let reads: Vec<String> = ids
            .iter()
            .map(|id| format!("{}/Patient/{id}", args.url))
            .collect();
        let duration = Duration::from_secs(args.seconds);
        let results = vec![
            load::run(
                "read Patient by id",
                &client,
                Arc::new(reads),
                args.concurrency,
                duration,
            )
            .await,
        ];
        println!("{}", load::markdown(&results));
        anyhow::Ok(())
    })
}

/// Ids of up to `n` resources of a type, from a search.
async fn sample_ids(
    client: &reqwest::Client,
    base: &str,
    ty: &str,
    n: usize,
) -> anyhow::Result<Vec<String>> {
    let bundle: serde_json::Value = client
        .get(format!("{base}/{ty}?_count={n}&_elements=id"))
        .send()
        .await?
        .json()
        .await?;
    let ids = bundle["entry"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| e["resource"]["id"].as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    anyhow::ensure!(!ids.is_empty(), "no {ty} found at {base}: load data first");
    Ok(ids)
}
