//! The `crosscare` binary: argument parsing and wiring only; every behaviour lives in the
//! library crates.

mod fhirpath;
mod logging;
mod serve;

use clap::{Parser, Subcommand};

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
    /// Evaluate a FHIRPath expression over a resource.
    Fhirpath(fhirpath::FhirpathArgs),
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
        Command::Fhirpath(args) => fhirpath::run(args),
    }
}
