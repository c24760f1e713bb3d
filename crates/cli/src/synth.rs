//! `crosscare synth`: write the synthetic cross-border population to a folder.

use anyhow::Context;
use crosscare_synth::{OutputFormat, SynthConfig};
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct SynthArgs {
    /// Number of patients (about 1,000 resources each at volume 1).
    #[arg(long, default_value_t = 100)]
    pub patients: usize,
    /// Seed: the same seed gives the same bytes.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output folder (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// `ndjson`: one file per resource type; `bundles`: one transaction Bundle per patient.
    #[arg(long, value_enum, default_value = "ndjson")]
    pub format: Format,
    /// Scale of care per patient (1.0 ≈ 1,000 resources per patient).
    #[arg(long, default_value_t = 1.0)]
    pub volume: f64,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Ndjson,
    Bundles,
}

pub fn config(patients: usize, seed: u64, volume: f64) -> SynthConfig {
    SynthConfig {
        patients,
        seed,
        volume,
        ..SynthConfig::default()
    }
}

pub fn run(args: SynthArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let format = match args.format {
        Format::Ndjson => OutputFormat::Ndjson,
        Format::Bundles => OutputFormat::Bundles,
    };
    let stats = crosscare_synth::write_to_dir(
        &config(args.patients, args.seed, args.volume),
        &args.out,
        format,
    )
    .with_context(|| format!("writing the synthetic population to {}", args.out.display()))?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "wrote {} resources for {} patients to {} in {:.1} s ({:.0} resources/s)",
        stats.resources,
        stats.patients,
        args.out.display(),
        secs,
        stats.resources as f64 / secs.max(1e-9)
    );
    for (ty, n) in &stats.by_type {
        println!("  {ty:<22} {n:>9}");
    }
    Ok(())
}
