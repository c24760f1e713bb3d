//! `crosscare migrate`: bring a PostgreSQL database's schema up to date.

use anyhow::Context;

#[derive(Debug, Clone, clap::Args)]
pub struct MigrateArgs {
    /// PostgreSQL URL (`postgres://user@host/db`).
    #[arg(long, env = "CROSSCARE_DATABASE_URL")]
    pub database: String,
}

pub fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let report =
        crosscare_store_postgres::migrate(&args.database).context("migrating the database")?;
    if report.from == report.to {
        println!("schema already at version {}", report.to);
    } else {
        println!(
            "schema migrated from version {} to {}",
            report.from, report.to
        );
    }
    Ok(())
}
