//! Re-reading the config while the daemon runs: on a control request (every CLI write
//! sends one), on SIGHUP, and when `config.json` changes on disk (hand edits; checked once a
//! second). A config that fails to load or validate is refused: the old one stays in force
//! and the reason is kept for `proxy status` and written to the log. In-flight requests are
//! never affected: they keep the routing snapshot they started with.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::proxy::Proxy;
use crate::state::{Config, Store};

pub struct Reloader {
    store: Store,
    proxy: Arc<Proxy>,
    /// (mtime, len) of config.json as last loaded.
    seen: Mutex<Option<(SystemTime, u64)>>,
}

impl Reloader {
    pub fn new(store: Store, proxy: Arc<Proxy>) -> Self {
        let seen = Self::stamp(&store);
        Self {
            store,
            proxy,
            seen: Mutex::new(seen),
        }
    }

    fn stamp(store: &Store) -> Option<(SystemTime, u64)> {
        let m = std::fs::metadata(store.paths().document("config.json")).ok()?;
        Some((m.modified().ok()?, m.len()))
    }

    /// Load and apply the config now. The file IO runs on the blocking pool.
    pub async fn reload(self: &Arc<Self>, why: &str) -> Result<(), String> {
        let this = self.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            let stamp = Self::stamp(&this.store);
            let config = this.store.read::<Config>();
            if let Ok(c) = &config {
                // New or changed key references are read before the config is swapped in.
                this.proxy.router.prepare_keys(c);
            }
            (config, stamp)
        })
        .await
        .map_err(|e| format!("reload task failed: {e}"))?;
        let (config, stamp) = loaded;
        *self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = stamp;
        let result = config
            .map_err(|e| e.to_string())
            .and_then(|c| self.proxy.apply(&c).map_err(|e| e.to_string()));
        match &result {
            Ok(()) => {
                tracing::info!(
                    serving = %self.proxy.router.tier_state().serving,
                    endpoints = self.proxy.routes().all.len(),
                    "config reloaded ({why})"
                );
                self.proxy.set_config_error(None);
            }
            Err(e) => {
                tracing::error!("config reload refused ({why}); keeping the previous one: {e}");
                self.proxy.set_config_error(Some(e.clone()));
            }
        }
        result
    }

    /// Reload whenever config.json's mtime or size changes.
    pub async fn watch(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let path = self.store.paths().document("config.json");
            let now = tokio::fs::metadata(&path)
                .await
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())));
            let changed = now
                != *self
                    .seen
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            if changed {
                let _ = self.reload("config.json changed").await;
            }
        }
    }
}
