//! The routing snapshot: what the proxy forwards to, built from a [`Config`] and swapped
//! atomically on reload. Request handling reads one snapshot and touches only atomics.
//!
//! This release chooses simply: the active profile's enabled endpoints, starting at a
//! rotating index (round-robin), the rest as fallbacks in list order. The routing issue
//! replaces [`RouteTable::candidates`] with strategies, stickiness and health filtering.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::{HeaderName, HeaderValue};

use crate::ipc::protocol::EndpointStatus;
use crate::proxy::stats::{EndpointStats, StatsRegistry};
use crate::state::Config;
use crate::state::model::{AuthStyle, Endpoint, ProxySettings, Tier};

/// One endpoint as the proxy sees it.
pub struct Upstream {
    pub id: String,
    pub profile: String,
    pub name: String,
    /// Base URL without a trailing slash.
    pub base_url: String,
    /// The credential header to set (`x-api-key` or `authorization`), marked sensitive.
    pub credential: (HeaderName, HeaderValue),
    pub enabled: bool,
    pub stats: Arc<EndpointStats>,
}

impl Upstream {
    fn build(profile: &str, e: &Endpoint, registry: &StatsRegistry) -> Result<Self, String> {
        let (name, raw) = match e.auth {
            AuthStyle::ApiKey => (
                HeaderName::from_static("x-api-key"),
                e.key.expose().to_owned(),
            ),
            AuthStyle::Bearer => (
                http::header::AUTHORIZATION,
                format!("Bearer {}", e.key.expose()),
            ),
        };
        let mut value = HeaderValue::from_str(&raw).map_err(|_| {
            format!(
                "the key of endpoint {} has characters not allowed in an HTTP header",
                e.id
            )
        })?;
        value.set_sensitive(true);
        Ok(Self {
            id: e.id.clone(),
            profile: profile.to_owned(),
            name: e.label(),
            base_url: e.url.trim_end_matches('/').to_owned(),
            credential: (name, value),
            enabled: e.enabled,
            stats: registry.get(&e.id),
        })
    }

    pub fn status(&self) -> EndpointStatus {
        let (p50, p95) = self.stats.percentiles_ms();
        let (input, output) = self.stats.tokens();
        EndpointStatus {
            id: self.id.clone(),
            profile: self.profile.clone(),
            name: self.name.clone(),
            url: self.base_url.clone(),
            enabled: self.enabled,
            in_flight: self.stats.in_flight(),
            requests: self.stats.requests(),
            errors: self.stats.errors(),
            p50_ms: p50,
            p95_ms: p95,
            input_tokens: input,
            output_tokens: output,
            last_error: self.stats.last_error(),
        }
    }
}

/// An immutable view of the config for request handling.
pub struct RouteTable {
    pub active_profile: Option<String>,
    pub active_tier: Option<Tier>,
    /// Enabled endpoints of the active profile, in list order.
    pub serving: Vec<Arc<Upstream>>,
    /// Every endpoint of every profile (for status).
    pub all: Vec<Arc<Upstream>>,
    pub settings: ProxySettings,
    next: AtomicUsize,
}

impl RouteTable {
    /// Build a snapshot. Refuses a config the proxy cannot serve from.
    pub fn build(config: &Config, registry: &StatsRegistry) -> Result<Self, String> {
        let active = config
            .active_profile()
            .ok_or("no profile is configured: add one with `qcc profile add <name>`")?;
        let mut all = Vec::new();
        let mut serving = Vec::new();
        for (p, e) in config.endpoints() {
            let u = Arc::new(Upstream::build(&p.name, e, registry)?);
            if p.name == active.name && e.enabled {
                serving.push(u.clone());
            }
            all.push(u);
        }
        Ok(Self {
            active_profile: Some(active.name.clone()),
            active_tier: config.tiers.tier_of(&active.name),
            serving,
            all,
            settings: config.proxy.clone(),
            next: AtomicUsize::new(0),
        })
    }

    /// The endpoints to try for one request, best first, each at most once.
    pub fn candidates(&self) -> impl Iterator<Item = &Arc<Upstream>> {
        let n = self.serving.len();
        let start = if n == 0 {
            0
        } else {
            self.next.fetch_add(1, Ordering::Relaxed) % n
        };
        (0..n).map(move |i| &self.serving[(start + i) % n])
    }
}
