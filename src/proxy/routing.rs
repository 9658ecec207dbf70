//! Routing: which endpoints a request may try, in which order.
//!
//! A [`RouteTable`] is an immutable snapshot of the config (every profile with its enabled
//! endpoints, the tier order, policy and settings), swapped atomically on reload; in-flight
//! requests keep the one they started with. The [`Router`] holds what outlives snapshots:
//! which profile is serving (tier failover and recovery), sticky conversations, and the
//! retry budget. Request handling touches only atomics and short uncontended locks.
//!
//! Candidates for a request, best first: when the request's `model` matches a model route
//! (top-down, first match wins), that profile's available endpoints, chosen as its own
//! (stickiness, half-open trials, strategy and shares as below); then a recovery trial on
//! the profile we failed over from (if its breaker is due one), then the serving profile's
//! available endpoints (the conversation's pinned endpoint first, half-open trials next,
//! then the profile's strategy, with `recovering` and `degraded` endpoints moved back in
//! proportion to their share), then — with auto-failover — the next profiles in tier order. Last, the *last
//! resort*: endpoints whose breakers are open (not billing holds, not rejected keys), the
//! soonest-ending cooldown first, a `retry-after` ending within `retry_after_wait_secs`
//! waited for, longer ones at the very end. So the client gets a real answer, or the real
//! upstream error, rather than the proxy's own 503 while some upstream might answer. No
//! endpoint is listed twice. A routed profile's open endpoints are not last resorts: a
//! routed request that finds its profile down is a request of the normal plan.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use serde_json::Map;
use tokio::sync::mpsc;

use crate::balance::cost::{Priced, price_for};
use crate::balance::sticky::StickyMap;
use crate::balance::{Balancer, apply_shares};
use crate::proxy::retry::RetryBudget;
use crate::proxy::tiers::{self, TierState};
use crate::report::status::EndpointStatus;
use crate::state::Config;
use crate::state::model::{
    HealthSettings, Policy, ProxySettings, QueueSettings, SwitchKind, SwitchRecord, Tier,
};
use crate::upstream::Upstream;
use crate::upstream::breaker::{Admit, BreakerPolicy, TrialPermit};
use crate::upstream::keys::KeyRegistry;
use crate::upstream::stats::StatsRegistry;
use crate::usage::PriceBook;

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
            .any(|u| u.breaker.available(u.key_fp(), now))
    }

    /// Is any endpoint proven healthy (breaker closed)?
    pub fn healthy(&self) -> bool {
        self.endpoints.iter().any(|u| u.breaker.healthy(u.key_fp()))
    }
}

/// A model route in a snapshot: the glob over the requested model and the profile (an index
/// into [`RouteTable::profiles`]) that serves the requests it matches first.
pub struct ModelRoute {
    pub pattern: String,
    pub profile: usize,
}

/// An immutable view of the config for request handling.
pub struct RouteTable {
    pub profiles: Vec<ProfileRoute>,
    /// Model routes, top-down (first match wins); empty for most configs, and then the
    /// request's model is never read.
    pub routes: Vec<ModelRoute>,
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
    /// Some endpoint speaks `openai` (requests to Anthropic endpoints are then checked for
    /// thinking blocks no Anthropic endpoint signed).
    pub has_openai: bool,
    /// `usage.enabled`: Messages requests are reported to the usage accounting.
    pub count_usage: bool,
    /// The request's `model` is needed: model routes, or a profile whose strategy orders
    /// by its price (`cost`, `adaptive`).
    pub needs_model: bool,
    /// The prices in force (`config.prices` over the list), for `cost` and `adaptive`:
    /// built with the snapshot, so the request path takes no lock for them.
    pub prices: Arc<PriceBook>,
}

/// Why a config cannot be served from.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("no profile is configured: add one with `qcc profile add <name>`")]
    NoProfile,
    #[error("the route for '{pattern}' names no profile '{profile}': see `qcc route list`")]
    UnknownRouteProfile { pattern: String, profile: String },
    #[error(transparent)]
    Upstream(#[from] crate::upstream::UpstreamError),
    #[error("proxy.shared_state: {0}")]
    SharedState(#[from] crate::state::shared::BadSharedUrl),
}

impl RouteTable {
    /// Build a snapshot. Refuses a config the proxy cannot serve from.
    pub fn build(
        config: &Config,
        registry: &StatsRegistry,
        keys: &KeyRegistry,
    ) -> Result<Self, RouteError> {
        let chosen = config
            .active_profile()
            .ok_or(RouteError::NoProfile)?
            .name
            .clone();
        if let Some((url, _)) =
            crate::state::shared::resolve(None, config.proxy.shared_state.as_deref())
        {
            crate::state::shared::check_url(&url)?;
        }
        let mut all = Vec::new();
        let mut profiles = Vec::new();
        for p in &config.profiles {
            let mut endpoints = Vec::new();
            for e in &p.endpoints {
                let u = Arc::new(Upstream::build(&p.name, e, registry, keys, config)?);
                if e.enabled {
                    endpoints.push(u.clone());
                }
                all.push(u);
            }
            profiles.push(ProfileRoute {
                name: p.name.clone(),
                tier: config.tiers.tier_of(&p.name),
                balancer: Balancer::new(p.strategy, endpoints.len(), p.score_weights()),
                endpoints,
            });
        }
        let order = config
            .tiers
            .ordered()
            .filter_map(|(_, name)| profiles.iter().position(|p| p.name == name))
            .collect();
        let routes: Vec<ModelRoute> = config
            .routes
            .iter()
            .map(|r| {
                let profile = profiles
                    .iter()
                    .position(|p| p.name == r.profile)
                    .ok_or_else(|| RouteError::UnknownRouteProfile {
                        pattern: r.model.clone(),
                        profile: r.profile.clone(),
                    })?;
                Ok(ModelRoute {
                    pattern: r.model.clone(),
                    profile,
                })
            })
            .collect::<Result<_, RouteError>>()?;
        let needs_model =
            !routes.is_empty() || config.profiles.iter().any(|p| p.strategy.needs_model());
        Ok(Self {
            profiles,
            routes,
            needs_model,
            prices: Arc::new(PriceBook::new(&config.prices)),
            chosen,
            order,
            all,
            settings: config.proxy.clone(),
            policy: config.policy.clone(),
            queue: config.queue.clone(),
            health: config.health.clone(),
            count_usage: config.usage.enabled,
            has_openai: config
                .endpoints()
                .any(|(_, e)| e.kind == crate::state::model::EndpointKind::Openai),
        })
    }

    /// The route a request for `model` takes: the first whose glob matches.
    pub fn route(&self, model: Option<&str>) -> Option<&ModelRoute> {
        let model = model?;
        self.routes
            .iter()
            .find(|r| crate::state::models::glob_match(&r.pattern, model))
    }

    /// The key a request's conversation is pinned under. Pins are per conversation and,
    /// for a routed request, per routed profile too: a conversation's routed requests
    /// (Claude Code's haiku-class background calls) keep a pin of their own in the routed
    /// profile, and never move the pin of its main requests, nor the other way round.
    pub fn sticky_key(&self, session: Option<String>, model: Option<&str>) -> Option<String> {
        match self.route(model) {
            Some(r) => session.map(|s| format!("{s}\u{0}{}", self.profiles[r.profile].name)),
            None => session,
        }
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
        self.after_iter(serving).collect()
    }

    /// [`after`](Self::after), without collecting.
    pub fn after_iter(&self, serving: usize) -> impl Iterator<Item = usize> + '_ {
        let from = self.order.iter().position(|&i| i == serving);
        let rest = match from {
            Some(pos) => &self.order[pos + 1..],
            None => &self.order[..],
        };
        rest.iter().copied().filter(move |&i| i != serving)
    }

    pub fn breaker_policy(&self) -> BreakerPolicy {
        BreakerPolicy {
            threshold: self.policy.failure_threshold,
            cooldown: Duration::from_secs(self.policy.cooldown_secs),
            billing_hold: Duration::from_secs(self.policy.billing_hold_secs),
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

/// Make the slots of `config`'s key references and read the ones that are new or due.
fn prepare_keys(config: &Config, registry: &StatsRegistry, keys: &KeyRegistry) {
    for (_, e) in config.endpoints().filter(|(_, e)| e.key_ref.is_some()) {
        let (_, breaker) = registry.get(&e.id);
        // A reference never fails to make a slot (only a stored key can be invalid).
        let _ = keys.slot(e, breaker);
    }
    keys.read_due(
        Duration::from_secs(config.proxy.key_ttl_secs),
        Duration::from_secs(config.proxy.key_timeout_secs.max(1)),
    );
}

/// Routing state that outlives snapshots.
pub struct Router {
    table: ArcSwap<RouteTable>,
    registry: StatsRegistry,
    /// Key slots by endpoint id (kept across reloads, read off the request path).
    keys: Arc<KeyRegistry>,
    /// Which profile serves: read by every request without a lock.
    tiers: ArcSwap<TierState>,
    /// Serialises the (rare) writers of `tiers`.
    tier_writer: Mutex<()>,
    pub sticky: StickyMap,
    pub budget: RetryBudget,
    events: Mutex<Option<mpsc::UnboundedSender<SwitchRecord>>>,
    /// Woken when a breaker opens or closes, so upkeep looks at states at once.
    pub changed: tokio::sync::Notify,
}

impl Router {
    pub fn new(config: &Config) -> Result<Self, RouteError> {
        let registry = StatsRegistry::default();
        let keys = Arc::new(KeyRegistry::default());
        prepare_keys(config, &registry, &keys);
        let table = RouteTable::build(config, &registry, &keys)?;
        Ok(Self {
            keys,
            tiers: ArcSwap::from_pointee(TierState::fresh(&table.chosen)),
            tier_writer: Mutex::new(()),
            table: ArcSwap::from_pointee(table),
            registry,
            sticky: StickyMap::default(),
            budget: RetryBudget::default(),
            events: Mutex::new(None),
            changed: tokio::sync::Notify::new(),
        })
    }

    /// Swap in a new config. A changed active profile (a manual switch) resets failover.
    pub fn apply(&self, config: &Config) -> Result<(), RouteError> {
        let table = match RouteTable::build(config, &self.registry, &self.keys) {
            Ok(t) => t,
            Err(e) => {
                // Refused: the snapshot in force keeps its key slots, refreshed as before.
                let current = self.table.load();
                self.keys
                    .adopt(current.all.iter().map(|u| (u.id.as_str(), &u.key)));
                return Err(e);
            }
        };
        let ids: Vec<&str> = table.all.iter().map(|u| u.id.as_str()).collect();
        self.keys.retain(&ids);
        {
            let _writer = lock(&self.tier_writer);
            let st = self.tiers.load();
            if st.chosen != table.chosen || table.profile(&st.serving).is_none() {
                self.tiers.store(Arc::new(TierState::fresh(&table.chosen)));
            }
        }
        self.table.store(Arc::new(table));
        Ok(())
    }

    pub fn table(&self) -> Arc<RouteTable> {
        self.table.load_full()
    }

    /// Read the key references of `config` that are new or due, before it is applied
    /// (blocking: commands run within `proxy.key_timeout_secs`).
    pub fn prepare_keys(&self, config: &Config) {
        prepare_keys(config, &self.registry, &self.keys);
    }

    /// The key slots, for the task that keeps references fresh.
    pub fn keys(&self) -> Arc<KeyRegistry> {
        self.keys.clone()
    }

    /// Stats and breakers by endpoint id (kept across reloads).
    pub fn registry(&self) -> &StatsRegistry {
        &self.registry
    }

    /// Which profile serves now (a snapshot; no lock).
    pub fn tier_state(&self) -> Arc<TierState> {
        self.tiers.load_full()
    }

    /// Receive the switch records the router makes (the daemon persists them).
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<SwitchRecord> {
        let (tx, rx) = mpsc::unbounded_channel();
        *lock(&self.events) = Some(tx);
        rx
    }

    /// The endpoints one request may try, best first, at most `max`: those of the profile
    /// its `model` is routed to, if a route matches, then the normal plan. `session` is the
    /// conversation's pin key ([`RouteTable::sticky_key`]). The open endpoints it may still
    /// try once these are used up come from [`Router::last_resorts`], asked only then (the
    /// usual request never needs them).
    pub fn plan(
        &self,
        table: &RouteTable,
        session: Option<&str>,
        model: Option<&str>,
        max: usize,
    ) -> Vec<Candidate> {
        let now = Instant::now();
        let st = self.tier_state();
        let mut out = Vec::with_capacity(max);
        // A routed request: its profile first, chosen as that profile's own (pin, trials,
        // strategy). Endpoints belong to one profile, so leaving the routed profile out of
        // the normal plan below lists no endpoint twice.
        let routed = table.route(model).map(|r| r.profile);
        if let Some(r) = routed {
            self.push_profile(table, &table.profiles[r], session, model, now, &mut out);
        }
        let (from, profiles) = route_order(table, &st);
        let from = from.filter(|f| routed.is_none_or(|r| f.name != table.profiles[r].name));
        if table.policy.auto_recovery
            && out.len() < max
            && let Some(from) = from
            && let Some(trial) =
                from.endpoints
                    .iter()
                    .find_map(|u| match u.breaker.admit(u.key_fp(), now) {
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
            if routed == Some(i) {
                continue;
            }
            let session = if n == 0 { session } else { None };
            self.push_profile(table, &table.profiles[i], session, model, now, &mut out);
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
            let Some(lr) = u.breaker.last_resort(u.key_fp(), now) else {
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
        table: &RouteTable,
        p: &ProfileRoute,
        session: Option<&str>,
        model: Option<&str>,
        now: Instant,
        out: &mut Vec<Candidate>,
    ) {
        let ttl = table.sticky_ttl();
        let mut ready = Vec::new();
        let mut trials = Vec::new();
        for (i, u) in p.endpoints.iter().enumerate() {
            match u.breaker.admit(u.key_fp(), now) {
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
                let order = if p.balancer.needs_prices() {
                    // `cost`, `adaptive`: each endpoint with the price of the model it
                    // would be sent (only these profiles pay for the look-up).
                    if let Balancer::Adaptive(a) = &p.balancer {
                        a.note_model(model);
                    }
                    let priced = priced(&p.endpoints, &table.prices, model);
                    p.balancer.order(&priced, &ready)
                } else {
                    p.balancer.order(&p.endpoints, &ready)
                };
                let order = apply_shares(order, |i| p.endpoints[i].share(now), rand::random);
                out.extend(trials);
                out.extend(order.into_iter().map(cand));
            }
        }
    }

    /// Fail over when the serving profile has no available endpoint; recover when the
    /// profile we left has been healthy for the recovery hold ([`tiers::step`]). Called
    /// after a breaker opens and on a timer; the switch records go to the subscriber.
    pub fn evaluate(&self, table: &RouteTable, now: Instant) {
        let _writer = lock(&self.tier_writer);
        let current = self.tiers.load();
        let Some(step) = tiers::step(table, &current, now) else {
            return;
        };
        self.tiers.store(Arc::new(step.next));
        if let Some(s) = step.switch {
            match s.kind {
                SwitchKind::Failover => {
                    tracing::warn!("failover {} → {}: {}", s.from, s.to, s.reason)
                }
                _ => tracing::info!("recovery {} → {}: {}", s.from, s.to, s.reason),
            }
            if let Some(tx) = lock(&self.events).as_ref() {
                let _ = tx.send(SwitchRecord {
                    at: chrono::Utc::now(),
                    from: Some(s.from),
                    to: s.to,
                    reason: s.reason,
                    kind: s.kind,
                    extra: Map::new(),
                });
            }
        }
    }

    /// Per-endpoint status; for `adaptive` profiles, each enabled endpoint's score now
    /// (among the profile's enabled endpoints, for the model last requested of it).
    pub fn endpoint_status(&self) -> Vec<EndpointStatus> {
        let table = self.table();
        let now = Instant::now();
        let pins: HashMap<String, usize> = self.sticky.counts(table.sticky_ttl());
        let mut scores: HashMap<&str, crate::report::status::EndpointScore> = HashMap::new();
        for p in &table.profiles {
            let Balancer::Adaptive(a) = &p.balancer else {
                continue;
            };
            let model = a.last_model();
            let priced = priced(&p.endpoints, &table.prices, model.as_deref());
            let all: Vec<usize> = (0..p.endpoints.len()).collect();
            for (i, s) in all.iter().zip(a.scores(&priced, &all)) {
                scores.insert(p.endpoints[*i].id.as_str(), s.report(model.clone()));
            }
        }
        table
            .all
            .iter()
            .map(|u| {
                let mut s = u.status(now, pins.get(&u.id).copied().unwrap_or(0));
                s.score = scores.remove(u.id.as_str());
                s
            })
            .collect()
    }
}

/// A profile's endpoints, each with the blended price of `model` sent there.
fn priced<'a>(
    endpoints: &'a [Arc<Upstream>],
    prices: &PriceBook,
    model: Option<&str>,
) -> Vec<Priced<'a, Arc<Upstream>>> {
    endpoints
        .iter()
        .map(|u| Priced {
            endpoint: u,
            price: price_for(prices, &u.id, &u.models, model),
        })
        .collect()
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
    let mut order = Vec::with_capacity(1 + table.order.len());
    order.push(serving);
    if table.policy.auto_failover {
        order.extend(table.after_iter(serving));
    }
    (from, order)
}

/// A lock that a panic elsewhere never poisons for the request path.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A route table of one profile `p` with an endpoint per URL (key `k`), for tests.
#[cfg(test)]
pub(crate) fn test_table(urls: &[&str]) -> RouteTable {
    let registry = crate::upstream::stats::StatsRegistry::default();
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
                    key: crate::state::model::Credential::Value(crate::state::secret::Secret::new(
                        "k",
                    )),
                    auth: Default::default(),
                    weight: 100,
                    models: Vec::new(),
                    kind: Default::default(),
                    chat_path: None,
                },
                || format!("{:06x}", rand::random::<u32>() & 0xffffff),
            )
            .unwrap();
    }
    RouteTable::build(&config, &registry, &KeyRegistry::default()).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::model::{NewEndpoint, Strategy};
    use crate::state::secret::Secret;
    use crate::upstream::breaker::Failure;

    /// Profiles `a` (primary, `ordered`, endpoints a1 a2) and `b` (secondary, b1).
    fn router() -> Router {
        router_with(&[])
    }

    /// [`router`] plus profile `c` (in no tier, `ordered`, c1 c2) and these model routes.
    fn router_with(routes: &[(&str, &str)]) -> Router {
        let mut c = Config::default();
        for (name, tier, ids) in [
            ("a", Some(Tier::Primary), &["a1", "a2"][..]),
            ("b", Some(Tier::Secondary), &["b1"][..]),
            ("c", None, &["c1", "c2"][..]),
        ] {
            c.add_profile(name, None, Strategy::Ordered, chrono::Utc::now())
                .unwrap();
            for id in ids {
                c.add_endpoint(
                    name,
                    NewEndpoint {
                        name: None,
                        url: format!("https://{id}.example"),
                        key: crate::state::model::Credential::Value(Secret::new(format!(
                            "key-{id}"
                        ))),
                        auth: Default::default(),
                        weight: 100,
                        models: Vec::new(),
                        kind: Default::default(),
                        chat_path: None,
                    },
                    || (*id).to_owned(),
                )
                .unwrap();
            }
            c.set_tier(name, tier).unwrap();
        }
        for (pattern, profile) in routes {
            c.add_route(pattern, profile, None).unwrap();
        }
        c.proxy.slow_start_secs = 0;
        Router::new(&c).unwrap()
    }

    fn ids(c: &[Candidate]) -> Vec<&str> {
        c.iter().map(|c| c.upstream.id.as_str()).collect()
    }

    fn open(t: &RouteTable, id: &str, failure: Failure, now: Instant) {
        let u = t.all.iter().find(|u| u.id == id).unwrap();
        for _ in 0..t.policy.failure_threshold {
            u.breaker
                .failure(&failure, t.breaker_policy(), u.key_fp(), now);
        }
    }

    #[test]
    fn the_serving_profile_by_strategy_then_the_next_tiers() {
        let r = router();
        let t = r.table();
        assert_eq!(ids(&r.plan(&t, None, None, 3)), ["a1", "a2", "b1"]);
        assert_eq!(
            ids(&r.plan(&t, None, None, 2)),
            ["a1", "a2"],
            "max cuts the list"
        );
        // A pinned conversation goes first to its endpoint.
        r.sticky.pin("conv", "a2");
        assert_eq!(ids(&r.plan(&t, Some("conv"), None, 3)), ["a2", "a1", "b1"]);
        // Without routes a model changes nothing.
        assert_eq!(
            ids(&r.plan(&t, None, Some("claude-x"), 3)),
            ["a1", "a2", "b1"]
        );
    }

    #[test]
    fn open_endpoints_are_left_out_then_offered_as_last_resorts() {
        let r = router();
        let t = r.table();
        let now = Instant::now();
        open(&t, "a1", Failure::Transient("HTTP 529".into()), now);
        open(
            &t,
            "b1",
            Failure::RetryAfter(Duration::from_secs(2), "HTTP 429".into()),
            now,
        );
        assert_eq!(ids(&r.plan(&t, None, None, 3)), ["a2"]);
        // After a2 failed: the open ones, the soonest cooldown first (b1's 2 s retry-after,
        // to be waited for, before a1's 30 s).
        let last = r.last_resorts(&t, &["a2"], now);
        assert_eq!(ids(&last), ["b1", "a1"]);
        assert!(last.iter().all(|c| c.last_resort));
        assert_eq!(last[0].not_before, Some(now + Duration::from_secs(2)));
        assert_eq!(
            last[1].not_before, None,
            "a failure cooldown is not waited for"
        );
        // A retry-after past the wait cap (3 s) goes to the very end.
        open(
            &t,
            "b1",
            Failure::RetryAfter(Duration::from_secs(120), "HTTP 429".into()),
            now,
        );
        assert_eq!(ids(&r.last_resorts(&t, &["a2"], now)), ["a1", "b1"]);
        // Billing holds and rejected keys are never a last resort.
        open(&t, "a1", Failure::Billing("HTTP 402".into(), None), now);
        open(&t, "b1", Failure::Credential("HTTP 401".into()), now);
        assert!(r.last_resorts(&t, &["a2"], now).is_empty());
    }

    const HAIKU: Option<&str> = Some("claude-haiku-4-5");
    const SONNET: Option<&str> = Some("claude-sonnet-4-5");

    #[test]
    fn a_routed_model_goes_to_its_profile_first_then_the_normal_plan() {
        let r = router_with(&[("claude-haiku-*", "c")]);
        let t = r.table();
        assert_eq!(ids(&r.plan(&t, None, HAIKU, 3)), ["c1", "c2", "a1"]);
        assert_eq!(
            ids(&r.plan(&t, None, HAIKU, 9)),
            ["c1", "c2", "a1", "a2", "b1"]
        );
        assert_eq!(ids(&r.plan(&t, None, SONNET, 9)), ["a1", "a2", "b1"]);
        assert_eq!(ids(&r.plan(&t, None, None, 9)), ["a1", "a2", "b1"]);
        // The routed profile down: the normal plan, as if there were no route.
        let now = Instant::now();
        for id in ["c1", "c2"] {
            open(&t, id, Failure::Transient("HTTP 529".into()), now);
        }
        assert_eq!(ids(&r.plan(&t, None, HAIKU, 3)), ["a1", "a2", "b1"]);
    }

    #[test]
    fn routes_match_top_down_and_list_no_endpoint_twice() {
        let r = router_with(&[
            ("claude-haiku-4-5", "b"),
            ("claude-haiku-*", "c"),
            ("claude-sonnet-*", "a"),
        ]);
        let t = r.table();
        assert_eq!(ids(&r.plan(&t, None, HAIKU, 9)), ["b1", "a1", "a2"]);
        assert_eq!(
            ids(&r.plan(&t, None, Some("claude-haiku-3"), 9)),
            ["c1", "c2", "a1", "a2", "b1"]
        );
        // Routed to the serving profile: the same list as without the route.
        assert_eq!(ids(&r.plan(&t, None, SONNET, 9)), ["a1", "a2", "b1"]);
    }

    #[test]
    fn cost_orders_by_the_price_of_the_model_and_pins_still_win() {
        let mut c = Config::default();
        c.add_profile("a", None, Strategy::Cost, chrono::Utc::now())
            .unwrap();
        for id in ["a1", "a2", "a3"] {
            c.add_endpoint(
                "a",
                NewEndpoint {
                    name: None,
                    url: format!("https://{id}.example"),
                    key: crate::state::model::Credential::Value(Secret::new(format!("key-{id}"))),
                    auth: Default::default(),
                    weight: 100,
                    // a3 sends every model as one without a price.
                    models: if id == "a3" {
                        vec!["*=no-such-model".parse().unwrap()]
                    } else {
                        Vec::new()
                    },
                    kind: Default::default(),
                    chat_path: None,
                },
                || id.to_owned(),
            )
            .unwrap();
        }
        c.prices.endpoints.insert(
            "a2".into(),
            crate::state::prices::EndpointPrices {
                multiplier: Some(0.5),
                models: Vec::new(),
            },
        );
        c.proxy.slow_start_secs = 0;
        let r = Router::new(&c).unwrap();
        let t = r.table();
        assert!(t.needs_model, "the model is read for a cost profile");
        assert_eq!(ids(&r.plan(&t, None, SONNET, 9)), ["a2", "a1", "a3"]);
        // No model: no price anywhere, list order.
        assert_eq!(ids(&r.plan(&t, None, None, 9)), ["a1", "a2", "a3"]);
        r.sticky.pin("conv", "a1");
        assert_eq!(
            ids(&r.plan(&t, Some("conv"), SONNET, 9)),
            ["a1", "a2", "a3"]
        );
        // Other strategies never need it.
        assert!(!router().table().needs_model);
    }

    #[test]
    fn a_routed_request_keeps_a_pin_of_its_own() {
        let r = router_with(&[("claude-haiku-*", "c")]);
        let t = r.table();
        let routed = t.sticky_key(Some("conv".into()), HAIKU).unwrap();
        assert_ne!(routed, "conv");
        assert_eq!(
            t.sticky_key(Some("conv".into()), SONNET).as_deref(),
            Some("conv")
        );
        assert_eq!(t.sticky_key(None, HAIKU), None);
        r.sticky.pin("conv", "a2");
        r.sticky.pin(&routed, "c2");
        assert_eq!(
            ids(&r.plan(&t, Some(&routed), HAIKU, 9)),
            ["c2", "c1", "a1", "a2", "b1"]
        );
        assert_eq!(
            ids(&r.plan(&t, Some("conv"), SONNET, 9)),
            ["a2", "a1", "b1"]
        );
    }
}
