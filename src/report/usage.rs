//! What the usage accounting reports: token counts by kind (never folded together), cost,
//! and the series the status page charts. Data only; the accounting itself is elsewhere.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Tokens of one or more answers, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    /// Input tokens not read from or written to the cache.
    pub input: u64,
    pub output: u64,
    /// Input tokens written to the cache with the 5-minute lifetime.
    pub cache_write_5m: u64,
    /// Input tokens written to the cache with the 1-hour lifetime.
    pub cache_write_1h: u64,
    /// Input tokens read from the cache.
    pub cache_read: u64,
}

impl Tokens {
    /// Every input token, whatever the cache did with it.
    pub fn all_input(&self) -> u64 {
        self.input + self.cache_write_5m + self.cache_write_1h + self.cache_read
    }

    pub fn add(&mut self, o: &Tokens) {
        self.input += o.input;
        self.output += o.output;
        self.cache_write_5m += o.cache_write_5m;
        self.cache_write_1h += o.cache_write_1h;
        self.cache_read += o.cache_read;
    }
}

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
