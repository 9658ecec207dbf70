//! The per-endpoint circuit breaker (behavior.md §6).
//!
//! - **Closed**: traffic flows; `failure_threshold` consecutive failures open it.
//! - **Open** for a cooldown: the policy's cooldown, doubling on each repeated trip (at most
//!   10 minutes); a 429's `retry-after` sets it directly; billing failures (402, spend-limit
//!   429s) cool down for an hour. No traffic is sent.
//! - **Half-open** once the cooldown has passed: exactly one trial request is admitted;
//!   its success closes the breaker, its failure re-opens it for longer.
//!
//! Separately, an endpoint whose key was rejected (401/403) is skipped until its key
//! changes: the rejection is remembered with a fingerprint of the key.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest cooldown from doubling or `retry-after`.
pub const MAX_COOLDOWN: Duration = Duration::from_secs(600);
/// Cooldown after a billing failure.
pub const BILLING_COOLDOWN: Duration = Duration::from_secs(3600);

/// Thresholds from the failover policy.
#[derive(Clone, Copy, Debug)]
pub struct BreakerPolicy {
    pub threshold: u32,
    pub cooldown: Duration,
}

/// How an attempt failed, as far as the breaker cares.
#[derive(Clone, Debug, PartialEq)]
pub enum Failure {
    /// Counts toward the threshold.
    Transient(String),
    /// The upstream said when to come back (429 `retry-after`): open now, for that long.
    RetryAfter(Duration, String),
    /// Billing / spend limit: open now, for [`BILLING_COOLDOWN`].
    Billing(String),
    /// The key was rejected: skip until the key changes.
    Credential(String),
}

impl Failure {
    pub fn reason(&self) -> &str {
        match self {
            Failure::Transient(r)
            | Failure::RetryAfter(_, r)
            | Failure::Billing(r)
            | Failure::Credential(r) => r,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    consecutive: u32,
    /// Trips since the breaker last closed (for doubling).
    trips: u32,
    trial_in_flight: bool,
    reason: Option<String>,
    /// Fingerprint of a key the upstream rejected, and why.
    rejected_key: Option<(u64, String)>,
    /// The upstream asked not to be called before this (`retry-after`): probes wait too.
    honour_until: Option<Instant>,
}

/// One endpoint's breaker. Shared by every routing snapshot (kept across reloads).
#[derive(Debug)]
pub struct Breaker {
    state: Mutex<State>,
}

impl Default for Breaker {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                phase: Phase::Closed,
                consecutive: 0,
                trips: 0,
                trial_in_flight: false,
                reason: None,
                rejected_key: None,
                honour_until: None,
            }),
        }
    }
}

/// Whether a request may go to the endpoint now.
pub enum Admit {
    Yes,
    /// Yes, as the half-open trial; the permit frees the trial slot when dropped.
    Trial(TrialPermit),
    No,
}

/// Holds the half-open trial slot.
pub struct TrialPermit(Arc<Breaker>);

impl Drop for TrialPermit {
    fn drop(&mut self) {
        self.0.lock().trial_in_flight = false;
    }
}

/// What `proxy status` shows.
#[derive(Clone, Debug, PartialEq)]
pub struct BreakerView {
    /// `closed`, `open` or `half-open`.
    pub state: &'static str,
    pub cooldown_left: Option<Duration>,
    /// Why the endpoint gets no traffic now, if it does not.
    pub unavailable: Option<String>,
    pub consecutive_failures: u32,
}

impl Breaker {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("breaker lock")
    }

    /// Admit a request (moving an expired open breaker to half-open).
    pub fn admit(self: &Arc<Self>, key: u64, now: Instant) -> Admit {
        let mut s = self.lock();
        if s.rejected_key.as_ref().is_some_and(|(k, _)| *k == key) {
            return Admit::No;
        }
        match s.phase {
            Phase::Closed => Admit::Yes,
            Phase::Open { until } if now < until => Admit::No,
            Phase::Open { .. } | Phase::HalfOpen => {
                s.phase = Phase::HalfOpen;
                if s.trial_in_flight {
                    Admit::No
                } else {
                    s.trial_in_flight = true;
                    Admit::Trial(TrialPermit(self.clone()))
                }
            }
        }
    }

    /// Could a request be admitted now (closed, or a trial is free)? Changes nothing.
    pub fn available(&self, key: u64, now: Instant) -> bool {
        let s = self.lock();
        if s.rejected_key.as_ref().is_some_and(|(k, _)| *k == key) {
            return false;
        }
        match s.phase {
            Phase::Closed => true,
            Phase::Open { until } => now >= until && !s.trial_in_flight,
            Phase::HalfOpen => !s.trial_in_flight,
        }
    }

    /// Closed, with its key not rejected: proven healthy, not merely due a trial.
    pub fn healthy(&self, key: u64) -> bool {
        let s = self.lock();
        s.phase == Phase::Closed && s.rejected_key.as_ref().is_none_or(|(k, _)| *k != key)
    }

    /// Whether the upstream rejected this key (it is skipped until the key changes).
    pub fn key_rejected(&self, key: u64) -> bool {
        self.lock()
            .rejected_key
            .as_ref()
            .is_some_and(|(k, _)| *k == key)
    }

    /// Forget a rejected key: a probe with it just passed.
    pub fn clear_rejection(&self) {
        self.lock().rejected_key = None;
    }

    /// May a health probe call the endpoint now? Not while a `retry-after` it sent runs.
    pub fn probe_allowed(&self, now: Instant) -> bool {
        self.lock().honour_until.is_none_or(|t| now >= t)
    }

    /// The endpoint answered properly.
    pub fn success(&self) {
        let mut s = self.lock();
        s.consecutive = 0;
        s.honour_until = None;
        if s.phase != Phase::Closed {
            s.phase = Phase::Closed;
            s.trips = 0;
            s.reason = None;
        }
    }

    /// The endpoint failed. Returns whether this opened the breaker.
    pub fn failure(
        &self,
        failure: &Failure,
        policy: BreakerPolicy,
        key: u64,
        now: Instant,
    ) -> bool {
        let mut s = self.lock();
        let reason = failure.reason().to_owned();
        let cooldown = match failure {
            Failure::Credential(_) => {
                s.rejected_key = Some((key, reason));
                return false;
            }
            Failure::RetryAfter(d, _) => {
                let d = (*d).clamp(Duration::from_secs(1), MAX_COOLDOWN);
                s.honour_until = Some(now + d);
                d
            }
            Failure::Billing(_) => BILLING_COOLDOWN,
            Failure::Transient(_) => {
                s.consecutive += 1;
                let tripped = match s.phase {
                    Phase::HalfOpen => true,
                    Phase::Closed => s.consecutive >= policy.threshold.max(1),
                    Phase::Open { .. } => false,
                };
                if !tripped {
                    return false;
                }
                let doubling = 2u32.saturating_pow(s.trips.min(16));
                policy.cooldown.saturating_mul(doubling).min(MAX_COOLDOWN)
            }
        };
        s.trips += 1;
        s.phase = Phase::Open {
            until: now + cooldown,
        };
        s.reason = Some(reason);
        true
    }

    pub fn view(&self, key: u64, now: Instant) -> BreakerView {
        let s = self.lock();
        let rejected = s
            .rejected_key
            .as_ref()
            .filter(|(k, _)| *k == key)
            .map(|(_, r)| format!("key rejected ({r}); skipped until the key changes"));
        let (state, cooldown_left) = match s.phase {
            Phase::Closed => ("closed", None),
            Phase::Open { until } if now < until => ("open", Some(until - now)),
            Phase::Open { .. } | Phase::HalfOpen => ("half-open", None),
        };
        let unavailable = rejected.or_else(|| match (state, &s.reason) {
            ("open", Some(r)) => Some(format!("breaker open after {r}")),
            ("half-open", _) if s.trial_in_flight => Some("half-open: trial in flight".into()),
            _ => None,
        });
        BreakerView {
            state,
            cooldown_left,
            unavailable,
            consecutive_failures: s.consecutive,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: BreakerPolicy = BreakerPolicy {
        threshold: 3,
        cooldown: Duration::from_secs(30),
    };

    fn transient() -> Failure {
        Failure::Transient("HTTP 500".into())
    }

    #[test]
    fn opens_at_the_threshold_and_doubles_on_repeated_trips() {
        let b = Arc::new(Breaker::default());
        let t0 = Instant::now();
        assert!(!b.failure(&transient(), P, 1, t0));
        assert!(!b.failure(&transient(), P, 1, t0));
        assert!(b.failure(&transient(), P, 1, t0));
        assert!(matches!(b.admit(1, t0), Admit::No));
        assert_eq!(b.view(1, t0).cooldown_left, Some(Duration::from_secs(30)));
        // Half-open after the cooldown: one trial only.
        let t1 = t0 + Duration::from_secs(31);
        let trial = b.admit(1, t1);
        assert!(matches!(trial, Admit::Trial(_)));
        assert!(matches!(b.admit(1, t1), Admit::No), "exactly one trial");
        // The trial fails: open again, twice as long.
        assert!(b.failure(&transient(), P, 1, t1));
        drop(trial);
        assert_eq!(b.view(1, t1).cooldown_left, Some(Duration::from_secs(60)));
        let t2 = t1 + Duration::from_secs(61);
        let trial = b.admit(1, t2);
        assert!(matches!(trial, Admit::Trial(_)));
        b.success();
        drop(trial);
        assert_eq!(b.view(1, t2).state, "closed");
        assert!(matches!(b.admit(1, t2), Admit::Yes));
    }

    #[test]
    fn cooldown_is_capped() {
        let b = Breaker::default();
        let t = Instant::now();
        for _ in 0..20 {
            b.lock().phase = Phase::HalfOpen;
            b.failure(&transient(), P, 1, t);
        }
        assert_eq!(b.view(1, t).cooldown_left, Some(MAX_COOLDOWN));
    }

    #[test]
    fn retry_after_and_billing_open_at_once() {
        let b = Breaker::default();
        let t = Instant::now();
        assert!(b.failure(
            &Failure::RetryAfter(Duration::from_secs(7), "HTTP 429".into()),
            P,
            1,
            t
        ));
        assert_eq!(b.view(1, t).cooldown_left, Some(Duration::from_secs(7)));
        assert!(!b.probe_allowed(t), "probes honour retry-after");
        assert!(b.probe_allowed(t + Duration::from_secs(7)));
        let b = Breaker::default();
        assert!(b.failure(&Failure::Billing("HTTP 402".into()), P, 1, t));
        assert_eq!(b.view(1, t).cooldown_left, Some(BILLING_COOLDOWN));
    }

    #[test]
    fn a_dropped_trial_frees_the_slot() {
        let b = Arc::new(Breaker::default());
        let t = Instant::now();
        b.failure(
            &Failure::RetryAfter(Duration::from_secs(1), "x".into()),
            P,
            1,
            t,
        );
        let later = t + Duration::from_secs(2);
        drop(b.admit(1, later));
        assert!(matches!(b.admit(1, later), Admit::Trial(_)));
    }

    #[test]
    fn a_rejected_key_is_skipped_until_it_changes() {
        let b = Arc::new(Breaker::default());
        let t = Instant::now();
        assert!(!b.failure(&Failure::Credential("HTTP 401".into()), P, 42, t));
        assert!(matches!(b.admit(42, t), Admit::No));
        assert!(b.view(42, t).unavailable.unwrap().contains("key rejected"));
        assert!(b.key_rejected(42) && !b.key_rejected(43));
        b.clear_rejection();
        assert!(!b.key_rejected(42));
        assert!(
            matches!(b.admit(43, t), Admit::Yes),
            "a new key is tried again"
        );
    }
}
