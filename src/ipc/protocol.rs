//! Typed control messages shared by the CLI and the daemon, and their framing: one JSON
//! document per line, at most [`MAX_FRAME`] bytes.
//!
//! Mirror names: `Request::Reload` ↔ `daemon::control::reload`, and so on.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::health::metrics::{HealthReport, ProbeReport};

/// Bump on any incompatible change of the messages below.
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest frame either side accepts.
pub const MAX_FRAME: usize = 4 * 1024 * 1024;

/// First frame in each direction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: u32,
    /// The qcc version (`CARGO_PKG_VERSION`) of the sender.
    pub version: String,
}

impl Hello {
    pub fn ours() -> Self {
        Self {
            protocol: PROTOCOL_VERSION,
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// What the CLI asks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "request")]
pub enum Request {
    /// Liveness.
    Ping,
    /// The full status report.
    Status,
    /// Re-read the config now (the CLI changed it).
    Reload,
    /// Drain in-flight requests (up to `timeout_secs`) and exit. The daemon answers
    /// `Stopping` at once; the connection closes when the process is gone.
    Stop { timeout_secs: u64 },
    /// Every endpoint's health figures and probe history (`qcc health status|metrics|history`).
    Health,
    /// Probe one endpoint or every enabled one now, and answer with the results (`qcc
    /// health check`). The CLI sends an exact id; a name or unique id prefix (what older
    /// CLIs sent as typed) is accepted too.
    ProbeNow { endpoint: Option<String> },
    /// Replay queued requests now: these ids, or every pending item.
    QueueRetry { ids: Option<Vec<String>> },
}

/// What the daemon answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "response")]
pub enum Response {
    Pong,
    Status(Box<StatusReport>),
    Reloaded {
        /// `None` when the new config is in force; otherwise why it was refused (the old
        /// config stays in force).
        error: Option<String>,
    },
    Stopping,
    Health(Box<HealthReport>),
    Probed {
        results: Vec<ProbeReport>,
    },
    QueueRetried(crate::queue::replay::RetrySummary),
    Error {
        message: String,
    },
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
    /// `disabled`, `rejected` or `billing` (docs/behavior.md §6).
    pub state: crate::state::health::EndpointState,
    /// `closed`, `open`, `half-open`, or `disabled`.
    pub breaker: String,
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
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub last_error: Option<String>,
}

/// Encode one frame (JSON + `\n`).
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    let mut v = serde_json::to_vec(msg).expect("protocol messages serialize");
    v.push(b'\n');
    v
}
