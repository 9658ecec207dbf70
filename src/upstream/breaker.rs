//! The per-endpoint circuit breaker (docs/behavior.md §6).
//!
//! - **Closed**: traffic flows; `failure_threshold` consecutive failures open it.
//! - **Open** for a cooldown: the policy's cooldown, doubling on each repeated trip (at most
//!   10 minutes); a 429's `retry-after` sets it directly; billing failures (402, spend-limit
//!   429s) hold it until the day or month boundary the answer names, else for
//!   `policy.billing_hold_secs` (an hour by default; `qcc endpoint enable` ends it). The strategies send it nothing, but it stays a *last
//!   resort* ([`Breaker::last_resort`]): when the endpoints that are up have failed too, a
//!   request is still sent to it rather than answered with the proxy's own 503 (billing
//!   holds excepted).
//! - **Half-open** once the cooldown has passed: exactly one trial request is admitted;
//!   its success closes the breaker, its failure re-opens it for longer.
//! - After closing, the instant is kept ([`Breaker::since_closed`]) for the slow start.
//!
//! Separately, an endpoint whose key was rejected (401/403) is skipped until its key
//! changes: the rejection is remembered with a fingerprint of the key.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::report::status::BreakerState;

/// Longest cooldown from doubling or `retry-after`.
pub const MAX_COOLDOWN: Duration = Duration::from_secs(600);
/// Default hold after a billing failure (`policy.billing_hold_secs`).
pub const BILLING_COOLDOWN: Duration = Duration::from_secs(3600);

/// Thresholds from the failover policy.
#[derive(Clone, Copy, Debug)]
pub struct BreakerPolicy {
    pub threshold: u32,
    pub cooldown: Duration,
    /// How long a billing answer that names no boundary holds the endpoint.
    pub billing_hold: Duration,
}

/// How an attempt failed, as far as the breaker cares.
#[derive(Clone, Debug, PartialEq)]
pub enum Failure {
    /// Counts toward the threshold.
    Transient(String),
    /// The upstream said when to come back (429 `retry-after`): open now, for that long.
    RetryAfter(Duration, String),
    /// Billing / spend limit: open now, until the boundary the answer named (how long from
    /// now), else for the policy's billing hold.
    Billing(String, Option<Duration>),
    /// The key was rejected: skip until the key changes.
    Credential(String),
}

impl Failure {
    pub fn reason(&self) -> &str {
        match self {
            Failure::Transient(r)
            | Failure::RetryAfter(_, r)
            | Failure::Billing(r, _)
            | Failure::Credential(r) => r,
        }
    }
}

/// Why a breaker is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// Consecutive failures reached the threshold (or a half-open trial failed).
    Failures,
    /// The upstream said when to come back (`retry-after`).
    RetryAfter,
    /// A billing or spend-limit answer.
    Billing,
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
    /// `rejected_key` is a key reference that could not be read, not a refusal.
    key_unavailable: bool,
    /// The upstream asked not to be called before this (`retry-after`): probes wait too.
    honour_until: Option<Instant>,
    /// Why it opened (meaningful while not closed).
    cause: Cause,
    /// When it last closed after being open (none since the daemon started: no ramp).
    closed_at: Option<Instant>,
    /// Counts its openings here (not those learnt from the shared state), so that each
    /// is told to the other daemons once.
    opened_seq: u64,
    /// The open phase in force was learnt from the shared state (another daemon's trip).
    from_shared: bool,
}

impl State {
    /// How long ago it closed after being open, while it stays closed.
    fn since_closed(&self, now: Instant) -> Option<Duration> {
        match self.phase {
            Phase::Closed => self.closed_at.map(|t| now.saturating_duration_since(t)),
            _ => None,
        }
    }
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
                key_unavailable: false,
                honour_until: None,
                cause: Cause::Failures,
                closed_at: None,
                opened_seq: 0,
                from_shared: false,
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

/// An open endpoint that may still take a request as the last resort.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LastResort {
    /// When its cooldown ends (now, if it already has and a trial is in flight).
    pub ready_at: Instant,
    /// The cooldown is the upstream's own `retry-after`.
    pub retry_after: bool,
}

/// What `proxy status` shows.
#[derive(Clone, Debug, PartialEq)]
pub struct BreakerView {
    /// Closed, open or half-open (never `Disabled`: that is the config's).
    pub state: BreakerState,
    pub cooldown_left: Option<Duration>,
    /// Why the endpoint gets no traffic now, if it does not.
    pub unavailable: Option<String>,
    pub consecutive_failures: u32,
    /// Why it is open or half-open (`None` while closed).
    pub cause: Option<Cause>,
    /// The key was rejected (skipped until it changes).
    pub rejected: bool,
    /// Why it opened, or why the key was rejected.
    pub reason: Option<String>,
    /// How long ago it closed after being open (for the slow start).
    pub since_closed: Option<Duration>,
}

impl Breaker {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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

    /// Whether an endpoint that takes no regular traffic now may still be sent a request
    /// as the last resort: its breaker is open or half-open after failures or a
    /// `retry-after` — not after a billing answer, and not with a rejected key. A success
    /// closes it, as a trial's would; a plain failure changes nothing
    /// ([`Breaker::last_resort_failed`]).
    pub fn last_resort(&self, key: u64, now: Instant) -> Option<LastResort> {
        let s = self.lock();
        if s.rejected_key.as_ref().is_some_and(|(k, _)| *k == key) || s.cause == Cause::Billing {
            return None;
        }
        let ready_at = match s.phase {
            Phase::Closed => return None,
            Phase::Open { until } if now < until => until,
            // Due a trial (taken or not by another request): ready now.
            Phase::Open { .. } | Phase::HalfOpen => now,
        };
        Some(LastResort {
            ready_at,
            retry_after: s.cause == Cause::RetryAfter,
        })
    }

    /// A last-resort attempt (not the half-open trial) failed. What the upstream said is
    /// learnt as usual — a rejected key, a billing answer, a `retry-after` — but a plain
    /// failure only counts: it neither re-opens the breaker nor lengthens its cooldown.
    /// Returns whether the breaker opened (again).
    pub fn last_resort_failed(
        &self,
        failure: &Failure,
        policy: BreakerPolicy,
        key: u64,
        now: Instant,
    ) -> bool {
        if let Failure::Transient(_) = failure {
            let mut s = self.lock();
            s.consecutive += 1;
            return false;
        }
        self.failure(failure, policy, key, now)
    }

    /// The user says "try now" (`qcc queue retry`): an open breaker's cooldown ends at
    /// once, so that the next request is its trial.
    pub fn expedite(&self, now: Instant) {
        let mut s = self.lock();
        if let Phase::Open { until } = s.phase
            && until > now
        {
            s.phase = Phase::Open { until: now };
            s.honour_until = None;
        }
    }

    /// The user put the endpoint back (`qcc endpoint enable`): a billing hold ends now,
    /// closed as if it had never opened (no slow start). Returns whether one did.
    pub fn release_billing(&self) -> bool {
        let mut s = self.lock();
        if s.phase == Phase::Closed || s.cause != Cause::Billing {
            return false;
        }
        s.phase = Phase::Closed;
        s.consecutive = 0;
        s.trips = 0;
        s.reason = None;
        s.honour_until = None;
        s.cause = Cause::Failures;
        true
    }

    /// How long ago the breaker closed after being open; `None` if it has not since the
    /// daemon started.
    pub fn since_closed(&self, now: Instant) -> Option<Duration> {
        self.lock().since_closed(now)
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

    /// A key reference could not be read: refuse its fingerprint (the failure's) as a
    /// rejected key is refused, with the reason. A key read later has another fingerprint.
    pub fn key_unavailable(&self, key: u64, reason: String) {
        let mut s = self.lock();
        s.rejected_key = Some((key, reason));
        s.key_unavailable = true;
    }

    /// Forget a rejected key: a probe with it just passed.
    pub fn clear_rejection(&self) {
        self.lock().rejected_key = None;
    }

    /// May a health probe call the endpoint now? Not while a `retry-after` it sent runs.
    pub fn probe_allowed(&self, now: Instant) -> bool {
        self.lock().honour_until.is_none_or(|t| now >= t)
    }

    /// The endpoint answered properly. Returns whether this closed an open breaker.
    pub fn success(&self) -> bool {
        self.success_at(Instant::now())
    }

    fn success_at(&self, now: Instant) -> bool {
        let mut s = self.lock();
        s.consecutive = 0;
        s.honour_until = None;
        if s.phase == Phase::Closed {
            return false;
        }
        s.phase = Phase::Closed;
        s.trips = 0;
        s.reason = None;
        s.closed_at = Some(now);
        true
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
        let (cooldown, cause) = match failure {
            Failure::Credential(_) => {
                s.rejected_key = Some((key, reason));
                s.key_unavailable = false;
                return false;
            }
            Failure::RetryAfter(d, _) => {
                let d = (*d).clamp(Duration::from_secs(1), MAX_COOLDOWN);
                s.honour_until = Some(now + d);
                (d, Cause::RetryAfter)
            }
            Failure::Billing(_, until) => (until.unwrap_or(policy.billing_hold), Cause::Billing),
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
                let cooldown = policy.cooldown.saturating_mul(doubling).min(MAX_COOLDOWN);
                (cooldown, Cause::Failures)
            }
        };
        s.trips += 1;
        s.phase = Phase::Open {
            until: now + cooldown,
        };
        s.cause = cause;
        s.reason = Some(reason);
        s.opened_seq += 1;
        s.from_shared = false;
        true
    }

    /// Another daemon opened this endpoint's breaker until `until` (the shared state says
    /// so): open it here too, unless it is open longer already or a trial is in flight.
    /// Its cooldown is not doubled here. Returns whether it opened.
    pub fn open_shared(&self, until: Instant, cause: Cause, reason: &str, now: Instant) -> bool {
        let mut s = self.lock();
        match s.phase {
            Phase::Open { until: u } if u >= until => return false,
            Phase::HalfOpen if s.trial_in_flight => return false,
            _ if until <= now => return false,
            _ => {}
        }
        if cause == Cause::RetryAfter {
            s.honour_until = Some(until);
        }
        s.phase = Phase::Open { until };
        s.cause = cause;
        s.reason = Some(format!("{reason} (on another daemon)"));
        s.from_shared = true;
        true
    }

    /// The opening in force, if it happened here: its number (one more per opening), the
    /// cooldown left, why — what the other daemons are told.
    pub fn opened_here(&self, now: Instant) -> Option<(u64, Duration, Cause, String)> {
        let s = self.lock();
        match s.phase {
            Phase::Open { until } if until > now && !s.from_shared => Some((
                s.opened_seq,
                until - now,
                s.cause,
                s.reason.clone().unwrap_or_default(),
            )),
            _ => None,
        }
    }

    pub fn view(&self, key: u64, now: Instant) -> BreakerView {
        let s = self.lock();
        let rejected = s
            .rejected_key
            .as_ref()
            .filter(|(k, _)| *k == key)
            .map(|(_, r)| {
                if s.key_unavailable {
                    format!("key not available ({r})")
                } else {
                    format!("key rejected ({r}); skipped until the key changes")
                }
            });
        let (state, cooldown_left) = match s.phase {
            Phase::Closed => (BreakerState::Closed, None),
            Phase::Open { until } if now < until => (BreakerState::Open, Some(until - now)),
            Phase::Open { .. } | Phase::HalfOpen => (BreakerState::HalfOpen, None),
        };
        let unavailable = rejected.clone().or_else(|| match (state, &s.reason) {
            (BreakerState::Open, Some(r)) => Some(format!("breaker open after {r}")),
            (BreakerState::HalfOpen, _) if s.trial_in_flight => {
                Some("half-open: trial in flight".into())
            }
            _ => None,
        });
        let is_rejected = rejected.is_some();
        let reason = match &s.rejected_key {
            Some((k, r)) if *k == key => Some(r.clone()),
            _ => s.reason.clone(),
        };
        BreakerView {
            state,
            cooldown_left,
            unavailable,
            consecutive_failures: s.consecutive,
            cause: (s.phase != Phase::Closed).then_some(s.cause),
            rejected: is_rejected,
            reason,
            since_closed: s.since_closed(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: BreakerPolicy = BreakerPolicy {
        threshold: 3,
        cooldown: Duration::from_secs(30),
        billing_hold: BILLING_COOLDOWN,
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
        assert!(b.success_at(t2), "the trial's success closes it");
        drop(trial);
        assert_eq!(b.view(1, t2).state, BreakerState::Closed);
        assert!(matches!(b.admit(1, t2), Admit::Yes));
        let t3 = t2 + Duration::from_secs(5);
        assert_eq!(b.since_closed(t3), Some(Duration::from_secs(5)));
        assert!(!b.success_at(t3), "already closed");
    }

    #[test]
    fn open_endpoints_are_a_last_resort_but_billing_and_rejected_keys_are_not() {
        let t = Instant::now();
        let b = Arc::new(Breaker::default());
        assert_eq!(b.last_resort(1, t), None, "closed: regular traffic");
        for _ in 0..3 {
            b.failure(&transient(), P, 1, t);
        }
        let lr = b.last_resort(1, t).unwrap();
        assert_eq!(lr.ready_at, t + Duration::from_secs(30));
        assert!(!lr.retry_after);
        assert_eq!(b.view(1, t).cause, Some(Cause::Failures));
        // A failed last-resort attempt while open does not lengthen the cooldown.
        assert!(!b.failure(&transient(), P, 1, t));
        assert_eq!(b.view(1, t).cooldown_left, Some(Duration::from_secs(30)));
        // Due a trial, taken by another request or not: a last resort, ready now.
        let later = t + Duration::from_secs(31);
        assert_eq!(b.last_resort(1, later).unwrap().ready_at, later);
        let trial = b.admit(1, later);
        assert!(matches!(trial, Admit::Trial(_)));
        assert_eq!(b.last_resort(1, later).unwrap().ready_at, later);
        // A last-resort failure while another request holds the trial: no re-trip.
        assert!(!b.last_resort_failed(&transient(), P, 1, later));
        assert_eq!(b.view(1, later).state, BreakerState::HalfOpen);
        drop(trial);

        let ra = Breaker::default();
        ra.failure(
            &Failure::RetryAfter(Duration::from_secs(2), "HTTP 429".into()),
            P,
            1,
            t,
        );
        assert!(ra.last_resort(1, t).unwrap().retry_after);

        let billing = Breaker::default();
        billing.failure(&Failure::Billing("HTTP 402".into(), None), P, 1, t);
        assert_eq!(billing.last_resort(1, t), None);
        assert_eq!(billing.view(1, t).cause, Some(Cause::Billing));

        let rejected = Breaker::default();
        rejected.failure(&Failure::Credential("HTTP 401".into()), P, 1, t);
        rejected.failure(&transient(), P, 1, t);
        assert_eq!(rejected.last_resort(1, t), None);
        assert!(rejected.view(1, t).rejected);
    }

    #[test]
    fn expedite_makes_the_next_request_a_trial() {
        let b = Arc::new(Breaker::default());
        let t = Instant::now();
        b.failure(&Failure::Billing("HTTP 402".into(), None), P, 1, t);
        assert!(matches!(b.admit(1, t), Admit::No));
        b.expedite(t);
        assert!(matches!(b.admit(1, t), Admit::Trial(_)));
        assert!(b.probe_allowed(t));
    }

    #[test]
    fn a_trip_learnt_from_another_daemon_is_not_told_again() {
        let b = Arc::new(Breaker::default());
        let t = Instant::now();
        assert!(b.open_shared(t + Duration::from_secs(20), Cause::Failures, "HTTP 500", t));
        assert!(matches!(b.admit(1, t), Admit::No));
        assert!(b.view(1, t).reason.unwrap().contains("another daemon"));
        assert_eq!(b.opened_here(t), None);
        assert!(
            !b.open_shared(t + Duration::from_secs(5), Cause::Failures, "x", t),
            "a sooner end changes nothing"
        );
        b.failure(&Failure::Billing("HTTP 402".into(), None), P, 1, t);
        let (seq, left, cause, _) = b.opened_here(t).unwrap();
        assert_eq!((seq, left, cause), (1, BILLING_COOLDOWN, Cause::Billing));
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
        assert!(b.failure(&Failure::Billing("HTTP 402".into(), None), P, 1, t));
        assert_eq!(b.view(1, t).cooldown_left, Some(BILLING_COOLDOWN));
        // A named boundary, past the 10-minute cap; released by hand.
        let b = Arc::new(Breaker::default());
        let day = Duration::from_secs(20 * 3600);
        assert!(b.failure(&Failure::Billing("HTTP 402".into(), Some(day)), P, 1, t));
        assert_eq!(b.view(1, t).cooldown_left, Some(day));
        assert!(b.release_billing());
        assert!(matches!(b.admit(1, t), Admit::Yes));
        assert!(!b.release_billing(), "nothing to release");
        let other = Breaker::default();
        for _ in 0..3 {
            other.failure(&transient(), P, 1, t);
        }
        assert!(
            !other.release_billing(),
            "a failure cooldown is not a billing hold"
        );
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
