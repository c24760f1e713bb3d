//! `crosscare fhirpath`: evaluate an expression over a resource from a file or standard input.

use anyhow::Context;
use std::io::Read;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct FhirpathArgs {
    /// Resource JSON file; standard input when absent.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Print each result as {"type": …, "value": …}.
    #[arg(long)]
    pub typed: bool,
    /// The FHIRPath expression.
    pub expression: String,
}

pub fn run(args: FhirpathArgs) -> anyhow::Result<()> {
    let text = match &args.input {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        }
        None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading standard input")?;
            s
        }
    };
    let out = crosscare_fhirpath::cli::run(&text, &args.expression, args.typed)?;
    println!("{out}");
    Ok(())
}
