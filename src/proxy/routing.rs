//! Routing: which endpoints a request may try, in which order.
//!
//! A [`RouteTable`] is an immutable snapshot of the config (every profile with its enabled
//! endpoints, the tier order, policy and settings), swapped atomically on reload; in-flight
//! requests keep the one they started with. The [`Router`] holds what outlives snapshots:
//! which profile is serving (tier failover and recovery), sticky conversations, and the
//! retry budget. Request handling touches only atomics and short uncontended locks.
//!
//! Candidates for a request, best first: a recovery trial on the profile we failed over
//! from (if its breaker is due one), then the serving profile's available endpoints (the
//! conversation's pinned endpoint first, half-open trials next, then the profile's
//! strategy, with `recovering` and `degraded` endpoints moved back in proportion to their
//! share), then — with auto-failover — the next profiles in tier order. Last, the *last
//! resort*: endpoints whose breakers are open (not billing holds, not rejected keys), the
//! soonest-ending cooldown first, a `retry-after` ending within `retry_after_wait_secs`
//! waited for, longer ones at the very end. So the client gets a real answer, or the real
//! upstream error, rather than the proxy's own 503 while some upstream might answer.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use http::{HeaderName, HeaderValue};
use serde_json::Map;
use tokio::sync::mpsc;

use crate::balance::sticky::StickyMap;
use crate::balance::{Balancer, apply_shares};
use crate::health::breaker::{Admit, Breaker, BreakerPolicy, TrialPermit};
use crate::ipc::protocol::{EndpointIdentity, EndpointStatus};
use crate::proxy::retry::RetryBudget;
use crate::proxy::stats::{EndpointStats, StatsRegistry};
use crate::proxy::upstream::BaseUrl;
use crate::state::Config;
use crate::state::health::EndpointState;
use crate::state::model::{
    AuthStyle, Endpoint, HealthSettings, Policy, ProxySettings, QueueSettings, SwitchKind,
    SwitchRecord, Tier,
};

/// One endpoint as the proxy sees it.
pub struct Upstream {
    pub id: String,
    pub profile: String,
    pub name: String,
    /// Base URL without a trailing slash.
    pub base_url: String,
    /// The same, parsed once (requests only add their path and query).
    pub base: BaseUrl,
    /// The credential header to set (`x-api-key` or `authorization`), marked sensitive.
    pub credential: (HeaderName, HeaderValue),
    pub enabled: bool,
    pub weight: u32,
    /// Fingerprint of the key (a rejected key is skipped until it changes).
    pub key_fp: u64,
    pub stats: Arc<EndpointStats>,
    pub breaker: Arc<Breaker>,
    /// The endpoint's own health-probe model, if it has one.
    pub probe_model: Option<String>,
    /// `health.weight_adjust`: the balancer uses [`Upstream::effective_weight`].
    pub weight_adjust: bool,
    /// `proxy.slow_start_secs`.
    pub slow_start: Duration,
}

/// The credential header of an endpoint in its auth style, marked sensitive.
pub fn credential_header(e: &Endpoint) -> Result<(HeaderName, HeaderValue), String> {
    let (name, raw) = match e.auth {
        AuthStyle::ApiKey => (
            HeaderName::from_static("x-api-key"),
            e.key.expose().to_owned(),
        ),
        AuthStyle::Bearer => (
            http::header::AUTHORIZATION,
            format!("Bearer {}", e.key.expose()),
        ),
    };
    let mut value = HeaderValue::from_str(&raw).map_err(|_| {
        format!(
            "the key of endpoint {} has characters not allowed in an HTTP header",
            e.id
        )
    })?;
    value.set_sensitive(true);
    Ok((name, value))
}

impl Upstream {
    fn build(
        profile: &str,
        e: &Endpoint,
        registry: &StatsRegistry,
        config: &Config,
    ) -> Result<Self, String> {
        let credential = credential_header(e)?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        e.key.expose().hash(&mut h);
        let (stats, breaker) = registry.get(&e.id);
        Ok(Self {
            id: e.id.clone(),
            profile: profile.to_owned(),
            name: e.label(),
            base_url: e.url.trim_end_matches('/').to_owned(),
            base: BaseUrl::parse(&e.url)
                .map_err(|err| format!("endpoint {} has an invalid URL: {err}", e.id))?,
            credential,
            enabled: e.enabled,
            weight: u32::from(e.weight),
            key_fp: h.finish(),
            stats,
            breaker,
            probe_model: e.probe_model.clone(),
            weight_adjust: config.health.weight_adjust,
            slow_start: Duration::from_secs(config.proxy.slow_start_secs),
        })
    }

    /// Its one state word now, and why.
    pub fn state(&self, now: Instant) -> (EndpointState, String) {
        let view = self.breaker.view(self.key_fp, now);
        let degraded = self.stats.degraded_reason();
        crate::health::state::classify(self.enabled, &view, degraded.as_deref(), self.slow_start)
    }

    /// The share of the new conversations the strategy gives it that it keeps (slow start,
    /// degraded). Cheap: an atomic read, and the breaker only while a slow start may run.
    pub fn share(&self, now: Instant) -> f64 {
        let since = if self.slow_start.is_zero() {
            None
        } else {
            self.breaker.since_closed(now)
        };
        crate::health::state::share(since, self.slow_start, self.stats.is_degraded())
    }

    /// The weight the `weighted` strategy uses: the configured one, scaled by recent
    /// success rate and latency when `health.weight_adjust` is on (never below 1).
    pub fn effective_weight(&self) -> u32 {
        if self.weight_adjust {
            crate::health::metrics::effective_weight(self.weight, self.stats.weight_permille())
        } else {
            self.weight
        }
    }

    /// Who this endpoint is and what its breaker says now.
    pub fn identity(&self, now: Instant) -> EndpointIdentity {
        let view = self.breaker.view(self.key_fp, now);
        let degraded = self.stats.degraded_reason();
        let (state, _) = crate::health::state::classify(
            self.enabled,
            &view,
            degraded.as_deref(),
            self.slow_start,
        );
        let (breaker, unavailable) = if self.enabled {
            (view.state.to_owned(), view.unavailable)
        } else {
            ("disabled".to_owned(), Some("disabled".to_owned()))
        };
        EndpointIdentity {
            state,
            id: self.id.clone(),
            profile: self.profile.clone(),
            name: self.name.clone(),
            url: self.base_url.clone(),
            enabled: self.enabled,
            breaker,
            cooldown_left_secs: view.cooldown_left.map(|d| d.as_secs_f64().ceil() as u64),
            unavailable,
            consecutive_failures: view.consecutive_failures,
            weight: self.weight,
            effective_weight: self.effective_weight(),
        }
    }

    pub fn status(&self, now: Instant, pinned: usize) -> EndpointStatus {
        let (p50, p95) = self.stats.percentiles_ms();
        let (input, output) = self.stats.tokens();
        EndpointStatus {
            endpoint: self.identity(now),
            pinned,
            in_flight: self.stats.in_flight(),
            requests: self.stats.requests(),
            errors: self.stats.errors(),
            p50_ms: p50,
            p95_ms: p95,
            input_tokens: input,
            output_tokens: output,
            last_error: self.stats.last_error(),
        }
    }
}

/// One profile in a snapshot.
pub struct ProfileRoute {
    pub name: String,
    pub tier: Option<Tier>,
    /// Enabled endpoints, in list order.
    pub endpoints: Vec<Arc<Upstream>>,
    balancer: Balancer,
}

impl ProfileRoute {
    /// Could any endpoint take a request now?
    pub fn available(&self, now: Instant) -> bool {
        self.endpoints
            .iter()
            .any(|u| u.breaker.available(u.key_fp, now))
    }

    /// Is any endpoint proven healthy (breaker closed)?
    pub fn healthy(&self) -> bool {
        self.endpoints.iter().any(|u| u.breaker.healthy(u.key_fp))
    }
}

/// An immutable view of the config for request handling.
pub struct RouteTable {
    pub profiles: Vec<ProfileRoute>,
    /// The profile the config makes active (the user's choice).
    pub chosen: String,
    /// Indexes of the tiered profiles, in failover order.
    pub order: Vec<usize>,
    /// Every endpoint of every profile, disabled ones too (for status).
    pub all: Vec<Arc<Upstream>>,
    pub settings: ProxySettings,
    pub policy: Policy,
    pub queue: QueueSettings,
    pub health: HealthSettings,
}

impl RouteTable {
    /// Build a snapshot. Refuses a config the proxy cannot serve from.
    pub fn build(config: &Config, registry: &StatsRegistry) -> Result<Self, String> {
        let chosen = config
            .active_profile()
            .ok_or("no profile is configured: add one with `qcc profile add <name>`")?
            .name
            .clone();
        let mut all = Vec::new();
        let mut profiles = Vec::new();
        for p in &config.profiles {
            let mut endpoints = Vec::new();
            for e in &p.endpoints {
                let u = Arc::new(Upstream::build(&p.name, e, registry, config)?);
                if e.enabled {
                    endpoints.push(u.clone());
                }
                all.push(u);
            }
            profiles.push(ProfileRoute {
                name: p.name.clone(),
                tier: config.tiers.tier_of(&p.name),
                balancer: Balancer::new(p.strategy, endpoints.len()),
                endpoints,
            });
        }
        let order = config
            .tiers
            .ordered()
            .filter_map(|(_, name)| profiles.iter().position(|p| p.name == name))
            .collect();
        Ok(Self {
            profiles,
            chosen,
            order,
            all,
            settings: config.proxy.clone(),
            policy: config.policy.clone(),
            queue: config.queue.clone(),
            health: config.health.clone(),
        })
    }

    pub fn profile(&self, name: &str) -> Option<(usize, &ProfileRoute)> {
        self.profiles
            .iter()
            .enumerate()
            .find(|(_, p)| p.name == name)
    }

    /// Profiles to fail over to from `serving`: the ones after it in tier order (same tier
    /// first, then lower tiers); every tiered profile if it is not in a tier itself.
    pub fn after(&self, serving: usize) -> Vec<usize> {
        match self.order.iter().position(|&i| i == serving) {
            Some(pos) => self.order[pos + 1..].to_vec(),
            None => self
                .order
                .iter()
                .copied()
                .filter(|&i| i != serving)
                .collect(),
        }
    }

    pub fn breaker_policy(&self) -> BreakerPolicy {
        BreakerPolicy {
            threshold: self.policy.failure_threshold,
            cooldown: Duration::from_secs(self.policy.cooldown_secs),
        }
    }

    pub fn sticky_ttl(&self) -> Duration {
        Duration::from_secs(self.settings.sticky_ttl_secs)
    }
}

/// One endpoint a request may try.
pub struct Candidate {
    pub upstream: Arc<Upstream>,
    /// Held when this attempt is the endpoint's half-open trial.
    pub trial: Option<TrialPermit>,
    /// A last resort: its breaker is open.
    pub last_resort: bool,
    /// Wait until then before sending (its `retry-after` ends soon).
    pub not_before: Option<Instant>,
}

impl Candidate {
    fn regular(upstream: Arc<Upstream>, trial: Option<TrialPermit>) -> Self {
        Self {
            upstream,
            trial,
            last_resort: false,
            not_before: None,
        }
    }
}

/// Which profile serves, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierState {
    /// The config's active profile when this state began.
    pub chosen: String,
    /// The profile traffic goes to now.
    pub serving: String,
    /// Set while failed over: the profile to return to.
    pub failed_over_from: Option<String>,
    healthy_since: Option<Instant>,
}

impl TierState {
    fn fresh(chosen: &str) -> Self {
        Self {
            chosen: chosen.to_owned(),
            serving: chosen.to_owned(),
            failed_over_from: None,
            healthy_since: None,
        }
    }
}

/// Routing state that outlives snapshots.
pub struct Router {
    table: ArcSwap<RouteTable>,
    registry: StatsRegistry,
    tiers: Mutex<TierState>,
    pub sticky: StickyMap,
    pub budget: RetryBudget,
    events: Mutex<Option<mpsc::UnboundedSender<SwitchRecord>>>,
    /// Woken when a breaker opens or closes, so upkeep looks at states at once.
    pub changed: tokio::sync::Notify,
}

impl Router {
    pub fn new(config: &Config) -> Result<Self, String> {
        let registry = StatsRegistry::default();
        let table = RouteTable::build(config, &registry)?;
        Ok(Self {
            tiers: Mutex::new(TierState::fresh(&table.chosen)),
            table: ArcSwap::from_pointee(table),
            registry,
            sticky: StickyMap::default(),
            budget: RetryBudget::default(),
            events: Mutex::new(None),
            changed: tokio::sync::Notify::new(),
        })
    }

    /// Swap in a new config. A changed active profile (a manual switch) resets failover.
    pub fn apply(&self, config: &Config) -> Result<(), String> {
        let table = RouteTable::build(config, &self.registry)?;
        {
            let mut st = self.tiers.lock().expect("tier lock");
            if st.chosen != table.chosen || table.profile(&st.serving).is_none() {
                *st = TierState::fresh(&table.chosen);
            }
        }
        self.table.store(Arc::new(table));
        Ok(())
    }

    pub fn table(&self) -> Arc<RouteTable> {
        self.table.load_full()
    }

    /// Stats and breakers by endpoint id (kept across reloads).
    pub fn registry(&self) -> &StatsRegistry {
        &self.registry
    }

    pub fn tier_state(&self) -> TierState {
        self.tiers.lock().expect("tier lock").clone()
    }

    /// Receive the switch records the router makes (the daemon persists them).
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<SwitchRecord> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.events.lock().expect("events lock") = Some(tx);
        rx
    }

    /// The endpoints one request may try, best first, at most `max`. The open endpoints
    /// it may still try once these are used up come from [`Router::last_resorts`], asked
    /// only then (the usual request never needs them).
    pub fn plan(&self, table: &RouteTable, session: Option<&str>, max: usize) -> Vec<Candidate> {
        let now = Instant::now();
        let st = self.tier_state();
        let mut out = Vec::with_capacity(max);
        let (from, profiles) = route_order(table, &st);
        if table.policy.auto_recovery
            && let Some(from) = from
            && let Some(trial) =
                from.endpoints
                    .iter()
                    .find_map(|u| match u.breaker.admit(u.key_fp, now) {
                        Admit::Trial(t) => Some(Candidate::regular(u.clone(), Some(t))),
                        _ => None,
                    })
        {
            out.push(trial);
        }
        for (n, &i) in profiles.iter().enumerate() {
            if out.len() >= max {
                break;
            }
            let session = if n == 0 { session } else { None };
            self.push_profile(
                &table.profiles[i],
                session,
                table.sticky_ttl(),
                now,
                &mut out,
            );
        }
        out.truncate(max);
        out
    }

    /// The last resorts of a request whose candidates (`tried`, by endpoint id) all failed:
    /// the open endpoints of the same profiles (not billing holds, not rejected keys), the
    /// soonest-ending cooldown first; a `retry-after` ending within `retry_after_wait_secs`
    /// is to be waited for, a longer one comes at the very end.
    pub fn last_resorts(&self, table: &RouteTable, tried: &[&str], now: Instant) -> Vec<Candidate> {
        let st = self.tier_state();
        let (from, profiles) = route_order(table, &st);
        let wait = Duration::from_secs(table.settings.retry_after_wait_secs);
        let pool = from
            .into_iter()
            .chain(profiles.iter().map(|&i| &table.profiles[i]));
        let mut open: Vec<(bool, Instant, Arc<Upstream>, Option<Instant>)> = Vec::new();
        for u in pool.flat_map(|p| p.endpoints.iter()) {
            if tried.contains(&u.id.as_str()) || open.iter().any(|o| o.2.id == u.id) {
                continue;
            }
            let Some(lr) = u.breaker.last_resort(u.key_fp, now) else {
                continue;
            };
            let long = lr.retry_after && lr.ready_at > now + wait;
            let not_before = (lr.retry_after && !long && lr.ready_at > now).then_some(lr.ready_at);
            open.push((long, lr.ready_at, u.clone(), not_before));
        }
        open.sort_by_key(|o| (o.0, o.1));
        open.into_iter()
            .map(|(_, _, upstream, not_before)| Candidate {
                upstream,
                trial: None,
                last_resort: true,
                not_before,
            })
            .collect()
    }

    fn push_profile(
        &self,
        p: &ProfileRoute,
        session: Option<&str>,
        ttl: Duration,
        now: Instant,
        out: &mut Vec<Candidate>,
    ) {
        let mut ready = Vec::new();
        let mut trials = Vec::new();
        for (i, u) in p.endpoints.iter().enumerate() {
            match u.breaker.admit(u.key_fp, now) {
                Admit::Yes => ready.push(i),
                Admit::Trial(t) => trials.push(Candidate::regular(u.clone(), Some(t))),
                Admit::No => {}
            }
        }
        let cand = |i: usize| Candidate::regular(p.endpoints[i].clone(), None);
        let pinned = session
            .and_then(|s| self.sticky.get(s, ttl))
            .and_then(|id| p.endpoints.iter().position(|u| u.id == id))
            .filter(|i| ready.contains(i));
        match pinned {
            // A known conversation: its endpoint first; the strategy is not consulted.
            Some(i) => {
                out.push(cand(i));
                out.extend(trials);
                out.extend(ready.into_iter().filter(|&j| j != i).map(cand));
            }
            // A new conversation: a due half-open trial first, then the strategy's order,
            // endpoints in a slow start (or degraded) moved back in proportion.
            None => {
                let order = p.balancer.order(&p.endpoints, &ready);
                let order = apply_shares(order, |i| p.endpoints[i].share(now), rand::random);
                out.extend(trials);
                out.extend(order.into_iter().map(cand));
            }
        }
    }

    /// Fail over when the serving profile has no available endpoint; recover when the
    /// profile we left has been healthy for the recovery hold. Called after a breaker opens
    /// and on a timer.
    pub fn evaluate(&self, table: &RouteTable, now: Instant) {
        let mut st = self.tiers.lock().expect("tier lock");
        let Some((si, serving)) = table.profile(&st.serving) else {
            *st = TierState::fresh(&table.chosen);
            return;
        };
        if table.policy.auto_failover
            && !serving.available(now)
            && let Some(next) = table
                .after(si)
                .into_iter()
                .find(|&i| table.profiles[i].available(now))
        {
            let from = st.serving.clone();
            let to = table.profiles[next].name.clone();
            let why: Vec<String> = serving
                .endpoints
                .iter()
                .filter_map(|u| {
                    u.breaker
                        .view(u.key_fp, now)
                        .unavailable
                        .map(|r| format!("{}: {r}", u.id))
                })
                .collect();
            let reason = if why.is_empty() {
                format!("no available endpoint in '{from}'")
            } else {
                format!("no available endpoint in '{from}' ({})", why.join("; "))
            };
            tracing::warn!("failover {from} → {to}: {reason}");
            if st.failed_over_from.is_none() {
                st.failed_over_from = Some(from.clone());
            }
            st.serving = to.clone();
            st.healthy_since = None;
            self.emit(from, to, reason, SwitchKind::Failover);
        }
        let Some(origin) = st.failed_over_from.clone() else {
            return;
        };
        if origin == st.serving {
            st.failed_over_from = None;
            return;
        }
        if !table.policy.auto_recovery {
            return;
        }
        match table.profile(&origin) {
            None => st.failed_over_from = None,
            Some((_, p)) if p.healthy() => {
                let since = *st.healthy_since.get_or_insert(now);
                let hold = Duration::from_secs(table.policy.recovery_hold_secs);
                if now.duration_since(since) >= hold {
                    let from = std::mem::replace(&mut st.serving, origin.clone());
                    st.failed_over_from = None;
                    st.healthy_since = None;
                    let reason = format!("'{origin}' healthy again for {} s", hold.as_secs());
                    tracing::info!("recovery {from} → {origin}: {reason}");
                    self.emit(from, origin, reason, SwitchKind::Recovery);
                }
            }
            Some(_) => st.healthy_since = None,
        }
    }

    fn emit(&self, from: String, to: String, reason: String, kind: SwitchKind) {
        if let Some(tx) = self.events.lock().expect("events lock").as_ref() {
            let _ = tx.send(SwitchRecord {
                at: chrono::Utc::now(),
                from: Some(from),
                to,
                reason,
                kind,
                extra: Map::new(),
            });
        }
    }

    /// Per-endpoint status.
    pub fn endpoint_status(&self) -> Vec<EndpointStatus> {
        let table = self.table();
        let now = Instant::now();
        let pins: HashMap<String, usize> = self.sticky.counts(table.sticky_ttl());
        table
            .all
            .iter()
            .map(|u| u.status(now, pins.get(&u.id).copied().unwrap_or(0)))
            .collect()
    }
}

/// The profile failed over from (while failed over), and the profiles a request may use
/// in order: the serving one, then — with auto-failover — the ones after it.
fn route_order<'a>(
    table: &'a RouteTable,
    st: &TierState,
) -> (Option<&'a ProfileRoute>, Vec<usize>) {
    let from = st
        .failed_over_from
        .as_deref()
        .and_then(|f| table.profile(f))
        .map(|(_, p)| p);
    let serving = table
        .profile(&st.serving)
        .or_else(|| table.profile(&table.chosen))
        .map(|(i, _)| i);
    let Some(serving) = serving else {
        return (from, Vec::new());
    };
    let mut order = vec![serving];
    if table.policy.auto_failover {
        order.extend(table.after(serving));
    }
    (from, order)
}

/// A route table of one profile `p` with an endpoint per URL (key `k`), for tests.
#[cfg(test)]
pub(crate) fn test_table(urls: &[&str]) -> RouteTable {
    let registry = crate::proxy::stats::StatsRegistry::default();
    let mut config = crate::state::Config::default();
    config
        .add_profile("p", None, Default::default(), chrono::Utc::now())
        .unwrap();
    for url in urls {
        config
            .add_endpoint(
                "p",
                crate::state::model::NewEndpoint {
                    name: None,
                    url: (*url).into(),
                    key: crate::state::secret::Secret::new("k"),
                    auth: Default::default(),
                    weight: 100,
                },
                || format!("{:06x}", rand::random::<u32>() & 0xffffff),
            )
            .unwrap();
    }
    RouteTable::build(&config, &registry).unwrap()
}
