//! `qcc health status | metrics | history | test | check`: each endpoint's health figures,
//! their probe and state histories, and one probe's result. Data only (the figures are
//! computed in [`crate::upstream::metrics`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::report::status::{BreakerState, EndpointIdentity};
use crate::state::health::{ProbeRecord, StateChange};

/// One endpoint's health, live from the daemon or as last saved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EndpointHealth {
    #[serde(flatten)]
    pub endpoint: EndpointIdentity,
    /// User attempts (probes excluded).
    pub requests: u64,
    pub successes: u64,
    pub failures: u64,
    /// Share of the recent attempts that succeeded (0–1).
    pub success_rate: Option<f64>,
    /// How many recent attempts `success_rate` is over.
    pub samples: usize,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub first_byte_p50_ms: Option<f64>,
    pub first_byte_p95_ms: Option<f64>,
    /// 0–100; `None` until `min_checks` outcomes are known.
    pub stability: Option<f64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_probe: Option<ProbeRecord>,
    /// The model probes ask this endpoint.
    pub probe_model: String,
}

/// `qcc health status | metrics | history`: every endpoint, and their probe histories.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    /// From the running daemon (`true`) or `health.json` (`false`: the daemon is down).
    pub live: bool,
    /// When these figures were taken (the save time when not live).
    pub as_of: Option<DateTime<Utc>>,
    pub endpoints: Vec<EndpointHealth>,
    /// Probe results by endpoint id, oldest first.
    pub history: BTreeMap<String, Vec<ProbeRecord>>,
    /// State changes by endpoint id, oldest first.
    #[serde(default)]
    pub states: BTreeMap<String, Vec<StateChange>>,
}

/// One probe's result, as `qcc health test` and `qcc health check` print it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub id: String,
    pub profile: String,
    pub name: String,
    pub url: String,
    pub passed: bool,
    pub reason: String,
    pub status: Option<u16>,
    pub latency_ms: f64,
    pub first_byte_ms: Option<f64>,
    pub model_asked: String,
    pub model: Option<String>,
    /// The answer's text (cut short).
    pub answer: String,
    pub nonce: String,
    /// The breaker after the probe (`qcc health check` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaker: Option<BreakerState>,
}
