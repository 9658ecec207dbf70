//! `qcc proxy status` and the identity every per-endpoint view starts with: what the
//! control socket, `/_qcc/status` and `--json` all serialise. Data only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::report::queue::QueueCounts;
use crate::state::health::EndpointState;
use crate::state::model::SwitchRecord;

/// What an endpoint's circuit breaker says (docs/behavior.md §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
    /// The endpoint is disabled in the config (its breaker does not matter).
    Disabled,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
            BreakerState::Disabled => "disabled",
        }
    }
}

impl std::fmt::Display for BreakerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `qcc proxy status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    pub pid: u32,
    pub version: String,
    pub started_at: DateTime<Utc>,
    pub uptime_secs: u64,
    pub listen: String,
    /// The profile serving traffic now.
    pub active_profile: Option<String>,
    pub active_tier: Option<String>,
    /// The profile the config makes active (differs from `active_profile` after a failover).
    pub chosen_profile: Option<String>,
    /// Set while failed over: the profile traffic returns to on recovery.
    pub failed_over_from: Option<String>,
    /// Why the last reload was refused, if it was (the previous config stays in force).
    pub config_error: Option<String>,
    pub requests: u64,
    pub in_flight: u64,
    pub endpoints: Vec<EndpointStatus>,
    /// The model routes in force, top-down (first match wins).
    #[serde(default)]
    pub routes: Vec<RouteStatus>,
    /// The tiered profiles in failover order (the order the tiers try them in).
    #[serde(default)]
    pub tiers: Vec<TierStatus>,
    /// The latest switches of the serving profile (manual, failover, recovery; from
    /// `history.json`), newest first, at most [`RECENT`].
    #[serde(default)]
    pub recent_switches: Vec<SwitchRecord>,
    /// The latest state changes of any endpoint, newest first, at most [`RECENT`].
    #[serde(default)]
    pub recent_state_changes: Vec<EndpointStateChange>,
    /// The failure queue's items by state (none: no queue, or not read yet).
    #[serde(default)]
    pub queue: Option<QueueCounts>,
    /// The state shared with other daemons (docs/team.md): `off`, `connected` or
    /// `degraded: WHY` (limits and breakers are this daemon's own meanwhile).
    #[serde(default = "off")]
    pub shared_state: String,
    /// Its Redis URL (password masked), with `(QCC_REDIS_URL)` when it came from there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_url: Option<String>,
}

fn off() -> String {
    "off".into()
}

/// One tiered profile as the daemon serves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierStatus {
    pub profile: String,
    /// `primary`, `secondary` or `fallback`.
    pub tier: String,
    /// Whether it has an endpoint that could take a request now.
    pub available: bool,
    /// How many of its endpoints are enabled.
    pub endpoints: usize,
}

/// How many switch records and state changes a status report carries.
pub const RECENT: usize = 10;

/// One change of an endpoint's state, naming the endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EndpointStateChange {
    pub at: DateTime<Utc>,
    /// The endpoint's id.
    pub endpoint: String,
    pub name: String,
    pub from: EndpointState,
    pub to: EndpointState,
    pub reason: String,
}

/// One model route as the daemon serves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteStatus {
    /// The glob over the requested model.
    pub model: String,
    pub profile: String,
    /// Whether the profile has an endpoint that could take a request now (if not, the
    /// requests it matches go to the normal tiers).
    pub available: bool,
}

/// Who an endpoint is and what its breaker says: the part of every per-endpoint view
/// (`proxy status`, `health status|metrics`) that is the same everywhere. Flattened into
/// those views, so the JSON keeps these fields at the top level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EndpointIdentity {
    pub id: String,
    pub profile: String,
    pub name: String,
    pub url: String,
    pub enabled: bool,
    /// The one state word: `healthy`, `degraded`, `open`, `half-open`, `recovering`,
    /// `disabled`, `rejected`, `billing` or `limited` (docs/behavior.md §6).
    pub state: EndpointState,
    /// `closed`, `open`, `half-open`, or `disabled`.
    pub breaker: BreakerState,
    pub cooldown_left_secs: Option<u64>,
    /// Why the endpoint gets no traffic now, if it does not.
    pub unavailable: Option<String>,
    pub consecutive_failures: u32,
    /// The configured weight.
    #[serde(default)]
    pub weight: u32,
    /// The weight the `weighted` strategy uses (differs with `health.weight_adjust`).
    #[serde(default)]
    pub effective_weight: u32,
    /// While `limited`: when the limit resets (the reason is in `unavailable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limited_until: Option<chrono::DateTime<chrono::Utc>>,
}

/// One endpoint in `proxy status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EndpointStatus {
    #[serde(flatten)]
    pub endpoint: EndpointIdentity,
    /// Conversations pinned to this endpoint (sticky sessions).
    pub pinned: usize,
    pub in_flight: u64,
    pub requests: u64,
    pub errors: u64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    /// Time to the first byte (a stream's first event), p50 and p95 over recent answers.
    #[serde(default)]
    pub first_byte_p50_ms: Option<f64>,
    #[serde(default)]
    pub first_byte_p95_ms: Option<f64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub last_error: Option<String>,
    /// `anthropic` (passed through) or `openai` (translated).
    #[serde(default)]
    pub kind: String,
    /// The model the last renamed (or translated) request asked for, and the one sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_asked: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_sent: Option<String>,
    /// Its `adaptive` score now and the parts of it, when its profile uses `adaptive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<EndpointScore>,
}

/// An endpoint's `adaptive` score: each factor in 0..1 (1 the best of the profile's
/// enabled endpoints), the state share, and the score (docs/behavior.md §6).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EndpointScore {
    pub score: f64,
    pub latency: f64,
    pub success: f64,
    pub cost: f64,
    pub weight: f64,
    pub quota: f64,
    /// 1 healthy; less while recovering or degraded (it scales the score).
    pub state: f64,
    /// The model the cost factor is for: the one last requested of the profile (none yet:
    /// every endpoint's cost factor is 1).
    #[serde(default)]
    pub model: Option<String>,
}
