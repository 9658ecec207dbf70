//! Which upstream outcomes may be retried on another endpoint (before the commit point),
//! what each means for the endpoint's breaker, and the retry budget that keeps an outage
//! from multiplying the load on the providers still up (docs/behavior.md §5).

use std::sync::Mutex;
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

/// What a retryable status means for the endpoint.
pub fn failure_for(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Failure {
    let code = status.as_u16();
    let what = format!("HTTP {code}");
    match code {
        401 | 403 => Failure::Credential(what),
        402 => Failure::Billing(what),
        429 if is_spend_limit(body) => Failure::Billing(format!("{what} (spend limit)")),
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
pub struct RetryBudget {
    start: Instant,
    /// (second, requests, retries) per slot of the window.
    slots: Mutex<[(u64, u64, u64); WINDOW as usize]>,
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self {
            start: Instant::now(),
            slots: Mutex::new([(u64::MAX, 0, 0); WINDOW as usize]),
        }
    }
}

impl RetryBudget {
    fn with_slot<T>(&self, f: impl FnOnce(&mut (u64, u64, u64), u64, u64) -> T) -> T {
        let now = self.start.elapsed().as_secs();
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (requests, retries) = slots
            .iter()
            .filter(|(sec, _, _)| *sec != u64::MAX && now - sec < WINDOW)
            .fold((0, 0), |(q, r), s| (q + s.1, r + s.2));
        let slot = &mut slots[(now % WINDOW) as usize];
        if slot.0 != now {
            *slot = (now, 0, 0);
        }
        f(slot, requests, retries)
    }

    pub fn record_request(&self) {
        self.with_slot(|slot, _, _| slot.1 += 1);
    }

    /// Take one retry from the budget, if there is one left.
    pub fn try_retry(&self) -> bool {
        self.with_slot(|slot, requests, retries| {
            let allowed = FLOOR.max((requests as f64 * RATIO) as u64);
            if retries < allowed {
                slot.2 += 1;
                true
            } else {
                false
            }
        })
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
            Failure::Billing(_)
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
            Failure::Billing(_)
        ));
        assert!(matches!(
            failure_for(s(529), &none, b""),
            Failure::Transient(_)
        ));
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
}
