//! The proxy's Prometheus metrics, served as `GET /_qcc/metrics` in the Prometheus text
//! format (0.0.4) through the official `prometheus-client` crate. Names are in the `qcc_`
//! namespace with base units in them (`_seconds`, `_total` for counters).
//!
//! Where each figure comes from (docs/decisions.md, *Metrics*, says why):
//! - **Request path, pre-resolved**: every endpoint's handles ([`EndpointMetrics`]: its
//!   attempt counters by result, its latency and first-token histograms, its answers) are
//!   looked up once, when the routing snapshot is built (`Upstream::build`, through the
//!   `StatsRegistry` that keeps them across reloads), so the request path only adds to
//!   atomics: no lock, no label set built, no allocation. Histograms are this module's
//!   lock-free [`histogram::Histogram`].
//! - **Answers** ([`Metrics::record_answer`], [`answers::Answers`]): requests by profile,
//!   model and outcome, tokens by kind, cost. The model label is capped per endpoint.
//! - **Scrape time** ([`Scrape`]): endpoint states, requests in flight and the failure
//!   queue's depth are read from the proxy's own state when scraped, never kept up to date
//!   on the request path.
//!
//! **For the usage accounting** (a task fed by a channel, off the request path): it calls
//! [`Metrics::record_answer`] once per answered request with the endpoint id, profile,
//! requested model, [`Outcome`], tokens by kind and cost. Until it lands the proxy calls
//! it itself, from one marked place (`proxy::forward::answered`, the *usage hook*), with
//! the tokens it already reads from streams (input and output only) and no cost; moving
//! the call is deleting that hook's body and calling this from the task.
//!
//! Pure: no IO, no knowledge of the proxy; it sits under `upstream` (docs/architecture.md).

pub mod answers;
pub mod histogram;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use crate::report::usage::Tokens;
use crate::state::health::EndpointState;
pub use answers::Answers;
pub use histogram::Histogram;

/// The `Content-Type` of a scrape.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
/// The endpoint label of requests no endpoint answered (qcc's own 503).
pub const NO_ENDPOINT: &str = "none";

/// What became of an answered request (the `outcome` label of `qcc_requests_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A 1xx–3xx answer that ended cleanly (or that the client left before its end).
    Success,
    /// A 4xx answer passed on (not one that fails over).
    ClientError,
    /// An upstream error passed on: the last one after failover was exhausted, or a 5xx
    /// that does not fail over.
    UpstreamError,
    /// qcc's own 503: no endpoint answered, or none could be tried.
    Unavailable,
    /// Committed (headers or first event sent), then the upstream failed.
    FailedStream,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Success,
        Outcome::ClientError,
        Outcome::UpstreamError,
        Outcome::Unavailable,
        Outcome::FailedStream,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::ClientError => "client_error",
            Outcome::UpstreamError => "upstream_error",
            Outcome::Unavailable => "unavailable",
            Outcome::FailedStream => "failed_stream",
        }
    }

    /// The outcome of an answer passed on with `status` whose body ended so.
    pub fn of_status(status: u16, failed_after_commit: bool) -> Self {
        match status {
            _ if failed_after_commit => Outcome::FailedStream,
            400..=499 => Outcome::ClientError,
            500.. => Outcome::UpstreamError,
            _ => Outcome::Success,
        }
    }
}

/// How one upstream attempt ended (the `result` label of `qcc_upstream_attempts_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptResult {
    /// It reached the commit point: its answer went to the client.
    Committed,
    /// It answered with a status that fails over (401/402/403/408/429/5xx/529).
    ErrorStatus,
    /// A 200 stream whose first event was an error (or an error in a 200 body).
    ErrorEvent,
    /// No answer: connect, TLS, reset or timeout before headers or the first event, no key.
    NoResponse,
}

impl AttemptResult {
    pub const ALL: [AttemptResult; 4] = [
        AttemptResult::Committed,
        AttemptResult::ErrorStatus,
        AttemptResult::ErrorEvent,
        AttemptResult::NoResponse,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AttemptResult::Committed => "committed",
            AttemptResult::ErrorStatus => "error_status",
            AttemptResult::ErrorEvent => "error_event",
            AttemptResult::NoResponse => "no_response",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub profile: Arc<str>,
    pub endpoint: Arc<str>,
    pub model: Arc<str>,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TokenLabels {
    pub endpoint: Arc<str>,
    pub model: Arc<str>,
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ModelLabels {
    pub endpoint: Arc<str>,
    pub model: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    endpoint: Arc<str>,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabel {
    endpoint: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    endpoint: String,
    profile: String,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    state: &'static str,
}

type HistogramFamily = Family<EndpointLabel, Histogram, fn() -> Histogram>;

/// The labelled families the per-endpoint handles are taken from.
pub(crate) struct Families {
    pub requests: Family<RequestLabels, Counter>,
    pub tokens: Family<TokenLabels, Counter>,
    pub cost: Family<ModelLabels, Counter<f64, AtomicU64>>,
    attempts: Family<AttemptLabels, Counter>,
    latency: HistogramFamily,
    first_token: HistogramFamily,
}

impl Default for Families {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            tokens: Family::default(),
            cost: Family::default(),
            attempts: Family::default(),
            latency: Family::new_with_constructor(Histogram::upstream),
            first_token: Family::new_with_constructor(Histogram::upstream),
        }
    }
}

/// One endpoint's handles, resolved when the routing snapshot is built. Every method is a
/// few relaxed atomic additions.
pub struct EndpointMetrics {
    attempts: [Counter; 4],
    latency: Histogram,
    first_token: Histogram,
    /// Its answered requests, tokens and cost.
    pub answers: Arc<Answers>,
}

impl EndpointMetrics {
    /// One attempt at this endpoint ended so.
    pub fn attempt(&self, result: AttemptResult) {
        self.attempts[result as usize].inc();
    }

    /// Time from sending to the response headers of an attempt that committed.
    pub fn latency(&self, d: Duration) {
        self.latency.observe(d);
    }

    /// Time from sending to the first event of a stream (to the headers of a whole answer,
    /// whose first bytes come with them) of an attempt that committed.
    pub fn first_token(&self, d: Duration) {
        self.first_token.observe(d);
    }
}

/// What is read from the proxy's state at scrape time.
#[derive(Default)]
pub struct Scrape {
    /// Client requests being served now.
    pub in_flight: u64,
    /// Every configured endpoint: id, profile, state now.
    pub endpoints: Vec<(String, String, EndpointState)>,
    /// The failure queue's items by state (none: no queue, or it could not be read).
    pub queue: Option<Vec<(&'static str, u64)>>,
}

/// The registry and every family (one per daemon; see the module doc).
pub struct Metrics {
    fam: Arc<Families>,
    registry: Registry,
    failovers: Counter,
    retry_refusals: Counter,
    overhead: Histogram,
    /// Handles by endpoint id (taken when a snapshot is built; never on the request path).
    endpoints: Mutex<HashMap<String, Arc<EndpointMetrics>>>,
    /// Answers by endpoint id, for [`Metrics::record_answer`] (read lock-free).
    answers: ArcSwap<HashMap<Box<str>, Arc<Answers>>>,
    answers_writer: Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Metrics {
    pub fn new() -> Self {
        let fam = Arc::new(Families::default());
        let failovers = Counter::default();
        let retry_refusals = Counter::default();
        let overhead = Histogram::overhead();
        let mut r = Registry::default();
        r.register(
            "qcc_build",
            "The qcc build serving (always 1)",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        r.register(
            "qcc_requests",
            "Requests answered, by serving profile, endpoint, requested model (capped) and outcome",
            fam.requests.clone(),
        );
        r.register(
            "qcc_upstream_attempts",
            "Attempts sent to an endpoint, by how they ended",
            fam.attempts.clone(),
        );
        r.register(
            "qcc_failovers",
            "Moves of a request to its next candidate after a failed attempt",
            failovers.clone(),
        );
        r.register(
            "qcc_retry_budget_refusals",
            "Failovers not made because the retry budget was spent",
            retry_refusals.clone(),
        );
        r.register_with_unit(
            "qcc_upstream_latency",
            "Time from sending to the response headers, of attempts that committed",
            Unit::Seconds,
            fam.latency.clone(),
        );
        r.register_with_unit(
            "qcc_time_to_first_token",
            "Time from sending to a stream's first event (a whole answer's headers), of attempts that committed",
            Unit::Seconds,
            fam.first_token.clone(),
        );
        r.register_with_unit(
            "qcc_proxy_overhead",
            "Time qcc adds to a committed request: arrival to the first attempt sent, plus commit to the answer handed over",
            Unit::Seconds,
            overhead.clone(),
        );
        r.register(
            "qcc_tokens",
            "Tokens of answered requests, by endpoint, model (capped) and kind",
            fam.tokens.clone(),
        );
        r.register_with_unit(
            "qcc_cost",
            "Cost of answered requests in US dollars, by endpoint and model (capped)",
            Unit::Other("dollars".into()),
            fam.cost.clone(),
        );
        Self {
            fam,
            registry: r,
            failovers,
            retry_refusals,
            overhead,
            endpoints: Mutex::new(HashMap::new()),
            answers: ArcSwap::from_pointee(HashMap::new()),
            answers_writer: Mutex::new(()),
        }
    }

    /// The handles of endpoint `id` (made on first use, then the same ones): taken when a
    /// routing snapshot is built, not per request.
    pub fn endpoint(&self, id: &str) -> Arc<EndpointMetrics> {
        let mut map = lock(&self.endpoints);
        if let Some(m) = map.get(id) {
            return m.clone();
        }
        let label: Arc<str> = Arc::from(id);
        let endpoint = EndpointLabel {
            endpoint: label.clone(),
        };
        let m = Arc::new(EndpointMetrics {
            attempts: AttemptResult::ALL.map(|r| {
                self.fam.attempts.get_or_create_owned(&AttemptLabels {
                    endpoint: label.clone(),
                    result: r.as_str(),
                })
            }),
            latency: self.fam.latency.get_or_create_owned(&endpoint),
            first_token: self.fam.first_token.get_or_create_owned(&endpoint),
            answers: self.answers(id),
        });
        map.insert(id.to_owned(), m.clone());
        m
    }

    /// The answers of endpoint `id` ([`NO_ENDPOINT`] for qcc's own 503s). Lock-free and
    /// allocation-free once the endpoint has been seen.
    pub fn answers(&self, id: &str) -> Arc<Answers> {
        if let Some(a) = self.answers.load().get(id) {
            return a.clone();
        }
        let _writer = lock(&self.answers_writer);
        let current = self.answers.load_full();
        if let Some(a) = current.get(id) {
            return a.clone();
        }
        let a = Arc::new(Answers::new(id, self.fam.clone()));
        let mut next = (*current).clone();
        next.insert(Box::from(id), a.clone());
        self.answers.store(Arc::new(next));
        a
    }

    /// **The usage accounting's entry point**: one answered request — the endpoint that
    /// answered (or [`NO_ENDPOINT`]), the profile serving it, the model the client asked
    /// for, its outcome, its tokens by kind and its cost (`None`: no price known).
    pub fn record_answer(
        &self,
        endpoint: &str,
        profile: &str,
        model: &str,
        outcome: Outcome,
        tokens: &Tokens,
        cost_usd: Option<f64>,
    ) {
        self.answers(endpoint)
            .record(profile, model, outcome, tokens, cost_usd);
    }

    /// A request moves to its next candidate after a failed attempt.
    pub fn failover(&self) {
        self.failovers.inc();
    }

    /// The retry budget refused a request its next attempt.
    pub fn retry_refused(&self) {
        self.retry_refusals.inc();
    }

    /// qcc's own time in one committed request.
    pub fn overhead(&self, d: Duration) {
        self.overhead.observe(d);
    }

    /// The text of one scrape: every family, then the figures read now (`scrape`).
    pub fn encode(&self, scrape: &Scrape) -> String {
        let mut now = Registry::default();
        let states: Family<StateLabels, Gauge> = Family::default();
        for (id, profile, state) in &scrape.endpoints {
            for s in EndpointState::ALL {
                states
                    .get_or_create(&StateLabels {
                        endpoint: id.clone(),
                        profile: profile.clone(),
                        state: s.as_str(),
                    })
                    .set(i64::from(s == *state));
            }
        }
        now.register(
            "qcc_endpoint_state",
            "1 for the state each endpoint is in now, 0 for the others",
            states,
        );
        let in_flight: Gauge<i64, AtomicI64> = Gauge::default();
        in_flight.set(i64::try_from(scrape.in_flight).unwrap_or(i64::MAX));
        now.register(
            "qcc_in_flight_requests",
            "Client requests being served now",
            in_flight,
        );
        if let Some(queue) = &scrape.queue {
            let items: Family<QueueLabels, Gauge> = Family::default();
            for (state, n) in queue {
                items
                    .get_or_create(&QueueLabels { state })
                    .set(i64::try_from(*n).unwrap_or(i64::MAX));
            }
            now.register(
                "qcc_queue_items",
                "Requests in the failure queue, by state",
                items,
            );
        }
        let mut out = String::new();
        // Writing to a String does not fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &now);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_names_every_family_with_its_unit() {
        let m = Metrics::new();
        let e = m.endpoint("e7c1a0");
        assert!(Arc::ptr_eq(&e, &m.endpoint("e7c1a0")), "resolved once");
        e.attempt(AttemptResult::Committed);
        e.latency(Duration::from_millis(20));
        e.first_token(Duration::from_millis(30));
        m.failover();
        m.overhead(Duration::from_micros(80));
        m.record_answer(
            "e7c1a0",
            "work",
            "claude-x",
            Outcome::Success,
            &Tokens {
                input: 3,
                ..Tokens::default()
            },
            Some(0.5),
        );
        let text = m.encode(&Scrape {
            in_flight: 2,
            endpoints: vec![("e7c1a0".into(), "work".into(), EndpointState::Open)],
            queue: Some(vec![("pending", 1), ("dead", 0)]),
        });
        for line in [
            "# TYPE qcc_requests_total counter",
            r#"qcc_requests_total{profile="work",endpoint="e7c1a0",model="claude-x",outcome="success"} 1"#,
            r#"qcc_upstream_attempts_total{endpoint="e7c1a0",result="committed"} 1"#,
            "qcc_failovers_total 1",
            "qcc_retry_budget_refusals_total 0",
            "# TYPE qcc_upstream_latency_seconds histogram",
            r#"qcc_upstream_latency_seconds_bucket{endpoint="e7c1a0",le="0.05"} 1"#,
            r#"qcc_time_to_first_token_seconds_count{endpoint="e7c1a0"} 1"#,
            "qcc_proxy_overhead_seconds_count 1",
            r#"qcc_tokens_total{endpoint="e7c1a0",model="claude-x",kind="input"} 3"#,
            r#"qcc_cost_dollars_total{endpoint="e7c1a0",model="claude-x"} 0.5"#,
            r#"qcc_endpoint_state{endpoint="e7c1a0",profile="work",state="open"} 1"#,
            r#"qcc_endpoint_state{endpoint="e7c1a0",profile="work",state="healthy"} 0"#,
            "qcc_in_flight_requests 2",
            r#"qcc_queue_items{state="pending"} 1"#,
            &format!(
                r#"qcc_build_info{{version="{}"}} 1"#,
                env!("CARGO_PKG_VERSION")
            ),
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "no line {line:?} in:\n{text}"
            );
        }
        assert!(!text.contains("# EOF"));
    }
}
