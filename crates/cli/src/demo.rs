//! `crosscare demo`: the README's first command. Generates and loads the synthetic territory
//! into a data folder on first run, then serves it and prints what to try.

use crate::serve::{open_store, serve_until_signal, ServeArgs};
use anyhow::Context;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Patients in the synthetic territory (about 1,000 resources each at volume 1).
    #[arg(long, default_value_t = 200)]
    pub patients: usize,
    /// Scale of care per patient.
    #[arg(long, default_value_t = 1.0)]
    pub volume: f64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Address to listen on.
    #[arg(long, env = "CROSSCARE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Data folder of the demo (reused on later runs).
    #[arg(long, default_value = "./crosscare-demo")]
    pub data: PathBuf,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct DemoMarker {
    patients: usize,
    seed: u64,
    volume: f64,
    resources: u64,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let marker = args.data.join("demo.json");
    if !marker.exists() {
        load(&args, &marker)?;
    } else {
        println!(
            "Reusing the demo data in {} (delete the folder to start again).",
            args.data.display()
        );
    }
    let sandbox = sandbox(&args)?;
    // The demo serves the default partition without a token on loopback, as before; the
    // sandbox workspace next to it shows the token flow (a token is enforced when sent).
    let mut serve = ServeArgs::embedded(args.listen, args.data.clone());
    serve.insecure_no_auth = true;
    let store = open_store(&args.data)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let result = runtime.block_on(serve_until_signal(
        &serve,
        store.clone(),
        started,
        Some(Box::new(move |addr| {
            print_tour(addr);
            print_sandbox(addr, &sandbox);
        })),
    ));
    crosscare_store::Store::close(&*store).context("closing the store")?;
    result
}

fn load(args: &DemoArgs, marker: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("creating {}", args.data.display()))?;
    let synth_dir = args.data.join("synthetic-ndjson");
    println!(
        "Generating the synthetic territory: {} patients of Moselle-Est and Saarland (seed {})…",
        args.patients, args.seed
    );
    let config = crate::synth::config(args.patients, args.seed, args.volume);
    let stats =
        crosscare_synth::write_to_dir(&config, &synth_dir, crosscare_synth::OutputFormat::Ndjson)
            .context("generating the synthetic territory")?;
    println!(
        "Loading {} resources into {}…",
        stats.resources,
        args.data.display()
    );
    let checkpoint = args.data.join("import-checkpoint.json");
    let summary = crate::import::offline(&args.data, &[synth_dir], 1000, &checkpoint)?;
    println!("{}", summary.render());
    let record = DemoMarker {
        patients: args.patients,
        seed: args.seed,
        volume: args.volume,
        resources: summary.loaded,
    };
    std::fs::write(marker, serde_json::to_vec_pretty(&record)?)
        .context("writing the demo marker")?;
    Ok(())
}

fn print_tour(addr: SocketAddr) {
    let base = format!("http://{addr}/fhir");
    println!(
        "\nCrossCare demo is serving the synthetic territory at {base}\n\
         Try:\n  \
         curl '{base}/metadata' | head -c 400\n  \
         curl '{base}/Patient?address-city=saarbrucken&_count=3'\n  \
         curl '{base}/Patient?identifier=urn:oid:1.2.250.1.213.1.4.10|&_summary=count'\n  \
         curl '{base}/Patient?family=muller&_elements=name,gender'\n  \
         curl '{base}/Observation?code=http://loinc.org|4548-4&value-quantity=gt7&_count=5'\n  \
         curl '{base}/Encounter?subject:Patient.address-country=DE&_count=3'\n  \
         curl '{base}/Patient/fr-p-000001/$everything?_count=20'\n\
         Press Ctrl-C to stop.\n"
    );
}

/// The demo's sandbox workspace and its client, kept (owner-only) so every run can print them.
#[derive(serde::Serialize, serde::Deserialize)]
struct DemoSandbox {
    workspace: String,
    client_id: String,
    client_secret: String,
}

const SANDBOX_FILE: &str = "demo-sandbox-client.json";

/// Creates (first run) the `demo` sandbox workspace, seeded with a small synthetic territory
/// of its own, and a client allowed `system/*.cruds` in it.
fn sandbox(args: &DemoArgs) -> anyhow::Result<DemoSandbox> {
    let file = crosscare_lab::lab_dir(&args.data).join(SANDBOX_FILE);
    if let Ok(bytes) = std::fs::read(&file) {
        if let Ok(s) = serde_json::from_slice::<DemoSandbox>(&bytes) {
            return Ok(s);
        }
    }
    let lab = crosscare_lab::Lab::open(&args.data).context("opening the lab")?;
    let ws = match lab.registry().workspace("demo")? {
        Some(ws) => ws,
        None => lab
            .registry()
            .create_workspace(crosscare_lab::registry::NewWorkspace {
                id: Some("demo".into()),
                organisation: "CrossCare demo partner".into(),
                class: crosscare_lab::model::ServiceClass::Sandbox,
                purpose: "trying the lab's token flow on synthetic data".into(),
                owner: "demo".into(),
                expires: None,
                template: None,
            })?,
    };
    println!("Seeding the sandbox workspace 'demo' with 4 synthetic patients…");
    let synth_dir = args.data.join("synthetic-sandbox-ndjson");
    let config = crate::synth::config(4, args.seed + 1, 0.2);
    crosscare_synth::write_to_dir(&config, &synth_dir, crosscare_synth::OutputFormat::Ndjson)
        .context("generating the sandbox's synthetic data")?;
    let checkpoint = args.data.join("sandbox-import-checkpoint.json");
    let summary =
        crate::import::offline_into(&args.data, &ws.partition(), &[synth_dir], 1000, &checkpoint)?;
    println!("{}", summary.render());
    let (client, secret) = lab
        .registry()
        .create_client(Some(&ws.id), "system/*.cruds", false)?;
    let record = DemoSandbox {
        workspace: ws.id,
        client_id: client.client_id,
        client_secret: secret,
    };
    crosscare_lab::files::write_private(&file, &serde_json::to_vec_pretty(&record)?)
        .context("writing the demo client")?;
    Ok(record)
}

fn print_sandbox(addr: SocketAddr, s: &DemoSandbox) {
    let origin = format!("http://{addr}");
    println!(
        "The sandbox workspace '{ws}' (synthetic data only, its own partition) needs a token:\n  \
         TOKEN=$(curl -s -u '{id}:{secret}' -d grant_type=client_credentials \\\n    \
         -d scope='system/Patient.rs' {origin}/auth/token | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/')\n  \
         curl -H \"Authorization: Bearer $TOKEN\" '{origin}/fhir/Patient?_count=3'\n\
         (demo credential kept in {file}; see docs/lab.md)\n",
        ws = s.workspace,
        id = s.client_id,
        secret = s.client_secret,
        file = SANDBOX_FILE,
    );
}
