//! The `crosscare` binary: argument parsing and wiring only; every behaviour lives in the
//! library crates.

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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    match cli.command {
        Command::Serve(args) => serve::run(args),
    }
}
