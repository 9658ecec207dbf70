//! The daemon's active health checks: which endpoints to probe and when, what a probe's
//! result does to the breaker, probes on demand (`qcc health check`), the health report,
//! and the dynamic weights.
//!
//! - By default only endpoints whose breaker is open or half-open are probed, every
//!   `health.interval_secs` (±10% jitter), so a healthy setup spends no tokens on probes;
//!   `health.probe_all_interval_secs` > 0 probes every enabled endpoint that often too.
//! - Never while the endpoint's own `retry-after` runs; never an endpoint whose key was
//!   rejected (until the key changes); one probe per endpoint at a time; at most
//!   `health.max_concurrency` at once; each within `health.probe_timeout_secs`.
//! - A passing probe closes the breaker (`Breaker::success`); a failing one counts as a
//!   failure (re-open / stay open). A half-open endpoint's probe takes the trial slot. After
//!   every probe the router re-evaluates tiers, so recovery needs no user request.
//! - Probe results go to the endpoint's probe history only: user-traffic figures never
//!   include probes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tokio::sync::Semaphore;

use crate::health::probe::{self, ProbeOutcome, ProbeTarget};
use crate::proxy::Proxy;
use crate::proxy::routing::RouteTable;
use crate::report::health::{EndpointHealth, HealthReport, ProbeReport};
use crate::report::status::BreakerState;
use crate::state::health::ProbeSource;
use crate::upstream::Upstream;
use crate::upstream::breaker::Admit;
use crate::upstream::metrics::weight_permille;
use crate::upstream::stats::LATENCY_WINDOW;

/// How often the scheduler looks for due probes.
const TICK: Duration = Duration::from_millis(250);

/// When an endpoint's next probe is due, and why.
#[derive(Clone, Copy, Debug)]
struct Due {
    source: ProbeSource,
    every: Duration,
    at: Instant,
}

/// The probe scheduler and its shared parts.
pub struct Monitor {
    proxy: Arc<Proxy>,
    client: crate::proxy::client::UpstreamClient,
    /// Bounds probes running at once (`health.max_concurrency`).
    slots: Semaphore,
    limit: Mutex<u32>,
    schedule: Mutex<HashMap<String, Due>>,
}

/// `d` ±10%.
fn jitter(d: Duration) -> Duration {
    d.mul_f64(rand::random_range(0.9..1.1))
}

impl Monitor {
    pub fn new(proxy: Arc<Proxy>) -> Result<Arc<Self>, String> {
        let table = proxy.routes();
        let client =
            crate::proxy::client::build(Duration::from_secs(table.settings.connect_timeout_secs))
                .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let limit = table.health.max_concurrency.max(1);
        Ok(Arc::new(Self {
            proxy,
            client,
            slots: Semaphore::new(limit as usize),
            limit: Mutex::new(limit),
            schedule: Mutex::new(HashMap::new()),
        }))
    }

    /// Run the scheduler (and the weight adjustment) forever.
    pub async fn run(self: Arc<Self>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut n: u64 = 0;
        loop {
            tick.tick().await;
            let table = self.proxy.routes();
            self.resize(table.health.max_concurrency);
            self.launch_due(&table, Instant::now());
            if n.is_multiple_of(4) && table.health.weight_adjust {
                adjust_weights(&table);
            }
            n += 1;
        }
    }

    /// Follow a changed `max_concurrency` (permits in use are taken back as they free up).
    fn resize(&self, want: u32) {
        let want = want.max(1);
        let mut cur = self
            .limit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if want > *cur {
            self.slots.add_permits((want - *cur) as usize);
            *cur = want;
        } else if want < *cur {
            let gone = self.slots.forget_permits((*cur - want) as usize);
            *cur -= gone as u32;
        }
    }

    /// Start the probes that are due now.
    fn launch_due(self: &Arc<Self>, table: &RouteTable, now: Instant) {
        let h = &table.health;
        let mut schedule = self
            .schedule
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        schedule.retain(|id, _| table.all.iter().any(|u| &u.id == id && u.enabled));
        for u in table.all.iter().filter(|u| u.enabled) {
            if u.breaker.key_rejected(u.key_fp()) {
                schedule.remove(&u.id);
                continue;
            }
            let closed = u.breaker.view(u.key_fp(), now).state == BreakerState::Closed;
            let (source, secs) = if !closed {
                (ProbeSource::Recovery, h.interval_secs)
            } else if h.probe_all_interval_secs > 0 {
                (ProbeSource::Interval, h.probe_all_interval_secs)
            } else {
                schedule.remove(&u.id);
                continue;
            };
            let every = Duration::from_secs(secs.max(1));
            let due = schedule.entry(u.id.clone()).or_insert(Due {
                source,
                every,
                at: now + jitter(every),
            });
            if due.source != source || due.every != every {
                // The breaker changed state or the interval was edited: start afresh.
                *due = Due {
                    source,
                    every,
                    at: now + jitter(every),
                };
            }
            if now < due.at || !u.breaker.probe_allowed(now) {
                continue;
            }
            let Some(slot) = u.stats.try_probe() else {
                continue;
            };
            // Pushed back again when the probe ends.
            due.at = now + every + Duration::from_secs(h.probe_timeout_secs);
            let this = self.clone();
            let u = u.clone();
            tokio::spawn(async move {
                let _slot = slot;
                this.probe(&u, source).await;
                let next = Instant::now() + jitter(every);
                if let Some(d) = this
                    .schedule
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .get_mut(&u.id)
                    && d.source == source
                {
                    d.at = next;
                }
            });
        }
    }

    /// Probe one endpoint now and apply the result.
    async fn probe(&self, u: &Arc<Upstream>, source: ProbeSource) -> ProbeOutcome {
        let _permit = self
            .slots
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let table = self.proxy.routes();
        let key = u.key.current();
        let Some(credential) = key.credential.clone() else {
            let why = key.error.clone().unwrap_or_default();
            return ProbeOutcome::not_sent(format!("key not available: {why}"));
        };
        let target = ProbeTarget {
            base_url: u.base_url.clone(),
            credential,
            // Asked as a client would ask it, so through the endpoint's model map.
            model: u.probe_model.clone().unwrap_or_else(|| {
                let m = &table.health.probe_model;
                crate::state::models::map(&u.models, m)
                    .unwrap_or(m)
                    .to_owned()
            }),
            chat_path: u.chat_path.clone(),
        };
        let timeout = Duration::from_secs(table.health.probe_timeout_secs.max(1));
        // A half-open endpoint: the probe is its trial (no user trial at the same time).
        let _trial = match u.breaker.admit(u.key_fp(), Instant::now()) {
            Admit::Trial(t) => Some(t),
            _ => None,
        };
        let outcome = probe::run(&self.client, &target, timeout).await;
        self.apply(u, &outcome, source, key.fp);
        outcome
    }

    /// What a probe's result does: breaker, history, tier evaluation.
    /// `fp`: the fingerprint of the key the probe sent (the slot may hold another by now).
    fn apply(&self, u: &Upstream, o: &ProbeOutcome, source: ProbeSource, fp: u64) {
        let table = self.proxy.routes();
        let now = Instant::now();
        let before = u.breaker.view(u.key_fp(), now).state;
        if o.passed {
            if u.breaker.key_rejected(fp) {
                // Only an explicit check probes a rejected key; it works now.
                u.breaker.clear_rejection();
            }
            u.breaker.success();
            if before != BreakerState::Closed {
                tracing::info!(endpoint = %u.id, "{source} probe passed: breaker closed");
            }
        } else {
            tracing::warn!(endpoint = %u.id, "{source} probe failed: {}", o.reason);
            if let Some(f) = &o.failure {
                u.key.heard(f);
                u.breaker.failure(f, table.breaker_policy(), fp, now);
            }
        }
        u.stats.record_probe(o.record(source));
        self.proxy.router.evaluate(&table, now);
    }

    /// `qcc health check`: probe one endpoint (id or unique prefix) or every enabled one
    /// now, within the concurrency bound, and report each result.
    pub async fn probe_now(&self, endpoint: Option<&str>) -> Result<Vec<ProbeReport>, String> {
        let table = self.proxy.routes();
        let targets: Vec<Arc<Upstream>> = match endpoint {
            Some(q) => vec![find(&table, q)?],
            None => table.all.iter().filter(|u| u.enabled).cloned().collect(),
        };
        let runs = targets.iter().map(|u| async move {
            // Keeps the scheduler from starting another probe of it meanwhile.
            let _slot = u.stats.try_probe();
            let o = self.probe(u, ProbeSource::Manual).await;
            let mut report = probe_report(u, &o);
            report.breaker = Some(u.breaker.view(u.key_fp(), Instant::now()).state.to_owned());
            report
        });
        Ok(join_all(runs).await)
    }

    /// Every endpoint's health and probe history, live.
    pub fn report(&self) -> HealthReport {
        let table = self.proxy.routes();
        let now = Instant::now();
        let mut endpoints = Vec::with_capacity(table.all.len());
        let mut history = BTreeMap::new();
        let mut states = BTreeMap::new();
        for u in &table.all {
            let snap = u.stats.snapshot(LATENCY_WINDOW);
            endpoints.push(EndpointHealth::new(
                u.identity(now),
                probe_model(u, &table),
                &snap,
                table.health.min_checks,
            ));
            history.insert(u.id.clone(), snap.probes);
            states.insert(u.id.clone(), snap.states);
        }
        HealthReport {
            live: true,
            as_of: Some(chrono::Utc::now()),
            endpoints,
            history,
            states,
        }
    }
}

/// The model probes ask `u`: its own, else the configured default.
pub(crate) fn probe_model(u: &Upstream, table: &RouteTable) -> String {
    u.probe_model
        .clone()
        .unwrap_or_else(|| table.health.probe_model.clone())
}

/// A probe's result for one upstream, as reported.
pub fn probe_report(u: &Upstream, o: &ProbeOutcome) -> ProbeReport {
    o.report(&u.id, &u.profile, &u.name, &u.base_url)
}

/// An endpoint by id, name or unique id prefix, by the rules of `Config::find_endpoint`
/// (the CLI sends exact ids; older CLIs sent what the user typed).
fn find(table: &RouteTable, query: &str) -> Result<Arc<Upstream>, String> {
    let typed = query.trim();
    let q = typed.to_ascii_lowercase();
    if let Some(u) = table.all.iter().find(|u| u.id == q) {
        return Ok(u.clone());
    }
    let listed = |us: &[&Arc<Upstream>]| {
        us.iter()
            .map(|u| format!("{} ({})", u.id, u.profile))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // `u.name` is the label: the endpoint's name, else its URL's host (which is no name).
    let is_named = |u: &Upstream| {
        let host = url::Url::parse(&u.base_url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned));
        !typed.is_empty()
            && u.name.eq_ignore_ascii_case(typed)
            && host.as_deref().unwrap_or(&u.base_url) != u.name
    };
    let named: Vec<&Arc<Upstream>> = table.all.iter().filter(|u| is_named(u)).collect();
    match named.as_slice() {
        [one] => return Ok((*one).clone()),
        [] => {}
        many => {
            return Err(format!(
                "endpoint name '{typed}' is ambiguous: it names {}",
                listed(many)
            ));
        }
    }
    let matches: Vec<&Arc<Upstream>> = table
        .all
        .iter()
        .filter(|u| !q.is_empty() && u.id.starts_with(&q))
        .collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(format!("no endpoint matches id or name '{query}'")),
        many => Err(format!(
            "endpoint id '{query}' is ambiguous: it matches {}",
            listed(many)
        )),
    }
}

/// Recompute every endpoint's weight factor from its recent success rate and latency,
/// relative to the best endpoint of its profile.
pub fn adjust_weights(table: &RouteTable) {
    let min = table.health.min_checks;
    for p in &table.profiles {
        let figures: Vec<(Option<f64>, usize, Option<f64>)> = p
            .endpoints
            .iter()
            .map(|u| {
                let (rate, n) = u.stats.recent_success_rate();
                let p50 = u
                    .stats
                    .first_byte_percentiles_ms()
                    .0
                    .or(u.stats.percentiles_ms().0);
                (rate, n, p50)
            })
            .collect();
        let best = figures
            .iter()
            .filter(|f| f.1 >= min.max(1) as usize)
            .filter_map(|f| f.2)
            .reduce(f64::min);
        for (u, (rate, n, p50)) in p.endpoints.iter().zip(figures) {
            u.stats
                .set_weight_permille(weight_permille(rate, n, p50, best, min));
        }
    }
}
