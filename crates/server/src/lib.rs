//! HTTP wiring of the FHIR API: axum routes, limits, logging, metrics, health and shutdown.
//!
//! The server holds no FHIR logic. It decodes HTTP into a [`crosscare_rest::FhirRequest`], hands
//! it to a [`FhirHandler`] on the blocking pool (the store is synchronous), and encodes the
//! [`crosscare_rest::FhirResponse`]. Every failure it detects itself (body too large, wrong
//! media type, timeout, panic, unknown route) is answered with an `OperationOutcome`.

mod auth;
mod config;
mod fhir;
mod health;
mod media;
mod observe;
mod stream;

pub use auth::Auth;
pub use config::ServerConfig;
pub use fhir::FhirHandler;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

/// Shared state of the HTTP layer.
#[derive(Clone)]
pub(crate) struct AppState {
    pub handler: Arc<dyn FhirHandler>,
    pub config: Arc<ServerConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Insecure(String),
}

/// The complete application: `/fhir/…`, `/health…`, `/metrics`, with every layer applied.
pub fn router(handler: Arc<dyn FhirHandler>, config: ServerConfig) -> Router {
    let state = AppState {
        handler,
        config: Arc::new(config),
    };
    Router::new()
        .route("/health", get(health::live))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(observe::metrics))
        .route("/auth/token", axum::routing::post(auth::token))
        .route(
            "/.well-known/smart-configuration",
            get(auth::smart_configuration),
        )
        .route(
            "/fhir/.well-known/smart-configuration",
            get(auth::smart_configuration),
        )
        .route("/fhir", axum::routing::any(fhir::endpoint))
        .route("/fhir/", axum::routing::any(fhir::endpoint))
        .route("/fhir/{*rest}", axum::routing::any(fhir::endpoint))
        .fallback(fhir::no_route)
        .with_state(state)
        // Bodies are read by the FHIR endpoint with its own limit, which answers 413 with an
        // OperationOutcome; axum's default limit would answer in plain text.
        .layer(DefaultBodyLimit::disable())
        .layer(RequestDecompressionLayer::new().gzip(true))
        .layer(compression())
        .layer(CatchPanicLayer::custom(fhir::panic_response))
        .layer(axum::middleware::from_fn(observe::log_and_measure))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// gzip for responses worth it: below one TCP segment compression saves no packet and cost a
/// third of the CPU time of a read (deflate state set-up per response); above it, the fastest
/// level, since the client is usually on the hospital network.
fn compression() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new()
        .gzip(true)
        .quality(CompressionLevel::Fastest)
        .compress_when(
            SizeAbove::new(MIN_COMPRESSED_BYTES)
                .and(NotForContentType::GRPC)
                .and(NotForContentType::IMAGES)
                .and(NotForContentType::SSE),
        )
}

/// Responses smaller than this are sent uncompressed.
const MIN_COMPRESSED_BYTES: u16 = 1400;

/// Binds the configured address, returning the listener so callers learn the real port (tests
/// bind port 0).
/// Without required authentication it refuses any address but loopback.
pub async fn bind(config: &ServerConfig) -> Result<tokio::net::TcpListener, ServerError> {
    if !config.auth.required && !config.listen.ip().is_loopback() {
        return Err(ServerError::Insecure(format!(
            "refusing to serve {} without authentication: --insecure-no-auth is for local \
             development and listens on loopback only (127.0.0.1 or ::1)",
            config.listen
        )));
    }
    if config.auth.required && config.auth.lab.is_none() {
        return Err(ServerError::Insecure(
            "authentication is required but no lab (tokens, clients) is configured".into(),
        ));
    }
    tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })
}

/// Serves until `shutdown` completes, then stops accepting connections and waits for in-flight
/// requests to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    handler: Arc<dyn FhirHandler>,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    observe::install_recorder();
    let app = router(handler, config);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested: finishing in-flight requests");
}
