//! `crosscare serve`: open the store, build the REST layer, serve HTTP until a signal.

use anyhow::Context;
use crosscare_server::ServerConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
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
}

impl ServeArgs {
    pub fn server_config(&self) -> ServerConfig {
        ServerConfig {
            listen: self.listen,
            base_url: self.base_url.clone(),
            max_body_bytes: self.max_body_bytes,
            request_timeout: Duration::from_secs(self.request_timeout_secs),
        }
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let config = args.server_config();
    runtime.block_on(async move {
        let listener = crosscare_server::bind(&config).await?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, data = %args.data.display(), "CrossCare FHIR API at http://{addr}/fhir");
        anyhow::bail!("the FHIR handler is wired once the REST layer lands")
    })
}
