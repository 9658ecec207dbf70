//! The proxy's HTTP server: single-threaded serving lanes.
//!
//! One acceptor (on the daemon's main runtime) hands each accepted connection to one of N
//! serving threads ([`thread_count`]) — the one holding the fewest connections. Each serving thread runs its
//! own single-threaded tokio runtime and its own upstream client (connection pool), so a
//! client connection, its requests and the upstream connections they use all live on one
//! thread: a response chunk read from the upstream is written to the client without waking
//! another thread. With one shared multi-threaded runtime, profiles showed ~8 context
//! switches per streamed response against nginx's ~3.
//!
//! Shutdown: the acceptor stops and closes the listener; every serving thread lets its
//! in-flight requests — streams included — finish, up to the drain deadline.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use crate::proxy::Proxy;
use crate::proxy::forward;

/// How many serving threads: `QCC_WORKER_THREADS`, else one per two cores (at least one).
/// The proxy shares its machine with its clients (and, in the benchmark, the upstream):
/// on 2 cores one serving thread spent 25–35 % less CPU per request than two and held
/// lower tail latency, because it batches more work per wake-up and competes less.
pub fn thread_count() -> usize {
    std::env::var("QCC_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            (cores / 2).max(1)
        })
}

/// What the acceptor tells a serving thread.
enum Job {
    Serve(std::net::TcpStream),
    /// Stop taking connections; drain within this long, then report.
    Drain(Duration),
}

/// The acceptor's handle on one serving thread.
struct Lane {
    jobs: mpsc::UnboundedSender<Job>,
    /// Connections this thread holds now.
    open: Arc<AtomicUsize>,
    /// Whether every connection finished within the drain deadline.
    drained: oneshot::Receiver<bool>,
}

/// The serving threads, started before the daemon reports ready (so that a failure to
/// start them is a startup error).
pub struct Lanes(Vec<Lane>);

impl Lanes {
    /// Start `n` serving threads, each with its own runtime and upstream client.
    pub fn start(proxy: &Arc<Proxy>, n: usize) -> Result<Self, String> {
        let mut lanes = Vec::with_capacity(n);
        for i in 0..n.max(1) {
            let client = proxy.new_client().map_err(|e| e.to_string())?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start a serving runtime: {e}"))?;
            let (jobs, rx) = mpsc::unbounded_channel();
            let (done, drained) = oneshot::channel();
            let open = Arc::new(AtomicUsize::new(0));
            let ctx = Arc::new(Serving {
                proxy: proxy.clone(),
                client,
                open: open.clone(),
            });
            std::thread::Builder::new()
                .name(format!("qcc-serve-{i}"))
                .spawn(move || {
                    let drained = runtime.block_on(ctx.run(rx));
                    runtime.shutdown_timeout(Duration::from_millis(100));
                    let _ = done.send(drained);
                })
                .map_err(|e| format!("cannot start a serving thread: {e}"))?;
            lanes.push(Lane {
                jobs,
                open,
                drained,
            });
        }
        Ok(Self(lanes))
    }

    /// The lane with the fewest open connections (the first such from `from`).
    fn pick(&self, from: usize) -> &Lane {
        let n = self.0.len();
        (0..n)
            .map(|k| &self.0[(from + k) % n])
            .min_by_key(|lane| lane.open.load(Ordering::Relaxed))
            .expect("at least one lane")
    }
}

/// Accept until `shutdown` resolves (to the drain deadline), handing connections to the
/// serving threads, then drain them. Returns whether every connection finished within the
/// deadline.
pub async fn serve(
    listener: TcpListener,
    lanes: Lanes,
    proxy: Arc<Proxy>,
    shutdown: impl Future<Output = Duration>,
) -> bool {
    tokio::pin!(shutdown);
    let mut next = 0usize;
    let deadline = loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((s, _)) => s,
                    Err(e) => {
                        // EMFILE and friends: back off briefly instead of spinning.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let stream = match stream.into_std() {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!("cannot hand a connection over: {e}");
                        continue;
                    }
                };
                let lane = lanes.pick(next);
                next = next.wrapping_add(1);
                lane.open.fetch_add(1, Ordering::Relaxed);
                if lane.jobs.send(Job::Serve(stream)).is_err() {
                    lane.open.fetch_sub(1, Ordering::Relaxed);
                    tracing::error!("a serving thread is gone; connection dropped");
                }
            }
            deadline = &mut shutdown => break deadline,
        }
    };
    drop(listener);
    tracing::info!(
        in_flight = proxy.in_flight(),
        "draining (up to {} s)",
        deadline.as_secs()
    );
    let mut drained = true;
    let mut waiting = Vec::new();
    for lane in lanes.0 {
        let _ = lane.jobs.send(Job::Drain(deadline));
        waiting.push(lane.drained);
    }
    for done in waiting {
        drained &= done.await.unwrap_or(false);
    }
    if !drained {
        tracing::warn!(
            in_flight = proxy.in_flight(),
            "drain deadline passed; closing"
        );
    }
    drained
}

/// One serving thread's shared context.
struct Serving {
    proxy: Arc<Proxy>,
    client: crate::proxy::client::UpstreamClient,
    open: Arc<AtomicUsize>,
}

/// Decrements a lane's connection count when its connection ends.
struct OpenGuard(Arc<AtomicUsize>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Serving {
    /// Serve connections handed over until told to drain; returns whether every connection
    /// finished within the deadline.
    async fn run(self: Arc<Self>, mut jobs: mpsc::UnboundedReceiver<Job>) -> bool {
        let graceful = GracefulShutdown::new();
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .keep_alive(true)
            // Each connection's read buffer grows to hold a request body and stays as long
            // as the (keep-alive) connection: capped, 1,000 open streams of 75 KB requests
            // fit in ~135 MB instead of ~155 MB, at no measurable cost for streams.
            .max_buf_size(64 * 1024)
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(30));
        let deadline = loop {
            match jobs.recv().await {
                Some(Job::Serve(stream)) => {
                    let guard = OpenGuard(self.open.clone());
                    let stream = match TcpStream::from_std(stream) {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::warn!("cannot take a connection over: {e}");
                            continue;
                        }
                    };
                    let ctx = self.clone();
                    let service = service_fn(move |req| {
                        let ctx = ctx.clone();
                        async move {
                            Ok::<_, std::convert::Infallible>(
                                forward::handle(&ctx.proxy, &ctx.client, req).await,
                            )
                        }
                    });
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        let _guard = guard;
                        if let Err(e) = conn.await {
                            tracing::debug!("connection ended: {e}");
                        }
                    });
                }
                Some(Job::Drain(deadline)) => break deadline,
                None => break Duration::ZERO,
            }
        };
        tokio::select! {
            _ = graceful.shutdown() => true,
            _ = tokio::time::sleep(deadline) => false,
        }
    }
}
