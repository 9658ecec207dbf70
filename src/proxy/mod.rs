//! The data plane: an HTTP server that forwards Anthropic-API requests to the active
//! profile's endpoints, streaming responses through untouched.
//!
//! - [`server`]: hyper accept loop, graceful drain.
//! - [`forward`]: THE request pipeline (its steps are listed there).
//! - [`routing`]: the routing snapshot built from the config, swapped atomically on reload.
//! - [`client`]: the HTTP client requests go upstream with (hyper-util + rustls).
//! - [`upstream`]: URL join, header filtering, credential injection.
//! - [`request_body`]: a request body held as the chunks read, never copied whole.
//! - [`peek`]: `stream` and the conversation id read from a body without parsing it.
//! - [`body`]: streaming pass-through with an idle timeout and passive usage reading.
//! - [`retry`]: which outcomes may go to the next endpoint.
//! - [`stats`]: per-endpoint counters (atomics; no IO).
//! - [`error`]: Anthropic-shaped error responses.
//!
//! Nothing here reads files or prints: the daemon hands in a [`Config`] and asks for status.

pub mod body;
pub mod client;
pub mod error;
pub mod forward;
pub mod peek;
pub mod request_body;
pub mod retry;
pub mod routing;
pub mod server;
pub mod stats;
pub mod upstream;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::ipc::protocol::EndpointStatus;
use crate::state::Config;
use crate::state::secret::Secret;
use routing::{RouteTable, Router};

/// Shared state of a running proxy.
pub struct Proxy {
    pub router: Router,
    /// The client for requests not made on a serving thread (queue replays).
    client: client::UpstreamClient,
    connect_timeout: Duration,
    /// Clients must present this (either auth header) when set.
    access_token: Option<Secret>,
    requests: AtomicU64,
    in_flight: AtomicU64,
    /// Bytes of request bodies held for possible retries (see `proxy.retry_buffer_bytes`).
    retry_bytes: AtomicU64,
    /// Where requests that failed everywhere are kept (set by the daemon).
    pub queue: std::sync::OnceLock<Arc<crate::queue::QueueStore>>,
}

impl Proxy {
    /// Build from a validated config.
    pub fn new(config: &Config, access_token: Option<Secret>) -> Result<Self, String> {
        let router = Router::new(config)?;
        let connect_timeout = Duration::from_secs(config.proxy.connect_timeout_secs);
        let client = client::build(connect_timeout).map_err(|e| e.to_string())?;
        Ok(Self {
            router,
            client,
            connect_timeout,
            access_token,
            requests: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            retry_bytes: AtomicU64::new(0),
            queue: std::sync::OnceLock::new(),
        })
    }

    /// Swap in a new config. In-flight requests keep the snapshot they started with.
    pub fn apply(&self, config: &Config) -> Result<(), String> {
        self.router.apply(config)
    }

    /// A new upstream client (its own connection pool), for one serving thread.
    pub fn new_client(&self) -> Result<client::UpstreamClient, String> {
        client::build(self.connect_timeout).map_err(|e| e.to_string())
    }

    /// The snapshot in force now.
    pub fn routes(&self) -> Arc<RouteTable> {
        self.router.table()
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Per-endpoint status for `proxy status`.
    pub fn endpoint_status(&self) -> Vec<EndpointStatus> {
        self.router.endpoint_status()
    }

    /// Upkeep on a timer: tier failover and recovery checks, expiry of sticky pins.
    pub async fn maintain(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut n: u64 = 0;
        loop {
            tick.tick().await;
            let table = self.router.table();
            self.router.evaluate(&table, Instant::now());
            n += 1;
            if n.is_multiple_of(40) {
                self.router.sticky.sweep(table.sticky_ttl());
            }
        }
    }
}
