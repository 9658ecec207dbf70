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
    pub rpm: Option<u32>,
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
    /// A limit is reached across the daemons: not sent (nothing counted); `wait` until the
    /// oldest counted request leaves the window.
    Limited { limit: &'static str, wait: Duration },
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

    /// May a request go to endpoint `id` now, by the shared counters and trips? Counts it
    /// when it may. `None`: no answer (off, down, timed out, failed) — the daemon's own
    /// decision holds.
    pub async fn admit(&self, id: &str, limits: Limits) -> Option<Verdict> {
        let link = self.up()?;
        let mut conn = link.manager.clone();
        let limit = Duration::from_millis(self.timeout_ms.load(Ordering::Relaxed));
        let mut call = scripts::ADMIT.prepare_invoke();
        call.key(scripts::open_key(id))
            .key(scripts::rpm_key(id))
            .arg(limits.rpm.unwrap_or(0))
            .arg(self.member());
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

/// The name of a limit the admission script reports.
fn limit_name(s: &str) -> &'static str {
    match s {
        "tpm" => "tpm",
        "tokens-per-day" => "tokens-per-day",
        "budget-day" => "budget-day",
        "budget-month" => "budget-month",
        _ => "rpm",
    }
}

fn verdict(code: i64, ms: i64, text: String) -> Verdict {
    let d = Duration::from_millis(ms.max(0) as u64);
    match code {
        1 => Verdict::Limited {
            limit: limit_name(&text),
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
