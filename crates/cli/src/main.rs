//! The `crosscare` binary: argument parsing and wiring only; every behaviour lives in the
//! library crates.

mod admin;
mod demo;
mod export;
mod fhirpath;
mod import;
mod logging;
mod migrate;
mod progress;
mod serve;
mod synth;
mod view;

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: a read request allocates a few hundred small
/// objects across tokio worker threads, and glibc malloc/free took a fifth of the server's CPU
/// time under a read load (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "crosscare",
    version,
    about = "CrossCare: a sovereign FHIR R4 server and cross-border health-data lab"
)]
struct Cli {
    /// Log output: `text` for people, `json` for log collectors.
    #[arg(
        long,
        env = "CROSSCARE_LOG_FORMAT",
        default_value = "text",
        global = true
    )]
    log_format: logging::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the FHIR API.
    Serve(serve::ServeArgs),
    /// Generate, load and serve the synthetic territory (first run), then serve it.
    Demo(demo::DemoArgs),
    /// Write a deterministic synthetic population of Moselle-Est and Saarland.
    Synth(synth::SynthArgs),
    /// Load NDJSON files or Bundles into a data folder or a running server.
    Import(import::ImportArgs),
    /// Bulk Data export of a data folder into NDJSON files (no server needed).
    Export(export::ExportArgs),
    /// Evaluate a FHIRPath expression over a resource.
    Fhirpath(fhirpath::FhirpathArgs),
    /// SQL-on-FHIR v2 views.
    #[command(subcommand)]
    View(view::ViewCommand),
    /// Apply the PostgreSQL schema migrations.
    Migrate(migrate::MigrateArgs),
    /// Lab administration on a data folder: workspaces, clients, signing key.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// The audit trail.
    #[command(subcommand)]
    Audit(admin::AuditCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    match run(cli.command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One readable message (with its causes), never a backtrace.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => serve::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Synth(args) => synth::run(args),
        Command::Import(args) => import::run(args),
        Command::Export(args) => export::run(args),
        Command::Fhirpath(args) => fhirpath::run(args),
        Command::View(command) => view::run(command),
        Command::Migrate(args) => migrate::run(args),
        Command::Admin(command) => admin::run(command),
        Command::Audit(command) => admin::audit(command),
    }
}
