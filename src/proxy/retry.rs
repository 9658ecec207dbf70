//! Which upstream outcomes may be retried on another endpoint (before the commit point),
//! what each means for the endpoint's breaker, and the retry budget that keeps an outage
//! from multiplying the load on the providers still up (docs/behavior.md §5).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::{HeaderMap, StatusCode};

use crate::upstream::breaker::Failure;

/// What to do with an upstream answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Hand it to the client (success, or a client error that is not the endpoint's fault).
    Deliver,
    /// The endpoint failed: try the next candidate if there is one.
    Retry,
}

/// Classify a response status.
pub fn classify_status(status: StatusCode) -> Verdict {
    match status.as_u16() {
        401 | 402 | 403 | 408 | 429 | 500 | 502 | 503 | 504 | 529 => Verdict::Retry,
        _ => Verdict::Deliver,
    }
}

/// Whether an error body says a spend / quota / credit limit was reached (not a rate).
fn is_spend_limit(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    [
        "spend limit",
        "spending limit",
        "usage limit",
        "quota",
        "credit balance",
        "billing",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

/// How long a billing answer holds the endpoint, when it names the end: the subscription's
/// `anthropic-ratelimit-unified-reset`, or a month or day limit in its text (held until the
/// next UTC month or day). `None`: the policy's billing hold. A `retry-after` is not taken:
/// on a spend limit it is the rate limiter's, not when the money is back.
pub fn billing_boundary(
    headers: &HeaderMap,
    body: &[u8],
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Duration> {
    use chrono::{Datelike, NaiveDate};
    let now_s = now.timestamp();
    if let Some(reset) = headers
        .get("anthropic-ratelimit-unified-reset")
        .and_then(|v| v.to_str().ok()?.trim().parse::<i64>().ok())
        .filter(|&r| r > now_s)
    {
        return Some(Duration::from_secs((reset - now_s) as u64));
    }
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    let date = now.date_naive();
    let next = if text.contains("month") {
        let (y, m) = if date.month() == 12 {
            (date.year() + 1, 1)
        } else {
            (date.year(), date.month() + 1)
        };
        NaiveDate::from_ymd_opt(y, m, 1)?
    } else if ["daily", "per day", "a day", "today", "tomorrow"]
        .iter()
        .any(|w| text.contains(w))
    {
        date.succ_opt()?
    } else {
        return None;
    };
    let at = next.and_hms_opt(0, 0, 0)?.and_utc();
    (at - now).to_std().ok()
}

/// What a retryable status means for the endpoint.
pub fn failure_for(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Failure {
    let code = status.as_u16();
    let what = format!("HTTP {code}");
    let until = || billing_boundary(headers, body, chrono::Utc::now());
    match code {
        401 | 403 => Failure::Credential(what),
        402 => Failure::Billing(what, until()),
        429 if is_spend_limit(body) => Failure::Billing(format!("{what} (spend limit)"), until()),
        429 => match retry_after(headers) {
            Some(d) => Failure::RetryAfter(d, format!("{what}, retry-after {} s", d.as_secs())),
            None => Failure::Transient(what),
        },
        _ => Failure::Transient(what),
    }
}

/// An integer `retry-after` header.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Seconds in the budget's sliding window.
const WINDOW: u64 = 10;
/// Share of recent requests that may be retries.
const RATIO: f64 = 0.2;
/// Retries always allowed per window, however few requests there were.
const FLOOR: u64 = 10;

/// Retries may be at most ~20% of the requests of the last 10 s (with a floor of 10), as
/// Envoy's retry budget does: clients such as Claude Code retry by themselves, and the two
/// layers must not multiply.
///
/// Lock-free: one cell per second of the window for requests and one for retries, each a
/// (second, count) pair packed in an atomic. Counting a request is one compare-and-swap;
/// taking a retry reads the window and counts one. Retries taken at the very same moment
/// may overshoot the allowance by as many as there are serving threads.
pub struct RetryBudget {
    start: Instant,
    requests: [AtomicU64; WINDOW as usize],
    retries: [AtomicU64; WINDOW as usize],
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self {
            start: Instant::now(),
            requests: std::array::from_fn(|_| AtomicU64::new(0)),
            retries: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// A cell's second (1-based: 0 marks a cell never used) and count.
fn unpack(v: u64) -> (u64, u64) {
    (v >> 32, v & 0xffff_ffff)
}

/// Count one in the cell of second `now`, starting it afresh if it holds an older second.
fn bump(cell: &AtomicU64, now: u64) {
    let mut cur = cell.load(Ordering::Relaxed);
    loop {
        let (sec, n) = unpack(cur);
        let next = if sec == now {
            (now << 32) | (n + 1)
        } else {
            (now << 32) | 1
        };
        match cell.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(v) => cur = v,
        }
    }
}

/// The counts of the cells whose second is within the window ending at `now`.
fn in_window(cells: &[AtomicU64], now: u64) -> u64 {
    cells
        .iter()
        .map(|c| unpack(c.load(Ordering::Relaxed)))
        .filter(|&(sec, _)| sec != 0 && now.saturating_sub(sec) < WINDOW)
        .map(|(_, n)| n)
        .sum()
}

impl RetryBudget {
    /// The current second (1-based) and its cell.
    fn now(&self) -> (u64, usize) {
        let sec = self.start.elapsed().as_secs() + 1;
        (sec, (sec % WINDOW) as usize)
    }

    pub fn record_request(&self) {
        let (now, i) = self.now();
        bump(&self.requests[i], now);
    }

    /// Take one retry from the budget, if there is one left.
    pub fn try_retry(&self) -> bool {
        let (now, i) = self.now();
        let requests = in_window(&self.requests, now);
        let allowed = FLOOR.max((requests as f64 * RATIO) as u64);
        if in_window(&self.retries, now) >= allowed {
            return false;
        }
        bump(&self.retries[i], now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_statuses() {
        for s in [401, 402, 403, 408, 429, 500, 502, 503, 504, 529] {
            assert_eq!(
                classify_status(StatusCode::from_u16(s).unwrap()),
                Verdict::Retry,
                "{s}"
            );
        }
        for s in [200, 201, 400, 404, 413, 422] {
            assert_eq!(
                classify_status(StatusCode::from_u16(s).unwrap()),
                Verdict::Deliver,
                "{s}"
            );
        }
    }

    #[test]
    fn failures_by_status() {
        let none = HeaderMap::new();
        let mut ra = HeaderMap::new();
        ra.insert("retry-after", "12".parse().unwrap());
        let s = |c| StatusCode::from_u16(c).unwrap();
        assert!(matches!(
            failure_for(s(401), &none, b""),
            Failure::Credential(_)
        ));
        assert!(matches!(
            failure_for(s(402), &none, b""),
            Failure::Billing(_, None)
        ));
        assert_eq!(
            failure_for(s(429), &ra, b"rate limited"),
            Failure::RetryAfter(Duration::from_secs(12), "HTTP 429, retry-after 12 s".into())
        );
        assert!(matches!(
            failure_for(
                s(429),
                &ra,
                br#"{"error":{"message":"You have reached your specified API usage limits"}}"#
            ),
            Failure::Billing(_, None)
        ));
        assert!(matches!(
            failure_for(s(529), &none, b""),
            Failure::Transient(_)
        ));
    }

    #[test]
    fn billing_answers_name_their_boundary() {
        use chrono::TimeZone;
        let now = chrono::Utc.with_ymd_and_hms(2026, 5, 30, 18, 0, 0).unwrap();
        let none = HeaderMap::new();
        let b = |body: &str| billing_boundary(&none, body.as_bytes(), now);
        assert_eq!(b("insufficient credit"), None);
        assert_eq!(
            b(r#"{"error":{"message":"daily spend limit reached"}}"#),
            Some(Duration::from_secs(6 * 3600))
        );
        assert_eq!(
            b("You have reached your monthly usage limit"),
            Some(Duration::from_secs(30 * 3600))
        );
        let mut h = HeaderMap::new();
        h.insert("retry-after", "90".parse().unwrap());
        assert_eq!(
            billing_boundary(&h, b"monthly", now),
            Some(Duration::from_secs(30 * 3600)),
            "not the retry-after"
        );
        let mut h = HeaderMap::new();
        let reset = (now.timestamp() + 7200).to_string();
        h.insert("anthropic-ratelimit-unified-reset", reset.parse().unwrap());
        assert_eq!(
            billing_boundary(&h, b"", now),
            Some(Duration::from_secs(7200))
        );
    }

    #[test]
    fn the_budget_allows_a_floor_then_a_share() {
        let b = RetryBudget::default();
        for _ in 0..100 {
            b.record_request();
        }
        let granted = (0..100).filter(|_| b.try_retry()).count();
        assert_eq!(granted, 20, "20% of 100 recent requests");
        let b = RetryBudget::default();
        b.record_request();
        assert_eq!((0..50).filter(|_| b.try_retry()).count(), FLOOR as usize);
    }

    #[test]
    fn cells_start_afresh_each_second_and_age_out_of_the_window() {
        let c = AtomicU64::new(0);
        bump(&c, 5);
        bump(&c, 5);
        assert_eq!(unpack(c.load(Ordering::Relaxed)), (5, 2));
        bump(&c, 15);
        assert_eq!(
            unpack(c.load(Ordering::Relaxed)),
            (15, 1),
            "a new second resets it"
        );
        let cells: [AtomicU64; WINDOW as usize] = std::array::from_fn(|_| AtomicU64::new(0));
        bump(&cells[3], 3);
        bump(&cells[4], 4);
        assert_eq!(in_window(&cells, 4), 2);
        assert_eq!(
            in_window(&cells, 12),
            2,
            "seconds 3 and 4 are within 10 s of 12"
        );
        assert_eq!(in_window(&cells, 13), 1, "second 3 has aged out");
        assert_eq!(in_window(&cells, 14), 0);
    }
}
