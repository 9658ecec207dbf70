//! Keeping health figures across daemon restarts: the daemon writes `health.json` every
//! [`SAVE_EVERY`] and once more at shutdown (after the drain), and loads it at start.
//! Writes go through the [`Store`] (locked, atomic) on the blocking pool, never on the
//! request path. The daemon is the only writer; the CLI reads the file when the daemon is
//! down (see [`offline_report`]).
//!
//! Breakers are not restored: a restarted daemon gives every endpoint a fresh chance (real
//! traffic re-opens a failing one within `failure_threshold` requests).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::proxy::Proxy;
use crate::report::health::{EndpointHealth, HealthReport};
use crate::report::status::{BreakerState, EndpointIdentity};
use crate::state::health::{EndpointSnapshot, EndpointState, HealthDoc};
use crate::state::{Config, Store, StoreError};
use crate::upstream::stats::PERSISTED_WINDOW;

/// How often the daemon saves `health.json`.
pub const SAVE_EVERY: Duration = Duration::from_secs(30);

/// Every endpoint's figures now, as `health.json` keeps them.
pub fn snapshot(proxy: &Proxy) -> BTreeMap<String, EndpointSnapshot> {
    let table = proxy.routes();
    let now = Instant::now();
    table
        .all
        .iter()
        .map(|u| {
            let who = u.identity(now);
            let mut s = u.stats.snapshot(PERSISTED_WINDOW);
            s.breaker = Some(who.breaker.to_string());
            s.consecutive_failures = who.consecutive_failures;
            s.effective_weight = Some(who.effective_weight);
            (u.id.clone(), s)
        })
        .collect()
}

/// Write `endpoints` to `health.json` (blocking: call on the blocking pool).
pub fn write(
    store: &Store,
    endpoints: BTreeMap<String, EndpointSnapshot>,
) -> Result<(), StoreError> {
    store.update(|doc: &mut HealthDoc| {
        doc.saved_at = Some(chrono::Utc::now());
        doc.pid = Some(std::process::id());
        doc.endpoints = endpoints;
        Ok::<_, StoreError>(())
    })
}

/// Snapshot now and write it on the blocking pool.
pub async fn save(proxy: &Proxy, store: &Store) {
    let endpoints = snapshot(proxy);
    let store = store.clone();
    match tokio::task::spawn_blocking(move || write(&store, endpoints)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!("cannot save health.json: {e}"),
        Err(e) => tracing::error!("saving health.json failed: {e}"),
    }
}

/// Save every [`SAVE_EVERY`], forever.
pub async fn run(proxy: Arc<Proxy>, store: Store) {
    let mut tick = tokio::time::interval(SAVE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        save(&proxy, &store).await;
    }
}

/// Carry the figures of `health.json` on into this daemon (at start, before serving).
/// Returns how many endpoints had saved figures.
pub fn restore(proxy: &Proxy, store: &Store) -> Result<usize, StoreError> {
    let doc: HealthDoc = store.read()?;
    let table = proxy.routes();
    let mut n = 0;
    for u in &table.all {
        if let Some(s) = doc.endpoints.get(&u.id) {
            u.stats.restore(s);
            n += 1;
        }
    }
    Ok(n)
}

/// The last known health, from `health.json`, for the endpoints in `config` (the daemon is
/// not running). Breakers are as last seen.
pub fn offline_report(config: &Config, doc: &HealthDoc) -> HealthReport {
    let mut endpoints = Vec::new();
    let mut history = BTreeMap::new();
    let mut states = BTreeMap::new();
    let empty = EndpointSnapshot::default();
    for (p, e) in config.endpoints() {
        let snap = doc.endpoints.get(&e.id).unwrap_or(&empty);
        let weight = u32::from(e.weight);
        let who = EndpointIdentity {
            id: e.id.clone(),
            profile: p.name.clone(),
            name: e.label(),
            url: e.url.clone(),
            enabled: e.enabled,
            state: match (e.enabled, snap.state, snap.breaker.as_deref()) {
                (false, _, _) => EndpointState::Disabled,
                (true, Some(state), _) => state,
                (true, None, Some("open")) => EndpointState::Open,
                (true, None, Some("half-open")) => EndpointState::HalfOpen,
                (true, None, _) => EndpointState::Healthy,
            },
            breaker: match (e.enabled, snap.breaker.as_deref()) {
                (false, _) => BreakerState::Disabled,
                (true, Some("open")) => BreakerState::Open,
                (true, Some("half-open")) => BreakerState::HalfOpen,
                // A daemon starts with closed breakers.
                (true, _) => BreakerState::Closed,
            },
            cooldown_left_secs: None,
            unavailable: (!e.enabled).then(|| "disabled".to_owned()),
            consecutive_failures: snap.consecutive_failures,
            weight,
            effective_weight: snap.effective_weight.unwrap_or(weight),
            limited_until: None,
        };
        let probe_model = e
            .probe_model
            .clone()
            .unwrap_or_else(|| config.health.probe_model.clone());
        endpoints.push(EndpointHealth::new(
            who,
            probe_model,
            snap,
            config.health.min_checks,
        ));
        history.insert(e.id.clone(), snap.probes.clone());
        states.insert(e.id.clone(), snap.states.clone());
    }
    HealthReport {
        live: false,
        as_of: doc.saved_at,
        endpoints,
        history,
        states,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::model::{AuthStyle, NewEndpoint, Strategy};
    use crate::state::secret::Secret;

    #[test]
    fn offline_reports_cover_configured_endpoints_only() {
        let mut c = Config::default();
        c.add_profile("work", None, Strategy::Weighted, chrono::Utc::now())
            .unwrap();
        let id = c
            .add_endpoint(
                "work",
                NewEndpoint {
                    name: None,
                    url: "https://a.example".into(),
                    key: crate::state::model::Credential::Value(Secret::new("sk-0123456789abcdef")),
                    auth: AuthStyle::ApiKey,
                    weight: 100,
                    models: Vec::new(),
                    kind: Default::default(),
                    chat_path: None,
                },
                || "abc123".into(),
            )
            .unwrap()
            .id
            .clone();
        let mut doc = HealthDoc::default();
        doc.endpoints.insert(
            id.clone(),
            EndpointSnapshot {
                requests: 2,
                successes: 2,
                recent: vec![true, true],
                breaker: Some("open".into()),
                ..Default::default()
            },
        );
        doc.endpoints
            .insert("gone00".into(), EndpointSnapshot::default());
        let r = offline_report(&c, &doc);
        assert!(!r.live);
        assert_eq!(r.endpoints.len(), 1);
        assert_eq!(r.endpoints[0].endpoint.breaker, BreakerState::Open);
        assert_eq!(r.endpoints[0].endpoint.state, EndpointState::Open);
        assert_eq!(r.endpoints[0].success_rate, Some(1.0));
        assert_eq!(r.endpoints[0].probe_model, "claude-haiku-4-5");
    }
}
