//! Health figures computed from an endpoint's samples (the shapes they fill are in
//! [`crate::report::health`]).
//!
//! Definitions (docs/decisions.md, "Health"):
//! - **success rate**: share of the last 100 user attempts at the endpoint that were
//!   answered (probes are not counted);
//! - **latency**: time to response headers; **first byte**: time to the first body byte
//!   (a stream's first event); p50 / p95 by nearest rank over the last 512 samples;
//! - **stability** (0–100, once `min_checks` outcomes are known): the success rate, damped
//!   by latency jitter: `100 × success_rate × (0.5 + 0.5 × p50 / p95)` of first-byte times —
//!   steady answers keep the full success rate, erratic ones lose up to half of it;
//! - **effective weight** (with `health.weight_adjust`): `weight × success_rate × latency
//!   factor`, the latency factor being the profile's best first-byte p50 over this
//!   endpoint's (0.25–1); at least 5% of the weight and never below 1, so a healthy
//!   endpoint always keeps some traffic.

use crate::report::health::EndpointHealth;
use crate::report::status::EndpointIdentity;
use crate::state::health::EndpointSnapshot;
use crate::upstream::stats::percentiles_ms;

impl EndpointHealth {
    /// The figures of `snap` for `endpoint`, probed with `probe_model`.
    pub fn new(
        endpoint: EndpointIdentity,
        probe_model: String,
        snap: &EndpointSnapshot,
        min_checks: u32,
    ) -> Self {
        let samples = snap.recent.len();
        let ok = snap.recent.iter().filter(|&&o| o).count();
        let success_rate = (samples > 0).then(|| round3(ok as f64 / samples as f64));
        let (latency_p50_ms, latency_p95_ms) = percentiles_ms(snap.latencies_us.clone());
        let (first_byte_p50_ms, first_byte_p95_ms) = percentiles_ms(snap.first_byte_us.clone());
        let stability = stability(
            success_rate,
            samples,
            first_byte_p50_ms.or(latency_p50_ms),
            first_byte_p95_ms.or(latency_p95_ms),
            min_checks,
        );
        Self {
            endpoint,
            requests: snap.requests,
            successes: snap.successes,
            failures: snap.failures,
            success_rate,
            samples,
            latency_p50_ms,
            latency_p95_ms,
            first_byte_p50_ms,
            first_byte_p95_ms,
            stability,
            last_error: snap.last_error.clone(),
            last_error_at: snap.last_error_at,
            last_success_at: snap.last_success_at,
            last_probe: snap.probes.last().cloned(),
            probe_model,
        }
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The stability score (0–100), once `min_checks` outcomes are known.
pub fn stability(
    success_rate: Option<f64>,
    samples: usize,
    p50: Option<f64>,
    p95: Option<f64>,
    min_checks: u32,
) -> Option<f64> {
    let rate = success_rate?;
    if samples < min_checks.max(1) as usize {
        return None;
    }
    let steadiness = match (p50, p95) {
        (Some(a), Some(b)) if b > 0.0 => (a / b).clamp(0.0, 1.0),
        _ => 1.0,
    };
    Some(((100.0 * rate * (0.5 + 0.5 * steadiness)) * 10.0).round() / 10.0)
}

/// The dynamic weight factor in permille (1000 = the configured weight): the recent
/// success rate times the latency factor (`best_p50 / own_p50`, 0.25–1), at least 50.
/// 1000 until `min_checks` outcomes are known.
pub fn weight_permille(
    success_rate: Option<f64>,
    samples: usize,
    own_p50: Option<f64>,
    best_p50: Option<f64>,
    min_checks: u32,
) -> u32 {
    let Some(rate) = success_rate.filter(|_| samples >= min_checks.max(1) as usize) else {
        return 1000;
    };
    let latency = match (own_p50, best_p50) {
        (Some(own), Some(best)) if own > 0.0 => (best / own).clamp(0.25, 1.0),
        _ => 1.0,
    };
    ((rate * latency * 1000.0).round() as u32).clamp(50, 1000)
}

/// A weight scaled by a permille factor, never below 1.
pub fn effective_weight(weight: u32, permille: u32) -> u32 {
    ((u64::from(weight) * u64::from(permille) + 500) / 1000).max(1) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stability_needs_samples_and_punishes_jitter() {
        assert_eq!(stability(Some(1.0), 3, Some(100.0), Some(100.0), 10), None);
        assert_eq!(
            stability(Some(1.0), 10, Some(100.0), Some(100.0), 10),
            Some(100.0)
        );
        assert_eq!(
            stability(Some(1.0), 10, Some(100.0), Some(400.0), 10),
            Some(62.5)
        );
        assert_eq!(stability(Some(0.5), 10, None, None, 10), Some(50.0));
        assert_eq!(stability(None, 0, None, None, 0), None);
    }

    #[test]
    fn weights_follow_success_and_latency_but_never_vanish() {
        assert_eq!(
            weight_permille(Some(0.2), 3, None, None, 10),
            1000,
            "too few"
        );
        assert_eq!(
            weight_permille(Some(1.0), 50, Some(100.0), Some(100.0), 10),
            1000
        );
        assert_eq!(
            weight_permille(Some(0.5), 50, Some(100.0), Some(100.0), 10),
            500
        );
        assert_eq!(
            weight_permille(Some(1.0), 50, Some(200.0), Some(100.0), 10),
            500
        );
        assert_eq!(
            weight_permille(Some(1.0), 50, Some(10_000.0), Some(1.0), 10),
            250
        );
        assert_eq!(weight_permille(Some(0.0), 50, Some(1.0), Some(1.0), 10), 50);
        assert_eq!(effective_weight(100, 500), 50);
        assert_eq!(effective_weight(1, 50), 1, "never zero");
        assert_eq!(effective_weight(1000, 1000), 1000);
    }

    #[test]
    fn views_are_computed_from_snapshots() {
        let snap = EndpointSnapshot {
            requests: 4,
            successes: 3,
            failures: 1,
            recent: vec![true, true, false, true],
            latencies_us: vec![10_000, 20_000],
            ..Default::default()
        };
        let who = EndpointIdentity {
            id: "abc123".into(),
            profile: "p".into(),
            name: "n".into(),
            url: "http://x".into(),
            enabled: true,
            state: crate::state::health::EndpointState::Healthy,
            breaker: crate::report::status::BreakerState::Closed,
            cooldown_left_secs: None,
            unavailable: None,
            consecutive_failures: 0,
            weight: 100,
            effective_weight: 100,
            limited_until: None,
        };
        let h = EndpointHealth::new(who, "m".into(), &snap, 4);
        assert_eq!(h.success_rate, Some(0.75));
        assert_eq!(h.latency_p50_ms, Some(10.0));
        assert_eq!(h.first_byte_p50_ms, None);
        assert_eq!(h.stability, Some(56.3));
    }
}
