//! The state model: serde types for the documents in the config dir and the domain rules
//! that change them. Pure: no IO, no clock, no randomness (callers pass `now` and an id
//! generator), so every rule is unit-tested here.
//!
//! Documents:
//! - [`Config`] (`config.json`): user intent — profiles, endpoints, tiers, model routes,
//!   active profile, failover policy. Written by the CLI.
//! - [`History`] (`history.json`): switch records, appended by the CLI (manual switches) and
//!   later by the daemon (failover / recovery).
//!
//! Unknown fields written by a newer qcc are kept (`extra`) and written back unchanged.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::state::keyref::KeyRef;
use crate::state::models::{ModelRule, PatternError, check_pattern, glob_match};
pub use crate::state::prices::Prices;
pub use crate::state::score::ScoreWeights;
use crate::state::secret::Secret;

/// Format version of `config.json` this build reads and writes.
pub const CONFIG_VERSION: u32 = 1;
/// Format version of `history.json`.
pub const HISTORY_VERSION: u32 = 1;
/// How many switch records `history.json` keeps (oldest dropped first).
pub const HISTORY_CAP: usize = 1000;
/// Endpoint weight bounds.
pub const WEIGHT_MIN: u16 = 1;
pub const WEIGHT_MAX: u16 = 1000;
pub const WEIGHT_DEFAULT: u16 = 100;

/// Errors of the domain rules. Each knows the hint that helps the user fix it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    #[error("no profile named '{name}'")]
    UnknownProfile { name: String, known: Vec<String> },
    #[error("a profile named '{0}' already exists")]
    DuplicateProfile(String),
    #[error("invalid profile name '{0}'")]
    InvalidProfileName(String),
    #[error("no endpoint matches id or name '{query}'{}", scope_suffix(.profile))]
    UnknownEndpoint {
        query: String,
        profile: Option<String>,
    },
    #[error("endpoint id '{query}' is ambiguous: it matches {}", .matches.join(", "))]
    AmbiguousEndpoint { query: String, matches: Vec<String> },
    /// Several endpoints (in scope) carry this name; `matches` are "id (profile)".
    #[error("endpoint name '{query}' is ambiguous: it names {}", .matches.join(", "))]
    AmbiguousEndpointName { query: String, matches: Vec<String> },
    #[error("the endpoint name '{name}' is the id of endpoint {id} ({profile})")]
    NameIsAnId {
        name: String,
        id: String,
        profile: String,
    },
    #[error(
        "profile '{profile}' already has an endpoint for {url} with key {masked_key} (id {id})"
    )]
    DuplicateEndpoint {
        profile: String,
        url: String,
        masked_key: String,
        id: String,
    },
    #[error("invalid URL '{url}': {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("weight {0} is out of range")]
    InvalidWeight(u32),
    #[error("profile '{profile}' is in the {tier} tier, so it was not removed")]
    ProfileInTier { profile: String, tier: Tier },
    #[error("the key is empty")]
    EmptyKey,
    #[error("profile '{0}' has no enabled endpoint")]
    NoEnabledEndpoint(String),
    #[error("an openai endpoint sends its key as Authorization: Bearer, not {0}")]
    OpenaiAuth(AuthStyle),
    #[error("invalid chat path '{path}': {reason}")]
    InvalidChatPath { path: String, reason: &'static str },
    #[error("{0}")]
    InvalidRoutePattern(PatternError),
    #[error("a route for '{pattern}' already exists (→ {profile})")]
    DuplicateRoute { pattern: String, profile: String },
    #[error("no route for the model pattern '{0}'")]
    UnknownRoute(String),
    #[error("position {position} is out of range: there are {routes} route(s)")]
    InvalidRoutePosition { position: usize, routes: usize },
    #[error(
        "profile '{profile}' is the target of the route(s) {}, so it was not removed",
        .patterns.join(", ")
    )]
    ProfileRouted {
        profile: String,
        patterns: Vec<String>,
    },
}

/// Check an `openai` endpoint's chat path (see [`Endpoint::chat_path`]) and its auth style.
pub fn check_kind(
    kind: EndpointKind,
    auth: AuthStyle,
    chat_path: Option<&str>,
) -> Result<(), ModelError> {
    if let Some(path) = chat_path {
        let bad = |reason| ModelError::InvalidChatPath {
            path: path.to_owned(),
            reason,
        };
        if kind != EndpointKind::Openai {
            return Err(bad("only openai endpoints have one"));
        }
        if !path.starts_with('/') {
            return Err(bad("it must start with '/'"));
        }
        if path.contains(['?', '#']) || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad(
                "it must be a plain path (no spaces, query or fragment)",
            ));
        }
    }
    if kind == EndpointKind::Openai && auth != AuthStyle::Bearer {
        return Err(ModelError::OpenaiAuth(auth));
    }
    Ok(())
}

fn scope_suffix(profile: &Option<String>) -> String {
    match profile {
        Some(p) => format!(" in profile '{p}'"),
        None => String::new(),
    }
}

impl ModelError {
    /// A one-line suggestion for the user.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            ModelError::UnknownProfile { known, .. } if known.is_empty() => {
                "there are no profiles yet: create one with `qcc profile add <name>`".into()
            }
            ModelError::UnknownProfile { known, .. } => {
                format!(
                    "known profiles: {} (see `qcc profile list`)",
                    known.join(", ")
                )
            }
            ModelError::DuplicateProfile(_) => {
                "pick another name, or change the existing one with `qcc profile edit`".into()
            }
            ModelError::InvalidProfileName(_) => {
                "use 1–64 letters, digits, '.', '_' or '-', not starting with '-' or '.'".into()
            }
            ModelError::UnknownEndpoint { .. } => {
                "see the ids and names with `qcc endpoint list`".into()
            }
            ModelError::AmbiguousEndpoint { .. } => "type more characters of the id".into(),
            ModelError::AmbiguousEndpointName { .. } => {
                "give one of the ids instead (or name the endpoints apart)".into()
            }
            ModelError::NameIsAnId { .. } => {
                "pick another name: an id always wins over a name when qcc looks one up".into()
            }
            ModelError::DuplicateEndpoint { profile, id, .. } => {
                format!("change the existing endpoint with `qcc endpoint edit {profile} {id}`")
            }
            ModelError::InvalidUrl { .. } => {
                "give an http:// or https:// base URL, e.g. https://api.anthropic.com".into()
            }
            ModelError::InvalidWeight(_) => {
                format!("weights go from {WEIGHT_MIN} to {WEIGHT_MAX} (default {WEIGHT_DEFAULT})")
            }
            ModelError::ProfileInTier { profile, .. } => format!(
                "pass --force to remove it anyway, or first `qcc priority set {profile} none`"
            ),
            ModelError::EmptyKey => {
                "pass --key, --key-env VAR, --key-stdin or --key-ref env:VAR|file:PATH|cmd:COMMAND"
                    .into()
            }
            ModelError::NoEnabledEndpoint(p) => format!(
                "add one with `qcc endpoint add {p}` or enable one with `qcc endpoint enable {p} <id>`"
            ),
            ModelError::OpenaiAuth(_) => "drop --auth, or pass --auth bearer".into(),
            ModelError::InvalidChatPath { .. } => {
                "pass the path after the base URL, e.g. --chat-path /chat/completions".into()
            }
            ModelError::InvalidRoutePattern(e) => e.hint().into(),
            ModelError::DuplicateRoute { pattern, .. } => format!(
                "remove it first with `qcc route remove '{pattern}'` (see `qcc route list`)"
            ),
            ModelError::UnknownRoute(_) => "see the patterns with `qcc route list`".into(),
            ModelError::InvalidRoutePosition { routes, .. } => format!(
                "positions go from 1 (tried first) to {} (the end)",
                routes + 1
            ),
            ModelError::ProfileRouted { patterns, .. } => format!(
                "pass --force to remove it and its routes, or first `qcc route remove '{}'`",
                patterns.first().map_or("", String::as_str)
            ),
        })
    }
}

/// How a credential is sent upstream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[derive(clap::ValueEnum)]
pub enum AuthStyle {
    /// `x-api-key: <key>` (the Anthropic API's own style).
    #[default]
    ApiKey,
    /// `Authorization: Bearer <key>` (most relays and OpenAI-compatible services).
    Bearer,
}

impl std::fmt::Display for AuthStyle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AuthStyle::ApiKey => "api-key",
            AuthStyle::Bearer => "bearer",
        })
    }
}

/// What protocol an endpoint speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[derive(clap::ValueEnum)]
pub enum EndpointKind {
    /// Speaks the Anthropic Messages API: requests pass through unchanged.
    #[default]
    Anthropic,
    /// Speaks OpenAI's Chat Completions: qcc translates requests, answers, streams and
    /// errors (docs/openai.md).
    #[serde(rename = "openai")]
    #[value(name = "openai")]
    Openai,
}

impl EndpointKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointKind::Anthropic => "anthropic",
            EndpointKind::Openai => "openai",
        }
    }
}

impl std::fmt::Display for EndpointKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a profile spreads new conversations over its endpoints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[derive(clap::ValueEnum)]
pub enum Strategy {
    /// Smooth weighted round-robin on the endpoints' weights.
    #[default]
    Weighted,
    /// Each endpoint in turn.
    RoundRobin,
    /// The endpoint with the fewest requests in flight.
    LeastConnections,
    /// The endpoint with the lowest latency estimate.
    Fastest,
    /// The first available endpoint in list order.
    Ordered,
    /// A uniformly random endpoint.
    Random,
    /// The cheapest endpoint for the requested model (its blended price).
    Cost,
    /// The best score from latency, success rate, cost, weight, quota and state.
    Adaptive,
}

impl Strategy {
    pub const ALL: [Strategy; 8] = [
        Strategy::Weighted,
        Strategy::RoundRobin,
        Strategy::LeastConnections,
        Strategy::Fastest,
        Strategy::Ordered,
        Strategy::Random,
        Strategy::Cost,
        Strategy::Adaptive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Weighted => "weighted",
            Strategy::RoundRobin => "round-robin",
            Strategy::LeastConnections => "least-connections",
            Strategy::Fastest => "fastest",
            Strategy::Ordered => "ordered",
            Strategy::Random => "random",
            Strategy::Cost => "cost",
            Strategy::Adaptive => "adaptive",
        }
    }

    /// Whether it orders endpoints by the requested model's price (so the request's
    /// `model` must be read).
    pub fn needs_model(self) -> bool {
        matches!(self, Strategy::Cost | Strategy::Adaptive)
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Priority tiers, highest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[derive(clap::ValueEnum)]
pub enum Tier {
    Primary,
    Secondary,
    Fallback,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Primary, Tier::Secondary, Tier::Fallback];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Primary => "primary",
            Tier::Secondary => "secondary",
            Tier::Fallback => "fallback",
        }
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One upstream: base URL + credential + how to send it + weight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Short, stable, unique across all profiles (6 hex digits).
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Base URL without a trailing slash; may carry a path prefix.
    pub url: String,
    /// The key itself; empty when `key_ref` says where to read it.
    #[serde(default, skip_serializing_if = "Secret::is_empty")]
    pub key: Secret,
    /// Where the key is read from when it is used (never its value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ref: Option<KeyRef>,
    #[serde(default)]
    pub auth: AuthStyle,
    #[serde(default = "default_weight")]
    pub weight: u16,
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Model map: the requested model is renamed by the first rule that matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<ModelRule>,
    /// Answers name the model the endpoint served (default: the one the client asked for).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub report_upstream_model: bool,
    #[serde(default)]
    pub kind: EndpointKind,
    /// An `openai` endpoint's request path after the base URL (default: `/v1/chat/completions`,
    /// or `/chat/completions` when the base already ends in `/v1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_path: Option<String>,
    /// The model health probes ask this endpoint (else `health.probe_model`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_model: Option<String>,
    /// Local limits: past one the endpoint is `limited` (skipped, not failed).
    #[serde(
        default,
        skip_serializing_if = "crate::state::limits::Limits::is_empty"
    )]
    pub limits: crate::state::limits::Limits,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn default_weight() -> u16 {
    WEIGHT_DEFAULT
}

fn default_true() -> bool {
    true
}

impl Endpoint {
    /// The path an `openai` endpoint's chat requests go to, after the base URL.
    pub fn chat_path(&self) -> &str {
        match &self.chat_path {
            Some(p) => p,
            None if self.url.trim_end_matches('/').ends_with("/v1") => "/chat/completions",
            None => "/v1/chat/completions",
        }
    }

    /// The name if set, else the URL's host.
    pub fn label(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        url::Url::parse(&self.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| self.url.clone())
    }
}

/// What a new endpoint is made of (validated by [`Config::add_endpoint`]).
#[derive(Clone, Debug)]
pub struct NewEndpoint {
    pub name: Option<String>,
    pub url: String,
    pub key: Credential,
    pub auth: AuthStyle,
    pub weight: u16,
    pub models: Vec<ModelRule>,
    pub kind: EndpointKind,
    /// Only for `openai` endpoints (see [`Endpoint::chat_path`]).
    pub chat_path: Option<String>,
}

/// An endpoint's credential as the user gives it: the key itself, or where to read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    Value(Secret),
    Ref(KeyRef),
}

impl Credential {
    /// The key and the reference as an [`Endpoint`] stores them (one of the two empty).
    fn into_parts(self) -> Result<(Secret, Option<KeyRef>), ModelError> {
        match self {
            Credential::Value(k) if k.expose().trim().is_empty() => Err(ModelError::EmptyKey),
            Credential::Value(k) => Ok((k, None)),
            Credential::Ref(r) => Ok((Secret::default(), Some(r))),
        }
    }

    /// What output may show: the masked key, or the reference.
    pub fn shown(&self) -> String {
        match self {
            Credential::Value(k) => k.masked(),
            Credential::Ref(r) => r.to_string(),
        }
    }
}

impl Endpoint {
    /// Its credential as configured.
    pub fn credential(&self) -> Credential {
        match &self.key_ref {
            Some(r) => Credential::Ref(r.clone()),
            None => Credential::Value(self.key.clone()),
        }
    }

    /// What output may show of its key: the masked key, or the reference.
    pub fn key_shown(&self) -> String {
        match &self.key_ref {
            Some(r) => r.to_string(),
            None => self.key.masked(),
        }
    }
}

/// A named group of endpoints that balancing happens across.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub strategy: Strategy,
    /// The `adaptive` strategy's factor weights (none: the defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<ScoreWeights>,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    pub created_at: DateTime<Utc>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Profile {
    /// The `adaptive` factor weights in force: the configured ones if they are valid,
    /// else the defaults.
    pub fn score_weights(&self) -> ScoreWeights {
        self.score.filter(|w| w.check().is_ok()).unwrap_or_default()
    }

    /// Set the `adaptive` factor weights; the defaults are stored as none (omitted).
    pub fn set_score(&mut self, weights: Option<ScoreWeights>) {
        self.score = weights.filter(|w| *w != ScoreWeights::default());
    }
}

/// Profiles in each tier, in order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tiers {
    #[serde(default)]
    pub primary: Vec<String>,
    #[serde(default)]
    pub secondary: Vec<String>,
    #[serde(default)]
    pub fallback: Vec<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Tiers {
    pub fn get(&self, tier: Tier) -> &Vec<String> {
        match tier {
            Tier::Primary => &self.primary,
            Tier::Secondary => &self.secondary,
            Tier::Fallback => &self.fallback,
        }
    }

    fn get_mut(&mut self, tier: Tier) -> &mut Vec<String> {
        match tier {
            Tier::Primary => &mut self.primary,
            Tier::Secondary => &mut self.secondary,
            Tier::Fallback => &mut self.fallback,
        }
    }

    /// The tier a profile is in, if any.
    pub fn tier_of(&self, profile: &str) -> Option<Tier> {
        Tier::ALL
            .into_iter()
            .find(|t| self.get(*t).iter().any(|p| p == profile))
    }

    /// Every tiered profile in failover order: primary first, then secondary, then fallback.
    pub fn ordered(&self) -> impl Iterator<Item = (Tier, &str)> {
        Tier::ALL
            .into_iter()
            .flat_map(move |t| self.get(t).iter().map(move |p| (t, p.as_str())))
    }

    fn remove(&mut self, profile: &str) {
        for t in Tier::ALL {
            self.get_mut(t).retain(|p| p != profile);
        }
    }

    fn rename(&mut self, old: &str, new: &str) {
        for t in Tier::ALL {
            for p in self.get_mut(t).iter_mut().filter(|p| *p == old) {
                *p = new.to_owned();
            }
        }
    }
}

/// A model route (docs/behavior.md §6): a request whose `model` matches the glob is served
/// by `profile` first, then by the normal tiers. Routes are tried top-down, first match wins.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// A glob over the requested model (`*` any run, `?` one character), as in model maps.
    pub model: String,
    pub profile: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Route {
    pub fn matches(&self, model: &str) -> bool {
        glob_match(&self.model, model)
    }
}

/// Failover policy (docs/behavior.md §2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    pub auto_failover: bool,
    pub auto_recovery: bool,
    /// Consecutive failures that open an endpoint's breaker.
    pub failure_threshold: u32,
    /// First breaker cooldown; doubles on repeated trips, capped at 10 minutes.
    pub cooldown_secs: u64,
    /// How long a recovered higher tier must stay healthy before traffic moves back.
    pub recovery_hold_secs: u64,
    /// How long a billing answer (402, a spend-limit 429) holds an endpoint when it names no
    /// day or month boundary (`qcc endpoint enable` ends the hold at once).
    pub billing_hold_secs: u64,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            auto_failover: true,
            auto_recovery: true,
            failure_threshold: 3,
            cooldown_secs: 30,
            recovery_hold_secs: 300,
            billing_hold_secs: 3600,
            extra: Map::new(),
        }
    }
}

/// Proxy daemon settings (hand-editable in `config.json` → `proxy`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProxySettings {
    /// Address the proxy listens on unless `--listen` says otherwise.
    pub listen: String,
    /// Largest request body accepted, in bytes (larger → 413).
    pub max_body_bytes: u64,
    /// Longest silence allowed between two chunks of a response body.
    pub idle_timeout_secs: u64,
    /// Connecting to an upstream (TCP + TLS).
    pub connect_timeout_secs: u64,
    /// Waiting for response headers of a streaming request (`"stream": true`).
    pub stream_header_timeout_secs: u64,
    /// Waiting for response headers of a non-streaming request (the whole answer).
    pub header_timeout_secs: u64,
    /// Distinct endpoints one request may try.
    pub max_attempts: u32,
    /// No new attempt starts this long after the request arrived.
    pub retry_deadline_secs: u64,
    /// A conversation stays on its endpoint while it is idle less than this.
    pub sticky_ttl_secs: u64,
    /// Request bodies held at once for possible retries, in bytes; a request arriving past
    /// it gets one attempt (and is not queued).
    pub retry_buffer_bytes: u64,
    /// An endpoint whose `retry-after` ends within this many seconds is waited for (within
    /// the retry deadline) instead of being tried last.
    pub retry_after_wait_secs: u64,
    /// After its breaker closes, an endpoint's share of new conversations ramps up linearly
    /// over this many seconds (0: full share at once).
    pub slow_start_secs: u64,
    /// How long a key read through a reference (`key_ref`) is used before it is read again;
    /// a refused key (401/403) is read again at once.
    pub key_ttl_secs: u64,
    /// Longest a `cmd:` key reference may run.
    pub key_timeout_secs: u64,
    /// A translated stream (an `openai` endpoint) gets a `ping` event after this many
    /// seconds without upstream data, as Anthropic's own streams do.
    pub ping_interval_secs: u64,
    /// Host names served besides `127.0.0.1`, `localhost` and `[::1]` (loopback listener).
    pub allowed_hosts: Vec<String>,
    /// Web origins whose requests are served (none by default: a request carrying an
    /// `Origin` header is refused unless it is the proxy's own).
    pub allowed_origins: Vec<String>,
    /// A Redis server (`redis://HOST:PORT/DB`, `rediss://` with TLS) where daemons sharing
    /// keys keep their limits' counters and breaker trips (docs/team.md); `QCC_REDIS_URL`
    /// in the daemon's environment wins. None: each daemon counts alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_state: Option<String>,
    /// Longest a request waits on the shared state, in ms; past it (or on an error) the
    /// daemon's own decision is used.
    pub shared_timeout_ms: u64,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for ProxySettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:7860".into(),
            max_body_bytes: 32 * 1024 * 1024,
            idle_timeout_secs: 300,
            connect_timeout_secs: 5,
            stream_header_timeout_secs: 60,
            header_timeout_secs: 600,
            max_attempts: 3,
            retry_deadline_secs: 120,
            sticky_ttl_secs: 300,
            retry_buffer_bytes: 16 * 1024 * 1024,
            retry_after_wait_secs: 3,
            slow_start_secs: 30,
            key_ttl_secs: 300,
            key_timeout_secs: 10,
            ping_interval_secs: 10,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            shared_state: None,
            shared_timeout_ms: 50,
            extra: Map::new(),
        }
    }
}

/// Which requests that failed everywhere are kept for replay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum QueueMode {
    /// Every request.
    All,
    /// Only non-streaming requests (scripts, batch jobs); interactive streams are retried
    /// by their client (Claude Code resends the turn itself).
    #[default]
    NonStreaming,
    /// None: the queue is off.
    None,
}

/// When a queued request is tried again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum RetryStrategy {
    /// 5 s, 10 s, 20 s … capped at 300 s, with ±20% jitter.
    #[default]
    Exponential,
    /// Every `interval_secs`.
    Fixed,
    /// At once.
    Immediate,
}

/// Failure queue policy (`config.json` → `queue`, set with `qcc queue config`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueSettings {
    pub mode: QueueMode,
    pub max_items: u32,
    pub max_age_secs: u64,
    pub max_total_bytes: u64,
    pub strategy: RetryStrategy,
    /// For the `fixed` strategy.
    pub interval_secs: u64,
    /// Replays before an item is `dead`.
    pub max_retries: u32,
    /// The daemon replays due items in the background.
    pub auto_retry: bool,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            mode: QueueMode::NonStreaming,
            max_items: 1000,
            max_age_secs: 7 * 24 * 3600,
            max_total_bytes: 256 * 1024 * 1024,
            strategy: RetryStrategy::Exponential,
            interval_secs: 60,
            max_retries: 5,
            auto_retry: true,
            extra: Map::new(),
        }
    }
}

/// Health checks (`config.json` → `health`, set with `qcc health config`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthSettings {
    /// How often an endpoint whose breaker is open or half-open is probed (seconds).
    pub interval_secs: u64,
    /// Probe every endpoint this often, healthy ones too (0 = off: no tokens spent on
    /// probes while everything works).
    pub probe_all_interval_secs: u64,
    /// A probe that has not finished its answer by then fails.
    pub probe_timeout_secs: u64,
    /// The model probes ask (an endpoint's own `probe_model` wins).
    pub probe_model: String,
    /// Scale `weighted` endpoints' weights by recent success rate and latency.
    pub weight_adjust: bool,
    /// Samples an endpoint needs before its stability score and weight adjustment are
    /// computed.
    pub min_checks: u32,
    /// Probes running at once in the daemon.
    pub max_concurrency: u32,
    /// An endpoint whose recent success rate (over at least `min_checks` attempts) is below
    /// this is `degraded` and gets half its share (0 = never).
    pub degraded_success_rate: f64,
    /// An endpoint whose p95 time to first byte (over at least `min_checks` answers) is
    /// above this many ms is `degraded` (0 = never: answer times vary with the prompt).
    pub degraded_first_byte_ms: u64,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for HealthSettings {
    fn default() -> Self {
        Self {
            interval_secs: 15,
            probe_all_interval_secs: 0,
            probe_timeout_secs: 20,
            probe_model: "claude-haiku-4-5".into(),
            weight_adjust: false,
            min_checks: 10,
            max_concurrency: 4,
            degraded_success_rate: 0.9,
            degraded_first_byte_ms: 0,
            extra: Map::new(),
        }
    }
}

/// `config.json`: everything the user configured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub version: u32,
    /// The profile chosen by `priority switch` (or the first one added).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<String>,
    #[serde(default)]
    pub profiles: Vec<Profile>,
    #[serde(default)]
    pub tiers: Tiers,
    /// Model routes, top-down, first match wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    #[serde(default)]
    pub policy: Policy,
    #[serde(default)]
    pub proxy: ProxySettings,
    #[serde(default)]
    pub queue: QueueSettings,
    #[serde(default)]
    pub health: HealthSettings,
    /// The user's prices, over the built-in table.
    #[serde(default, skip_serializing_if = "Prices::is_empty")]
    pub prices: Prices,
    #[serde(default)]
    pub usage: UsageSettings,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            version: CONFIG_VERSION,
            active: None,
            profiles: Vec::new(),
            tiers: Tiers::default(),
            routes: Vec::new(),
            policy: Policy::default(),
            proxy: ProxySettings::default(),
            queue: QueueSettings::default(),
            health: HealthSettings::default(),
            prices: Prices::default(),
            usage: UsageSettings::default(),
            extra: Map::new(),
        }
    }
}

/// The usage accounting (`config.json` → `usage`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UsageSettings {
    /// Count answered requests, tokens and cost (off: nothing is counted or written).
    pub enabled: bool,
    /// Days of figures kept (one file per UTC day; older ones are deleted).
    pub keep_days: u32,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for UsageSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            keep_days: 400,
            extra: Map::new(),
        }
    }
}

/// Check a profile name: 1–64 of `[A-Za-z0-9._-]`, not starting with `-` or `.`.
pub fn validate_profile_name(name: &str) -> Result<(), ModelError> {
    let ok = (1..=64).contains(&name.len())
        && !name.starts_with(['-', '.'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ModelError::InvalidProfileName(name.to_owned()))
    }
}

/// Validate and normalise a base URL: http(s), a host, no query or fragment, no trailing `/`.
pub fn normalize_url(raw: &str) -> Result<String, ModelError> {
    let bad = |reason: &str| ModelError::InvalidUrl {
        url: raw.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = url::Url::parse(raw.trim()).map_err(|e| bad(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad(&format!(
            "scheme '{}' is not http or https",
            parsed.scheme()
        )));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("it has no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("a base URL has no query or fragment"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("put credentials in --key, not in the URL"));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// Check a weight is within bounds.
pub fn validate_weight(weight: u32) -> Result<u16, ModelError> {
    if (u32::from(WEIGHT_MIN)..=u32::from(WEIGHT_MAX)).contains(&weight) {
        Ok(weight as u16)
    } else {
        Err(ModelError::InvalidWeight(weight))
    }
}

/// Where an endpoint sits: indexes into `profiles` and that profile's `endpoints`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndpointRef {
    pub profile: usize,
    pub endpoint: usize,
}

impl Config {
    pub fn profile_names(&self) -> Vec<String> {
        self.profiles.iter().map(|p| p.name.clone()).collect()
    }

    fn profile_index(&self, name: &str) -> Result<usize, ModelError> {
        self.profiles
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| ModelError::UnknownProfile {
                name: name.to_owned(),
                known: self.profile_names(),
            })
    }

    pub fn profile(&self, name: &str) -> Result<&Profile, ModelError> {
        self.profile_index(name).map(|i| &self.profiles[i])
    }

    pub fn profile_mut(&mut self, name: &str) -> Result<&mut Profile, ModelError> {
        self.profile_index(name).map(move |i| &mut self.profiles[i])
    }

    /// The profile serving traffic: the one last switched to, else the first tiered profile,
    /// else the first profile.
    pub fn active_profile(&self) -> Option<&Profile> {
        let by_name = |n: &str| self.profiles.iter().find(|p| p.name == n);
        self.active
            .as_deref()
            .and_then(by_name)
            .or_else(|| self.tiers.ordered().find_map(|(_, p)| by_name(p)))
            .or_else(|| self.profiles.first())
    }

    /// Create a profile. The first profile becomes the active one.
    pub fn add_profile(
        &mut self,
        name: &str,
        description: Option<String>,
        strategy: Strategy,
        now: DateTime<Utc>,
    ) -> Result<&Profile, ModelError> {
        validate_profile_name(name)?;
        if self.profiles.iter().any(|p| p.name == name) {
            return Err(ModelError::DuplicateProfile(name.to_owned()));
        }
        if self.active.is_none() && self.profiles.is_empty() {
            self.active = Some(name.to_owned());
        }
        self.profiles.push(Profile {
            name: name.to_owned(),
            description,
            strategy,
            score: None,
            endpoints: Vec::new(),
            created_at: now,
            extra: Map::new(),
        });
        Ok(self.profiles.last().expect("just pushed"))
    }

    /// Remove a profile. Refused while it is in a tier or the target of a route unless
    /// `force`, which takes it out of the tiers and removes its routes too.
    pub fn remove_profile(&mut self, name: &str, force: bool) -> Result<Profile, ModelError> {
        let idx = self.profile_index(name)?;
        if let Some(tier) = self.tiers.tier_of(name).filter(|_| !force) {
            return Err(ModelError::ProfileInTier {
                profile: name.to_owned(),
                tier,
            });
        }
        let patterns = self.routes_to(name);
        if !patterns.is_empty() && !force {
            return Err(ModelError::ProfileRouted {
                profile: name.to_owned(),
                patterns,
            });
        }
        self.routes.retain(|r| r.profile != name);
        self.tiers.remove(name);
        if self.active.as_deref() == Some(name) {
            self.active = None;
        }
        Ok(self.profiles.remove(idx))
    }

    /// Rename a profile everywhere it is referenced (tiers, routes, active). History keeps
    /// old names.
    pub fn rename_profile(&mut self, old: &str, new: &str) -> Result<(), ModelError> {
        validate_profile_name(new)?;
        let idx = self.profile_index(old)?;
        if old != new && self.profiles.iter().any(|p| p.name == new) {
            return Err(ModelError::DuplicateProfile(new.to_owned()));
        }
        self.profiles[idx].name = new.to_owned();
        self.tiers.rename(old, new);
        for r in self.routes.iter_mut().filter(|r| r.profile == old) {
            r.profile = new.to_owned();
        }
        if self.active.as_deref() == Some(old) {
            self.active = Some(new.to_owned());
        }
        Ok(())
    }

    /// The first route whose glob matches `model` (top-down, first match wins).
    pub fn route_for(&self, model: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.matches(model))
    }

    /// The patterns of the routes that send requests to `profile`, in order.
    pub fn routes_to(&self, profile: &str) -> Vec<String> {
        self.routes
            .iter()
            .filter(|r| r.profile == profile)
            .map(|r| r.model.clone())
            .collect()
    }

    /// Add a route from the glob `pattern` (trimmed) to `profile`, at the 1-based
    /// `position` (the others move down) or at the end. Refuses a malformed pattern, an
    /// unknown profile and a pattern that already has a route. Returns its position.
    pub fn add_route(
        &mut self,
        pattern: &str,
        profile: &str,
        position: Option<usize>,
    ) -> Result<usize, ModelError> {
        let pattern = check_pattern(pattern).map_err(ModelError::InvalidRoutePattern)?;
        self.profile_index(profile)?;
        if let Some(dup) = self.routes.iter().find(|r| r.model == pattern) {
            return Err(ModelError::DuplicateRoute {
                pattern: pattern.to_owned(),
                profile: dup.profile.clone(),
            });
        }
        let at = match position {
            None => self.routes.len(),
            Some(p) if (1..=self.routes.len() + 1).contains(&p) => p - 1,
            Some(p) => {
                return Err(ModelError::InvalidRoutePosition {
                    position: p,
                    routes: self.routes.len(),
                });
            }
        };
        self.routes.insert(
            at,
            Route {
                model: pattern.to_owned(),
                profile: profile.to_owned(),
                extra: Map::new(),
            },
        );
        Ok(at + 1)
    }

    /// Remove the route whose pattern is `pattern` (trimmed; compared exactly, not as a
    /// glob). Returns its 1-based position and the route.
    pub fn remove_route(&mut self, pattern: &str) -> Result<(usize, Route), ModelError> {
        let pattern = pattern.trim();
        let i = self
            .routes
            .iter()
            .position(|r| r.model == pattern)
            .ok_or_else(|| ModelError::UnknownRoute(pattern.to_owned()))?;
        Ok((i + 1, self.routes.remove(i)))
    }

    /// Put a profile at the end of a tier (moving it out of any other), or out of all tiers.
    pub fn set_tier(&mut self, name: &str, tier: Option<Tier>) -> Result<(), ModelError> {
        self.profile_index(name)?;
        if tier.is_some() && self.tiers.tier_of(name) == tier {
            return Ok(());
        }
        self.tiers.remove(name);
        if let Some(t) = tier {
            self.tiers.get_mut(t).push(name.to_owned());
        }
        Ok(())
    }

    /// Make `to` the active profile and return the record of the switch.
    pub fn switch_to(
        &mut self,
        to: &str,
        reason: String,
        kind: SwitchKind,
        now: DateTime<Utc>,
    ) -> Result<SwitchRecord, ModelError> {
        self.profile_index(to)?;
        let from = self.active_profile().map(|p| p.name.clone());
        self.active = Some(to.to_owned());
        Ok(SwitchRecord {
            at: now,
            from,
            to: to.to_owned(),
            reason,
            kind,
            extra: Map::new(),
        })
    }

    /// Every endpoint with its profile, in profile then list order.
    pub fn endpoints(&self) -> impl Iterator<Item = (&Profile, &Endpoint)> {
        self.profiles
            .iter()
            .flat_map(|p| p.endpoints.iter().map(move |e| (p, e)))
    }

    /// Resolve what the user typed for an endpoint — its id, its name or a unique id
    /// prefix — within one profile (`Some`) or across all (`None`). In order:
    ///
    /// 1. an exact id wins;
    /// 2. else an exact name (the one set with `--name`, not the host shown when there is
    ///    none): one endpoint with it is the answer, several are
    ///    [`ModelError::AmbiguousEndpointName`] listing their ids and profiles;
    /// 3. else a unique id prefix ([`ModelError::AmbiguousEndpoint`] when several ids
    ///    start with it).
    ///
    /// Ids and names are compared ignoring ASCII case and surrounding spaces. A name that
    /// is also the start of another endpoint's id resolves to the named endpoint.
    pub fn find_endpoint(
        &self,
        profile: Option<&str>,
        query: &str,
    ) -> Result<EndpointRef, ModelError> {
        let scope = match profile {
            Some(name) => Some(self.profile_index(name)?),
            None => None,
        };
        let typed = query.trim();
        let q = typed.to_ascii_lowercase();
        let mut named = Vec::new();
        let mut prefixed = Vec::new();
        for (pi, p) in self.profiles.iter().enumerate() {
            if scope.is_some_and(|s| s != pi) {
                continue;
            }
            for (ei, e) in p.endpoints.iter().enumerate() {
                let r = EndpointRef {
                    profile: pi,
                    endpoint: ei,
                };
                if e.id == q {
                    return Ok(r);
                }
                if q.is_empty() {
                    continue;
                }
                if e.name
                    .as_deref()
                    .is_some_and(|n| n.trim().eq_ignore_ascii_case(typed))
                {
                    named.push(r);
                }
                if e.id.starts_with(&q) {
                    prefixed.push(r);
                }
            }
        }
        let listed = |refs: &[EndpointRef]| -> Vec<String> {
            refs.iter()
                .map(|r| {
                    let p = &self.profiles[r.profile];
                    format!("{} ({})", p.endpoints[r.endpoint].id, p.name)
                })
                .collect()
        };
        match (named.as_slice(), prefixed.as_slice()) {
            ([one], _) => Ok(*one),
            ([_, _, ..], _) => Err(ModelError::AmbiguousEndpointName {
                query: typed.to_owned(),
                matches: listed(&named),
            }),
            ([], [one]) => Ok(*one),
            ([], []) => Err(ModelError::UnknownEndpoint {
                query: query.to_owned(),
                profile: profile.map(str::to_owned),
            }),
            ([], many) => Err(ModelError::AmbiguousEndpoint {
                query: query.to_owned(),
                matches: listed(many),
            }),
        }
    }

    /// Refuse a name that is some other endpoint's id (it could never be looked up by
    /// name: ids win). `except` is the endpoint being named, if it exists already.
    fn check_endpoint_name(
        &self,
        name: &str,
        except: Option<EndpointRef>,
    ) -> Result<(), ModelError> {
        for (pi, p) in self.profiles.iter().enumerate() {
            for (ei, e) in p.endpoints.iter().enumerate() {
                let this = EndpointRef {
                    profile: pi,
                    endpoint: ei,
                };
                if except != Some(this) && e.id.eq_ignore_ascii_case(name.trim()) {
                    return Err(ModelError::NameIsAnId {
                        name: name.trim().to_owned(),
                        id: e.id.clone(),
                        profile: p.name.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Set or clear (`None` or blank) an endpoint's name, trimmed. Refuses another
    /// endpoint's id ([`ModelError::NameIsAnId`]).
    pub fn set_endpoint_name(
        &mut self,
        r: EndpointRef,
        name: Option<&str>,
    ) -> Result<(), ModelError> {
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        if let Some(n) = name {
            self.check_endpoint_name(n, Some(r))?;
        }
        self.endpoint_mut(r).name = name.map(str::to_owned);
        Ok(())
    }

    pub fn endpoint(&self, r: EndpointRef) -> &Endpoint {
        &self.profiles[r.profile].endpoints[r.endpoint]
    }

    pub fn endpoint_mut(&mut self, r: EndpointRef) -> &mut Endpoint {
        &mut self.profiles[r.profile].endpoints[r.endpoint]
    }

    /// Add an endpoint to a profile. `new_id` is called until it yields an unused id.
    pub fn add_endpoint(
        &mut self,
        profile: &str,
        new: NewEndpoint,
        mut new_id: impl FnMut() -> String,
    ) -> Result<&Endpoint, ModelError> {
        let pi = self.profile_index(profile)?;
        let url = normalize_url(&new.url)?;
        let weight = validate_weight(u32::from(new.weight))?;
        let chat_path = new.chat_path.as_deref().map(str::trim).map(str::to_owned);
        check_kind(new.kind, new.auth, chat_path.as_deref())?;
        let shown = new.key.shown();
        let (key, key_ref) = new.key.into_parts()?;
        if let Some(dup) = self.profiles[pi]
            .endpoints
            .iter()
            .find(|e| e.url == url && e.key == key && e.key_ref == key_ref)
        {
            return Err(ModelError::DuplicateEndpoint {
                profile: profile.to_owned(),
                url,
                masked_key: shown,
                id: dup.id.clone(),
            });
        }
        let name = new
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        if let Some(n) = &name {
            self.check_endpoint_name(n, None)?;
        }
        // An id never equals a name either (the name would stop resolving to its endpoint).
        let is_name = |e: &Endpoint, id: &str| {
            e.name
                .as_deref()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case(id))
        };
        let id = loop {
            let id = new_id();
            if !self.endpoints().any(|(_, e)| e.id == id || is_name(e, &id))
                && name.as_deref().is_none_or(|n| !n.eq_ignore_ascii_case(&id))
            {
                break id;
            }
        };
        let endpoints = &mut self.profiles[pi].endpoints;
        endpoints.push(Endpoint {
            id,
            name,
            url,
            key,
            key_ref,
            auth: new.auth,
            weight,
            enabled: true,
            models: new.models,
            report_upstream_model: false,
            kind: new.kind,
            chat_path,
            probe_model: None,
            limits: Default::default(),
            extra: Map::new(),
        });
        Ok(endpoints.last().expect("just pushed"))
    }

    /// Change an endpoint's URL and/or key, refusing to create a duplicate in its profile.
    pub fn set_endpoint_target(
        &mut self,
        r: EndpointRef,
        url: Option<&str>,
        key: Option<Credential>,
    ) -> Result<(), ModelError> {
        let current = self.endpoint(r);
        let url = match url {
            Some(u) => normalize_url(u)?,
            None => current.url.clone(),
        };
        let key = key.unwrap_or_else(|| current.credential());
        let shown = key.shown();
        let (key, key_ref) = key.into_parts()?;
        let profile = &self.profiles[r.profile];
        if let Some(dup) =
            profile.endpoints.iter().enumerate().find(|(i, e)| {
                *i != r.endpoint && e.url == url && e.key == key && e.key_ref == key_ref
            })
        {
            return Err(ModelError::DuplicateEndpoint {
                profile: profile.name.clone(),
                url,
                masked_key: shown,
                id: dup.1.id.clone(),
            });
        }
        let e = self.endpoint_mut(r);
        e.url = url;
        e.key = key;
        e.key_ref = key_ref;
        Ok(())
    }

    /// The endpoint a direct (proxy-less) client should use: the given id, else the first
    /// enabled endpoint of the profile.
    pub fn direct_endpoint(
        &self,
        profile: &str,
        id: Option<&str>,
    ) -> Result<&Endpoint, ModelError> {
        match id {
            Some(q) => self
                .find_endpoint(Some(profile), q)
                .map(|r| self.endpoint(r)),
            None => self
                .profile(profile)?
                .endpoints
                .iter()
                .find(|e| e.enabled)
                .ok_or_else(|| ModelError::NoEnabledEndpoint(profile.to_owned())),
        }
    }

    /// Remove an endpoint and return it.
    pub fn remove_endpoint(&mut self, r: EndpointRef) -> Endpoint {
        self.profiles[r.profile].endpoints.remove(r.endpoint)
    }
}

/// Why the active profile changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SwitchKind {
    /// `qcc priority switch` (never undone by auto-recovery).
    Manual,
    /// The daemon moved traffic away from a profile with no available endpoint.
    Failover,
    /// The daemon moved traffic back after the recovery hold.
    Recovery,
}

impl std::fmt::Display for SwitchKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SwitchKind::Manual => "manual",
            SwitchKind::Failover => "failover",
            SwitchKind::Recovery => "recovery",
        })
    }
}

/// One change of the active profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SwitchRecord {
    pub at: DateTime<Utc>,
    pub from: Option<String>,
    pub to: String,
    pub reason: String,
    pub kind: SwitchKind,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `history.json`: switch records, oldest first, capped at [`HISTORY_CAP`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub version: u32,
    #[serde(default)]
    pub records: Vec<SwitchRecord>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for History {
    fn default() -> Self {
        Self {
            version: HISTORY_VERSION,
            records: Vec::new(),
            extra: Map::new(),
        }
    }
}

impl History {
    pub fn push(&mut self, record: SwitchRecord) {
        self.records.push(record);
        if self.records.len() > HISTORY_CAP {
            let excess = self.records.len() - HISTORY_CAP;
            self.records.drain(..excess);
        }
    }

    /// The newest `n` records, newest first.
    pub fn latest(&self, n: usize) -> impl Iterator<Item = &SwitchRecord> {
        self.records.iter().rev().take(n)
    }
}

#[cfg(test)]
mod tests;
