//! The whole benchmark in one command: generate a synthetic territory with `crosscare synth`,
//! start `crosscare serve` on a fresh store (embedded, or PostgreSQL with `--database`), load the
//! territory over HTTP with `crosscare import --server` (transactions of 1,000 resources, with
//! validation and every search index), then run the read and search scenarios against it.

use crate::server::Server;
use crate::startup::memory_kib;
use anyhow::Context;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What `territory` was asked to do.
#[derive(Debug, Clone)]
pub struct Plan {
    pub binary: PathBuf,
    pub workdir: PathBuf,
    pub patients: usize,
    pub database: Option<String>,
    pub port: u16,
    pub batch_size: usize,
}

/// The figures of the preparation steps; the load scenarios are reported by `load`.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub resources: u64,
    pub synth: Duration,
    pub import: Duration,
    pub server_rss_after_import_kib: Option<u64>,
    pub server_peak_kib: Option<u64>,
}

impl Prepared {
    pub fn markdown(&self, plan: &Plan) -> String {
        let rate = |d: Duration| self.resources as f64 / d.as_secs_f64().max(1e-9);
        let mib = |k: Option<u64>| k.map_or("n/a".into(), |k| format!("{:.0}", k as f64 / 1024.0));
        format!(
            "| step | seconds | resources/s |\n|---|---:|---:|\n\
             | synth {} patients → {} resources | {:.1} | {:.0} |\n\
             | import over HTTP ({} per transaction, {}) | {:.1} | {:.0} |\n\n\
             Server memory after the import: RSS {} MiB, peak {} MiB.\n",
            plan.patients,
            self.resources,
            self.synth.as_secs_f64(),
            rate(self.synth),
            plan.batch_size,
            if plan.database.is_some() {
                "PostgreSQL"
            } else {
                "embedded SQLite"
            },
            self.import.as_secs_f64(),
            rate(self.import),
            mib(self.server_rss_after_import_kib),
            mib(self.server_peak_kib),
        )
    }
}

/// Starts `crosscare serve` on the plan's store: the embedded one in `workdir/data`, or
/// PostgreSQL.
fn start_server(plan: &Plan) -> anyhow::Result<Server> {
    let store_args = match &plan.database {
        Some(url) => [OsString::from("--database"), OsString::from(url)],
        None => [
            OsString::from("--data"),
            plan.workdir.join("data").into_os_string(),
        ],
    };
    Server::start(
        &plan.binary,
        plan.port,
        &store_args,
        Duration::from_secs(60),
    )
}

/// Generates the territory and loads it into a freshly started server, which is returned
/// running so that the load scenarios can use it.
pub fn prepare(plan: &Plan) -> anyhow::Result<(Server, Prepared)> {
    let ndjson = plan.workdir.join("ndjson");
    let data = plan.workdir.join("data");
    if data.exists() {
        std::fs::remove_dir_all(&data).with_context(|| format!("clearing {}", data.display()))?;
    }
    std::fs::create_dir_all(&plan.workdir)?;

    let t = Instant::now();
    run(Command::new(&plan.binary)
        .arg("synth")
        .arg("--patients")
        .arg(plan.patients.to_string())
        .arg("--out")
        .arg(&ndjson))?;
    let synth = t.elapsed();
    let resources = count_lines(&ndjson)?;

    let server = start_server(plan)?;
    let t = Instant::now();
    run(Command::new(&plan.binary)
        .arg("import")
        .arg("--server")
        .arg(&server.base)
        .arg("--batch-size")
        .arg(plan.batch_size.to_string())
        .arg("--checkpoint")
        .arg(plan.workdir.join("import-checkpoint.json"))
        .arg(&ndjson))?;
    let import = t.elapsed();
    let (rss, peak) = server.pid().map_or((None, None), memory_kib);
    Ok((
        server,
        Prepared {
            resources,
            synth,
            import,
            server_rss_after_import_kib: rss,
            server_peak_kib: peak,
        },
    ))
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("running {cmd:?}"))?;
    anyhow::ensure!(status.success(), "{cmd:?} failed: {status}");
    Ok(())
}

/// Resources in the NDJSON files of a folder (one per non-empty line).
fn count_lines(dir: &Path) -> anyhow::Result<u64> {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "ndjson") {
            let text = std::fs::read(&path)?;
            n += text
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .count() as u64;
        }
    }
    Ok(n)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn counts_resources_in_ndjson_files_only() {
        let dir = std::env::temp_dir().join(format!("cc-bench-count-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("Patient.ndjson"), "{}\n{}\n\n{}").unwrap();
        std::fs::write(dir.join("notes.txt"), "a\nb\n").unwrap();
        assert_eq!(count_lines(&dir).unwrap(), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
