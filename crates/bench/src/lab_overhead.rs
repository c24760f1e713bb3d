//! `crosscare-bench lab-overhead`: what authentication, the policy and the audit trail cost on
//! reads by id.
//!
//! One synthetic territory; an integration workspace client allowed `system/*.rs` is
//! registered with `crosscare admin` on its data folder. The same read-by-id URLs are then run
//! without a token (served unrestricted) and with the client's bearer token (token verified,
//! client and workspace looked up, policy decided), alternating rounds so that drift on a
//! shared machine hits both, on two servers one after the other:
//! - **audited** (`crosscare serve --insecure-no-auth --lab-rate-limit 0`): the server audits
//!   requests without a token too, so the difference is authentication and authorisation
//!   (and the bearer request's larger record);
//! - **unaudited baseline** (the same with `--insecure-no-audit-without-token`): requests
//!   without a token are neither authenticated nor audited, so the difference is everything
//!   the lab adds to a read.
//!
//! Besides throughput, each round reports the server process's CPU time per request
//! (`/proc/<pid>/stat`), which other people's load on a shared machine distorts far less.

use crate::load::{self, LoadResult};
use crate::server::Server;
use anyhow::Context;
use serde_json::Value;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, clap::Args)]
pub struct OverheadArgs {
    /// The `crosscare` binary to measure.
    #[arg(long, default_value = "target/release/crosscare")]
    pub binary: PathBuf,
    #[arg(long, default_value_t = 20)]
    pub patients: usize,
    /// Working folder: `ndjson/` and `data/` (recreated).
    #[arg(long, default_value = "target/bench-lab-overhead")]
    pub workdir: PathBuf,
    #[arg(long, default_value_t = 18_183)]
    pub port: u16,
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Seconds per round.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Rounds per mode (alternating).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    #[arg(long, default_value_t = 1)]
    pub client_threads: usize,
}

fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd
        .stderr(Stdio::null())
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    anyhow::ensure!(out.status.success(), "{cmd:?} failed: {}", out.status);
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn measure(args: &OverheadArgs) -> anyhow::Result<String> {
    let ndjson = args.workdir.join("ndjson");
    let data = args.workdir.join("data");
    for dir in [&ndjson, &data] {
        if dir.exists() {
            std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
    }
    std::fs::create_dir_all(&args.workdir)?;
    run(Command::new(&args.binary)
        .args(["synth", "--patients", &args.patients.to_string(), "--out"])
        .arg(&ndjson))?;
    let store_args = [
        OsString::from("--data"),
        data.clone().into_os_string(),
        OsString::from("--lab-rate-limit"),
        OsString::from("0"),
    ];
    let server = Server::start(
        &args.binary,
        args.port,
        &store_args,
        Duration::from_secs(60),
    )?;
    run(Command::new(&args.binary)
        .args(["import", "--server", &server.base])
        .arg(&ndjson))?;
    let data_arg = data.as_os_str();
    run(Command::new(&args.binary)
        .args([
            "admin",
            "workspace",
            "create",
            "--id",
            "bench",
            "--class",
            "integration",
        ])
        .args([
            "--organisation",
            "bench",
            "--purpose",
            "overhead",
            "--owner",
            "bench",
        ])
        .arg("--data")
        .arg(data_arg))?;
    let created = run(Command::new(&args.binary)
        .args([
            "admin",
            "client",
            "create",
            "--workspace",
            "bench",
            "--scope",
            "system/*.rs",
        ])
        .arg("--data")
        .arg(data_arg))?;
    let client: Value = serde_json::from_str(created.trim()).context("the client JSON")?;
    let (id, secret) = (
        client["client_id"].as_str().unwrap_or_default(),
        client["client_secret"].as_str().unwrap_or_default(),
    );
    drop(server);

    let mut report = String::new();
    let mut summary = String::new();
    for (label, extra) in [
        ("audited server", None),
        (
            "unaudited baseline",
            Some("--insecure-no-audit-without-token"),
        ),
    ] {
        let mut server_args = store_args.to_vec();
        server_args.extend(extra.map(OsString::from));
        let server = Server::start(
            &args.binary,
            args.port,
            &server_args,
            Duration::from_secs(60),
        )?;
        let rounds = phase(args, &server, id, secret)?;
        drop(server);
        let (r0, c0) = totals(&rounds, false);
        let (r1, c1) = totals(&rounds, true);
        report.push_str(&format!("### {label}\n\n{}\n", table(&rounds)));
        summary.push_str(&format!(
            "{label}: {r0:.0} reads/s without a token ({c0:.0} µs server CPU per read), {r1:.0} \
             reads/s with a bearer token ({c1:.0} µs): overhead {:.1} % of read throughput, \
             {:.1} % of CPU per read.\n",
            (1.0 - r1 / r0.max(1e-9)) * 100.0,
            (c1 / c0.max(1e-9) - 1.0) * 100.0,
        ));
    }
    Ok(format!("{report}All rounds:\n{summary}"))
}

/// One measured round and the server's CPU time during it.
struct Round {
    load: LoadResult,
    bearer: bool,
    cpu: Option<Duration>,
}

/// Throughput of all rounds of one mode together, and server CPU µs per request.
fn totals(rounds: &[Round], bearer: bool) -> (f64, f64) {
    let (mut n, mut secs, mut cpu) = (0u64, 0.0, 0.0);
    for r in rounds.iter().filter(|r| r.bearer == bearer) {
        n += r.load.requests;
        secs += r.load.elapsed.as_secs_f64();
        cpu += r.cpu.map_or(f64::NAN, |c| c.as_secs_f64());
    }
    let n = n.max(1) as f64;
    (n / secs.max(1e-9), cpu * 1e6 / n)
}

fn table(rounds: &[Round]) -> String {
    let mut out = String::from(
        "| scenario | requests/s | p50 ms | p99 ms | errors | server CPU µs/request |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for r in rounds {
        let cpu = r.cpu.map_or(f64::NAN, |c| {
            c.as_secs_f64() * 1e6 / r.load.requests.max(1) as f64
        });
        out.push_str(&format!(
            "| {} | {:.0} | {:.2} | {:.2} | {} | {cpu:.1} |\n",
            r.load.name,
            r.load.throughput(),
            r.load.percentile_ms(0.50),
            r.load.percentile_ms(0.99),
            r.load.errors,
        ));
    }
    out
}

/// Warm-up, then the alternating rounds against one running server.
fn phase(
    args: &OverheadArgs,
    server: &Server,
    id: &str,
    secret: &str,
) -> anyhow::Result<Vec<Round>> {
    let origin = server.base.trim_end_matches("/fhir");
    let token: Value = reqwest::blocking::Client::new()
        .post(format!("{origin}/auth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()?
        .json()?;
    let token = token["access_token"]
        .as_str()
        .context("no access token")?
        .to_string();
    let stat = server.pid().map(|pid| format!("/proc/{pid}/stat"));
    let cpu = || stat.as_deref().and_then(crate::ingest::cpu_time);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .enable_all()
        .build()?;
    rt.block_on(async {
        let plain = reqwest::Client::builder()
            .pool_max_idle_per_host(args.concurrency)
            .build()?;
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))?,
        );
        let bearer = reqwest::Client::builder()
            .pool_max_idle_per_host(args.concurrency)
            .default_headers(headers)
            .build()?;
        let bundle: Value = plain
            .get(format!("{}/Patient?_count=200", server.base))
            .send()
            .await?
            .json()
            .await?;
        let urls: Vec<String> = bundle["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["resource"]["id"].as_str())
            .map(|id| format!("{}/Patient/{id}", server.base))
            .collect();
        anyhow::ensure!(!urls.is_empty(), "no Patient was imported");
        let urls = Arc::new(urls);
        let duration = Duration::from_secs(args.seconds);
        // Warm-up of both paths (connections, caches), not measured.
        for client in [&plain, &bearer] {
            load::run(
                "warm-up",
                client,
                urls.clone(),
                args.concurrency,
                Duration::from_secs(1),
            )
            .await;
        }
        let mut out = Vec::new();
        for round in 1..=args.rounds {
            for (is_bearer, client, mode) in
                [(false, &plain, "no token"), (true, &bearer, "bearer token")]
            {
                let name = format!("read Patient by id, {mode} (round {round})");
                let before = cpu();
                let load = load::run(&name, client, urls.clone(), args.concurrency, duration).await;
                let used = cpu()
                    .zip(before)
                    .map(|(after, before)| after.saturating_sub(before));
                out.push(Round {
                    load,
                    bearer: is_bearer,
                    cpu: used,
                });
            }
        }
        Ok::<_, anyhow::Error>(out)
    })
}
