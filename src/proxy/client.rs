//! The HTTP client on the proxy's hot path: hyper-util's pooled client over a rustls
//! connector — HTTP/1.1, or HTTP/2 when a TLS upstream offers it by ALPN, certificates
//! checked by the platform's verifier (as reqwest does). It does nothing else: no redirects
//! followed, no retries of its own beyond hyper-util's resend of a request that never left
//! (the proxy retries at its own level), no decompression, no proxy taken from the
//! environment. Each serving thread has its own, so a request and its upstream connection
//! stay on one thread.
//!
//! Stale pooled connections: providers and the CDNs in front of them close idle keep-alive
//! connections, and a request sent on one just as it closes fails with no answer. Every
//! connection is stamped with the instant it was opened ([`Opened`]), so that a failure can
//! tell a reused connection from a fresh one ([`was_stale`]); the proxy then sends the
//! request once more on a connection of its own ([`UpstreamClient::fresh`]), which never
//! comes from the pool. The pool drops connections idle for [`POOL_IDLE`], below the
//! keep-alive of the servers relays commonly run on (docs/decisions.md, "Stale pooled
//! connections").
//!
//! reqwest stays for health probes and the demo; on the hot path its layers (redirect
//! policy re-parsing every URL, retry and body wrappers) were ~15 % of the daemon's
//! instructions per request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::Uri;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::proxy::request_body::Outgoing;

type Pooled = Client<Stamp<HttpsConnector<HttpConnector>>, Outgoing>;

/// The clients every forwarded request goes through: the pooled one, and one that always
/// opens a new connection (for the one resend after a stale pooled connection).
#[derive(Clone)]
pub struct UpstreamClient {
    pooled: Pooled,
    fresh: Pooled,
}

impl UpstreamClient {
    /// Send on a pooled connection (or a new one when none is idle).
    pub fn request(
        &self,
        request: http::Request<Outgoing>,
    ) -> hyper_util::client::legacy::ResponseFuture {
        self.pooled.request(request)
    }

    /// Send on a connection opened for this request alone.
    pub fn fresh(
        &self,
        request: http::Request<Outgoing>,
    ) -> hyper_util::client::legacy::ResponseFuture {
        self.fresh.request(request)
    }
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up TLS for upstream connections: {0}")]
pub struct ClientError(#[from] std::io::Error);

/// Idle pooled connections are closed after this long: below the 5 s keep-alive of Node's
/// HTTP server, uvicorn and Apache (what many relays run on), far below nginx's 75 s and
/// the big providers' fronts, so the pool lets a connection go before the server does.
pub const POOL_IDLE: Duration = Duration::from_secs(4);

/// A new client with its own connection pool.
pub fn build(connect_timeout: Duration) -> Result<UpstreamClient, ClientError> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let https = Stamp(
        hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_platform_verifier(provider)?
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(http),
    );
    let pooled = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE)
        .pool_timer(TokioTimer::new())
        .build(https.clone());
    let fresh = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(https);
    Ok(UpstreamClient { pooled, fresh })
}

/// When a connection was opened (an extra of its [`Connected`] info).
#[derive(Clone, Copy, Debug)]
pub struct Opened(pub Instant);

/// A stale connection fails within about a round trip of the request going out; a failure
/// later than this is the upstream's, not the pool's.
pub const STALE_WITHIN: Duration = Duration::from_secs(2);

/// Whether a request that failed with `e` met a connection the upstream had closed while
/// idle: it went out on a connection opened before the request `started` (a reused,
/// pooled one), failed within [`STALE_WITHIN`], and failed the way a closed connection
/// does (closed before an answer, reset, broken pipe) — not by a timeout or a protocol
/// error.
pub fn was_stale(e: &hyper_util::client::legacy::Error, started: Instant) -> bool {
    if e.is_connect() || started.elapsed() > STALE_WITHIN {
        return false;
    }
    let Some(info) = e.connect_info() else {
        return false;
    };
    let mut extras = http::Extensions::new();
    info.get_extras(&mut extras);
    let reused = extras.get::<Opened>().is_some_and(|o| o.0 < started);
    reused && closed_like(e)
}

/// Whether an error (or one of its causes) is a connection that closed or reset.
fn closed_like(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(h) = c.downcast_ref::<hyper::Error>()
            && (h.is_incomplete_message() || h.is_canceled() || h.is_closed())
        {
            return true;
        }
        if let Some(io) = c.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            )
        {
            return true;
        }
        cause = c.source();
    }
    false
}

/// A connector whose connections carry the instant they were opened.
#[derive(Clone)]
pub struct Stamp<C>(C);

impl<C> tower_service::Service<Uri> for Stamp<C>
where
    C: tower_service::Service<Uri>,
    C::Future: Send + 'static,
{
    type Response = Stamped<C::Response>;
    type Error = C::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, C::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.0.call(uri);
        Box::pin(async move {
            let io = connecting.await?;
            Ok(Stamped {
                io,
                opened: Instant::now(),
            })
        })
    }
}

/// A connection and the instant it was opened.
pub struct Stamped<T> {
    io: T,
    opened: Instant,
}

impl<T: Connection> Connection for Stamped<T> {
    fn connected(&self) -> Connected {
        self.io.connected().extra(Opened(self.opened))
    }
}

impl<T: hyper::rt::Read + Unpin> hyper::rt::Read for Stamped<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: hyper::rt::Write + Unpin> hyper::rt::Write for Stamped<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}
