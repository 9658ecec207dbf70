//! Talking to upstreams: the header rules (hop-by-hop and client credentials stripped,
//! everything else verbatim), and the reqwest client that the demo and the tests use (the
//! proxy's own is in [`client`](crate::proxy::client); an endpoint's base URL and
//! credential are in [`crate::upstream::target`]).

use std::sync::Once;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, header};

/// The reqwest client for health probes and the demo (connection pooling, HTTP/2 over TLS
/// by ALPN, no decompression, no redirects, no retries).
pub fn client(connect_timeout: Duration) -> reqwest::Result<reqwest::Client> {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        // The proxy retries at its own level (other endpoints, a budget). reqwest's own
        // retry layer would also clone every request's headers in case it retries.
        .retry(reqwest::retry::never().max_retries_per_request(0))
        .build()
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
];

/// Whether `name` is hop-by-hop (the list above, or `transfer-encoding`).
fn is_hop_by_hop(name: &HeaderName) -> bool {
    let n = name.as_str();
    n == "transfer-encoding" || HOP_BY_HOP.contains(&n)
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one pass over the names, no lookups by name.
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(header::TRANSFER_ENCODING);
}

/// The headers to send upstream: the client's, minus hop-by-hop headers, `host`,
/// `content-length` (recomputed) and the client's credentials, plus the endpoint's.
pub fn request_headers(incoming: &HeaderMap, credential: &(HeaderName, HeaderValue)) -> HeaderMap {
    static X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
    let mut h = incoming.clone();
    strip_hop_by_hop(&mut h);
    h.remove(header::HOST);
    h.remove(header::CONTENT_LENGTH);
    h.remove(&X_API_KEY);
    h.remove(header::AUTHORIZATION);
    let (name, value) = credential;
    h.insert(name.clone(), value.clone());
    h
}

/// The client's headers as kept with a queued request: without hop-by-hop headers, `host`,
/// `content-length` and credentials (the endpoint's are set again on replay).
pub fn storable_headers(incoming: &HeaderMap) -> Vec<(String, String)> {
    let mut h = incoming.clone();
    strip_hop_by_hop(&mut h);
    for name in ["host", "content-length", "x-api-key", "authorization"] {
        h.remove(name);
    }
    h.iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect()
}

/// The headers to send back: the upstream's (taken, not copied), minus hop-by-hop headers.
pub fn response_headers(mut upstream: HeaderMap) -> HeaderMap {
    strip_hop_by_hop(&mut upstream);
    upstream
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_hop_by_hop_and_connection_named_headers() {
        let mut h = HeaderMap::new();
        h.insert("connection", "close, x-custom".parse().unwrap());
        h.insert("x-custom", "1".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("anthropic-beta", "a,b".parse().unwrap());
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert_eq!(h["anthropic-beta"], "a,b");
        // Only a name listed in `connection` goes with it; without hop-by-hop headers
        // nothing is touched.
        let mut h = HeaderMap::new();
        h.insert("x-custom", "1".parse().unwrap());
        h.insert("transfer-encoding", "chunked".parse().unwrap());
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        let mut plain = HeaderMap::new();
        plain.insert("x-custom", "1".parse().unwrap());
        strip_hop_by_hop(&mut plain);
        assert_eq!(plain.len(), 1);
    }
}
