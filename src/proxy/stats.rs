//! Per-endpoint counters kept by the proxy: in-flight, requests, errors, recent latencies,
//! token usage, last error. Updated with atomics (latencies and the last error under a
//! short uncontended mutex, never held across an await). Stats survive reloads: they are
//! keyed by endpoint id in a [`StatsRegistry`].

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::health::breaker::Breaker;

/// How many recent latencies are kept for percentiles.
const LATENCY_WINDOW: usize = 512;

#[derive(Default)]
pub struct EndpointStats {
    in_flight: AtomicU64,
    requests: AtomicU64,
    errors: AtomicU64,
    input_tokens: AtomicU64,
    output_tokens: AtomicU64,
    latencies_us: Mutex<VecDeque<u64>>,
    /// Peak-EWMA of time to headers, in µs (0 = no sample yet).
    ewma_us: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// Decrements the in-flight count when dropped.
pub struct InFlight(Arc<EndpointStats>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl EndpointStats {
    /// A request to this endpoint starts.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    pub fn record_latency(&self, d: Duration) {
        let sample = d.as_micros() as u64;
        let old = self.ewma_us.load(Ordering::Relaxed);
        // Peak-sensitive: a slower sample is taken at once, faster ones decay it slowly.
        let new = if old == 0 || sample > old {
            sample
        } else {
            (old * 9 + sample) / 10
        };
        self.ewma_us.store(new.max(1), Ordering::Relaxed);
        let mut l = self.latencies_us.lock().expect("stats lock");
        if l.len() == LATENCY_WINDOW {
            l.pop_front();
        }
        l.push_back(d.as_micros() as u64);
    }

    pub fn record_error(&self, message: impl Into<String>) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().expect("stats lock") = Some(message.into());
    }

    pub fn add_usage(&self, input: u64, output: u64) {
        self.input_tokens.fetch_add(input, Ordering::Relaxed);
        self.output_tokens.fetch_add(output, Ordering::Relaxed);
    }

    /// The latency estimate the `fastest` strategy compares (µs; 0 before any sample).
    pub fn latency_estimate_us(&self) -> u64 {
        self.ewma_us.load(Ordering::Relaxed)
    }

    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    pub fn tokens(&self) -> (u64, u64) {
        (
            self.input_tokens.load(Ordering::Relaxed),
            self.output_tokens.load(Ordering::Relaxed),
        )
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().expect("stats lock").clone()
    }

    /// (p50, p95) of recent latencies, in milliseconds.
    pub fn percentiles_ms(&self) -> (Option<f64>, Option<f64>) {
        let mut v: Vec<u64> = self
            .latencies_us
            .lock()
            .expect("stats lock")
            .iter()
            .copied()
            .collect();
        if v.is_empty() {
            return (None, None);
        }
        v.sort_unstable();
        let at = |q: f64| {
            let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
            (v[i] as f64 / 1000.0 * 100.0).round() / 100.0
        };
        (Some(at(0.50)), Some(at(0.95)))
    }
}

/// An endpoint's runtime state: figures and breaker.
pub type EndpointRuntime = (Arc<EndpointStats>, Arc<Breaker>);

/// Stats and breakers by endpoint id, kept across reloads.
#[derive(Default)]
pub struct StatsRegistry {
    map: Mutex<HashMap<String, EndpointRuntime>>,
}

impl StatsRegistry {
    pub fn get(&self, id: &str) -> EndpointRuntime {
        self.map
            .lock()
            .expect("registry lock")
            .entry(id.to_owned())
            .or_default()
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_guards() {
        let s = Arc::new(EndpointStats::default());
        {
            let _g = s.begin();
            assert_eq!(s.in_flight(), 1);
        }
        assert_eq!((s.in_flight(), s.requests()), (0, 1));
        for ms in 1..=100 {
            s.record_latency(Duration::from_millis(ms));
        }
        assert_eq!(s.percentiles_ms(), (Some(50.0), Some(95.0)));
        let reg = StatsRegistry::default();
        assert!(Arc::ptr_eq(&reg.get("a").0, &reg.get("a").0));
        assert!(Arc::ptr_eq(&reg.get("a").1, &reg.get("a").1));
        assert!(s.latency_estimate_us() > 0);
    }
}
