//! HTTPS upstreams, as every real provider is: the proxy's own client (hyper-util over
//! rustls, the platform verifier) against the fake upstream behind a TLS front signed by a
//! test CA (`tests/fixtures/tls`). Trusting the CA (`SSL_CERT_FILE`), requests stream
//! through; without it the certificate is refused and the client is told why.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use qcc::fake::FakeUpstream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::TestEnv;
use crate::harness::client::{PLAIN, STREAM, send};
use crate::harness::daemon::{client, runtime};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// A TLS front for `backend` (plain HTTP/1.1): each connection is decrypted and copied to
/// and from its own backend connection. Serves until the runtime is dropped.
fn tls_front(rt: &tokio::runtime::Runtime, backend: SocketAddr) -> SocketAddr {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(fixture("localhost.pem"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
    let key = PrivateKeyDer::from_pem_file(fixture("localhost.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = rt
        .block_on(TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake (the untrusting daemon) just ends this connection.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut plain = TcpStream::connect(backend).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    addr
}

#[test]
fn https_upstreams_stream_through_and_untrusted_certificates_are_refused() {
    let rt = runtime();
    let up = FakeUpstream::spawn_named("tls").unwrap();
    up.set_reply_text("Hello over TLS.");
    let front = tls_front(&rt, up.addr());
    let url = format!("https://localhost:{}", front.port());

    // Trusting the test CA: the stream arrives whole, the upstream saw the endpoint's key.
    let env = TestEnv::new();
    let id = env.endpoint_for("tls", &url, "sk-upstream-tls-000000000001", "api-key");
    let ca = fixture("ca.pem");
    let proxy = env.start_proxy_env(&[], &[("SSL_CERT_FILE", ca.as_os_str())]);
    let http = client();
    let streamed = rt
        .block_on(send(&http, &proxy.base_url, STREAM, None))
        .unwrap();
    assert!(streamed.is_clean_stream(), "{streamed:?}");
    assert_eq!(streamed.endpoint.as_deref(), Some(id.as_str()));
    let whole = rt
        .block_on(send(&http, &proxy.base_url, PLAIN, None))
        .unwrap();
    assert_eq!(whole.status, 200, "{whole:?}");
    assert!(whole.body.contains("Hello over TLS."), "{whole:?}");
    let seen = up.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0].header("x-api-key"),
        Some("sk-upstream-tls-000000000001")
    );
    let host = format!("localhost:{}", front.port());
    assert_eq!(seen[0].header("host"), Some(host.as_str()));
    assert_eq!(seen[0].query.as_deref(), Some("beta=true"));
    drop(proxy);

    // Without it: no request reaches the upstream, and the 503 says why.
    let env = TestEnv::new();
    env.endpoint_for("tls", &url, "sk-upstream-tls-000000000001", "api-key");
    let proxy = env.start_proxy();
    let refused = rt
        .block_on(send(&http, &proxy.base_url, STREAM, None))
        .unwrap();
    assert_eq!(refused.status, 503, "{refused:?}");
    assert!(refused.body.contains("certificate"), "{refused:?}");
    assert_eq!(up.requests().len(), 2);
}
