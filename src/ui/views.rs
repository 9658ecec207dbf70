//! The shapes `--json` prints (stable, documented field names) and tables are drawn from.
//! Keys are masked unless the caller explicitly asks for them (`--show-keys`).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::state::model::{
    AuthStyle, Config, Endpoint, EndpointKind, Policy, Profile, Route, ScoreWeights, Strategy,
    SwitchKind, SwitchRecord, Tier,
};

/// One endpoint.
#[derive(Debug, Serialize)]
pub struct EndpointView {
    pub id: String,
    pub profile: String,
    pub name: Option<String>,
    pub url: String,
    /// Masked unless `--show-keys`; a key reference is shown as it is (`cmd:pass show x`).
    pub key: String,
    /// Where the key is read from, when it is not stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_ref: Option<String>,
    pub auth: AuthStyle,
    pub weight: u16,
    pub enabled: bool,
    pub kind: EndpointKind,
    /// An `openai` endpoint's request path after the base URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_path: Option<String>,
    /// Model map rules, `pattern=model`, first match wins.
    pub models: Vec<String>,
    /// Answers name the model the endpoint served, not the one asked for.
    pub report_upstream_model: bool,
    /// Its local limits (omitted when it has none).
    #[serde(skip_serializing_if = "crate::state::limits::Limits::is_empty")]
    pub limits: crate::state::limits::Limits,
}

impl EndpointView {
    pub fn new(profile: &Profile, e: &Endpoint, show_keys: bool) -> Self {
        Self {
            id: e.id.clone(),
            profile: profile.name.clone(),
            name: e.name.clone(),
            url: e.url.clone(),
            key: if show_keys && e.key_ref.is_none() {
                e.key.expose().to_owned()
            } else {
                e.key_shown()
            },
            key_ref: e.key_ref.as_ref().map(ToString::to_string),
            auth: e.auth,
            weight: e.weight,
            enabled: e.enabled,
            kind: e.kind,
            chat_path: (e.kind == EndpointKind::Openai).then(|| e.chat_path().to_owned()),
            models: e.models.iter().map(ToString::to_string).collect(),
            report_upstream_model: e.report_upstream_model,
            limits: e.limits,
        }
    }
}

/// One profile, summarised.
#[derive(Debug, Serialize)]
pub struct ProfileView {
    pub name: String,
    pub description: Option<String>,
    pub strategy: Strategy,
    /// The `adaptive` score's factor weights in force (configured or default); shown for
    /// `adaptive` profiles and wherever weights are configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<ScoreWeights>,
    pub active: bool,
    pub tier: Option<Tier>,
    pub endpoints: usize,
    pub enabled_endpoints: usize,
    pub created_at: DateTime<Utc>,
}

impl ProfileView {
    pub fn new(config: &Config, p: &Profile) -> Self {
        Self {
            name: p.name.clone(),
            description: p.description.clone(),
            strategy: p.strategy,
            score: (p.strategy == Strategy::Adaptive || p.score.is_some())
                .then(|| p.score_weights()),
            active: config.active_profile().is_some_and(|a| a.name == p.name),
            tier: config.tiers.tier_of(&p.name),
            endpoints: p.endpoints.len(),
            enabled_endpoints: p.endpoints.iter().filter(|e| e.enabled).count(),
            created_at: p.created_at,
        }
    }
}

/// `profile show`: the summary plus every endpoint.
#[derive(Debug, Serialize)]
pub struct ProfileDetail {
    #[serde(flatten)]
    pub profile: ProfileView,
    #[serde(rename = "endpoint_list")]
    pub endpoints: Vec<EndpointView>,
}

/// One row of `priority list`.
#[derive(Debug, Serialize)]
pub struct TierEntry {
    pub tier: Option<Tier>,
    /// 1-based position inside the tier.
    pub position: Option<usize>,
    pub profile: String,
    pub active: bool,
    pub enabled_endpoints: usize,
}

/// `priority list`.
#[derive(Debug, Serialize)]
pub struct PriorityView {
    pub active: Option<String>,
    pub entries: Vec<TierEntry>,
    /// Model routes, top-down (first match wins).
    pub routes: Vec<RouteView>,
    pub policy: PolicyView,
}

/// One model route (`route list`, `route add|remove`, `priority list`).
#[derive(Debug, Serialize)]
pub struct RouteView {
    /// 1-based: routes are tried top-down, the first match wins.
    pub position: usize,
    /// The glob over the requested model.
    pub model: String,
    pub profile: String,
    /// The profile's enabled endpoints (none: its requests go to the normal tiers).
    pub enabled_endpoints: usize,
}

impl RouteView {
    /// `route`, shown at its 1-based `position` (its profile looked up in `config`).
    pub fn new(config: &Config, position: usize, route: &Route) -> Self {
        Self {
            position,
            model: route.model.clone(),
            profile: route.profile.clone(),
            enabled_endpoints: config
                .profile(&route.profile)
                .map(|p| p.endpoints.iter().filter(|e| e.enabled).count())
                .unwrap_or(0),
        }
    }

    /// Every route of `config`, in order.
    pub fn all(config: &Config) -> Vec<Self> {
        config
            .routes
            .iter()
            .enumerate()
            .map(|(i, r)| Self::new(config, i + 1, r))
            .collect()
    }
}

impl PriorityView {
    pub fn new(config: &Config) -> Self {
        let active = config.active_profile().map(|p| p.name.clone());
        let enabled = |name: &str| {
            config
                .profile(name)
                .map(|p| p.endpoints.iter().filter(|e| e.enabled).count())
                .unwrap_or(0)
        };
        let mut entries: Vec<TierEntry> = Vec::new();
        for tier in Tier::ALL {
            for (i, name) in config.tiers.get(tier).iter().enumerate() {
                entries.push(TierEntry {
                    tier: Some(tier),
                    position: Some(i + 1),
                    profile: name.clone(),
                    active: active.as_deref() == Some(name),
                    enabled_endpoints: enabled(name),
                });
            }
        }
        for p in config
            .profiles
            .iter()
            .filter(|p| config.tiers.tier_of(&p.name).is_none())
        {
            entries.push(TierEntry {
                tier: None,
                position: None,
                profile: p.name.clone(),
                active: active.as_deref() == Some(&p.name),
                enabled_endpoints: enabled(&p.name),
            });
        }
        Self {
            active,
            entries,
            routes: RouteView::all(config),
            policy: PolicyView::from(&config.policy),
        }
    }
}

/// The failover policy.
#[derive(Debug, Serialize)]
pub struct PolicyView {
    pub auto_failover: bool,
    pub auto_recovery: bool,
    pub failure_threshold: u32,
    pub cooldown_secs: u64,
    pub recovery_hold_secs: u64,
    pub billing_hold_secs: u64,
}

impl From<&Policy> for PolicyView {
    fn from(p: &Policy) -> Self {
        Self {
            auto_failover: p.auto_failover,
            auto_recovery: p.auto_recovery,
            failure_threshold: p.failure_threshold,
            cooldown_secs: p.cooldown_secs,
            recovery_hold_secs: p.recovery_hold_secs,
            billing_hold_secs: p.billing_hold_secs,
        }
    }
}

/// One switch record.
#[derive(Debug, Serialize)]
pub struct SwitchView {
    pub at: DateTime<Utc>,
    pub from: Option<String>,
    pub to: String,
    pub reason: String,
    pub kind: SwitchKind,
}

impl From<&SwitchRecord> for SwitchView {
    fn from(r: &SwitchRecord) -> Self {
        Self {
            at: r.at,
            from: r.from.clone(),
            to: r.to.clone(),
            reason: r.reason.clone(),
            kind: r.kind,
        }
    }
}

/// One queued request (`qcc queue list / show --json`).
#[derive(Debug, Serialize)]
pub struct QueueItemView {
    pub id: String,
    pub state: crate::queue::ItemState,
    pub method: String,
    pub path: String,
    pub stream: bool,
    pub created_at: DateTime<Utc>,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub body_bytes: u64,
    pub response_status: Option<u16>,
    pub response_bytes: Option<u64>,
    pub endpoint: Option<String>,
}

impl From<&crate::queue::QueueItem> for QueueItemView {
    fn from(i: &crate::queue::QueueItem) -> Self {
        Self {
            id: i.id.clone(),
            state: i.state,
            method: i.method.clone(),
            path: i.path.clone(),
            stream: i.stream,
            created_at: i.created_at,
            attempts: i.attempts,
            next_attempt_at: i.next_attempt_at,
            last_error: i.last_error.clone(),
            body_bytes: i.body_bytes,
            response_status: i.response.as_ref().map(|r| r.status),
            response_bytes: i.response.as_ref().map(|r| r.bytes),
            endpoint: i.response.as_ref().and_then(|r| r.endpoint.clone()),
        }
    }
}

/// `qcc health config`: the health settings, and the endpoints' own probe models.
#[derive(Debug, Serialize)]
pub struct HealthSettingsView {
    pub interval_secs: u64,
    pub probe_all_interval_secs: u64,
    pub probe_timeout_secs: u64,
    pub probe_model: String,
    pub weight_adjust: bool,
    pub min_checks: u32,
    pub max_concurrency: u32,
    /// Success rate below which an endpoint is `degraded` (0–1; 0 = never).
    pub degraded_success_rate: f64,
    /// p95 time to first byte above which an endpoint is `degraded` (ms; 0 = never).
    pub degraded_first_byte_ms: u64,
    /// Endpoint id → its own probe model.
    pub endpoint_probe_models: std::collections::BTreeMap<String, String>,
}

impl From<&Config> for HealthSettingsView {
    fn from(c: &Config) -> Self {
        let h = &c.health;
        Self {
            interval_secs: h.interval_secs,
            probe_all_interval_secs: h.probe_all_interval_secs,
            probe_timeout_secs: h.probe_timeout_secs,
            probe_model: h.probe_model.clone(),
            weight_adjust: h.weight_adjust,
            min_checks: h.min_checks,
            max_concurrency: h.max_concurrency,
            degraded_success_rate: h.degraded_success_rate,
            degraded_first_byte_ms: h.degraded_first_byte_ms,
            endpoint_probe_models: c
                .endpoints()
                .filter_map(|(_, e)| Some((e.id.clone(), e.probe_model.clone()?)))
                .collect(),
        }
    }
}
