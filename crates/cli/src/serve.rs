//! `crosscare serve`: open the store, build the REST layer, serve HTTP until a signal.

use anyhow::Context;
use crosscare_analytics::bulk::{ExportConfig, ExportJobs, ImportConfig, ImportJobs, Limits};
use crosscare_rest::{Rest, RestConfig};
use crosscare_server::ServerConfig;
use crosscare_store::sqlite::{SqliteOptions, SqliteStore};
use crosscare_store::Store;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Every option has an environment variable; `docs/configuration.md` lists them all.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. Loopback by default: exposing the server is a deliberate choice.
    #[arg(long, env = "CROSSCARE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Data folder of the embedded store (created if missing).
    #[arg(long, env = "CROSSCARE_DATA", default_value = "./crosscare-data")]
    pub data: PathBuf,
    /// Public base URL of the FHIR endpoint, for links (default: from the Host header).
    #[arg(long, env = "CROSSCARE_BASE_URL")]
    pub base_url: Option<String>,
    /// Largest request body in bytes, after decompression (413 beyond).
    #[arg(long, env = "CROSSCARE_MAX_BODY_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Seconds after which a request is answered with 503.
    #[arg(long, env = "CROSSCARE_REQUEST_TIMEOUT_SECS", default_value_t = 60)]
    pub request_timeout_secs: u64,
    /// Most entries in a batch or transaction Bundle (413 beyond).
    #[arg(long, env = "CROSSCARE_MAX_BUNDLE_ENTRIES", default_value_t = RestConfig::default().max_bundle_entries)]
    pub max_bundle_entries: usize,
    /// Deepest JSON nesting accepted in a request body (413 beyond).
    #[arg(long, env = "CROSSCARE_MAX_JSON_DEPTH", default_value_t = crosscare_validation::ParseLimits::default().max_depth)]
    pub max_json_depth: usize,
    /// Longest JSON string accepted in a request body, in bytes (413 beyond).
    #[arg(long, env = "CROSSCARE_MAX_STRING_BYTES", default_value_t = crosscare_validation::ParseLimits::default().max_string_len)]
    pub max_string_bytes: usize,
    /// PostgreSQL URL (`postgres://user@host/db`); when set, the data folder is not used.
    #[arg(long, env = "CROSSCARE_DATABASE_URL")]
    pub database: Option<String>,
    /// Connections in the PostgreSQL pool.
    #[arg(long, env = "CROSSCARE_DATABASE_POOL_SIZE", default_value_t = 16)]
    pub database_pool_size: usize,
    /// Page size of searches and histories without `_count`.
    #[arg(long, env = "CROSSCARE_DEFAULT_PAGE_SIZE", default_value_t = RestConfig::default().default_page_size)]
    pub default_page_size: usize,
    /// Largest page size; a larger `_count` is reduced to it.
    #[arg(long, env = "CROSSCARE_MAX_PAGE_SIZE", default_value_t = RestConfig::default().max_page_size)]
    pub max_page_size: usize,
    /// Without `_total`, a search's total is given when it has at most this many matches.
    #[arg(long, env = "CROSSCARE_SEARCH_TOTAL_LIMIT", default_value_t = RestConfig::default().search_total_limit)]
    pub search_total_limit: u64,
    /// How often (milliseconds) to look for custom SearchParameters written by another server
    /// sharing the database; a `$reindex` waits twice this long before it starts.
    #[arg(
        long,
        env = "CROSSCARE_SEARCH_PARAMS_REFRESH_MS",
        default_value_t = 5000
    )]
    pub search_params_refresh_ms: u64,
    /// Serve requests without a token, unrestricted (local development only: refuses to listen
    /// on anything but loopback). Tokens, when sent, are still verified and enforced.
    #[arg(long, env = "CROSSCARE_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
    /// Do not audit requests without a token (benchmarks only: `crosscare-bench lab-overhead`
    /// compares with a server that neither authenticates nor audits). Needs
    /// `--insecure-no-auth`; requests with a token are still audited.
    #[arg(long, hide = true, requires = "insecure_no_auth")]
    pub insecure_no_audit_without_token: bool,
    /// Folder of `$export` jobs and their files (default: `exports` in the data folder).
    #[arg(long, env = "CROSSCARE_EXPORT_DIR")]
    pub export_dir: Option<PathBuf>,
    /// Most resources in one `$export` output file; a larger type is split into several files.
    #[arg(long, env = "CROSSCARE_EXPORT_MAX_RESOURCES_PER_FILE", default_value_t = Limits::default().max_per_file)]
    pub export_max_resources_per_file: u64,
    /// Requests per second each workspace client may send (bursts of 2 s worth); beyond, 429
    /// with `Retry-After`. 0: no limit. A workspace or client may have its own
    /// (`crosscare admin workspace|client quota`); administrators have none unless set.
    #[arg(long, env = "CROSSCARE_LAB_RATE_LIMIT", default_value_t = crosscare_lab::quota::QuotaDefaults::default().rate.unwrap_or(0.0))]
    pub lab_rate_limit: f64,
    /// Most current resources in a sandbox or training workspace's partition; a write adding
    /// one more is refused (403). 0: no limit. A workspace may have its own.
    #[arg(long, env = "CROSSCARE_LAB_MAX_RESOURCES", default_value_t = crosscare_lab::quota::QuotaDefaults::default().max_resources.unwrap_or(0))]
    pub lab_max_resources: u64,
    /// Seconds an `$export` job and its files are kept after it finished.
    #[arg(long, env = "CROSSCARE_EXPORT_EXPIRY_SECS", default_value_t = 86_400)]
    pub export_expiry_secs: u64,
    /// The only folder `$import` may read input files from; without it `$import` is disabled.
    #[arg(long, env = "CROSSCARE_IMPORT_DIR")]
    pub import_dir: Option<PathBuf>,
}

impl ServeArgs {
    pub fn server_config(&self) -> ServerConfig {
        ServerConfig {
            listen: self.listen,
            base_url: self.base_url.clone(),
            max_body_bytes: self.max_body_bytes,
            request_timeout: Duration::from_secs(self.request_timeout_secs),
            auth: crosscare_server::Auth::default(),
        }
    }

    pub fn quota_defaults(&self) -> crosscare_lab::quota::QuotaDefaults {
        crosscare_lab::quota::QuotaDefaults {
            rate: (self.lab_rate_limit.is_finite() && self.lab_rate_limit > 0.0)
                .then_some(self.lab_rate_limit),
            max_resources: (self.lab_max_resources > 0).then_some(self.lab_max_resources),
        }
    }

    pub fn export_config(&self) -> ExportConfig {
        ExportConfig {
            dir: self
                .export_dir
                .clone()
                .unwrap_or_else(|| self.data.join("exports")),
            limits: Limits {
                max_per_file: self.export_max_resources_per_file.max(1),
                ..Limits::default()
            },
            expiry: Duration::from_secs(self.export_expiry_secs),
        }
    }

    /// The `$import` settings, when an import folder is configured. Job records and error
    /// reports live in `imports` in the data folder; they expire like export jobs.
    pub fn import_config(&self) -> Option<ImportConfig> {
        let source_dir = self.import_dir.clone()?;
        Some(ImportConfig {
            dir: self.data.join("imports"),
            source_dir,
            expiry: Duration::from_secs(self.export_expiry_secs),
            batch_size: 1000,
        })
    }

    pub fn rest_config(&self) -> RestConfig {
        RestConfig {
            max_bundle_entries: self.max_bundle_entries,
            default_page_size: self.default_page_size,
            max_page_size: self.max_page_size,
            search_total_limit: self.search_total_limit,
            parse_limits: crosscare_validation::ParseLimits {
                max_depth: self.max_json_depth,
                max_string_len: self.max_string_bytes,
            },
            // Set by `Rest::with_exports` / `with_imports` when the queues are opened.
            bulk: Default::default(),
            search_params_refresh: Duration::from_millis(self.search_params_refresh_ms),
        }
    }
}

/// Opens the embedded store in `dir`.
pub fn open_store(dir: &std::path::Path) -> anyhow::Result<Arc<SqliteStore>> {
    let store = SqliteStore::open(dir, SqliteOptions::default())
        .with_context(|| format!("opening the data folder {}", dir.display()))?;
    Ok(Arc::new(store))
}

/// Opens the configured backend: PostgreSQL when a database URL is given, else the data folder.
pub fn open_backend(args: &ServeArgs) -> anyhow::Result<Arc<dyn Store>> {
    match &args.database {
        Some(url) => {
            let store =
                crosscare_store_postgres::PostgresStore::connect(url, args.database_pool_size)
                    .context("connecting to PostgreSQL")?;
            Ok(Arc::new(store))
        }
        None => Ok(open_store(&args.data)?),
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let store = open_backend(&args)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let result = runtime.block_on(serve_until_signal(&args, store.clone(), started, None));
    // Close the store even when serving failed, so the WAL is checkpointed cleanly.
    store.close().context("closing the store")?;
    result
}

/// Serves the store until SIGINT/SIGTERM; `on_ready` is told the bound address.
pub async fn serve_until_signal(
    args: &ServeArgs,
    store: Arc<dyn Store>,
    started: std::time::Instant,
    on_ready: Option<Box<dyn FnOnce(SocketAddr) + Send>>,
) -> anyhow::Result<()> {
    let mut config = args.server_config();
    // The lab (clients, signing keys, audit trail) lives in the data folder, whatever the
    // backend of the resources.
    let lab = crosscare_lab::Lab::open_with_audit(&args.data)
        .with_context(|| format!("opening the lab in {}", args.data.display()))?
        .with_quotas(args.quota_defaults())
        .with_registry_recheck(crosscare_lab::registry::SERVER_RECHECK);
    if args.insecure_no_auth {
        tracing::warn!(
            "--insecure-no-auth: requests without a token are served unrestricted (loopback only)"
        );
    } else if let Some(path) = lab.ensure_admin_credential()? {
        tracing::info!(
            file = %path.display(),
            "created the first administrator credential (readable by its owner only)"
        );
    }
    let lab = Arc::new(lab);
    config.auth = crosscare_server::Auth {
        lab: Some(lab.clone()),
        required: !args.insecure_no_auth,
        unaudited_without_token: args.insecure_no_auth && args.insecure_no_audit_without_token,
    };
    let exports = ExportJobs::open(store.clone(), args.export_config())
        .context("opening the $export job folder")?;
    let exports = Arc::new(exports);
    // `Rest::new` reads the store (its custom search parameters), and a PostgreSQL store
    // blocks on its own runtime, which must not happen on this async task's thread.
    let rest = {
        let (store, config) = (store.clone(), args.rest_config());
        tokio::task::spawn_blocking(move || Rest::new(store, config))
            .await
            .context("loading the search parameters")?
    };
    let mut rest = rest
        .with_exports(exports.clone())
        .with_lab(lab)
        .with_reindex(
            args.data.join("reindex"),
            Duration::from_secs(args.export_expiry_secs),
        )
        .map_err(|e| anyhow::anyhow!("opening the $reindex job folder: {e}"))?;
    let imports = match args.import_config() {
        Some(config) => {
            anyhow::ensure!(
                config.source_dir.is_dir(),
                "--import-dir {} is not a folder",
                config.source_dir.display()
            );
            let runner = Arc::new(
                crosscare_ingest::StoreImporter::new(store)
                    .with_search_params(rest.search_params().clone()),
            );
            let imports = Arc::new(
                ImportJobs::open(config, runner).context("opening the $import job folder")?,
            );
            rest = rest.with_imports(imports.clone());
            Some(imports)
        }
        None => None,
    };
    let rest = Arc::new(rest);
    let listener = crosscare_server::bind(&config).await?;
    let addr = listener.local_addr()?;
    tracing::info!(
        %addr,
        backend = if args.database.is_some() { "postgres" } else { "sqlite" },
        startup_ms = started.elapsed().as_secs_f64() * 1000.0,
        "CrossCare FHIR API listening at http://{addr}/fhir"
    );
    if let Some(f) = on_ready {
        f(addr);
    }
    crosscare_server::serve(
        listener,
        rest.clone(),
        config,
        crosscare_server::shutdown_signal(),
    )
    .await?;
    // Unfinished export and import jobs stop at a batch boundary and resume at the next start.
    exports.shutdown();
    if let Some(imports) = imports {
        imports.shutdown();
    }
    rest.shutdown_jobs();
    tracing::info!("server stopped; closing the store");
    Ok(())
}

#[derive(clap::Parser)]
struct ServeOnly {
    #[command(flatten)]
    args: ServeArgs,
}

impl ServeArgs {
    /// The defaults (and environment) of `serve`, on the embedded store in `data`.
    pub fn embedded(listen: SocketAddr, data: PathBuf) -> ServeArgs {
        use clap::Parser;
        let mut args = ServeOnly::parse_from(["serve"]).args;
        args.listen = listen;
        args.data = data;
        args.database = None;
        args
    }
}
