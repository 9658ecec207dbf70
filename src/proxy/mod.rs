//! The data plane: an HTTP server that forwards Anthropic-API requests to the active
//! profile's endpoints, streaming responses through untouched.
//!
//! - [`server`]: hyper accept loop, graceful drain.
//! - [`forward`]: THE request pipeline (its steps are listed there).
//! - [`routing`]: the routing snapshot built from the config, swapped atomically on reload.
//! - [`upstream`]: URL join, header filtering, credential injection.
//! - [`body`]: streaming pass-through with an idle timeout and passive usage reading.
//! - [`retry`]: which outcomes may go to the next endpoint.
//! - [`stats`]: per-endpoint counters (atomics; no IO).
//! - [`error`]: Anthropic-shaped error responses.
//!
//! Nothing here reads files or prints: the daemon hands in a [`Config`] and asks for status.

pub mod body;
pub mod error;
pub mod forward;
pub mod retry;
pub mod routing;
pub mod server;
pub mod stats;
pub mod upstream;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::ipc::protocol::EndpointStatus;
use crate::state::Config;
use crate::state::secret::Secret;
use routing::RouteTable;
use stats::StatsRegistry;

/// Shared state of a running proxy.
pub struct Proxy {
    routes: ArcSwap<RouteTable>,
    registry: StatsRegistry,
    client: reqwest::Client,
    /// Clients must present this (either auth header) when set.
    access_token: Option<Secret>,
    requests: AtomicU64,
    in_flight: AtomicU64,
}

impl Proxy {
    /// Build from a validated config.
    pub fn new(config: &Config, access_token: Option<Secret>) -> Result<Self, String> {
        let registry = StatsRegistry::default();
        let routes = RouteTable::build(config, &registry)?;
        let client = upstream::client(Duration::from_secs(config.proxy.connect_timeout_secs))
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            routes: ArcSwap::from_pointee(routes),
            registry,
            client,
            access_token,
            requests: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
        })
    }

    /// Swap in a new config. In-flight requests keep the snapshot they started with.
    pub fn apply(&self, config: &Config) -> Result<(), String> {
        let routes = RouteTable::build(config, &self.registry)?;
        self.routes.store(Arc::new(routes));
        Ok(())
    }

    /// The snapshot in force now.
    pub fn routes(&self) -> Arc<RouteTable> {
        self.routes.load_full()
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Per-endpoint status for `proxy status`.
    pub fn endpoint_status(&self) -> Vec<EndpointStatus> {
        self.routes().all.iter().map(|u| u.status()).collect()
    }
}
