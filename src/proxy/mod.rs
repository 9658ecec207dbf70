//! The data plane: an HTTP server that forwards Anthropic-API requests to the active
//! profile's endpoints, streaming responses through untouched.
//!
//! - [`server`]: hyper accept loop, graceful drain.
//! - [`guard`]: who may use the proxy (loopback `Host` names, web `Origin`s, the token).
//! - [`forward`]: THE request pipeline (its steps are listed there).
//! - [`routing`]: the routing snapshot built from the config (model routes included),
//!   swapped atomically on reload.
//! - [`tiers`]: which profile serves — failover and recovery as a pure step.
//! - [`client`]: the HTTP client requests go upstream with (hyper-util + rustls).
//! - [`upstream`]: the header rules (hop-by-hop and client credentials out), the reqwest
//!   client of the demo and tests.
//! - [`request_body`]: a request body held as the chunks read, never copied whole.
//! - [`peek`]: `stream`, the conversation id and the `model` read from a body without
//!   parsing it.
//! - [`body`]: streaming pass-through with an idle timeout and passive usage reading.
//! - [`translated`]: an `openai` endpoint's stream as Anthropic events, with pings.
//! - [`local`]: what the proxy answers itself (`count_tokens` estimates for `openai`
//!   endpoints, `/v1/models` from model maps).
//! - [`retry`]: which outcomes may go to the next endpoint.
//! - [`replay`]: queued requests sent again through the same routing.
//! - [`error`]: Anthropic-shaped error responses.
//! - [`page`]: the status page at `/_qcc/` (embedded HTML, CSS and JS).
//!
//! Per-endpoint runtime state (figures, breakers, states) lives below, in
//! [`crate::upstream`]. Nothing here reads files or prints, but the failure queue's writes,
//! which go to the blocking pool: the daemon hands in a [`Config`] and asks for status.

pub mod body;
pub mod client;
pub mod error;
pub mod forward;
pub mod guard;
pub mod local;
pub mod model_map;
pub mod page;
pub mod peek;
pub mod replay;
pub mod request_body;
pub mod retry;
pub mod routing;
pub mod server;
pub mod tiers;
pub mod translated;
pub mod upstream;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::report::queue::QueueCounts;
use crate::report::status::{
    EndpointStateChange, EndpointStatus, RECENT, RouteStatus, StatusReport, TierStatus,
};
use crate::state::Config;
use crate::state::model::SwitchRecord;
use guard::Access;
use routing::{RouteError, RouteTable, Router};

/// Why a proxy cannot be built from a config.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error(transparent)]
    Client(#[from] client::ClientError),
}

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
    /// When it started (for `proxy status`).
    started_at: chrono::DateTime<chrono::Utc>,
    started: Instant,
    /// Why the last reload was refused, if it was (the previous config stays in force).
    config_error: std::sync::Mutex<Option<String>>,
    /// Where requests that failed everywhere are kept (none: they are not kept, as for
    /// the CLI's own replays).
    pub queue: Option<crate::queue::QueueStore>,
    /// What the daemon read from its files for the status report (switch history, queue
    /// counts): the proxy itself reads no file.
    facts: std::sync::Mutex<Facts>,
    /// The usage accounting answered requests are reported to.
    pub usage: Arc<crate::usage::Usage>,
    /// The state shared with other daemons through Redis (off until the daemon starts it).
    pub shared: Arc<crate::shared::Shared>,
}

/// The parts of the status report that live in files, kept fresh by the daemon.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// The newest switch records, newest first.
    pub switches: Vec<SwitchRecord>,
    pub queue: Option<QueueCounts>,
}

impl Proxy {
    /// Build from a validated config.
    pub fn new(
        config: &Config,
        access: Access,
        queue: Option<crate::queue::QueueStore>,
        usage: Arc<crate::usage::Usage>,
    ) -> Result<Self, ProxyError> {
        let router = Router::new(config)?;
        // One price book for the strategies and the accounting.
        usage.apply(config, router.table().prices.clone());
        let connect_timeout = Duration::from_secs(config.proxy.connect_timeout_secs);
        let client = client::build(connect_timeout)?;
        Ok(Self {
            router,
            client,
            connect_timeout,
            access,
            requests: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            retry_bytes: AtomicU64::new(0),
            started_at: chrono::Utc::now(),
            started: Instant::now(),
            config_error: std::sync::Mutex::new(None),
            queue,
            facts: std::sync::Mutex::new(Facts::default()),
            usage,
            shared: Arc::default(),
        })
    }

    /// Swap in a new config. In-flight requests keep the snapshot they started with.
    pub fn apply(&self, config: &Config) -> Result<(), RouteError> {
        self.router.apply(config)?;
        self.usage.apply(config, self.router.table().prices.clone());
        self.shared.apply(&config.proxy);
        Ok(())
    }

    /// Where answered requests are reported.
    pub fn usage_sink(&self) -> crate::usage::UsageSink {
        self.usage.sink()
    }

    /// A new upstream client (its own connection pool), for one serving thread.
    pub fn new_client(&self) -> Result<client::UpstreamClient, client::ClientError> {
        client::build(self.connect_timeout)
    }

    /// The snapshot in force now.
    pub fn routes(&self) -> Arc<RouteTable> {
        self.router.table()
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The daemon's Prometheus metrics (`/_qcc/metrics`).
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        self.router.registry().metrics()
    }

    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Per-endpoint status for `proxy status`.
    pub fn endpoint_status(&self) -> Vec<EndpointStatus> {
        self.router.endpoint_status()
    }

    /// Note why the last reload was refused (`None`: the new config is in force).
    pub fn set_config_error(&self, error: Option<String>) {
        *self
            .config_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = error;
    }

    /// Hand in what the daemon read from `history.json` and the queue's index.
    /// The failure queue's counts as the daemon last read them.
    pub fn queue_counts(&self) -> Option<crate::report::queue::QueueCounts> {
        self.facts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .queue
    }

    pub fn set_facts(&self, facts: Facts) {
        *self
            .facts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = facts;
    }

    /// Today's usage per endpoint and the series of the last hour and week (what
    /// `/_qcc/usage` serves).
    pub fn usage_summary(&self) -> crate::report::usage::UsageSummary {
        self.usage.summary()
    }

    pub fn status_report(&self) -> StatusReport {
        let tiers = self.router.tier_state();
        let table = self.routes();
        let tier_of = |name: &str| table.profile(name).and_then(|(_, p)| p.tier);
        let facts = self
            .facts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut changes: Vec<EndpointStateChange> = table
            .all
            .iter()
            .flat_map(|u| {
                u.stats
                    .state_changes(RECENT)
                    .into_iter()
                    .map(|c| EndpointStateChange {
                        at: c.at,
                        endpoint: u.id.clone(),
                        name: u.name.clone(),
                        from: c.from,
                        to: c.to,
                        reason: c.reason,
                    })
            })
            .collect();
        changes.sort_by_key(|c| std::cmp::Reverse(c.at));
        changes.truncate(RECENT);
        let shared = self.shared.status();
        StatusReport {
            shared_state: shared.state,
            shared_url: shared.url,
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: self.started_at,
            uptime_secs: self.started.elapsed().as_secs(),
            listen: self
                .access
                .listen
                .map(|a| a.to_string())
                .unwrap_or_default(),
            active_tier: tier_of(&tiers.serving).map(|t| t.to_string()),
            active_profile: Some(tiers.serving.clone()),
            chosen_profile: Some(tiers.chosen.clone()),
            failed_over_from: tiers.failed_over_from.clone(),
            config_error: self
                .config_error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
            requests: self.requests(),
            in_flight: self.in_flight(),
            endpoints: self.endpoint_status(),
            routes: table
                .routes
                .iter()
                .map(|r| {
                    let p = &table.profiles[r.profile];
                    RouteStatus {
                        model: r.pattern.clone(),
                        profile: p.name.clone(),
                        available: p.available(Instant::now()),
                    }
                })
                .collect(),
            tiers: table
                .order
                .iter()
                .map(|&i| {
                    let p = &table.profiles[i];
                    TierStatus {
                        profile: p.name.clone(),
                        tier: p.tier.map(|t| t.to_string()).unwrap_or_default(),
                        available: p.available(Instant::now()),
                        endpoints: p.endpoints.len(),
                    }
                })
                .collect(),
            recent_switches: facts.switches,
            recent_state_changes: changes,
            queue: facts.queue,
        }
    }

    /// Upkeep every 250 ms, and at once when a breaker opens or closes: tier failover and
    /// recovery checks, the endpoints' states (changes are recorded), their `degraded`
    /// figures (every second), expiry of sticky pins (every 10 s).
    pub async fn maintain(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut n: u64 = 0;
        let mut told = std::collections::HashMap::new();
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
            self.tell_trips(&table, now, &mut told);
            if n.is_multiple_of(40) {
                self.router.sticky.sweep(table.sticky_ttl());
            }
        }
    }
}

impl Proxy {
    /// Tell the other daemons (the shared state) of each breaker opened here since the
    /// last look; `told` keeps the last opening told per endpoint. Off the request path.
    fn tell_trips(
        &self,
        table: &RouteTable,
        now: Instant,
        told: &mut std::collections::HashMap<String, u64>,
    ) {
        if !self.shared.enabled() {
            return;
        }
        for u in &table.all {
            let Some((seq, left, cause, reason)) = u.breaker.opened_here(now) else {
                continue;
            };
            if told.get(&u.id) == Some(&seq) {
                continue;
            }
            told.insert(u.id.clone(), seq);
            let cause = match cause {
                crate::upstream::breaker::Cause::Failures => crate::shared::TripCause::Failures,
                crate::upstream::breaker::Cause::RetryAfter => crate::shared::TripCause::RetryAfter,
                crate::upstream::breaker::Cause::Billing => crate::shared::TripCause::Billing,
            };
            let (shared, id) = (self.shared.clone(), u.id.clone());
            tokio::spawn(async move { shared.publish_trip(&id, left, cause, &reason).await });
        }
    }
}

/// Mark each endpoint `degraded` or not from its recent figures.
fn assess(table: &RouteTable) {
    for u in &table.all {
        let (rate, samples) = u.stats.recent_success_rate();
        let (fb, fb_samples) = u.stats.first_byte_p95_ms();
        let why = crate::upstream::state::degraded(&table.health, rate, samples, fb, fb_samples);
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
