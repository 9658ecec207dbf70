//! `health.json`: the daemon's runtime health facts, so that `qcc health …` can show the last
//! known values while the daemon is down and a restarted daemon carries its figures on.
//!
//! One writer: the daemon (every ~30 s and at shutdown, off the request path). The CLI only
//! reads it. Pure serde types, no IO (the [`Store`](crate::state::Store) does that). Unknown
//! fields are kept (`extra`), like in the other documents.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Format version of `health.json`.
pub const HEALTH_VERSION: u32 = 1;
/// Probe results kept per endpoint (oldest dropped first).
pub const PROBE_HISTORY_CAP: usize = 50;
/// State changes kept per endpoint (oldest dropped first).
pub const STATE_HISTORY_CAP: usize = 50;

/// The one state an endpoint is in, as `proxy status`, `health status` and `health
/// history` name it (docs/behavior.md §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndpointState {
    /// Takes its full share.
    Healthy,
    /// Recent success rate or latency past the thresholds in `health`: a reduced share.
    Degraded,
    /// Breaker open: no regular traffic until the cooldown ends (a last resort still).
    Open,
    /// Cooldown over: the next request (or probe) is its trial.
    HalfOpen,
    /// Breaker closed again: its share ramps up over the slow-start window.
    Recovering,
    /// Disabled in the config.
    Disabled,
    /// The upstream refused its key: skipped until the key changes.
    Rejected,
    /// A billing or spend-limit answer: held for the billing cooldown.
    Billing,
    /// At a local limit (rpm, tpm, tokens per day, a budget) or one its provider announced:
    /// skipped until it resets, without counting as a failure.
    Limited,
}

impl EndpointState {
    /// Every state, in the order above.
    pub const ALL: [EndpointState; 9] = [
        EndpointState::Healthy,
        EndpointState::Degraded,
        EndpointState::Open,
        EndpointState::HalfOpen,
        EndpointState::Recovering,
        EndpointState::Disabled,
        EndpointState::Rejected,
        EndpointState::Billing,
        EndpointState::Limited,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EndpointState::Healthy => "healthy",
            EndpointState::Degraded => "degraded",
            EndpointState::Open => "open",
            EndpointState::HalfOpen => "half-open",
            EndpointState::Recovering => "recovering",
            EndpointState::Disabled => "disabled",
            EndpointState::Rejected => "rejected",
            EndpointState::Billing => "billing",
            EndpointState::Limited => "limited",
        }
    }
}

impl std::fmt::Display for EndpointState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One change of an endpoint's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateChange {
    pub at: DateTime<Utc>,
    pub from: EndpointState,
    pub to: EndpointState,
    /// Why, in a few words ("HTTP 529 ×3", "a request succeeded", …).
    pub reason: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `health.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthDoc {
    pub version: u32,
    /// When the daemon wrote this snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved_at: Option<DateTime<Utc>>,
    /// The pid of the daemon that wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// By endpoint id.
    #[serde(default)]
    pub endpoints: BTreeMap<String, EndpointSnapshot>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for HealthDoc {
    fn default() -> Self {
        Self {
            version: HEALTH_VERSION,
            saved_at: None,
            pid: None,
            endpoints: BTreeMap::new(),
            extra: Map::new(),
        }
    }
}

/// One endpoint's passive figures (real traffic only) and its probe history.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointSnapshot {
    /// Attempts sent to the endpoint (user traffic).
    pub requests: u64,
    /// Attempts that were answered (the response reached the client, whatever its status).
    pub successes: u64,
    /// Attempts that failed (retryable status, transport error, timeout, broken stream).
    pub failures: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Outcomes of the most recent attempts, oldest first (`true` = success).
    pub recent: Vec<bool>,
    /// Recent times to response headers, in µs, oldest first.
    pub latencies_us: Vec<u64>,
    /// Recent times to the first body byte (a stream's first event), in µs, oldest first.
    pub first_byte_us: Vec<u64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    /// The breaker as last seen (`closed`, `open`, `half-open`), for display only: a
    /// restarted daemon starts with closed breakers.
    pub breaker: Option<String>,
    pub consecutive_failures: u32,
    /// The effective weight as last computed.
    pub effective_weight: Option<u32>,
    /// Probe results, oldest first, at most [`PROBE_HISTORY_CAP`].
    pub probes: Vec<ProbeRecord>,
    /// The state as last seen (display only, like `breaker`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<EndpointState>,
    /// State changes, oldest first, at most [`STATE_HISTORY_CAP`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<StateChange>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Why a probe ran.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeSource {
    /// The breaker was open or half-open: looking for recovery.
    #[default]
    Recovery,
    /// `health.probe_all_interval_secs`.
    Interval,
    /// `qcc health check`.
    Manual,
}

impl std::fmt::Display for ProbeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProbeSource::Recovery => "recovery",
            ProbeSource::Interval => "interval",
            ProbeSource::Manual => "manual",
        })
    }
}

/// One conversational test's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeRecord {
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub source: ProbeSource,
    pub passed: bool,
    /// What happened, in a few words ("echoed the nonce", "HTTP 529: Overloaded", …).
    pub reason: String,
    /// The model asked for.
    #[serde(default)]
    pub model_asked: String,
    /// The model the answer named (`message_start` / the message's `model`).
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub status: Option<u16>,
    /// Until the answer was complete (or the probe gave up), in ms.
    pub latency_ms: f64,
    /// Until the first body byte, in ms.
    #[serde(default)]
    pub first_byte_ms: Option<f64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl EndpointSnapshot {
    /// Append a probe result, dropping the oldest past the cap.
    pub fn push_probe(&mut self, record: ProbeRecord) {
        self.probes.push(record);
        if self.probes.len() > PROBE_HISTORY_CAP {
            let excess = self.probes.len() - PROBE_HISTORY_CAP;
            self.probes.drain(..excess);
        }
    }

    /// Append a state change, dropping the oldest past the cap.
    pub fn push_state(&mut self, change: StateChange) {
        self.states.push(change);
        if self.states.len() > STATE_HISTORY_CAP {
            let excess = self.states.len() - STATE_HISTORY_CAP;
            self.states.drain(..excess);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_keeps_unknown_fields() {
        let raw = r#"{"version":1,"endpoints":{"abc123":{"requests":3,"future":1}},"later":true}"#;
        let doc: HealthDoc = serde_json::from_str(raw).unwrap();
        assert_eq!(doc.endpoints["abc123"].requests, 3);
        let back = serde_json::to_value(&doc).unwrap();
        assert_eq!(back["later"], true);
        assert_eq!(back["endpoints"]["abc123"]["future"], 1);
    }

    #[test]
    fn probe_history_is_capped() {
        let mut s = EndpointSnapshot::default();
        for i in 0..(PROBE_HISTORY_CAP + 5) {
            s.push_probe(ProbeRecord {
                at: Utc::now(),
                source: ProbeSource::Manual,
                passed: true,
                reason: i.to_string(),
                model_asked: "m".into(),
                model: None,
                status: Some(200),
                latency_ms: 1.0,
                first_byte_ms: None,
                extra: Map::new(),
            });
        }
        assert_eq!(s.probes.len(), PROBE_HISTORY_CAP);
        assert_eq!(s.probes[0].reason, "5");
        for i in 0..(STATE_HISTORY_CAP + 2) {
            s.push_state(StateChange {
                at: Utc::now(),
                from: EndpointState::Healthy,
                to: EndpointState::Open,
                reason: i.to_string(),
                extra: Map::new(),
            });
        }
        assert_eq!(s.states.len(), STATE_HISTORY_CAP);
        assert_eq!(s.states[0].reason, "2");
    }

    #[test]
    fn state_words_are_the_documented_ones() {
        let all = [
            EndpointState::Healthy,
            EndpointState::Degraded,
            EndpointState::Open,
            EndpointState::HalfOpen,
            EndpointState::Recovering,
            EndpointState::Disabled,
            EndpointState::Rejected,
            EndpointState::Billing,
            EndpointState::Limited,
        ];
        let words: Vec<String> = all
            .iter()
            .map(|s| {
                serde_json::to_value(s)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            words,
            [
                "healthy",
                "degraded",
                "open",
                "half-open",
                "recovering",
                "disabled",
                "rejected",
                "billing",
                "limited"
            ]
        );
        assert_eq!(all, EndpointState::ALL);
        assert!(all.iter().zip(&words).all(|(s, w)| s.as_str() == w));
    }
}
