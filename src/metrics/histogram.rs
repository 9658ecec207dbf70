//! A lock-free histogram of durations, encoded as a Prometheus histogram.
//!
//! `prometheus_client`'s own `Histogram` takes a mutex on every observation; this one is a
//! fixed set of atomic buckets (the bounds compared in nanoseconds, no float maths), so an
//! observation on the request path costs two relaxed atomic additions. A scrape may see a
//! sum and buckets a few observations apart, as with the other clients' histograms.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// Bucket bounds (seconds) for upstream times: latency to headers, to the first event.
pub const UPSTREAM_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0,
];
/// Bucket bounds (seconds) for qcc's own time per request.
pub const OVERHEAD_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5,
];

struct Inner {
    bounds: &'static [f64],
    bounds_ns: Vec<u64>,
    /// One per bound, then the overflow (`+Inf`) bucket; not cumulative.
    counts: Vec<AtomicU64>,
    sum_ns: AtomicU64,
}

/// A histogram of durations with fixed bounds; clones share their figures.
#[derive(Clone)]
pub struct Histogram(Arc<Inner>);

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count())
            .finish()
    }
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Self(Arc::new(Inner {
            bounds,
            bounds_ns: bounds.iter().map(|s| (s * 1e9).round() as u64).collect(),
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_ns: AtomicU64::new(0),
        }))
    }

    pub fn upstream() -> Self {
        Self::new(UPSTREAM_BUCKETS)
    }

    pub fn overhead() -> Self {
        Self::new(OVERHEAD_BUCKETS)
    }

    /// Count one observation.
    pub fn observe(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let i = self
            .0
            .bounds_ns
            .iter()
            .position(|&b| ns <= b)
            .unwrap_or(self.0.bounds_ns.len());
        self.0.counts[i].fetch_add(1, Ordering::Relaxed);
        self.0.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.0
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}

impl TypedMetric for Histogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Histogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let inner = &self.0;
        let mut buckets: Vec<(f64, u64)> = inner
            .bounds
            .iter()
            .zip(&inner.counts)
            .map(|(&b, c)| (b, c.load(Ordering::Relaxed)))
            .collect();
        let overflow = inner.counts[inner.bounds.len()].load(Ordering::Relaxed);
        buckets.push((f64::INFINITY, overflow));
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum = inner.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_their_bucket() {
        let h = Histogram::new(&[0.001, 0.01]);
        h.observe(Duration::from_micros(1000)); // on the bound: le="0.001"
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_secs(3));
        let n: Vec<u64> =
            h.0.counts
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect();
        assert_eq!(n, vec![1, 1, 1]);
        assert_eq!(h.count(), 3);
        assert_eq!(h.0.sum_ns.load(Ordering::Relaxed), 3_006_000_000);
    }
}
