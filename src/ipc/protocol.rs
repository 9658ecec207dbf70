//! Typed control messages shared by the CLI and the daemon, and their framing: one JSON
//! document per line, at most [`MAX_FRAME`] bytes. Data only: the shapes the answers carry
//! are the reports of [`crate::report`].
//!
//! Mirror names: `Request::Reload` ↔ `daemon::control::reload`, and so on.

use serde::{Deserialize, Serialize};

use crate::report::health::{HealthReport, ProbeReport};
use crate::report::queue::RetrySummary;
use crate::report::status::StatusReport;
use crate::report::usage::UsageSummary;

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
    /// Today's usage and the chart series (`proxy status`; what `/_qcc/usage` serves).
    Usage,
    /// The user put an endpoint back (`qcc endpoint enable`): end its billing hold and
    /// forget what its provider announced (an exact id).
    Release { endpoint: String },
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
    QueueRetried(RetrySummary),
    /// Today's usage and the chart series.
    Usage(Box<UsageSummary>),
    /// `Release`: whether a billing hold ended.
    Released {
        billing: bool,
    },
    Error {
        message: String,
    },
}

/// Encode one frame (JSON + `\n`).
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    let mut v = serde_json::to_vec(msg).expect("protocol messages serialize");
    v.push(b'\n');
    v
}
