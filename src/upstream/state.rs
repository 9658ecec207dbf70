//! An endpoint's state: the one word `proxy status`, `health status` and `health history`
//! show (docs/behavior.md §6), derived from its breaker, its config and its recent figures;
//! when its figures make it `degraded`; and the share of new conversations each state gets
//! (the slow start of a `recovering` endpoint, the reduced share of a `degraded` one).
//!
//! Pure functions: the breaker's view and the figures come in, nothing is kept here. The
//! daemon's upkeep (`Proxy::maintain`) applies them every 250 ms and records changes.

use std::time::Duration;

use crate::report::status::BreakerState;
use crate::state::health::EndpointState;
use crate::state::model::HealthSettings;
use crate::upstream::breaker::{BreakerView, Cause};

/// Share of new conversations a `degraded` endpoint keeps.
pub const DEGRADED_SHARE: f64 = 0.5;
/// Share a `recovering` endpoint starts its slow start with.
pub const SLOW_START_FLOOR: f64 = 0.1;

/// The state of an endpoint, and why in a few words.
pub fn classify(
    enabled: bool,
    view: &BreakerView,
    limited: Option<&str>,
    degraded: Option<&str>,
    slow_start: Duration,
) -> (EndpointState, String) {
    let why = || view.reason.clone().unwrap_or_default();
    if !enabled {
        return (EndpointState::Disabled, "disabled in the config".into());
    }
    if view.rejected {
        return (EndpointState::Rejected, format!("key rejected ({})", why()));
    }
    match (view.state, view.cause) {
        (BreakerState::Open, Some(Cause::Billing)) => return (EndpointState::Billing, why()),
        (BreakerState::Open, _) => return (EndpointState::Open, why()),
        (BreakerState::HalfOpen, _) => {
            return (
                EndpointState::HalfOpen,
                "cooldown over: the next request is its trial".into(),
            );
        }
        _ => {}
    }
    if let Some(why) = limited {
        return (EndpointState::Limited, why.to_owned());
    }
    if let Some(since) = view.since_closed
        && since < slow_start
    {
        return (
            EndpointState::Recovering,
            format!("breaker closed: slow start over {} s", slow_start.as_secs()),
        );
    }
    match degraded {
        Some(d) => (EndpointState::Degraded, d.to_owned()),
        None => (EndpointState::Healthy, "answering normally".into()),
    }
}

/// Why an endpoint's recent figures make it `degraded`, if they do: its success rate over
/// `samples` recent attempts, or its p95 time to first byte, past the thresholds — once
/// there are at least `min_checks` samples.
pub fn degraded(
    h: &HealthSettings,
    success_rate: Option<f64>,
    samples: usize,
    first_byte_p95_ms: Option<f64>,
    first_byte_samples: usize,
) -> Option<String> {
    let enough = |n: usize| n >= h.min_checks.max(1) as usize;
    if let Some(rate) = success_rate
        && h.degraded_success_rate > 0.0
        && enough(samples)
        && rate < h.degraded_success_rate
    {
        return Some(format!(
            "success rate {:.0}% < {:.0}% over {samples} attempts",
            rate * 100.0,
            h.degraded_success_rate * 100.0
        ));
    }
    if let Some(p95) = first_byte_p95_ms
        && h.degraded_first_byte_ms > 0
        && enough(first_byte_samples)
        && p95 > h.degraded_first_byte_ms as f64
    {
        return Some(format!(
            "p95 first byte {p95:.0} ms > {} ms",
            h.degraded_first_byte_ms
        ));
    }
    None
}

/// The share (0–1] of the new conversations the strategy gives it that an available
/// endpoint keeps: a `recovering` one ramps linearly from [`SLOW_START_FLOOR`] to 1 over
/// the slow-start window, a `degraded` one keeps [`DEGRADED_SHARE`]; the rest go to the
/// profile's other endpoints first (it stays a candidate after them).
pub fn share(since_closed: Option<Duration>, slow_start: Duration, degraded: bool) -> f64 {
    let ramp = match since_closed {
        Some(since) if since < slow_start => {
            (since.as_secs_f64() / slow_start.as_secs_f64()).max(SLOW_START_FLOOR)
        }
        _ => 1.0,
    };
    if degraded {
        ramp * DEGRADED_SHARE
    } else {
        ramp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(state: BreakerState, cause: Option<Cause>) -> BreakerView {
        BreakerView {
            state,
            cooldown_left: None,
            unavailable: None,
            consecutive_failures: 0,
            cause,
            rejected: false,
            reason: Some("HTTP 529".into()),
            since_closed: None,
        }
    }

    #[test]
    fn one_word_per_situation() {
        let w = Duration::from_secs(30);
        let s = |v: &BreakerView, d: Option<&str>| classify(true, v, None, d, w).0;
        assert_eq!(
            s(&view(BreakerState::Closed, None), None),
            EndpointState::Healthy
        );
        assert_eq!(
            s(&view(BreakerState::Closed, None), Some("slow")),
            EndpointState::Degraded
        );
        assert_eq!(
            s(&view(BreakerState::Open, Some(Cause::Failures)), None),
            EndpointState::Open
        );
        assert_eq!(
            s(&view(BreakerState::Open, Some(Cause::RetryAfter)), None),
            EndpointState::Open
        );
        assert_eq!(
            s(&view(BreakerState::Open, Some(Cause::Billing)), None),
            EndpointState::Billing
        );
        assert_eq!(
            s(&view(BreakerState::HalfOpen, Some(Cause::Billing)), None),
            EndpointState::HalfOpen
        );
        assert_eq!(
            s(&view(BreakerState::HalfOpen, Some(Cause::Failures)), None),
            EndpointState::HalfOpen
        );
        let mut closed = view(BreakerState::Closed, None);
        closed.since_closed = Some(Duration::from_secs(3));
        assert_eq!(s(&closed, Some("slow")), EndpointState::Recovering);
        closed.since_closed = Some(Duration::from_secs(31));
        assert_eq!(s(&closed, None), EndpointState::Healthy);
        let mut rejected = view(BreakerState::Open, Some(Cause::Failures));
        rejected.rejected = true;
        assert_eq!(s(&rejected, None), EndpointState::Rejected);
        assert_eq!(
            classify(false, &rejected, None, None, w).0,
            EndpointState::Disabled
        );
        let limited = classify(true, &closed, Some("rpm limit"), Some("slow"), w);
        assert_eq!(limited, (EndpointState::Limited, "rpm limit".into()));
        assert_eq!(
            classify(
                true,
                &view(BreakerState::Open, Some(Cause::Billing)),
                Some("rpm"),
                None,
                w
            )
            .0,
            EndpointState::Billing,
            "a billing hold comes first"
        );
        assert_eq!(
            classify(true, &closed, None, None, Duration::ZERO).0,
            EndpointState::Healthy,
            "slow start off"
        );
    }

    #[test]
    fn degraded_needs_samples_and_a_threshold() {
        let h = HealthSettings {
            min_checks: 10,
            ..HealthSettings::default()
        };
        assert_eq!(degraded(&h, Some(0.5), 9, None, 0), None, "too few");
        assert!(
            degraded(&h, Some(0.5), 10, None, 0)
                .unwrap()
                .contains("50%")
        );
        assert_eq!(
            degraded(&h, Some(0.95), 100, Some(9e9), 100),
            None,
            "latency off"
        );
        let h = HealthSettings {
            degraded_first_byte_ms: 2000,
            degraded_success_rate: 0.0,
            ..h
        };
        assert_eq!(degraded(&h, Some(0.0), 100, Some(1500.0), 100), None);
        assert!(
            degraded(&h, Some(0.0), 100, Some(2500.0), 100)
                .unwrap()
                .contains("2500 ms")
        );
    }

    #[test]
    fn the_share_ramps_linearly_from_a_floor() {
        let w = Duration::from_secs(10);
        let at = |s: u64| share(Some(Duration::from_secs(s)), w, false);
        assert_eq!(at(0), SLOW_START_FLOOR);
        assert!((at(5) - 0.5).abs() < 1e-9);
        assert_eq!(at(10), 1.0);
        assert_eq!(share(None, w, false), 1.0);
        assert_eq!(share(None, w, true), DEGRADED_SHARE);
        assert!((share(Some(Duration::from_secs(5)), w, true) - 0.25).abs() < 1e-9);
        assert_eq!(share(Some(Duration::ZERO), Duration::ZERO, false), 1.0);
    }
}
