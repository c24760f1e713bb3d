//! `crosscare-bench`: end-to-end benchmarks of the `crosscare` binary.
//!
//! - `crosscare-bench load --url http://127.0.0.1:8080/fhir`: closed-loop HTTP load (reads and
//!   the search shapes of docs/benchmarks.md) against a running, loaded server;
//! - `crosscare-bench startup --binary target/release/crosscare --data DIR`: start-up time,
//!   idle memory and shutdown time;
//! - `crosscare-bench territory --patients 1000`: everything in one go — synth, a fresh server
//!   (embedded or `--database postgres://…`), import over HTTP, then the load scenarios;
//! - `crosscare-bench lab-overhead`: reads by id without a token and with a bearer token on one
//!   server, the cost of authentication and the lab's policy;
//! - `crosscare-bench ingest`: transaction ingest through the REST layer in process, against the
//!   ceiling, with a phase breakdown (docs/bench/ingest.md).
//!
//! See docs/benchmarks.md for the full procedure and the recorded figures.

mod ingest;
mod lab_overhead;
mod load;
mod sample;
mod server;
mod startup;
mod territory;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The allocator of the `crosscare` binary, so that the in-process benchmarks (`ingest`) measure
/// what the product runs, and the HTTP load generator spends less of the shared CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Closed-loop HTTP load against a running server that holds synthetic data.
    Load {
        /// FHIR base URL of the server under test.
        #[arg(long, default_value = "http://127.0.0.1:8080/fhir")]
        url: String,
        /// Concurrent connections.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Seconds per scenario.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Only scenarios whose name contains one of these words (comma-separated).
        #[arg(long)]
        only: Option<String>,
        /// Client worker threads (the load generator shares the machine with the server).
        #[arg(long, default_value_t = 1)]
        client_threads: usize,
    },
    /// Synthetic territory → fresh server → import over HTTP → read and search scenarios.
    Territory {
        /// The `crosscare` binary to measure.
        #[arg(long, default_value = "target/release/crosscare")]
        binary: PathBuf,
        #[arg(long, default_value_t = 100)]
        patients: usize,
        /// Working folder: `ndjson/` (the territory) and `data/` (the embedded store, recreated).
        #[arg(long, default_value = "target/bench-territory")]
        workdir: PathBuf,
        /// PostgreSQL URL of an empty database instead of the embedded store.
        #[arg(long)]
        database: Option<String>,
        #[arg(long, default_value_t = 18_182)]
        port: u16,
        /// Resources per import transaction.
        #[arg(long, default_value_t = 1000)]
        batch_size: usize,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Only scenarios whose name contains one of these words (comma-separated).
        #[arg(long)]
        only: Option<String>,
        #[arg(long, default_value_t = 1)]
        client_threads: usize,
    },
    /// Transaction ingest through the REST layer into a fresh SQLite store, against the ceiling.
    Ingest(ingest::IngestArgs),
    /// Reads by id without and with a bearer token on one server: the lab's overhead.
    LabOverhead(lab_overhead::OverheadArgs),
    /// Start-up time, idle memory and graceful shutdown of `crosscare serve`.
    Startup {
        /// The `crosscare` binary to measure.
        #[arg(long, default_value = "target/release/crosscare")]
        binary: PathBuf,
        /// Data folder to serve (a loaded one shows the cost of opening real data).
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value_t = 18_181)]
        port: u16,
        /// Seconds to stay idle before reading the resident set size.
        #[arg(long, default_value_t = 3)]
        idle_seconds: u64,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
}

fn main() -> anyhow::Result<()> {
    match Args::parse().command {
        Cmd::Ingest(args) => ingest::run(&args),
        Cmd::LabOverhead(args) => {
            println!("{}", lab_overhead::measure(&args)?);
            Ok(())
        }
        Cmd::Load {
            url,
            concurrency,
            seconds,
            only,
            client_threads,
        } => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(client_threads.max(1))
                .enable_all()
                .build()
                .context("runtime")?;
            let results = rt.block_on(load_all(&url, concurrency, seconds, only))?;
            println!("{}", load::markdown(&results));
            Ok(())
        }
        Cmd::Territory {
            binary,
            patients,
            workdir,
            database,
            port,
            batch_size,
            concurrency,
            seconds,
            only,
            client_threads,
        } => {
            let plan = territory::Plan {
                binary,
                workdir,
                patients,
                database,
                port,
                batch_size,
            };
            let (server, prepared) = territory::prepare(&plan)?;
            println!("{}", prepared.markdown(&plan));
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(client_threads.max(1))
                .enable_all()
                .build()
                .context("runtime")?;
            let results = rt.block_on(load_all(&server.base, concurrency, seconds, only))?;
            println!("{}", load::markdown(&results));
            drop(server);
            Ok(())
        }
        Cmd::Startup {
            binary,
            data,
            port,
            idle_seconds,
            runs,
        } => {
            let results = startup::measure(
                &binary,
                &data,
                port,
                Duration::from_secs(idle_seconds),
                runs,
            )?;
            println!("{}", startup::markdown(&results));
            Ok(())
        }
    }
}

async fn load_all(
    url: &str,
    concurrency: usize,
    seconds: u64,
    only: Option<String>,
) -> anyhow::Result<Vec<load::LoadResult>> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let scenarios = sample::scenarios(&client, url).await?;
    let filters: Vec<String> = only
        .map(|o| o.split(',').map(|s| s.trim().to_lowercase()).collect())
        .unwrap_or_default();
    let duration = Duration::from_secs(seconds);
    let mut results = Vec::new();
    for (name, urls) in scenarios {
        if !filters.is_empty() && !filters.iter().any(|f| name.to_lowercase().contains(f)) {
            continue;
        }
        eprintln!("running: {name} ({} distinct URLs)", urls.len());
        results.push(load::run(&name, &client, Arc::new(urls), concurrency, duration).await);
    }
    Ok(results)
}
