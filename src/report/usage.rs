//! What the usage accounting reports: token counts by kind (never folded together), cost,
//! and the series the status page charts. Data only; the accounting itself is elsewhere.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::state::usage::Tokens;

/// One endpoint's figures over a period.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointUsage {
    pub endpoint: String,
    pub requests: u64,
    pub errors: u64,
    pub tokens: Tokens,
    /// US dollars, for the requests whose model has a price.
    pub cost_usd: f64,
    /// Requests counted without a price (their model is in no price table).
    pub unpriced_requests: u64,
}

/// One point of a chart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// The start of the minute (or day) it covers.
    pub at: DateTime<Utc>,
    pub requests: u64,
    pub errors: u64,
    pub tokens: u64,
    pub cost_usd: f64,
}

/// What `/_qcc/usage` serves: today's figures per endpoint, and the series of the last hour
/// (a point a minute) and the last 7 days (a point a day, UTC), oldest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageSummary {
    pub today: Vec<EndpointUsage>,
    pub last_hour: Vec<SeriesPoint>,
    pub last_week: Vec<SeriesPoint>,
}

/// One row of `qcc usage`: the figures of one group (a day, an hour, an endpoint, a
/// profile or a model) over the period asked for.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageRow {
    /// The group: `2026-12-02`, `2026-12-02T10:00Z`, an endpoint id, a profile, a model.
    pub key: String,
    /// For endpoint rows: the endpoint's name, if it still exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub requests: u64,
    pub errors: u64,
    /// errors / requests (0 without requests).
    pub error_rate: f64,
    pub attempts: u64,
    pub tokens: Tokens,
    /// cache reads / every input token (0 without input).
    pub cache_hit_rate: f64,
    pub cost_usd: f64,
    /// Requests with tokens but no price: `cost_usd` leaves them out.
    pub unpriced_requests: u64,
}

/// What `qcc usage --json` prints.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub by: String,
    pub rows: Vec<UsageRow>,
    pub total: UsageRow,
    /// Every day of the period (UTC), empty ones included: the chart.
    pub days: Vec<UsageRow>,
}
