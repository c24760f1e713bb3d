//! HTTP-level configuration and limits.

use std::net::SocketAddr;
use std::time::Duration;

/// Settings of the HTTP layer. FHIR-level limits (Bundle size, page size, JSON depth) belong to
/// the REST configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on; loopback by default.
    pub listen: SocketAddr,
    /// Public base URL of the FHIR endpoint (`https://fhir.example.org/fhir`), used in links and
    /// `Location` headers. When `None`, it is derived from the request's `Host` header.
    pub base_url: Option<String>,
    /// Largest accepted request body after decompression, in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Time after which a request is answered with 503 (the work itself cannot be interrupted
    /// once it reached the store; a write that completes later is still durable and consistent).
    pub request_timeout: Duration,
    /// Authentication, tokens and audit trail (default: none, which only loopback allows).
    pub auth: crate::Auth,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            base_url: None,
            max_body_bytes: 16 * 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            auth: crate::Auth::default(),
        }
    }
}
