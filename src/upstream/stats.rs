//! Per-endpoint figures kept by the proxy: in-flight, requests, successes, errors, recent
//! latencies (time to headers) and times to first byte, recent outcomes, token usage, the
//! last error — all from real traffic only — and, kept apart, the endpoint's probe results
//! (probes never touch the user-traffic figures). Counters are atomics; windows and notes
//! sit under short uncontended mutexes, never held across an await. Stats survive reloads:
//! they are keyed by endpoint id in a [`StatsRegistry`], and they can be saved to and
//! restored from `health.json` ([`EndpointSnapshot`]).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::metrics::Metrics;
use crate::state::health::{
    EndpointSnapshot, EndpointState, PROBE_HISTORY_CAP, ProbeRecord, STATE_HISTORY_CAP, StateChange,
};
use crate::upstream::breaker::Breaker;

/// How many recent latencies (and first-byte times) are kept for percentiles.
pub const LATENCY_WINDOW: usize = 512;
/// How many recent outcomes the recent success rate is computed over.
pub const OUTCOME_WINDOW: usize = 100;
/// How many samples of each window `health.json` keeps.
pub const PERSISTED_WINDOW: usize = 128;

#[derive(Default)]
struct Windows {
    latencies_us: VecDeque<u64>,
    first_byte_us: VecDeque<u64>,
    /// `true` = success.
    outcomes: VecDeque<bool>,
}

fn push_capped<T>(q: &mut VecDeque<T>, v: T, cap: usize) {
    if q.len() == cap {
        q.pop_front();
    }
    q.push_back(v);
}

/// Distinct (asked, sent) model pairs an endpoint remembers.
const MAX_MODEL_PAIRS: usize = 32;

#[derive(Default)]
struct Notes {
    last_error: Option<(String, DateTime<Utc>)>,
    /// (asked, sent) model pairs seen (when they differ, or translated), at most
    /// [`MAX_MODEL_PAIRS`], and which came last.
    model_pairs: Vec<(String, String)>,
    last_pair: usize,
    last_success_at: Option<DateTime<Utc>>,
    probes: VecDeque<ProbeRecord>,
    /// The state last observed (none before the first look).
    state: Option<EndpointState>,
    /// Its changes, oldest first.
    states: VecDeque<StateChange>,
    /// Why the figures make it degraded, if they do.
    degraded: Option<String>,
}

#[derive(Default)]
pub struct EndpointStats {
    in_flight: AtomicU64,
    requests: AtomicU64,
    successes: AtomicU64,
    errors: AtomicU64,
    input_tokens: AtomicU64,
    output_tokens: AtomicU64,
    windows: Mutex<Windows>,
    /// Peak-EWMA of time to headers, in µs (0 = no sample yet).
    ewma_us: AtomicU64,
    /// The outcome window's size (high 32 bits) and successes in it (low 32 bits), kept
    /// with the window, so that the `adaptive` strategy reads the success rate lock-free.
    outcome_counts: AtomicU64,
    notes: Mutex<Notes>,
    /// Dynamic weight factor in permille (0 = not computed: 1000).
    weight_permille: AtomicU32,
    /// A probe of this endpoint is running.
    probing: AtomicBool,
    /// Its recent figures are past the `health` thresholds (read on the request path).
    degraded: AtomicBool,
}

/// Decrements the in-flight count when dropped.
pub struct InFlight(Arc<EndpointStats>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Marks a probe of the endpoint as running; cleared when dropped.
pub struct ProbeSlot(Arc<EndpointStats>);

impl Drop for ProbeSlot {
    fn drop(&mut self) {
        self.0.probing.store(false, Ordering::Release);
    }
}

impl EndpointStats {
    /// A request to this endpoint starts.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    fn windows(&self) -> std::sync::MutexGuard<'_, Windows> {
        self.windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn notes(&self) -> std::sync::MutexGuard<'_, Notes> {
        self.notes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Time to response headers of an attempt that was answered.
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
        push_capped(&mut self.windows().latencies_us, sample, LATENCY_WINDOW);
    }

    /// Time to the first body byte (for a stream, its first event) of an answered attempt.
    pub fn record_first_byte(&self, d: Duration) {
        push_capped(
            &mut self.windows().first_byte_us,
            d.as_micros() as u64,
            LATENCY_WINDOW,
        );
    }

    /// An attempt was answered and its body ended without an upstream failure.
    pub fn record_success(&self) {
        self.successes.fetch_add(1, Ordering::Relaxed);
        self.push_outcome(true);
        self.notes().last_success_at = Some(Utc::now());
    }

    /// An attempt failed (before or after the commit point).
    pub fn record_error(&self, message: impl Into<String>) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.push_outcome(false);
        self.notes().last_error = Some((message.into(), Utc::now()));
    }

    fn push_outcome(&self, ok: bool) {
        let mut w = self.windows();
        push_capped(&mut w.outcomes, ok, OUTCOME_WINDOW);
        self.count_outcomes(&w);
    }

    /// Publish the outcome window's counts (called with the window held).
    fn count_outcomes(&self, w: &Windows) {
        let n = w.outcomes.len() as u64;
        let ok = w.outcomes.iter().filter(|&&o| o).count() as u64;
        self.outcome_counts.store(n << 32 | ok, Ordering::Relaxed);
    }

    /// Success rate over the recent outcomes, lock-free (`None` before any outcome).
    pub fn success_rate(&self) -> Option<f64> {
        let packed = self.outcome_counts.load(Ordering::Relaxed);
        let (n, ok) = (packed >> 32, packed & 0xffff_ffff);
        (n > 0).then(|| ok as f64 / n as f64)
    }

    /// A request asked for model `asked` and was sent as `sent`; whether the pair is new
    /// (the caller logs new pairs, not every request). No allocation for a known pair.
    pub fn note_model(&self, asked: &str, sent: &str) -> bool {
        let mut notes = self.notes();
        if let Some(i) = notes
            .model_pairs
            .iter()
            .position(|(a, s)| a == asked && s == sent)
        {
            notes.last_pair = i;
            return false;
        }
        if notes.model_pairs.len() >= MAX_MODEL_PAIRS {
            notes.model_pairs.remove(0);
        }
        notes.model_pairs.push((asked.to_owned(), sent.to_owned()));
        notes.last_pair = notes.model_pairs.len() - 1;
        true
    }

    /// The model last asked for and the one sent for it.
    pub fn last_model(&self) -> Option<(String, String)> {
        let notes = self.notes();
        notes.model_pairs.get(notes.last_pair).cloned()
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

    pub fn successes(&self) -> u64 {
        self.successes.load(Ordering::Relaxed)
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
        self.notes().last_error.as_ref().map(|(m, _)| m.clone())
    }

    /// (p50, p95) of recent latencies (time to headers), in milliseconds.
    pub fn percentiles_ms(&self) -> (Option<f64>, Option<f64>) {
        let v: Vec<u64> = self.windows().latencies_us.iter().copied().collect();
        percentiles_ms(v)
    }

    /// (p50, p95) of recent times to first byte, in milliseconds.
    pub fn first_byte_percentiles_ms(&self) -> (Option<f64>, Option<f64>) {
        let v: Vec<u64> = self.windows().first_byte_us.iter().copied().collect();
        percentiles_ms(v)
    }

    /// p95 of recent times to first byte (ms), and how many samples there are.
    pub fn first_byte_p95_ms(&self) -> (Option<f64>, usize) {
        let v: Vec<u64> = self.windows().first_byte_us.iter().copied().collect();
        let n = v.len();
        (percentiles_ms(v).1, n)
    }

    /// Success rate over the recent outcomes, and how many there are.
    pub fn recent_success_rate(&self) -> (Option<f64>, usize) {
        let w = self.windows();
        let n = w.outcomes.len();
        let ok = w.outcomes.iter().filter(|&&o| o).count();
        ((n > 0).then(|| ok as f64 / n as f64), n)
    }

    /// Keep a probe result (bounded history; never counted as user traffic).
    pub fn record_probe(&self, record: ProbeRecord) {
        push_capped(&mut self.notes().probes, record, PROBE_HISTORY_CAP);
    }

    /// Mark the endpoint degraded (with why) or not, from its recent figures.
    pub fn set_degraded(&self, why: Option<String>) {
        self.degraded.store(why.is_some(), Ordering::Relaxed);
        self.notes().degraded = why;
    }

    /// Whether the recent figures make it degraded (an atomic read).
    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    pub fn degraded_reason(&self) -> Option<String> {
        self.notes().degraded.clone()
    }

    /// Note the state seen now. A change from the state seen before is kept in the
    /// history and returned; the first look records nothing.
    pub fn observe_state(&self, state: EndpointState, reason: &str) -> Option<StateChange> {
        let mut n = self.notes();
        let before = n.state.replace(state);
        let from = before.filter(|&b| b != state)?;
        let change = StateChange {
            at: Utc::now(),
            from,
            to: state,
            reason: reason.to_owned(),
            extra: serde_json::Map::new(),
        };
        push_capped(&mut n.states, change.clone(), STATE_HISTORY_CAP);
        Some(change)
    }

    /// The newest `n` state changes, newest first.
    pub fn state_changes(&self, n: usize) -> Vec<StateChange> {
        self.notes().states.iter().rev().take(n).cloned().collect()
    }

    pub fn last_probe(&self) -> Option<ProbeRecord> {
        self.notes().probes.back().cloned()
    }

    /// Claim the right to probe this endpoint; `None` while another probe of it runs.
    pub fn try_probe(self: &Arc<Self>) -> Option<ProbeSlot> {
        self.probing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| ProbeSlot(self.clone()))
    }

    /// The dynamic weight factor, in permille (1000 = the configured weight).
    pub fn weight_permille(&self) -> u32 {
        match self.weight_permille.load(Ordering::Relaxed) {
            0 => 1000,
            p => p,
        }
    }

    pub fn set_weight_permille(&self, p: u32) {
        self.weight_permille
            .store(p.clamp(1, 1000), Ordering::Relaxed);
    }

    /// Everything worth keeping across a restart, windows cut to their newest `window`
    /// samples. (Breaker fields are the caller's to fill.)
    pub fn snapshot(&self, window: usize) -> EndpointSnapshot {
        let tail = |q: &VecDeque<u64>| -> Vec<u64> {
            q.iter()
                .skip(q.len().saturating_sub(window))
                .copied()
                .collect()
        };
        let (latencies_us, first_byte_us, recent) = {
            let w = self.windows();
            (
                tail(&w.latencies_us),
                tail(&w.first_byte_us),
                w.outcomes.iter().copied().collect(),
            )
        };
        let notes = self.notes();
        let (input_tokens, output_tokens) = self.tokens();
        EndpointSnapshot {
            requests: self.requests(),
            successes: self.successes(),
            failures: self.errors(),
            input_tokens,
            output_tokens,
            recent,
            latencies_us,
            first_byte_us,
            last_error: notes.last_error.as_ref().map(|(m, _)| m.clone()),
            last_error_at: notes.last_error.as_ref().map(|(_, at)| *at),
            last_success_at: notes.last_success_at,
            probes: notes.probes.iter().cloned().collect(),
            state: notes.state,
            states: notes.states.iter().cloned().collect(),
            ..EndpointSnapshot::default()
        }
    }

    /// Carry figures saved by an earlier daemon on (added to what this one counted).
    pub fn restore(&self, s: &EndpointSnapshot) {
        self.requests.fetch_add(s.requests, Ordering::Relaxed);
        self.successes.fetch_add(s.successes, Ordering::Relaxed);
        self.errors.fetch_add(s.failures, Ordering::Relaxed);
        self.add_usage(s.input_tokens, s.output_tokens);
        {
            let mut w = self.windows();
            let prepend = |q: &mut VecDeque<u64>, old: &[u64]| {
                for &v in old.iter().rev() {
                    if q.len() == LATENCY_WINDOW {
                        break;
                    }
                    q.push_front(v);
                }
            };
            prepend(&mut w.latencies_us, &s.latencies_us);
            prepend(&mut w.first_byte_us, &s.first_byte_us);
            for &o in s.recent.iter().rev() {
                if w.outcomes.len() == OUTCOME_WINDOW {
                    break;
                }
                w.outcomes.push_front(o);
            }
            self.count_outcomes(&w);
            if self.ewma_us.load(Ordering::Relaxed) == 0
                && let Some(&last) = s.latencies_us.last()
            {
                self.ewma_us.store(last.max(1), Ordering::Relaxed);
            }
        }
        let mut n = self.notes();
        if n.last_error.is_none()
            && let (Some(m), Some(at)) = (&s.last_error, s.last_error_at)
        {
            n.last_error = Some((m.clone(), at));
        }
        if n.last_success_at.is_none() {
            n.last_success_at = s.last_success_at;
        }
        for p in s.probes.iter().rev() {
            if n.probes.len() == PROBE_HISTORY_CAP {
                break;
            }
            n.probes.push_front(p.clone());
        }
        // The history goes on; the state itself is observed afresh (breakers start closed).
        for c in s.states.iter().rev() {
            if n.states.len() == STATE_HISTORY_CAP {
                break;
            }
            n.states.push_front(c.clone());
        }
    }
}

/// (p50, p95) in milliseconds (two decimals) of samples in µs; nearest-rank.
pub fn percentiles_ms(mut v: Vec<u64>) -> (Option<f64>, Option<f64>) {
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

/// An endpoint's runtime state: figures and breaker.
pub type EndpointRuntime = (Arc<EndpointStats>, Arc<Breaker>);

/// Stats and breakers by endpoint id, kept across reloads, and the metrics registry the
/// endpoints' Prometheus handles come from (kept across reloads the same way).
#[derive(Default)]
pub struct StatsRegistry {
    map: Mutex<HashMap<String, EndpointRuntime>>,
    /// Counts against limits, by endpoint id (kept across reloads like the rest).
    limiters: Mutex<HashMap<String, Arc<crate::upstream::limits::Limiter>>>,
    metrics: Arc<Metrics>,
}

impl StatsRegistry {
    /// The daemon's metrics (`/_qcc/metrics`).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn get(&self, id: &str) -> EndpointRuntime {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(id.to_owned())
            .or_default()
            .clone()
    }

    /// The endpoint's limiter (made on first use).
    pub fn limiter(&self, id: &str) -> Arc<crate::upstream::limits::Limiter> {
        self.limiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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

    #[test]
    fn outcomes_feed_the_recent_success_rate() {
        let s = EndpointStats::default();
        assert_eq!(s.recent_success_rate(), (None, 0));
        for _ in 0..3 {
            s.record_success();
        }
        s.record_error("HTTP 529");
        assert_eq!(s.recent_success_rate(), (Some(0.75), 4));
        assert_eq!(s.success_rate(), Some(0.75), "lock-free, the same");
        for _ in 0..OUTCOME_WINDOW {
            s.record_success();
        }
        assert_eq!(s.recent_success_rate(), (Some(1.0), OUTCOME_WINDOW));
        assert_eq!(s.success_rate(), Some(1.0));
        assert_eq!((s.successes(), s.errors()), (103, 1));
        assert_eq!(s.last_error().as_deref(), Some("HTTP 529"));
    }

    #[test]
    fn snapshots_restore_into_a_fresh_daemon() {
        let s = EndpointStats::default();
        for ms in 1..=300 {
            s.record_latency(Duration::from_millis(ms));
            s.record_first_byte(Duration::from_millis(ms * 2));
        }
        s.record_success();
        s.record_error("boom");
        let snap = s.snapshot(PERSISTED_WINDOW);
        assert_eq!(snap.latencies_us.len(), PERSISTED_WINDOW);
        assert_eq!(*snap.latencies_us.last().unwrap(), 300_000);
        let fresh = EndpointStats::default();
        fresh.restore(&snap);
        assert_eq!((fresh.successes(), fresh.errors()), (1, 1));
        assert_eq!(fresh.last_error().as_deref(), Some("boom"));
        assert_eq!(fresh.recent_success_rate(), (Some(0.5), 2));
        assert_eq!(fresh.success_rate(), Some(0.5));
        assert!(fresh.percentiles_ms().0.is_some());
        assert!(fresh.latency_estimate_us() > 0);
    }

    #[test]
    fn state_changes_are_kept_from_the_second_look_on() {
        let s = EndpointStats::default();
        assert_eq!(s.observe_state(EndpointState::Healthy, "start"), None);
        assert_eq!(s.observe_state(EndpointState::Healthy, "same"), None);
        let c = s.observe_state(EndpointState::Open, "HTTP 529").unwrap();
        assert_eq!(
            (c.from, c.to, c.reason.as_str()),
            (EndpointState::Healthy, EndpointState::Open, "HTTP 529")
        );
        let snap = s.snapshot(PERSISTED_WINDOW);
        assert_eq!(snap.state, Some(EndpointState::Open));
        assert_eq!(snap.states.len(), 1);
        let fresh = EndpointStats::default();
        fresh.restore(&snap);
        assert_eq!(
            fresh.snapshot(PERSISTED_WINDOW).state,
            None,
            "observed afresh"
        );
        assert_eq!(fresh.snapshot(PERSISTED_WINDOW).states, snap.states);
        s.set_degraded(Some("slow".into()));
        assert!(s.is_degraded());
        assert_eq!(s.degraded_reason().as_deref(), Some("slow"));
        s.set_degraded(None);
        assert!(!s.is_degraded());
    }

    #[test]
    fn one_probe_at_a_time() {
        let s = Arc::new(EndpointStats::default());
        let slot = s.try_probe().expect("free");
        assert!(s.try_probe().is_none());
        drop(slot);
        assert!(s.try_probe().is_some());
        assert_eq!(s.weight_permille(), 1000);
        s.set_weight_permille(0);
        assert_eq!(s.weight_permille(), 1);
    }
}
