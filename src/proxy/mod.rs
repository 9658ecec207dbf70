//! The data plane: an HTTP server that forwards Anthropic-API requests to the active
//! profile's endpoints, streaming responses through untouched.
//!
//! - [`server`]: hyper accept loop, graceful drain.
//! - [`guard`]: who may use the proxy (loopback `Host` names, web `Origin`s, the token).
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
pub mod guard;
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
use guard::Access;
use routing::{RouteTable, Router};

/// Shared state of a running proxy.
pub struct Proxy {
    pub router: Router,
    /// The client for requests not made on a serving thread (queue replays).
    client: client::UpstreamClient,
    connect_timeout: Duration,
    /// Who may use it.
    access: Access,
    requests: AtomicU64,
    in_flight: AtomicU64,
    /// Bytes of request bodies held for possible retries (see `proxy.retry_buffer_bytes`).
    retry_bytes: AtomicU64,
    /// Where requests that failed everywhere are kept (set by the daemon).
    pub queue: std::sync::OnceLock<Arc<crate::queue::QueueStore>>,
}

impl Proxy {
    /// Build from a validated config.
    pub fn new(config: &Config, access: Access) -> Result<Self, String> {
        let router = Router::new(config)?;
        let connect_timeout = Duration::from_secs(config.proxy.connect_timeout_secs);
        let client = client::build(connect_timeout).map_err(|e| e.to_string())?;
        Ok(Self {
            router,
            client,
            connect_timeout,
            access,
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

    /// Upkeep every 250 ms, and at once when a breaker opens or closes: tier failover and
    /// recovery checks, the endpoints' states (changes are recorded), their `degraded`
    /// figures (every second), expiry of sticky pins (every 10 s).
    pub async fn maintain(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut n: u64 = 0;
        loop {
            tokio::select! {
                _ = tick.tick() => n += 1,
                () = self.router.changed.notified() => {}
            }
            let table = self.router.table();
            let now = Instant::now();
            self.router.evaluate(&table, now);
            if n.is_multiple_of(4) {
                assess(&table);
            }
            observe_states(&table, now);
            if n.is_multiple_of(40) {
                self.router.sticky.sweep(table.sticky_ttl());
            }
        }
    }
}

/// Mark each endpoint `degraded` or not from its recent figures.
fn assess(table: &RouteTable) {
    for u in &table.all {
        let (rate, samples) = u.stats.recent_success_rate();
        let (fb, fb_samples) = u.stats.first_byte_p95_ms();
        let why = crate::health::state::degraded(&table.health, rate, samples, fb, fb_samples);
        u.stats.set_degraded(why);
    }
}

/// Note every endpoint's state; log and keep the changes.
fn observe_states(table: &RouteTable, now: Instant) {
    for u in &table.all {
        let (state, reason) = u.state(now);
        if let Some(c) = u.stats.observe_state(state, &reason) {
            tracing::info!(endpoint = %u.id, "state {} → {}: {}", c.from, c.to, c.reason);
        }
    }
}
