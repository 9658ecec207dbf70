//! The daemon's answers to control requests: one match, one small function per request.
//! Mirrors the CLI: `qcc proxy status` ↔ [`status`], every CLI write ↔ [`reload`],
//! `qcc proxy stop` ↔ [`stop`], `qcc health status` ↔ [`health`], `qcc health check` ↔
//! [`probe_now`].

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::daemon::reload::Reloader;
use crate::ipc::protocol::{Request, Response};
use crate::proxy::Proxy;
use crate::proxy::replay::{self, Selection};

/// Queued requests replayed at once.
pub const QUEUE_CONCURRENCY: usize = 4;

/// A one-shot shutdown signal carrying the drain deadline.
#[derive(Clone)]
pub struct Shutdown(watch::Sender<Option<Duration>>);

impl Default for Shutdown {
    fn default() -> Self {
        Self(watch::channel(None).0)
    }
}

impl Shutdown {
    /// Ask for shutdown; the first request's deadline wins.
    pub fn trigger(&self, drain: Duration) {
        self.0.send_if_modified(|v| {
            if v.is_none() {
                *v = Some(drain);
                true
            } else {
                false
            }
        });
    }

    /// Resolves to the drain deadline once shutdown was asked for.
    pub async fn wait(&self) -> Duration {
        let mut rx = self.0.subscribe();
        let v = rx
            .wait_for(Option::is_some)
            .await
            .map(|v| *v)
            .unwrap_or(None);
        v.unwrap_or(Duration::ZERO)
    }
}

/// What the control handlers need.
pub struct Daemon {
    pub proxy: Arc<Proxy>,
    pub reloader: Arc<Reloader>,
    pub shutdown: Shutdown,
    /// Active health checks (`qcc health check`) and the health report.
    pub health: Arc<crate::health::monitor::Monitor>,
}

pub async fn handle(d: &Daemon, request: Request) -> Response {
    match request {
        Request::Ping => Response::Pong,
        Request::Status => status(d),
        Request::Usage => Response::Usage(Box::new(d.proxy.usage_summary())),
        Request::Reload => reload(d).await,
        Request::Stop { timeout_secs } => stop(d, timeout_secs),
        Request::Health => health(d),
        Request::ProbeNow { endpoint } => probe_now(d, endpoint).await,
        Request::QueueRetry { ids } => queue_retry(d, ids).await,
        Request::Release { endpoint } => release(d, &endpoint),
    }
}

/// `qcc endpoint enable`: a billing hold ends, the provider's announced hold is forgotten.
fn release(d: &Daemon, endpoint: &str) -> Response {
    let table = d.proxy.router.table();
    let Some(u) = table.all.iter().find(|u| u.id == endpoint) else {
        return Response::Error {
            message: format!("no endpoint {endpoint} in the running config"),
        };
    };
    u.limiter.clear_announced();
    let billing = u.breaker.release_billing();
    if billing {
        tracing::info!(endpoint = %u.id, "billing hold ended by hand (qcc endpoint enable)");
        d.proxy.router.changed.notify_one();
        d.proxy.router.evaluate(&table, std::time::Instant::now());
    }
    Response::Released { billing }
}

/// `qcc proxy status`: the same typed report `/_qcc/status` serves.
fn status(d: &Daemon) -> Response {
    Response::Status(Box::new(d.proxy.status_report()))
}

async fn reload(d: &Daemon) -> Response {
    Response::Reloaded {
        error: d.reloader.reload("requested by the CLI").await.err(),
    }
}

/// `qcc health status | metrics | history`.
fn health(d: &Daemon) -> Response {
    Response::Health(Box::new(d.health.report()))
}

/// `qcc health check`.
async fn probe_now(d: &Daemon, endpoint: Option<String>) -> Response {
    match d.health.probe_now(endpoint.as_deref()).await {
        Ok(results) => Response::Probed { results },
        Err(message) => Response::Error { message },
    }
}

fn stop(d: &Daemon, timeout_secs: u64) -> Response {
    tracing::info!("stop requested (drain up to {timeout_secs} s)");
    d.shutdown.trigger(Duration::from_secs(timeout_secs));
    Response::Stopping
}

async fn queue_retry(d: &Daemon, ids: Option<Vec<String>>) -> Response {
    let Some(queue) = d.proxy.queue.clone() else {
        return Response::Error {
            message: "this daemon has no failure queue".into(),
        };
    };
    let selection = match ids {
        Some(ids) => Selection::Ids(ids),
        None => Selection::AllPending,
    };
    match replay::run(
        d.proxy.clone(),
        queue,
        selection,
        QUEUE_CONCURRENCY,
        |_, _| {},
    )
    .await
    {
        Ok(summary) => Response::QueueRetried(summary),
        Err(e) => Response::Error {
            message: e.to_string(),
        },
    }
}
