//! The HTTP client on the proxy's hot path: hyper-util's pooled client over a rustls
//! connector — HTTP/1.1, or HTTP/2 when a TLS upstream offers it by ALPN, certificates
//! checked by the platform's verifier (as reqwest does). It does nothing else: no redirects
//! followed, no retries (the proxy retries at its own level), no decompression, no proxy
//! taken from the environment. Each serving thread has its own, so a request and its
//! upstream connection stay on one thread.
//!
//! reqwest stays for health probes and the demo; on the hot path its layers (redirect
//! policy re-parsing every URL, retry and body wrappers) were ~15 % of the daemon's
//! instructions per request.

use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::proxy::request_body::Outgoing;

/// The client every forwarded request goes through.
pub type UpstreamClient = Client<HttpsConnector<HttpConnector>, Outgoing>;

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up TLS for upstream connections: {0}")]
pub struct ClientError(#[from] std::io::Error);

/// Idle pooled connections are closed after this long.
const POOL_IDLE: Duration = Duration::from_secs(90);

/// A new client with its own connection pool.
pub fn build(connect_timeout: Duration) -> Result<UpstreamClient, ClientError> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_platform_verifier(provider)?
        .https_or_http()
        .enable_all_versions()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE)
        .pool_timer(TokioTimer::new())
        .build(https))
}
