//! Limits, counted before they bite: an endpoint's local limits (requests and tokens per
//! sliding minute, tokens per UTC day, day and month budgets) and what its provider
//! announces in its answers' rate-limit headers ([`announced`]). An endpoint at a limit is
//! `limited`: skipped, not failed (docs/behavior.md §6, docs/decisions.md *Limits*).
//!
//! One [`Limiter`] per endpoint, kept across reloads by the `StatsRegistry`. Time is unix
//! milliseconds passed in, so every rule is tested with a clock of its own.
//!
//! - The minute windows are 60 per-second slots (second, requests, tokens) under one short
//!   lock: admitting sums the slots of the last 60 s and counts into the current one. No
//!   allocation per request.
//! - Tokens are admitted at an estimate (the caller's: the body's length / 4) and settled
//!   with the answer's real count when it ends ([`Reservation::settle`]); an attempt that
//!   fails gives its estimate back (dropping the reservation).
//! - Spend comes from the usage recorder, after each answer ([`Limiter::add_spend`]).
//! - A provider's announcement is two atomics on the request path (no hold: two loads).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use http::HeaderMap;

use crate::state::limits::Limits;

/// The sliding window of `rpm` and `tpm`, in seconds.
pub const WINDOW_SECS: u64 = 60;
const SLOTS: usize = WINDOW_SECS as usize;
const DAY_MS: u64 = 86_400_000;
/// Micro-dollars per dollar (spend is kept as an integer).
const MICROS: f64 = 1_000_000.0;

/// Unix time now, in milliseconds.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Why an endpoint takes no request now, and until when (unix ms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    pub until_ms: u64,
    pub reason: String,
}

impl Held {
    /// Seconds from `now_ms` to the end of the hold, rounded up, at least 1.
    pub fn secs_left(&self, now_ms: u64) -> u64 {
        self.until_ms.saturating_sub(now_ms).div_ceil(1000).max(1)
    }

    /// The end as a UTC time.
    pub fn until(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_millis(self.until_ms as i64)
    }
}

#[derive(Clone, Copy, Default)]
struct Slot {
    /// The unix second it counts (0: never used).
    sec: u64,
    requests: u64,
    tokens: u64,
}

struct Counts {
    slots: [Slot; SLOTS],
    /// The UTC day (days since the epoch) `day_tokens` counts.
    day: u64,
    day_tokens: u64,
}

#[derive(Default)]
struct Spend {
    day: u64,
    day_micros: u64,
    /// Months since year 0 (year × 12 + month − 1).
    month: u32,
    month_micros: u64,
}

/// One endpoint's counts against its limits, and its provider's last announcement.
pub struct Limiter {
    counts: Mutex<Counts>,
    spend: Mutex<Spend>,
    /// The provider said no request before then (unix ms; 0: it did not).
    requests_until: AtomicU64,
    /// The provider said this many tokens are left until `tokens_until` (0: nothing said).
    tokens_left: AtomicU64,
    tokens_until: AtomicU64,
    /// What the provider said, for `proxy status` (set only with a hold).
    said: Mutex<String>,
    /// The shared state (docs/team.md) found a limit reached across the daemons: held
    /// until then (unix ms; 0: not), without asking it again meanwhile.
    shared_until: AtomicU64,
    shared_said: Mutex<String>,
}

impl Default for Limiter {
    fn default() -> Self {
        Self {
            counts: Mutex::new(Counts {
                slots: [Slot::default(); SLOTS],
                day: 0,
                day_tokens: 0,
            }),
            spend: Mutex::new(Spend::default()),
            requests_until: AtomicU64::new(0),
            tokens_left: AtomicU64::new(0),
            tokens_until: AtomicU64::new(0),
            said: Mutex::new(String::new()),
            shared_until: AtomicU64::new(0),
            shared_said: Mutex::new(String::new()),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The month (year × 12 + month − 1) of `ms`, and when the next one starts (unix ms).
fn month_of(ms: u64) -> (u32, u64) {
    let d = DateTime::from_timestamp_millis(ms as i64)
        .unwrap_or_default()
        .date_naive();
    let index = (d.year().max(0) as u32) * 12 + d.month0();
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    let next = NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|n| n.and_hms_opt(0, 0, 0))
        .map_or(ms + DAY_MS, |n| n.and_utc().timestamp_millis() as u64);
    (index, next)
}

fn usd(micros: u64) -> String {
    format!("${:.2}", micros as f64 / MICROS)
}

/// Tokens admitted at an estimate, to be settled with the real count. Dropped unsettled
/// (the attempt failed), it gives the estimate back; the request still counts.
pub struct Reservation {
    limiter: Arc<Limiter>,
    sec: u64,
    day: u64,
    estimate: u64,
    settled: bool,
}

impl Reservation {
    /// The answer ended having used `tokens` (input of every kind + output).
    pub fn settle(mut self, tokens: u64) {
        self.apply(tokens);
    }

    fn apply(&mut self, tokens: u64) {
        if self.settled {
            return;
        }
        self.settled = true;
        let mut c = lock(&self.limiter.counts);
        let slot = &mut c.slots[(self.sec % WINDOW_SECS) as usize];
        if slot.sec == self.sec {
            slot.tokens = slot.tokens.saturating_sub(self.estimate) + tokens;
        }
        if c.day == self.day {
            c.day_tokens = c.day_tokens.saturating_sub(self.estimate) + tokens;
        }
    }
}

impl Reservation {
    /// The request was not sent after all (the shared state refused it): neither it nor
    /// its estimate counts.
    pub fn cancel(mut self) {
        self.apply(0);
        let mut c = lock(&self.limiter.counts);
        let slot = &mut c.slots[(self.sec % WINDOW_SECS) as usize];
        if slot.sec == self.sec {
            slot.requests = slot.requests.saturating_sub(1);
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.apply(0);
    }
}

impl Limiter {
    /// Whether the provider announced something that may hold a request (two loads).
    pub fn announced_any(&self) -> bool {
        self.requests_until.load(Ordering::Relaxed) != 0
            || self.tokens_until.load(Ordering::Relaxed) != 0
    }

    /// Admit one request estimated at `estimate` tokens at `now_ms`, or say why not. With
    /// local `limits`, the request is counted (and its tokens reserved) when admitted.
    pub fn admit(
        self: &Arc<Self>,
        limits: Option<&Limits>,
        now_ms: u64,
        estimate: u64,
    ) -> Result<Option<Reservation>, Held> {
        self.check_announced(now_ms, estimate.max(1))?;
        let Some(l) = limits else {
            return Ok(None);
        };
        self.check_shared(now_ms)?;
        self.check_spend(l, now_ms)?;
        let mut c = lock(&self.counts);
        self.check_counts(&mut c, l, now_ms, estimate)?;
        let sec = now_ms / 1000;
        let day = now_ms / DAY_MS;
        let tokens = if l.counts_tokens() { estimate } else { 0 };
        let slot = &mut c.slots[(sec % WINDOW_SECS) as usize];
        if slot.sec != sec {
            *slot = Slot {
                sec,
                ..Slot::default()
            };
        }
        slot.requests += 1;
        slot.tokens += tokens;
        c.day_tokens += tokens;
        Ok(Some(Reservation {
            limiter: self.clone(),
            sec,
            day,
            estimate: tokens,
            settled: tokens == 0,
        }))
    }

    /// Why it is `limited` now, if it is (nothing counted).
    pub fn held(&self, limits: Option<&Limits>, now_ms: u64) -> Option<Held> {
        self.check_announced(now_ms, 0).err().or_else(|| {
            let l = limits?;
            let shared = self.check_shared(now_ms).err();
            shared
                .or_else(|| self.check_spend(l, now_ms).err())
                .or_else(|| {
                    let mut c = lock(&self.counts);
                    self.check_counts(&mut c, l, now_ms, 0).err()
                })
        })
    }

    /// The shared state found a limit reached across the daemons until `until_ms`: hold
    /// the endpoint here too (it is `limited`, and the request path does not ask again).
    pub fn hold_shared(&self, until_ms: u64, reason: String) {
        *lock(&self.shared_said) = reason;
        self.shared_until.fetch_max(until_ms, Ordering::Relaxed);
    }

    fn check_shared(&self, now_ms: u64) -> Result<(), Held> {
        let until = self.shared_until.load(Ordering::Relaxed);
        if until == 0 {
            return Ok(());
        }
        if now_ms < until {
            return Err(Held {
                until_ms: until,
                reason: lock(&self.shared_said).clone(),
            });
        }
        let _ = self
            .shared_until
            .compare_exchange(until, 0, Ordering::Relaxed, Ordering::Relaxed);
        Ok(())
    }

    fn check_announced(&self, now_ms: u64, estimate: u64) -> Result<(), Held> {
        let until = self.requests_until.load(Ordering::Relaxed);
        if until != 0 {
            if now_ms < until {
                return Err(Held {
                    until_ms: until,
                    reason: lock(&self.said).clone(),
                });
            }
            let _ = self.requests_until.compare_exchange(
                until,
                0,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
        let until = self.tokens_until.load(Ordering::Relaxed);
        if until != 0 {
            if now_ms >= until {
                let _ = self.tokens_until.compare_exchange(
                    until,
                    0,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
                return Ok(());
            }
            let left = self.tokens_left.load(Ordering::Relaxed);
            if left == 0 || estimate > left {
                return Err(Held {
                    until_ms: until,
                    reason: format!(
                        "provider says {left} tokens remain (this request needs ~{estimate})"
                    ),
                });
            }
        }
        Ok(())
    }

    fn check_spend(&self, l: &Limits, now_ms: u64) -> Result<(), Held> {
        if l.budget_day_usd.is_none() && l.budget_month_usd.is_none() {
            return Ok(());
        }
        let mut s = lock(&self.spend);
        let day = now_ms / DAY_MS;
        if s.day != day {
            s.day = day;
            s.day_micros = 0;
        }
        let (month, next_month) = month_of(now_ms);
        if s.month != month {
            s.month = month;
            s.month_micros = 0;
        }
        if let Some(b) = l.budget_day_usd {
            let budget = (b * MICROS).round() as u64;
            if s.day_micros >= budget {
                return Err(Held {
                    until_ms: (day + 1) * DAY_MS,
                    reason: format!(
                        "day budget reached: {} of {} spent",
                        usd(s.day_micros),
                        usd(budget)
                    ),
                });
            }
        }
        if let Some(b) = l.budget_month_usd {
            let budget = (b * MICROS).round() as u64;
            if s.month_micros >= budget {
                return Err(Held {
                    until_ms: next_month,
                    reason: format!(
                        "month budget reached: {} of {} spent",
                        usd(s.month_micros),
                        usd(budget)
                    ),
                });
            }
        }
        Ok(())
    }

    /// Check the minute windows and the day's tokens (a request of `estimate` tokens; 0
    /// for a look only). A count is at its limit when it reached it, or when this request
    /// would pass it — unless nothing is counted yet (one oversized request still goes).
    fn check_counts(
        &self,
        c: &mut Counts,
        l: &Limits,
        now_ms: u64,
        estimate: u64,
    ) -> Result<(), Held> {
        let day = now_ms / DAY_MS;
        if c.day != day {
            c.day = day;
            c.day_tokens = 0;
        }
        let over = |used: u64, limit: u64| used >= limit || (used > 0 && used + estimate > limit);
        if let Some(tpd) = l.tokens_per_day
            && over(c.day_tokens, tpd)
        {
            return Err(Held {
                until_ms: (day + 1) * DAY_MS,
                reason: format!("tokens per day: {} of {tpd} used", c.day_tokens),
            });
        }
        if l.rpm.is_none() && l.tpm.is_none() {
            return Ok(());
        }
        let now = now_ms / 1000;
        let first = now.saturating_sub(WINDOW_SECS - 1);
        // The slots of the window, oldest first (a slot of an older second is stale).
        let live = |s: u64| {
            let slot = c.slots[(s % WINDOW_SECS) as usize];
            if slot.sec == s { slot } else { Slot::default() }
        };
        let (requests, tokens) = (first..=now)
            .map(live)
            .fold((0, 0), |(r, t), s| (r + s.requests, t + s.tokens));
        // When enough of the window has aged out for `fits` to hold.
        let until = |fits: &dyn Fn(u64, u64) -> bool| {
            let (mut r, mut t) = (requests, tokens);
            for s in first..=now {
                let slot = live(s);
                r -= slot.requests;
                t -= slot.tokens;
                if fits(r, t) {
                    return (s + WINDOW_SECS) * 1000;
                }
            }
            (now + WINDOW_SECS) * 1000
        };
        if let Some(rpm) = l.rpm
            && requests >= rpm
        {
            return Err(Held {
                until_ms: until(&|r, _| r < rpm),
                reason: format!(
                    "rpm limit: {requests} requests in the last {WINDOW_SECS} s (limit {rpm})"
                ),
            });
        }
        if let Some(tpm) = l.tpm
            && over(tokens, tpm)
        {
            return Err(Held {
                until_ms: until(&|_, t| t == 0 || (t < tpm && t + estimate <= tpm)),
                reason: format!(
                    "tpm limit: {tokens} tokens in the last {WINDOW_SECS} s (limit {tpm})"
                ),
            });
        }
        Ok(())
    }

    /// The usage recorder priced an answer of this endpoint at `usd`, at `now_ms`.
    pub fn add_spend(&self, usd: f64, now_ms: u64) {
        if !(usd.is_finite() && usd > 0.0) {
            return;
        }
        let micros = (usd * MICROS).round() as u64;
        let mut s = lock(&self.spend);
        let day = now_ms / DAY_MS;
        if s.day != day {
            // A new day (the month is looked at only then).
            s.day = day;
            s.day_micros = 0;
            let (month, _) = month_of(now_ms);
            if s.month != month {
                s.month = month;
                s.month_micros = 0;
            }
        }
        s.day_micros += micros;
        s.month_micros += micros;
    }

    /// At startup: what was spent today and this month before (from the usage files).
    pub fn restore_spend(&self, day_usd: f64, month_usd: f64, now_ms: u64) {
        let mut s = lock(&self.spend);
        s.day = now_ms / DAY_MS;
        s.month = month_of(now_ms).0;
        s.day_micros = (day_usd.max(0.0) * MICROS).round() as u64;
        s.month_micros = (month_usd.max(0.0) * MICROS).round() as u64;
    }

    /// Today's and this month's spend so far (USD).
    pub fn spend(&self, now_ms: u64) -> (f64, f64) {
        let s = lock(&self.spend);
        let day = if s.day == now_ms / DAY_MS {
            s.day_micros
        } else {
            0
        };
        let month = if s.month == month_of(now_ms).0 {
            s.month_micros
        } else {
            0
        };
        (day as f64 / MICROS, month as f64 / MICROS)
    }

    /// Take in what an answer's headers announce. Without rate-limit headers: one look at
    /// each header name, no clock, nothing stored.
    pub fn hear(&self, headers: &HeaderMap) {
        if headers.keys().any(|n| is_ratelimit(n.as_str())) {
            self.hear_at(headers, unix_ms());
        }
    }

    /// [`hear`](Self::hear) at `now_ms`.
    pub fn hear_at(&self, headers: &HeaderMap, now_ms: u64) {
        let Some(a) = announced(headers, now_ms) else {
            return;
        };
        match a.hold {
            Some(h) => {
                *lock(&self.said) = h.reason;
                self.requests_until.store(h.until_ms, Ordering::Relaxed);
            }
            None => self.requests_until.store(0, Ordering::Relaxed),
        }
        match a.tokens {
            Some((left, until)) => {
                self.tokens_left.store(left, Ordering::Relaxed);
                self.tokens_until.store(until, Ordering::Relaxed);
            }
            None => self.tokens_until.store(0, Ordering::Relaxed),
        }
    }

    /// Forget what the provider announced (`qcc endpoint enable`).
    pub fn clear_announced(&self) {
        self.requests_until.store(0, Ordering::Relaxed);
        self.tokens_until.store(0, Ordering::Relaxed);
    }
}

fn is_ratelimit(name: &str) -> bool {
    name.starts_with("anthropic-ratelimit-") || name.starts_with("x-ratelimit-")
}

/// What one answer's rate-limit headers say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Announcement {
    /// No request until then: a count at 0, or the subscription's window is spent.
    pub hold: Option<Held>,
    /// Tokens left, until when (unix ms).
    pub tokens: Option<(u64, u64)>,
}

/// A remaining count and its reset.
#[derive(Clone, Copy, Default)]
struct Count {
    remaining: Option<u64>,
    reset_ms: Option<u64>,
}

/// One window of the subscription (`5h`, `7d`, …) as its headers name it.
#[derive(Clone, Copy, Default)]
struct Window<'a> {
    name: &'a str,
    utilization: Option<f64>,
    reset_ms: Option<u64>,
    rejected: bool,
}

fn rfc3339_ms(v: &str) -> Option<u64> {
    DateTime::parse_from_rfc3339(v.trim())
        .ok()
        .map(|t| t.timestamp_millis().max(0) as u64)
}

fn unix_secs_ms(v: &str) -> Option<u64> {
    v.trim().parse::<f64>().ok().map(|s| (s * 1000.0) as u64)
}

/// An OpenAI-style duration: `1s`, `6m0s`, `20ms`, `1h2m3.5s`.
pub fn duration_ms(v: &str) -> Option<u64> {
    let v = v.trim();
    let mut total = 0.0;
    let mut rest = v;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let (unit, len) = if rest.starts_with("ms") {
            (1.0, 2)
        } else if rest.starts_with('h') {
            (3_600_000.0, 1)
        } else if rest.starts_with('m') {
            (60_000.0, 1)
        } else if rest.starts_with('s') {
            (1000.0, 1)
        } else if rest.is_empty() {
            // A bare number: seconds.
            (1000.0, 0)
        } else {
            return None;
        };
        total += number * unit;
        rest = &rest[len..];
    }
    Some(total as u64)
}

/// What `headers` announce, read in one pass over them; `None` when they carry no
/// rate-limit header (the common case: nothing is allocated). Read:
///
/// - `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{remaining,reset}`
///   (reset in RFC 3339): requests or output tokens at 0 hold until their reset; the
///   fewest of tokens and input tokens left is kept against the next requests' estimates.
/// - `anthropic-ratelimit-unified-status` (`rejected`) with `-unified-reset` (unix
///   seconds), and each window's `-unified-<w>-{utilization,reset,status}`: a window used
///   up (utilization ≥ 1, or `rejected`) holds until its reset.
/// - OpenAI's `x-ratelimit-remaining-{requests,tokens}` with `x-ratelimit-reset-…`
///   (durations from now).
pub fn announced(headers: &HeaderMap, now_ms: u64) -> Option<Announcement> {
    let mut seen = false;
    let (mut requests, mut tokens, mut input, mut output) = (
        Count::default(),
        Count::default(),
        Count::default(),
        Count::default(),
    );
    let (mut oa_requests, mut oa_tokens) = (Count::default(), Count::default());
    let mut unified_rejected = false;
    let mut unified_reset = None;
    let mut windows = [Window::default(); 6];
    for (name, value) in headers {
        let n = name.as_str();
        let Ok(v) = value.to_str() else { continue };
        if let Some(rest) = n.strip_prefix("anthropic-ratelimit-") {
            seen = true;
            if let Some(u) = rest.strip_prefix("unified-") {
                match u {
                    "status" => unified_rejected = v.trim() == "rejected",
                    "reset" => unified_reset = unix_secs_ms(v),
                    _ => {
                        let Some((w, field)) = u.rsplit_once('-') else {
                            continue;
                        };
                        if w == "overage" || w == "fallback" || w == "representative" {
                            continue;
                        }
                        let Some(slot) = windows
                            .iter()
                            .position(|x| x.name == w)
                            .or_else(|| windows.iter().position(|x| x.name.is_empty()))
                        else {
                            continue;
                        };
                        let win = &mut windows[slot];
                        win.name = w;
                        match field {
                            "utilization" => win.utilization = v.trim().parse().ok(),
                            "reset" => win.reset_ms = unix_secs_ms(v),
                            "status" => win.rejected = v.trim() == "rejected",
                            _ => {}
                        }
                    }
                }
                continue;
            }
            let (kind, field) = match rest.rsplit_once('-') {
                Some(p) => p,
                None => continue,
            };
            let count = match kind {
                "requests" => &mut requests,
                "tokens" => &mut tokens,
                "input-tokens" => &mut input,
                "output-tokens" => &mut output,
                _ => continue,
            };
            match field {
                "remaining" => count.remaining = v.trim().parse().ok(),
                "reset" => count.reset_ms = rfc3339_ms(v),
                _ => {}
            }
        } else if let Some(rest) = n.strip_prefix("x-ratelimit-") {
            let (count, remaining) = match rest {
                "remaining-requests" => (&mut oa_requests, true),
                "reset-requests" => (&mut oa_requests, false),
                "remaining-tokens" => (&mut oa_tokens, true),
                "reset-tokens" => (&mut oa_tokens, false),
                _ => continue,
            };
            seen = true;
            if remaining {
                count.remaining = v.trim().parse().ok();
            } else {
                count.reset_ms = duration_ms(v).map(|d| now_ms + d);
            }
        }
    }
    if !seen {
        return None;
    }
    let mut hold: Option<Held> = None;
    let mut add = |until_ms: Option<u64>, reason: &dyn Fn() -> String| {
        if let Some(until_ms) = until_ms.filter(|&u| u > now_ms)
            && hold.as_ref().is_none_or(|h| h.until_ms < until_ms)
        {
            hold = Some(Held {
                until_ms,
                reason: reason(),
            });
        }
    };
    for (c, what) in [
        (requests, "requests"),
        (output, "output tokens"),
        (oa_requests, "requests"),
    ] {
        if c.remaining == Some(0) {
            add(c.reset_ms, &|| format!("provider says no {what} remain"));
        }
    }
    if unified_rejected {
        let reset = unified_reset.or_else(|| windows.iter().filter_map(|w| w.reset_ms).max());
        add(reset, &|| {
            "provider says the subscription's usage limit is reached".into()
        });
    }
    for w in windows.iter().filter(|w| !w.name.is_empty()) {
        if w.rejected || w.utilization.is_some_and(|u| u >= 1.0) {
            add(w.reset_ms, &|| {
                format!("provider says the {} usage window is used up", w.name)
            });
        }
    }
    let tokens = [tokens, input, oa_tokens]
        .into_iter()
        .filter_map(|c| Some((c.remaining?, c.reset_ms?)))
        .filter(|&(_, reset)| reset > now_ms)
        .min_by_key(|&(left, _)| left);
    Some(Announcement { hold, tokens })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_780_000_000_000; // some unix ms, on a whole second

    fn rpm(n: u64) -> Limits {
        Limits {
            rpm: Some(n),
            ..Limits::default()
        }
    }

    #[test]
    fn exactly_rpm_requests_per_sliding_minute() {
        let l = Arc::new(Limiter::default());
        let lim = rpm(3);
        for i in 0..3 {
            assert!(
                l.admit(Some(&lim), T0 + i * 10_000, 10).is_ok(),
                "request {i}"
            );
        }
        // The 4th within the minute is held until the first leaves the window.
        let held = l.admit(Some(&lim), T0 + 30_000, 10).err().unwrap();
        assert_eq!(held.until_ms, T0 + 60_000);
        assert!(held.reason.contains("rpm"), "{}", held.reason);
        assert_eq!(held.secs_left(T0 + 30_000), 30);
        assert_eq!(l.held(Some(&lim), T0 + 59_999), Some(held.clone()));
        // The window slides: at +60 s the first request is out, one more goes.
        assert!(l.held(Some(&lim), T0 + 60_000).is_none());
        assert!(l.admit(Some(&lim), T0 + 60_000, 10).is_ok());
        assert_eq!(
            l.admit(Some(&lim), T0 + 60_500, 10).err().unwrap().until_ms,
            T0 + 70_000
        );
        // After a quiet minute, the window is empty again.
        for i in 0..3 {
            assert!(l.admit(Some(&lim), T0 + 200_000 + i, 1).is_ok());
        }
        assert!(l.admit(Some(&lim), T0 + 200_003, 1).is_err());
    }

    #[test]
    fn a_request_the_shared_state_refused_is_not_counted_and_holds() {
        let l = Arc::new(Limiter::default());
        let lim = rpm(2);
        let r = l.admit(Some(&lim), T0, 10).unwrap().unwrap();
        r.cancel();
        assert!(l.admit(Some(&lim), T0 + 1, 10).is_ok());
        assert!(
            l.admit(Some(&lim), T0 + 2, 10).is_ok(),
            "the cancelled one left"
        );
        let l = Arc::new(Limiter::default());
        l.hold_shared(T0 + 5_000, "rpm across the daemons".into());
        let held = l.admit(Some(&lim), T0, 10).err().unwrap();
        assert_eq!(held.until_ms, T0 + 5_000);
        assert_eq!(l.held(Some(&lim), T0 + 4_999), Some(held));
        assert!(l.admit(Some(&lim), T0 + 5_000, 10).is_ok(), "the hold ends");
    }

    #[test]
    fn tpm_reserves_the_estimate_and_settles_with_the_real_count() {
        let l = Arc::new(Limiter::default());
        let lim = Limits {
            tpm: Some(1000),
            ..Limits::default()
        };
        let r = l.admit(Some(&lim), T0, 600).unwrap().unwrap();
        // 600 reserved: another 600 does not fit.
        assert!(l.admit(Some(&lim), T0 + 1000, 600).is_err());
        // The answer used 50: room again.
        r.settle(50);
        let r2 = l.admit(Some(&lim), T0 + 2000, 600).unwrap().unwrap();
        r2.settle(900);
        let held = l.admit(Some(&lim), T0 + 3000, 100).err().unwrap();
        assert!(held.reason.contains("950 tokens"), "{}", held.reason);
        // Until both have aged out? The first (50) leaves at +60 s: 900 + 100 fits then.
        assert_eq!(held.until_ms, T0 + 60_000);
        // A failed attempt gives its estimate back.
        let l = Arc::new(Limiter::default());
        drop(l.admit(Some(&lim), T0, 900).unwrap());
        assert!(l.admit(Some(&lim), T0, 900).is_ok());
        // One request larger than the limit still goes when nothing else is counted.
        let l = Arc::new(Limiter::default());
        let big = l.admit(Some(&lim), T0, 5000).unwrap();
        assert!(l.held(Some(&lim), T0).is_some());
        drop(big);
    }

    #[test]
    fn tokens_per_day_reset_at_utc_midnight() {
        let l = Arc::new(Limiter::default());
        let lim = Limits {
            tokens_per_day: Some(100),
            ..Limits::default()
        };
        l.admit(Some(&lim), T0, 60).unwrap().unwrap().settle(100);
        let held = l.admit(Some(&lim), T0 + 1, 1).err().unwrap();
        let midnight = (T0 / DAY_MS + 1) * DAY_MS;
        assert_eq!(held.until_ms, midnight);
        assert!(l.admit(Some(&lim), midnight, 1).is_ok());
    }

    #[test]
    fn budgets_hold_until_the_next_day_or_month() {
        let l = Arc::new(Limiter::default());
        let lim = Limits {
            budget_day_usd: Some(1.0),
            budget_month_usd: Some(2.5),
            ..Limits::default()
        };
        // 2026-05-29 12:00 UTC.
        let t = 1_780_056_000_000;
        l.add_spend(0.6, t);
        assert!(l.admit(Some(&lim), t, 1).is_ok());
        l.add_spend(0.4, t);
        let held = l.admit(Some(&lim), t, 1).err().unwrap();
        assert_eq!(held.until_ms, (t / DAY_MS + 1) * DAY_MS);
        assert!(held.reason.contains("$1.00 of $1.00"), "{}", held.reason);
        let next_day = (t / DAY_MS + 1) * DAY_MS;
        assert!(l.admit(Some(&lim), next_day, 1).is_ok());
        l.add_spend(1.5, next_day);
        let held = l.admit(Some(&lim), next_day, 1).err().unwrap();
        assert!(held.reason.contains("day budget"), "{}", held.reason);
        let day3 = next_day + DAY_MS;
        let held = l.admit(Some(&lim), day3, 1).err().unwrap();
        assert!(held.reason.contains("month budget"), "{}", held.reason);
        let june = NaiveDate::from_ymd_opt(2026, 6, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis() as u64;
        assert_eq!(held.until_ms, june);
        assert_eq!(l.spend(day3), (0.0, 2.5));
        l.restore_spend(0.25, 1.0, day3);
        assert_eq!(l.spend(day3), (0.25, 1.0));
        assert!(l.admit(Some(&lim), day3, 1).is_ok());
        assert!(l.admit(Some(&lim), june, 1).is_ok());
        assert_eq!(month_of(june - 1).1, june);
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn rfc(ms: u64) -> String {
        DateTime::from_timestamp_millis(ms as i64)
            .unwrap()
            .to_rfc3339()
    }

    #[test]
    fn anthropic_headers_announce_holds_and_tokens_left() {
        assert_eq!(
            announced(&headers(&[("content-type", "text/plain")]), T0),
            None
        );
        let reset = rfc(T0 + 20_000);
        let a = announced(
            &headers(&[
                ("anthropic-ratelimit-requests-remaining", "0"),
                ("anthropic-ratelimit-requests-reset", &reset),
                ("anthropic-ratelimit-tokens-remaining", "8000"),
                ("anthropic-ratelimit-tokens-reset", &rfc(T0 + 5_000)),
                ("anthropic-ratelimit-input-tokens-remaining", "3000"),
                ("anthropic-ratelimit-input-tokens-reset", &rfc(T0 + 7_000)),
            ]),
            T0,
        )
        .unwrap();
        assert_eq!(a.hold.as_ref().unwrap().until_ms, T0 + 20_000);
        assert!(a.hold.unwrap().reason.contains("no requests remain"));
        assert_eq!(a.tokens, Some((3000, T0 + 7_000)));
        // Requests left: no hold; a reset in the past holds nothing.
        let a = announced(
            &headers(&[
                ("anthropic-ratelimit-requests-remaining", "12"),
                ("anthropic-ratelimit-requests-reset", &reset),
                ("anthropic-ratelimit-output-tokens-remaining", "0"),
                ("anthropic-ratelimit-output-tokens-reset", &rfc(T0 - 1)),
            ]),
            T0,
        )
        .unwrap();
        assert_eq!(a, Announcement::default());

        let l = Arc::new(Limiter::default());
        l.hear_at(
            &headers(&[
                ("anthropic-ratelimit-requests-remaining", "0"),
                ("anthropic-ratelimit-requests-reset", &reset),
            ]),
            T0,
        );
        assert!(l.announced_any());
        let held = l.admit(None, T0 + 1000, 1).err().unwrap();
        assert_eq!(held.until_ms, T0 + 20_000);
        assert!(l.admit(None, T0 + 20_000, 1).is_ok());
        assert!(!l.announced_any(), "an expired hold is forgotten");
        // Tokens left are held against the estimate.
        l.hear_at(
            &headers(&[
                ("anthropic-ratelimit-tokens-remaining", "500"),
                ("anthropic-ratelimit-tokens-reset", &reset),
            ]),
            T0,
        );
        assert!(l.admit(None, T0, 400).is_ok());
        assert!(l.admit(None, T0, 600).is_err());
        assert!(l.held(None, T0).is_none(), "500 left: not limited as such");
        l.clear_announced();
        assert!(l.admit(None, T0, 600).is_ok());
    }

    #[test]
    fn unified_subscription_headers() {
        let reset = (T0 / 1000 + 3600).to_string();
        let a = announced(
            &headers(&[
                ("anthropic-ratelimit-unified-status", "rejected"),
                ("anthropic-ratelimit-unified-reset", &reset),
                ("anthropic-ratelimit-unified-5h-utilization", "1.0"),
                ("anthropic-ratelimit-unified-5h-reset", &reset),
                (
                    "anthropic-ratelimit-unified-representative-claim",
                    "five_hour",
                ),
                ("anthropic-ratelimit-unified-overage-status", "rejected"),
            ]),
            T0,
        )
        .unwrap();
        assert_eq!(a.hold.unwrap().until_ms, T0 + 3_600_000);
        let week = (T0 / 1000 + 86_400).to_string();
        let a = announced(
            &headers(&[
                ("anthropic-ratelimit-unified-status", "allowed"),
                ("anthropic-ratelimit-unified-5h-utilization", "0.42"),
                ("anthropic-ratelimit-unified-5h-reset", &reset),
                ("anthropic-ratelimit-unified-7d-utilization", "1"),
                ("anthropic-ratelimit-unified-7d-reset", &week),
            ]),
            T0,
        )
        .unwrap();
        let hold = a.hold.unwrap();
        assert_eq!(hold.until_ms, T0 + 86_400_000);
        assert!(hold.reason.contains("7d"), "{}", hold.reason);
        let a = announced(
            &headers(&[
                ("anthropic-ratelimit-unified-status", "allowed_warning"),
                ("anthropic-ratelimit-unified-5h-utilization", "0.91"),
                ("anthropic-ratelimit-unified-5h-reset", &reset),
            ]),
            T0,
        )
        .unwrap();
        assert_eq!(a.hold, None);
    }

    #[test]
    fn openai_headers_and_durations() {
        assert_eq!(duration_ms("1s"), Some(1000));
        assert_eq!(duration_ms("6m0s"), Some(360_000));
        assert_eq!(duration_ms("20ms"), Some(20));
        assert_eq!(duration_ms("1h2m3.5s"), Some(3_723_500));
        assert_eq!(duration_ms("2"), Some(2000));
        assert_eq!(duration_ms(""), None);
        assert_eq!(duration_ms("soon"), None);
        let a = announced(
            &headers(&[
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", "6m0s"),
                ("x-ratelimit-remaining-tokens", "1500"),
                ("x-ratelimit-reset-tokens", "1s"),
                ("x-ratelimit-limit-requests", "60"),
            ]),
            T0,
        )
        .unwrap();
        assert_eq!(a.hold.unwrap().until_ms, T0 + 360_000);
        assert_eq!(a.tokens, Some((1500, T0 + 1000)));
        assert_eq!(
            announced(&headers(&[("x-ratelimit-limit-requests", "60")]), T0),
            None
        );
    }
}
