//! The queue index and its rules. Pure: callers pass `now` and a jitter source.
//!
//! An item is `pending` (waiting for its next attempt), `retrying` (claimed by a running
//! replayer), `succeeded` (its response is stored) or `dead` (out of retries, or refused
//! by the upstream in a way retrying cannot fix). A replay that fails again goes back to
//! `pending` with its next attempt time; it never becomes a new item.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::state::model::{QueueSettings, RetryStrategy};

/// Format version of `queue/index.json`.
pub const QUEUE_VERSION: u32 = 1;
/// First exponential backoff step and its cap.
pub const BACKOFF_BASE_SECS: u64 = 5;
pub const BACKOFF_CAP_SECS: u64 = 300;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ItemState {
    Pending,
    Retrying,
    Succeeded,
    Dead,
}

impl std::fmt::Display for ItemState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ItemState::Pending => "pending",
            ItemState::Retrying => "retrying",
            ItemState::Succeeded => "succeeded",
            ItemState::Dead => "dead",
        })
    }
}

/// The response of a successful replay (its body is in its own file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub bytes: u64,
    pub endpoint: Option<String>,
    pub at: DateTime<Utc>,
}

/// One queued request (its body is in its own file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueItem {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub method: String,
    /// Path and query, as the client sent them.
    pub path: String,
    /// The client's headers without credentials or hop-by-hop headers.
    pub headers: Vec<(String, String)>,
    pub stream: bool,
    pub body_bytes: u64,
    pub state: ItemState,
    /// Replays so far.
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// The replayer holding it while `retrying`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<StoredResponse>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Running totals since the queue was created.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Totals {
    pub enqueued: u64,
    pub retried: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub evicted: u64,
}

/// `queue/index.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueIndex {
    pub version: u32,
    #[serde(default)]
    pub items: Vec<QueueItem>,
    #[serde(default)]
    pub totals: Totals,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for QueueIndex {
    fn default() -> Self {
        Self {
            version: QUEUE_VERSION,
            items: Vec::new(),
            totals: Totals::default(),
            extra: Map::new(),
        }
    }
}

/// What a new item is made of.
#[derive(Clone, Debug)]
pub struct NewItem {
    pub id: String,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub stream: bool,
    pub body_bytes: u64,
    pub error: String,
}

/// How a replay ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Succeeded(StoredResponse),
    /// Worth trying again later.
    Failed(String),
    /// Retrying cannot help (e.g. the upstream refused the request itself: a 400).
    Rejected(String),
}

/// Delay before attempt `attempt` (1-based) under a strategy; `jitter` in [0, 1).
pub fn backoff(settings: &QueueSettings, attempt: u32, jitter: f64) -> std::time::Duration {
    let secs = match settings.strategy {
        RetryStrategy::Immediate => 0.0,
        RetryStrategy::Fixed => settings.interval_secs as f64,
        RetryStrategy::Exponential => {
            let base = BACKOFF_BASE_SECS.saturating_mul(1u64 << attempt.saturating_sub(1).min(16));
            let capped = base.min(BACKOFF_CAP_SECS) as f64;
            // ±20% jitter, never past the cap.
            (capped * (0.8 + 0.4 * jitter)).min(BACKOFF_CAP_SECS as f64)
        }
    };
    std::time::Duration::from_secs_f64(secs)
}

fn later(now: DateTime<Utc>, d: std::time::Duration) -> DateTime<Utc> {
    now + ChronoDuration::from_std(d).unwrap_or(ChronoDuration::MAX)
}

impl QueueIndex {
    pub fn get(&self, id: &str) -> Option<&QueueItem> {
        self.items.iter().find(|i| i.id == id)
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut QueueItem> {
        self.items.iter_mut().find(|i| i.id == id)
    }

    /// Add a failed request; its first retry is one backoff step away.
    pub fn enqueue(
        &mut self,
        new: NewItem,
        settings: &QueueSettings,
        now: DateTime<Utc>,
        jitter: f64,
    ) {
        self.items.push(QueueItem {
            id: new.id,
            created_at: now,
            updated_at: now,
            method: new.method,
            path: new.path,
            headers: new.headers,
            stream: new.stream,
            body_bytes: new.body_bytes,
            state: ItemState::Pending,
            attempts: 0,
            next_attempt_at: Some(later(now, backoff(settings, 1, jitter))),
            last_error: Some(new.error),
            claim: None,
            response: None,
            extra: Map::new(),
        });
        self.totals.enqueued += 1;
    }

    /// Drop items past the age, count and size limits, oldest first. Returns the ids removed
    /// (their files are the caller's to delete).
    pub fn evict(&mut self, settings: &QueueSettings, now: DateTime<Utc>) -> Vec<String> {
        let mut gone = Vec::new();
        let max_age = ChronoDuration::seconds(settings.max_age_secs as i64);
        let size = |i: &QueueItem| i.body_bytes + i.response.as_ref().map_or(0, |r| r.bytes);
        loop {
            let total: u64 = self.items.iter().map(size).sum();
            let too_many = self.items.len() > settings.max_items as usize;
            let too_big = total > settings.max_total_bytes;
            let oldest = self
                .items
                .iter()
                .enumerate()
                .filter(|(_, i)| i.state != ItemState::Retrying)
                .min_by_key(|(_, i)| i.created_at)
                .map(|(n, i)| (n, now - i.created_at > max_age));
            match oldest {
                Some((n, too_old)) if too_many || too_big || too_old => {
                    gone.push(self.items.remove(n).id);
                }
                _ => break,
            }
        }
        self.totals.evicted += gone.len() as u64;
        gone
    }

    /// Claim items for a replayer: the given ones (any state but `retrying`/`succeeded`),
    /// or — with `due_only` — pending items whose next attempt time has come, else all
    /// pending items. Returns the claimed ids.
    pub fn claim(
        &mut self,
        which: Option<&[String]>,
        due_only: bool,
        claimer: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for item in self.items.iter_mut() {
            if out.len() >= limit {
                break;
            }
            let chosen = match which {
                Some(ids) => {
                    ids.contains(&item.id)
                        && matches!(item.state, ItemState::Pending | ItemState::Dead)
                }
                None => {
                    item.state == ItemState::Pending
                        && (!due_only || item.next_attempt_at.is_none_or(|t| t <= now))
                }
            };
            if chosen {
                item.state = ItemState::Retrying;
                item.claim = Some(claimer.to_owned());
                item.updated_at = now;
                out.push(item.id.clone());
            }
        }
        out
    }

    /// Put items whose replayer is gone back to `pending` (they may be sent again: a
    /// replayer killed mid-send leaves the item pending, never lost).
    pub fn release_stale(&mut self, is_alive: impl Fn(&str) -> bool, now: DateTime<Utc>) -> usize {
        let mut n = 0;
        for item in self
            .items
            .iter_mut()
            .filter(|i| i.state == ItemState::Retrying)
        {
            if !item.claim.as_deref().is_some_and(&is_alive) {
                item.state = ItemState::Pending;
                item.claim = None;
                item.next_attempt_at = Some(now);
                item.updated_at = now;
                n += 1;
            }
        }
        n
    }

    /// Record how a claimed item's replay ended.
    pub fn record(
        &mut self,
        id: &str,
        outcome: Outcome,
        settings: &QueueSettings,
        now: DateTime<Utc>,
        jitter: f64,
    ) {
        self.totals.retried += 1;
        let Some(item) = self.get_mut(id) else {
            return;
        };
        item.attempts += 1;
        item.claim = None;
        item.updated_at = now;
        let succeeded = matches!(outcome, Outcome::Succeeded(_));
        match outcome {
            Outcome::Succeeded(r) => {
                item.state = ItemState::Succeeded;
                item.response = Some(r);
                item.last_error = None;
                item.next_attempt_at = None;
            }
            Outcome::Rejected(e) => {
                item.state = ItemState::Dead;
                item.last_error = Some(e);
                item.next_attempt_at = None;
            }
            Outcome::Failed(e) => {
                item.last_error = Some(e);
                if item.attempts >= settings.max_retries {
                    item.state = ItemState::Dead;
                    item.next_attempt_at = None;
                } else {
                    item.state = ItemState::Pending;
                    item.next_attempt_at =
                        Some(later(now, backoff(settings, item.attempts + 1, jitter)));
                }
            }
        }
        if succeeded {
            self.totals.succeeded += 1;
        } else {
            self.totals.failed += 1;
        }
    }

    /// Remove items (all, or in one state); returns the ids removed.
    pub fn clear(&mut self, state: Option<ItemState>) -> Vec<String> {
        let (gone, kept): (Vec<QueueItem>, Vec<QueueItem>) = std::mem::take(&mut self.items)
            .into_iter()
            .partition(|i| state.is_none_or(|s| i.state == s) && i.state != ItemState::Retrying);
        self.items = kept;
        gone.into_iter().map(|i| i.id).collect()
    }

    /// Resolve an id or unique prefix.
    pub fn find(&self, query: &str) -> Result<&QueueItem, Vec<String>> {
        if let Some(i) = self.get(query) {
            return Ok(i);
        }
        let matches: Vec<&QueueItem> = self
            .items
            .iter()
            .filter(|i| i.id.starts_with(query))
            .collect();
        match matches.as_slice() {
            [one] => Ok(one),
            many => Err(many.iter().map(|i| i.id.clone()).collect()),
        }
    }
}

#[cfg(test)]
mod tests;
