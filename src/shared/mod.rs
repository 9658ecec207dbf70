//! State shared by several daemons through Redis (docs/team.md): the limits' counters and
//! breaker trips, so that a team's daemons sharing keys hold one endpoint's limits
//! together and skip an endpoint one of them saw fail.
//!
//! - Keys are namespaced by endpoint id with a Redis Cluster hash tag,
//!   `qcc:{ID}:rpm` (the last minute's requests, a sorted set), `qcc:{ID}:open-until`
//!   (a breaker trip: its end in the server's ms, its cause and reason). No key, no key
//!   fingerprint, no request content goes to Redis.
//! - Every read-and-count is one Lua script, atomic on the server, with the server's clock.
//! - The request path waits at most `proxy.shared_timeout_ms`; on a timeout or an error the
//!   daemon's own decision is used ([`Shared::admit`] returns `None`). While the link is
//!   down the request path does not ask at all; a background task pings the server every
//!   [`PING_EVERY`] and says when it is back (logged once per change).
//!
//! Pure of the rest of qcc but `state` (the URL): the proxy asks, the daemon starts it.

pub mod scripts;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::state::shared::{Source, mask};

/// How often the link is checked (and, while down, tried again).
pub const PING_EVERY: Duration = Duration::from_millis(500);
/// Longest a background call (ping, publishing a trip, adding usage) may take.
const BACKGROUND_TIMEOUT: Duration = Duration::from_secs(2);

/// One endpoint's limits as the shared counters apply them (none set: only a trip is read).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Requests per sliding minute.
    pub rpm: Option<u64>,
    /// Tokens per sliding minute.
    pub tpm: Option<u64>,
    /// Tokens per UTC day.
    pub tokens_per_day: Option<u64>,
    /// Spend per UTC day and month, in micro-dollars.
    pub budget_day_micros: Option<u64>,
    pub budget_month_micros: Option<u64>,
}

impl Limits {
    /// Whether tokens or spend are counted (what [`Shared::add_usage`] adds to).
    pub fn counts_usage(&self) -> bool {
        self.tpm.is_some()
            || self.tokens_per_day.is_some()
            || self.budget_day_micros.is_some()
            || self.budget_month_micros.is_some()
    }
}

impl From<&crate::state::limits::Limits> for Limits {
    fn from(l: &crate::state::limits::Limits) -> Self {
        let micros = |usd: Option<f64>| usd.map(|v| (v.max(0.0) * 1_000_000.0).round() as u64);
        Self {
            rpm: l.rpm,
            tpm: l.tpm,
            tokens_per_day: l.tokens_per_day,
            budget_day_micros: micros(l.budget_day_usd),
            budget_month_micros: micros(l.budget_month_usd),
        }
    }
}

/// The UTC day (`YYYY-MM-DD`) and month (`YYYY-MM`) of unix ms `now`, and the ms left in
/// each (the keys of the day and month counts, and how long a limit of theirs holds).
fn calendar(now_ms: u64) -> (String, String, u64, u64) {
    use chrono::{Datelike, NaiveDate};
    let now = chrono::DateTime::from_timestamp_millis(now_ms as i64).unwrap_or_default();
    let d = now.date_naive();
    let day_end = d
        .succ_opt()
        .and_then(|n| n.and_hms_opt(0, 0, 0))
        .map_or(now_ms + 86_400_000, |n| {
            n.and_utc().timestamp_millis() as u64
        });
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    let month_end = NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|n| n.and_hms_opt(0, 0, 0))
        .map_or(day_end, |n| n.and_utc().timestamp_millis() as u64);
    (
        d.format("%Y-%m-%d").to_string(),
        d.format("%Y-%m").to_string(),
        day_end.saturating_sub(now_ms),
        month_end.saturating_sub(now_ms),
    )
}

/// Unix time now, in ms.
fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Why a breaker opened, as another daemon is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TripCause {
    Failures,
    RetryAfter,
    Billing,
}

impl TripCause {
    fn word(self) -> &'static str {
        match self {
            TripCause::Failures => "failures",
            TripCause::RetryAfter => "retry-after",
            TripCause::Billing => "billing",
        }
    }

    fn parse(w: &str) -> Self {
        match w {
            "retry-after" => TripCause::RetryAfter,
            "billing" => TripCause::Billing,
            _ => TripCause::Failures,
        }
    }
}

/// What the shared state says of sending one request to an endpoint now.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Counted: send it.
    Go,
    /// A limit is reached across the daemons: not sent (nothing counted) for `wait`;
    /// `reason` says which and how far (`rpm 10 requests in the last 60 s (limit 10)`).
    Limited { reason: String, wait: Duration },
    /// Another daemon opened its breaker: skip it for `left` (nothing counted).
    Open {
        left: Duration,
        cause: TripCause,
        reason: String,
    },
}

/// The link to one server.
struct Link {
    /// The URL as shown (password masked) and where it came from.
    shown: String,
    source: Source,
    url: String,
    manager: ConnectionManager,
    up: AtomicBool,
    /// Why it is down (while it is); `None` until the first answer or failure.
    why: Mutex<Option<String>>,
    /// Replaced by another link (a reload changed the URL): its watcher stops.
    retired: AtomicBool,
}

impl Link {
    fn set_down(&self, why: String) {
        let was_up = self.up.swap(false, Ordering::AcqRel);
        let mut w = self.why.lock().unwrap_or_else(PoisonError::into_inner);
        if was_up || w.is_none() {
            tracing::warn!(
                "shared state {} degraded: {why}; limits and breakers are this daemon's own until it is back",
                self.shown
            );
        }
        *w = Some(why);
    }

    fn set_up(&self) {
        if !self.up.swap(true, Ordering::AcqRel) {
            tracing::info!("shared state {} connected", self.shown);
            *self.why.lock().unwrap_or_else(PoisonError::into_inner) = Some(String::new());
        }
    }

    /// Ping now and then; note each change of up / down (logged once).
    async fn watch(self: Arc<Self>) {
        let mut tick = tokio::time::interval(PING_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !self.retired.load(Ordering::Acquire) {
            tick.tick().await;
            let mut conn = self.manager.clone();
            let ping = redis::cmd("PING");
            match tokio::time::timeout(BACKGROUND_TIMEOUT, ping.query_async::<String>(&mut conn))
                .await
            {
                Ok(Ok(_)) => self.set_up(),
                Ok(Err(e)) => self.set_down(describe(&e)),
                Err(_) => self.set_down(format!(
                    "no answer to PING within {} s",
                    BACKGROUND_TIMEOUT.as_secs()
                )),
            }
        }
    }
}

fn describe(e: &redis::RedisError) -> String {
    let s = e.to_string();
    let s = s.lines().next().unwrap_or_default();
    s.chars().take(160).collect()
}

/// The shared state of one daemon: off, or a link to a server that is up or down.
#[derive(Default)]
pub struct Shared {
    link: ArcSwapOption<Link>,
    timeout_ms: AtomicU64,
    /// Set by the daemon: configs are applied from then on (before: off).
    started: AtomicBool,
    /// `QCC_REDIS_URL` as the daemon found it.
    env: Mutex<Option<String>>,
    /// Makes each counted request's member unique across daemons.
    nonce: Mutex<String>,
    seq: AtomicU64,
}

/// One line for `proxy status`: `off`, `connected`, `degraded: WHY`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedStatus {
    pub state: String,
    /// The URL (password masked) and where it came from.
    pub url: Option<String>,
}

impl Shared {
    /// Start applying configs (the daemon, inside its runtime), with `QCC_REDIS_URL`.
    pub fn start(&self, env: Option<String>, settings: &crate::state::model::ProxySettings) {
        *self.env.lock().unwrap_or_else(PoisonError::into_inner) = env;
        *self.nonce.lock().unwrap_or_else(PoisonError::into_inner) =
            format!("{:x}.{:08x}", std::process::id(), rand::random::<u32>());
        self.started.store(true, Ordering::Release);
        self.apply(settings);
    }

    /// The URL in force for these settings (the environment's first).
    pub fn resolve(
        &self,
        settings: &crate::state::model::ProxySettings,
    ) -> Option<(String, Source)> {
        let env = self.env.lock().unwrap_or_else(PoisonError::into_inner);
        crate::state::shared::resolve(env.as_deref(), settings.shared_state.as_deref())
    }

    /// A (re)loaded config: its timeout, and a new link if the URL changed. Needs a tokio
    /// runtime (the link's tasks run on it); does nothing before [`Shared::start`].
    pub fn apply(&self, settings: &crate::state::model::ProxySettings) {
        self.timeout_ms
            .store(settings.shared_timeout_ms.max(1), Ordering::Relaxed);
        if !self.started.load(Ordering::Acquire) {
            return;
        }
        let wanted = self.resolve(settings);
        let current = self.link.load_full();
        if current.as_ref().map(|l| (l.url.as_str(), l.source))
            == wanted.as_ref().map(|(u, s)| (u.as_str(), *s))
        {
            return;
        }
        if let Some(old) = &current {
            old.retired.store(true, Ordering::Release);
        }
        let Some((url, source)) = wanted else {
            if current.is_some() {
                tracing::info!("shared state off: limits and breakers are this daemon's own");
            }
            self.link.store(None);
            return;
        };
        let shown = mask(&url);
        match Self::connect(&url) {
            Ok(manager) => {
                let link = Arc::new(Link {
                    shown: shown.clone(),
                    source,
                    url,
                    manager,
                    up: AtomicBool::new(false),
                    why: Mutex::new(None),
                    retired: AtomicBool::new(false),
                });
                tracing::info!("shared state: {shown}");
                tokio::spawn(link.clone().watch());
                self.link.store(Some(link));
            }
            Err(e) => {
                tracing::error!("shared state {shown} not used: {}", describe(&e));
                self.link.store(None);
            }
        }
    }

    fn connect(url: &str) -> redis::RedisResult<ConnectionManager> {
        if url.starts_with("rediss:") {
            // The TLS of `rediss://` asks rustls for the process's provider: ring, as for
            // the upstream client.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500))
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(BACKGROUND_TIMEOUT));
        ConnectionManager::new_lazy_with_config(client, config)
    }

    /// `off`, `connected` or `degraded: WHY`, and the URL.
    pub fn status(&self) -> SharedStatus {
        let Some(link) = self.link.load_full() else {
            return SharedStatus {
                state: "off".into(),
                url: None,
            };
        };
        let state = if link.up.load(Ordering::Acquire) {
            "connected".to_owned()
        } else {
            let why = link.why.lock().unwrap_or_else(PoisonError::into_inner);
            format!("degraded: {}", why.as_deref().unwrap_or("connecting"))
        };
        let from = match link.source {
            Source::Env => " (QCC_REDIS_URL)",
            Source::Config => "",
        };
        SharedStatus {
            state,
            url: Some(format!("{}{from}", link.shown)),
        }
    }

    /// The link while it is up (the request path asks nothing otherwise).
    fn up(&self) -> Option<Arc<Link>> {
        self.link
            .load_full()
            .filter(|l| l.up.load(Ordering::Acquire))
    }

    /// Whether a link is configured at all.
    pub fn enabled(&self) -> bool {
        self.link.load().is_some()
    }

    fn member(&self) -> String {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let nonce = self.nonce.lock().unwrap_or_else(PoisonError::into_inner);
        format!("{nonce}.{n:x}")
    }

    /// May a request (of about `estimate` tokens) go to endpoint `id` now, by the shared
    /// counters and trips? Counts it when it may. `None`: no answer (off, down, timed out,
    /// failed) — the daemon's own decision holds.
    pub async fn admit(&self, id: &str, limits: &Limits, estimate: u64) -> Option<Verdict> {
        let link = self.up()?;
        let mut conn = link.manager.clone();
        let limit = Duration::from_millis(self.timeout_ms.load(Ordering::Relaxed));
        let (day, month, day_left, month_left) = calendar(unix_ms());
        let mut call = scripts::ADMIT.prepare_invoke();
        call.key(scripts::open_key(id))
            .key(scripts::rpm_key(id))
            .key(scripts::tpm_key(id))
            .key(scripts::day_tokens_key(id, &day))
            .key(scripts::day_spend_key(id, &day))
            .key(scripts::month_spend_key(id, &month))
            .arg(limits.rpm.unwrap_or(0))
            .arg(limits.tpm.unwrap_or(0))
            .arg(limits.tokens_per_day.unwrap_or(0))
            .arg(limits.budget_day_micros.unwrap_or(0))
            .arg(limits.budget_month_micros.unwrap_or(0))
            .arg(self.member())
            .arg(estimate)
            .arg(day_left)
            .arg(month_left);
        let answer =
            tokio::time::timeout(limit, call.invoke_async::<(i64, i64, String)>(&mut conn));
        match answer.await {
            Ok(Ok((code, ms, text))) => Some(verdict(code, ms, text)),
            Ok(Err(e)) => {
                link.set_down(describe(&e));
                None
            }
            Err(_) => {
                tracing::debug!(
                    endpoint = id,
                    "shared state: no answer within {} ms",
                    limit.as_millis()
                );
                None
            }
        }
    }

    /// An answer of endpoint `id` ended: add its tokens and cost (USD) to the shared
    /// counts. Off the request path (the usage recorder); dropped while the link is down.
    pub async fn add_usage(&self, id: &str, tokens: u64, cost_usd: f64) {
        let Some(link) = self.up() else {
            return;
        };
        let micros = (cost_usd.max(0.0) * 1_000_000.0).round() as u64;
        if tokens == 0 && micros == 0 {
            return;
        }
        let (day, month, _, _) = calendar(unix_ms());
        let mut conn = link.manager.clone();
        let mut call = scripts::ADD.prepare_invoke();
        call.key(scripts::tpm_key(id))
            .key(scripts::day_tokens_key(id, &day))
            .key(scripts::day_spend_key(id, &day))
            .key(scripts::month_spend_key(id, &month))
            .arg(tokens)
            .arg(micros);
        match tokio::time::timeout(BACKGROUND_TIMEOUT, call.invoke_async::<i64>(&mut conn)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => link.set_down(describe(&e)),
            Err(_) => tracing::debug!(endpoint = id, "shared state: usage not added in time"),
        }
    }

    /// Tell the other daemons that endpoint `id`'s breaker opened for `cooldown` (off the
    /// request path; a later end already there is kept).
    pub async fn publish_trip(&self, id: &str, cooldown: Duration, cause: TripCause, reason: &str) {
        let Some(link) = self.up() else {
            return;
        };
        let mut conn = link.manager.clone();
        let mut call = scripts::TRIP.prepare_invoke();
        call.key(scripts::open_key(id))
            .arg(cooldown.as_millis().max(1) as u64)
            .arg(format!("{} {}", cause.word(), one_line(reason)));
        match tokio::time::timeout(BACKGROUND_TIMEOUT, call.invoke_async::<i64>(&mut conn)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => link.set_down(describe(&e)),
            Err(_) => tracing::debug!(
                endpoint = id,
                "shared state: a trip was not published in time"
            ),
        }
    }
}

/// A reason as one short line (it is stored in Redis and shown by other daemons).
fn one_line(s: &str) -> String {
    s.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect()
}

fn verdict(code: i64, ms: i64, text: String) -> Verdict {
    let d = Duration::from_millis(ms.max(0) as u64);
    match code {
        1 => Verdict::Limited {
            reason: text,
            wait: d,
        },
        2 => {
            let (cause, reason) = text.split_once(' ').unwrap_or((text.as_str(), ""));
            Verdict::Open {
                left: d,
                cause: TripCause::parse(cause),
                reason: reason.to_owned(),
            }
        }
        _ => Verdict::Go,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_keys_and_what_is_left() {
        // 2026-12-31 23:59:00 UTC.
        let ms = 1_798_761_540_000;
        let (day, month, day_left, month_left) = calendar(ms);
        assert_eq!((day.as_str(), month.as_str()), ("2026-12-31", "2026-12"));
        assert_eq!((day_left, month_left), (60_000, 60_000));
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict(0, 0, String::new()), Verdict::Go);
        assert_eq!(
            verdict(1, 1500, "rpm 10 requests".into()),
            Verdict::Limited {
                reason: "rpm 10 requests".into(),
                wait: Duration::from_millis(1500)
            }
        );
        assert_eq!(
            verdict(2, 30_000, "billing HTTP 402: no credit".into()),
            Verdict::Open {
                left: Duration::from_secs(30),
                cause: TripCause::Billing,
                reason: "HTTP 402: no credit".into()
            }
        );
    }
}
