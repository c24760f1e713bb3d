//! `crosscare-bench lab-overhead`: what authentication and the policy cost on reads by id.
//!
//! One server (`crosscare serve --insecure-no-auth --lab-rate-limit 0`) on one synthetic
//! territory; an integration workspace client allowed `system/*.rs` is registered with
//! `crosscare admin` on the same data folder. The same read-by-id URLs are then run without a
//! token (served unrestricted) and with the client's bearer token (token verified, client and
//! workspace looked up, policy decided), alternating rounds so that drift on a shared machine
//! hits both. Every request is audited in both modes (the server audits unauthenticated
//! requests too), so the difference is authentication and authorisation; the audit append is
//! in both figures.

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

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .enable_all()
        .build()?;
    let results = rt.block_on(async {
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
        load::run(
            "warm-up",
            &plain,
            urls.clone(),
            args.concurrency,
            Duration::from_secs(1),
        )
        .await;
        load::run(
            "warm-up",
            &bearer,
            urls.clone(),
            args.concurrency,
            Duration::from_secs(1),
        )
        .await;
        let mut out: Vec<LoadResult> = Vec::new();
        for round in 1..=args.rounds {
            let name = format!("read Patient by id, no token (round {round})");
            out.push(load::run(&name, &plain, urls.clone(), args.concurrency, duration).await);
            let name = format!("read Patient by id, bearer token (round {round})");
            out.push(load::run(&name, &bearer, urls.clone(), args.concurrency, duration).await);
        }
        Ok::<_, anyhow::Error>(out)
    })?;
    drop(server);
    let total = |token: bool| -> (u64, f64) {
        results
            .iter()
            .filter(|r| r.name.contains("bearer") == token)
            .fold((0, 0.0), |(n, s), r| {
                (n + r.requests, s + r.elapsed.as_secs_f64())
            })
    };
    let (n0, s0) = total(false);
    let (n1, s1) = total(true);
    let (r0, r1) = (n0 as f64 / s0.max(1e-9), n1 as f64 / s1.max(1e-9));
    Ok(format!(
        "{}\nAll rounds: {r0:.0} reads/s without a token, {r1:.0} reads/s with a bearer token: \
         overhead {:.1} % of read throughput.\n",
        load::markdown(&results),
        (1.0 - r1 / r0.max(1e-9)) * 100.0
    ))
}
