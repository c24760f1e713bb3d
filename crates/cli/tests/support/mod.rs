//! What the HTTP tests share: the real server (router, REST layer, store) serving on a free
//! loopback port from a runtime of its own.
#![allow(dead_code)]

use crosscare_rest::Rest;
use crosscare_server::ServerConfig;
use std::net::SocketAddr;
use std::sync::Arc;

/// Serves `rest` with `config` (its `listen` replaced by a free loopback port) until the
/// returned runtime is dropped or shut down.
pub fn spawn(rest: Arc<Rest>, config: ServerConfig) -> (tokio::runtime::Runtime, SocketAddr) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("test runtime: {e}"));
    let config = ServerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..config
    };
    let listener = rt
        .block_on(crosscare_server::bind(&config))
        .unwrap_or_else(|e| panic!("binding a loopback port: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("local address: {e}"));
    rt.spawn(crosscare_server::serve(
        listener,
        rest,
        config,
        std::future::pending(),
    ));
    (rt, addr)
}
