//! The layer under the proxy: one endpoint at run time, and everything that is per
//! endpoint and outlives a request — its parsed target and credential, its figures, its
//! circuit breaker, its state word and share, and the pure metric maths. Depends on
//! `state`, `report` and `metrics` only, so that `balance`, `proxy` and `health` all sit above it.
//!
//! - [`target`]: the base URL (parsed once).
//! - [`keys`]: the credential header and its key, stored or read through a reference.
//! - [`stats`]: per-endpoint counters and windows (atomics and short locks; no IO).
//! - [`breaker`]: the circuit breaker (closed / open / half-open, last resort).
//! - [`state`]: the state word (healthy, degraded, open, …), `degraded`, the slow start.
//! - [`metrics`]: success rate, percentiles, stability, the weight factor.
//! - [`limits`]: local limits (sliding minute, UTC day, budgets) and the provider's
//!   announced ones, counted before they bite.
//!
//! The [`Upstream`] itself (one endpoint as the proxy sees it) is defined here.

pub mod breaker;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod state;
pub mod stats;
pub mod target;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::report::status::{BreakerState, EndpointIdentity, EndpointStatus};
use crate::state::Config;
use crate::state::health::EndpointState;
use crate::state::model::{Endpoint, EndpointKind};
use breaker::Breaker;
use keys::{KeyRegistry, KeySlot};
use stats::{EndpointStats, StatsRegistry};
use target::BaseUrl;

/// One endpoint as the proxy sees it.
pub struct Upstream {
    pub id: String,
    pub profile: String,
    /// The same two, shared (an answer's report clones them without allocating).
    pub shared_id: Arc<str>,
    pub shared_profile: Arc<str>,
    pub name: String,
    /// Base URL without a trailing slash.
    pub base_url: String,
    /// The same, parsed once (requests only add their path and query).
    pub base: BaseUrl,
    /// Its credential: the header to set (`x-api-key` or `authorization`, marked
    /// sensitive) and the key's fingerprint (a rejected key is skipped until it changes).
    pub key: Arc<KeySlot>,
    pub enabled: bool,
    pub weight: u32,
    pub stats: Arc<EndpointStats>,
    pub breaker: Arc<Breaker>,
    /// Its Prometheus handles, resolved once here (kept across reloads).
    pub metrics: Arc<crate::metrics::EndpointMetrics>,
    /// What it speaks: `openai` endpoints get translated requests at [`Upstream::chat`].
    pub kind: EndpointKind,
    /// An `openai` endpoint's chat completions URL (base URL + chat path).
    pub chat: Option<http::Uri>,
    /// The path part of it, after the base URL.
    pub chat_path: Option<String>,
    /// Its model map (empty: requests go as they are).
    pub models: Vec<crate::state::models::ModelRule>,
    /// Answers name the model this endpoint served, not the one asked for.
    pub report_upstream_model: bool,
    /// The endpoint's own health-probe model, if it has one.
    pub probe_model: Option<String>,
    /// `health.weight_adjust`: the balancer uses [`Upstream::effective_weight`].
    pub weight_adjust: bool,
    /// `proxy.slow_start_secs`.
    pub slow_start: Duration,
    /// Its local limits, if it has any (`None`: nothing is counted for it).
    pub limits: Option<crate::state::limits::Limits>,
    /// Its counts against them and what its provider announced (kept across reloads).
    pub limiter: Arc<limits::Limiter>,
}

/// Why an endpoint of the config cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    #[error("endpoint {id} has an invalid URL: {source}")]
    Url {
        id: String,
        #[source]
        source: target::UrlError,
    },
}

impl Upstream {
    /// One endpoint of `profile`, its stats and breaker from `registry` and its key slot
    /// from `keys` (both kept across reloads).
    pub fn build(
        profile: &str,
        e: &Endpoint,
        registry: &StatsRegistry,
        keys: &KeyRegistry,
        config: &Config,
    ) -> Result<Self, UpstreamError> {
        let (stats, breaker) = registry.get(&e.id);
        let key = keys.slot(e, breaker.clone())?;
        let url_error = |source| UpstreamError::Url {
            id: e.id.clone(),
            source,
        };
        let base = BaseUrl::parse(&e.url).map_err(url_error)?;
        let chat = match e.kind {
            EndpointKind::Anthropic => None,
            EndpointKind::Openai => Some(base.join(e.chat_path()).map_err(url_error)?),
        };
        Ok(Self {
            id: e.id.clone(),
            profile: profile.to_owned(),
            shared_id: Arc::from(e.id.as_str()),
            shared_profile: Arc::from(profile),
            name: e.label(),
            base_url: e.url.trim_end_matches('/').to_owned(),
            base,
            kind: e.kind,
            chat,
            chat_path: (e.kind == EndpointKind::Openai).then(|| e.chat_path().to_owned()),
            key,
            enabled: e.enabled,
            weight: u32::from(e.weight),
            stats,
            breaker,
            metrics: registry.metrics().endpoint(&e.id),
            models: e.models.clone(),
            report_upstream_model: e.report_upstream_model,
            probe_model: e.probe_model.clone(),
            weight_adjust: config.health.weight_adjust,
            slow_start: Duration::from_secs(config.proxy.slow_start_secs),
            limits: (!e.limits.is_empty()).then_some(e.limits),
            limiter: registry.limiter(&e.id),
        })
    }

    /// Admit a Messages request to this endpoint, or say why it is `limited`. Without
    /// local limits and with nothing announced by its provider: two atomic loads, no clock.
    /// `estimate` (its tokens) is asked only when something counts them.
    pub fn admit(
        &self,
        estimate: impl FnOnce() -> u64,
    ) -> Result<Option<limits::Reservation>, limits::Held> {
        if self.limits.is_none() && !self.limiter.announced_any() {
            return Ok(None);
        }
        self.limiter
            .admit(self.limits.as_ref(), limits::unix_ms(), estimate())
    }

    /// Why it is `limited` now, if it is.
    pub fn held(&self) -> Option<limits::Held> {
        if self.limits.is_none() && !self.limiter.announced_any() {
            return None;
        }
        self.limiter.held(self.limits.as_ref(), limits::unix_ms())
    }

    /// Fingerprint of its key now (or of why it has none).
    pub fn key_fp(&self) -> u64 {
        self.key.fp()
    }

    /// Its one state word now, and why.
    pub fn state(&self, now: Instant) -> (EndpointState, String) {
        self.classify(&self.breaker.view(self.key_fp(), now), self.held().as_ref())
    }

    /// The state word for what its breaker says (`view`), its limits, its config and its
    /// figures.
    fn classify(
        &self,
        view: &breaker::BreakerView,
        held: Option<&limits::Held>,
    ) -> (EndpointState, String) {
        let degraded = self.stats.degraded_reason();
        state::classify(
            self.enabled,
            view,
            held.map(|h| h.reason.as_str()),
            degraded.as_deref(),
            self.slow_start,
        )
    }

    /// The share of the new conversations the strategy gives it that it keeps (slow start,
    /// degraded). Cheap: an atomic read, and the breaker only while a slow start may run.
    pub fn share(&self, now: Instant) -> f64 {
        let since = if self.slow_start.is_zero() {
            None
        } else {
            self.breaker.since_closed(now)
        };
        state::share(since, self.slow_start, self.stats.is_degraded())
    }

    /// How much of its quota is left, 0 (none: rate-limited) to 1 (all): the `quota`
    /// factor of the `adaptive` strategy. The hook for the provider rate-limit headers
    /// (what the provider announced: none while it says an endpoint may be held) and local
    /// budgets (the share of the day's or month's left). Called on the request path of
    /// `adaptive` profiles: atomics, and one short lock for endpoints with a budget.
    pub fn quota_headroom(&self) -> f64 {
        // Something the provider announced may hold it: no headroom to count on (the
        // admission check itself decides; the score only prefers the others).
        if self.limiter.announced_any() {
            return 0.0;
        }
        // A budget: the share of today's (or this month's) that is left. One short lock,
        // only for endpoints with a budget.
        let Some(l) = &self.limits else {
            return 1.0;
        };
        if l.budget_day_usd.is_none() && l.budget_month_usd.is_none() {
            return 1.0;
        }
        let (day, month) = self.limiter.spend(limits::unix_ms());
        let left = |spent: f64, budget: Option<f64>| {
            budget.map_or(1.0, |b| {
                if b > 0.0 {
                    (1.0 - spent / b).clamp(0.0, 1.0)
                } else {
                    0.0
                }
            })
        };
        left(day, l.budget_day_usd).min(left(month, l.budget_month_usd))
    }

    /// The weight the `weighted` strategy uses: the configured one, scaled by recent
    /// success rate and latency when `health.weight_adjust` is on (never below 1).
    pub fn effective_weight(&self) -> u32 {
        if self.weight_adjust {
            metrics::effective_weight(self.weight, self.stats.weight_permille())
        } else {
            self.weight
        }
    }

    /// Who this endpoint is and what its breaker says now.
    pub fn identity(&self, now: Instant) -> EndpointIdentity {
        let view = self.breaker.view(self.key_fp(), now);
        let held = self.held();
        let (state, _) = self.classify(&view, held.as_ref());
        let limited = held.filter(|_| state == EndpointState::Limited);
        let (breaker, unavailable) = if self.enabled {
            let limited_why = limited.as_ref().map(|h| {
                format!(
                    "limited: {} (until {})",
                    h.reason,
                    h.until()
                        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                        .unwrap_or_default()
                )
            });
            (view.state, view.unavailable.or(limited_why))
        } else {
            (BreakerState::Disabled, Some("disabled".to_owned()))
        };
        EndpointIdentity {
            state,
            id: self.id.clone(),
            profile: self.profile.clone(),
            name: self.name.clone(),
            url: self.base_url.clone(),
            enabled: self.enabled,
            breaker,
            cooldown_left_secs: view.cooldown_left.map(|d| d.as_secs_f64().ceil() as u64),
            unavailable,
            consecutive_failures: view.consecutive_failures,
            weight: self.weight,
            effective_weight: self.effective_weight(),
            limited_until: limited.and_then(|h| h.until()),
        }
    }

    pub fn status(&self, now: Instant, pinned: usize) -> EndpointStatus {
        let (p50, p95) = self.stats.percentiles_ms();
        let (fb50, fb95) = self.stats.first_byte_percentiles_ms();
        let (input, output) = self.stats.tokens();
        let (model_asked, model_sent) = self.stats.last_model().unzip();
        EndpointStatus {
            endpoint: self.identity(now),
            pinned,
            in_flight: self.stats.in_flight(),
            requests: self.stats.requests(),
            errors: self.stats.errors(),
            p50_ms: p50,
            p95_ms: p95,
            first_byte_p50_ms: fb50,
            first_byte_p95_ms: fb95,
            input_tokens: input,
            output_tokens: output,
            last_error: self.stats.last_error(),
            kind: self.kind.to_string(),
            model_asked,
            model_sent,
            score: None,
        }
    }
}
