//! One endpoint's answered requests by profile, model and outcome, its tokens by kind and
//! its cost: the series behind `qcc_requests_total`, `qcc_tokens_total` and
//! `qcc_cost_dollars_total`, with the `model` label bounded.
//!
//! The first [`MAX_MODELS`] distinct models an endpoint answers get their own label; every
//! later one is counted as [`OTHER`]. A model name is cut to [`MAX_MODEL_LEN`] bytes; none
//! is [`UNKNOWN`]. Looking a model up is lock-free and allocates nothing (a read of an
//! `ArcSwap`ped table, a hash of the name); only a model (or profile) not seen before takes
//! the writer's mutex and copies the table, at most `MAX_MODELS + 1` times per endpoint.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use prometheus_client::metrics::counter::Counter;

use crate::metrics::{Families, ModelLabels, Outcome, RequestLabels, TokenLabels};
use crate::report::usage::Tokens;

/// Distinct models per endpoint with a label of their own.
pub const MAX_MODELS: usize = 64;
/// Longest model label, in bytes (cut at a character boundary).
pub const MAX_MODEL_LEN: usize = 96;
/// The label of the models past [`MAX_MODELS`].
pub const OTHER: &str = "other";
/// The label of a request whose model is not known.
pub const UNKNOWN: &str = "unknown";

/// Token kinds, in the order of [`token_counts`].
pub const TOKEN_KINDS: [&str; 5] = [
    "input",
    "output",
    "cache_write_5m",
    "cache_write_1h",
    "cache_read",
];

fn token_counts(t: &Tokens) -> [u64; 5] {
    [
        t.input,
        t.output,
        t.cache_write_5m,
        t.cache_write_1h,
        t.cache_read,
    ]
}

/// The label a model name gets (before the cap): cut to [`MAX_MODEL_LEN`], [`UNKNOWN`]
/// when empty.
pub fn model_label(model: &str) -> &str {
    let model = model.trim();
    if model.is_empty() {
        return UNKNOWN;
    }
    if model.len() <= MAX_MODEL_LEN {
        return model;
    }
    let mut end = MAX_MODEL_LEN;
    while !model.is_char_boundary(end) {
        end -= 1;
    }
    &model[..end]
}

/// Requests by outcome ([`Outcome::ALL`] order) of one profile.
type ByOutcome = Arc<[Counter; 5]>;

/// One model's series at one endpoint.
struct ModelSlot {
    model: Arc<str>,
    tokens: [Counter; 5],
    cost: Counter<f64, AtomicU64>,
    /// Requests by outcome ([`Outcome::ALL`] order), per profile (one, but for renames).
    by_profile: ArcSwap<Vec<(Arc<str>, ByOutcome)>>,
}

#[derive(Clone, Default)]
struct Table {
    models: HashMap<Box<str>, Arc<ModelSlot>>,
    /// [`MAX_MODELS`] models have their label: new ones are [`OTHER`].
    full: bool,
}

/// One endpoint's answers (see the module doc).
pub struct Answers {
    endpoint: Arc<str>,
    fam: Arc<Families>,
    table: ArcSwap<Table>,
    grow: Mutex<()>,
}

impl Answers {
    pub(crate) fn new(endpoint: &str, fam: Arc<Families>) -> Self {
        Self {
            endpoint: Arc::from(endpoint),
            fam,
            table: ArcSwap::from_pointee(Table::default()),
            grow: Mutex::new(()),
        }
    }

    /// Count one answered request.
    pub fn record(
        &self,
        profile: &str,
        model: &str,
        outcome: Outcome,
        tokens: &Tokens,
        cost_usd: Option<f64>,
    ) {
        let slot = self.slot(model);
        let by_outcome = {
            let profiles = slot.by_profile.load();
            match profiles.iter().find(|(p, _)| &**p == profile) {
                Some((_, c)) => c.clone(),
                None => {
                    drop(profiles);
                    self.add_profile(&slot, profile)
                }
            }
        };
        by_outcome[outcome as usize].inc();
        for (counter, n) in slot.tokens.iter().zip(token_counts(tokens)) {
            if n > 0 {
                counter.inc_by(n);
            }
        }
        if let Some(cost) = cost_usd.filter(|c| c.is_finite() && *c > 0.0) {
            slot.cost.inc_by(cost);
        }
    }

    /// The model label `model` is counted under (after the cap).
    pub fn label_of(&self, model: &str) -> Arc<str> {
        self.slot(model).model.clone()
    }

    fn slot(&self, model: &str) -> Arc<ModelSlot> {
        let label = model_label(model);
        let table = self.table.load();
        if let Some(slot) = table.models.get(label) {
            return slot.clone();
        }
        if table.full
            && let Some(other) = table.models.get(OTHER)
        {
            return other.clone();
        }
        drop(table);
        self.add_model(label)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.grow
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[cold]
    fn add_model(&self, label: &str) -> Arc<ModelSlot> {
        let _writer = self.lock();
        let current = self.table.load_full();
        if let Some(slot) = current.models.get(label) {
            return slot.clone();
        }
        let mut table = (*current).clone();
        let own = table.models.keys().filter(|k| &***k != OTHER).count();
        let label = if own >= MAX_MODELS { OTHER } else { label };
        if let Some(slot) = table.models.get(label) {
            // Only `other` can be there already.
            table.full = true;
            let slot = slot.clone();
            self.table.store(Arc::new(table));
            return slot;
        }
        let model: Arc<str> = Arc::from(label);
        let tokens = TOKEN_KINDS.map(|kind| {
            self.fam.tokens.get_or_create_owned(&TokenLabels {
                endpoint: self.endpoint.clone(),
                model: model.clone(),
                kind,
            })
        });
        let cost = self.fam.cost.get_or_create_owned(&ModelLabels {
            endpoint: self.endpoint.clone(),
            model: model.clone(),
        });
        let slot = Arc::new(ModelSlot {
            model,
            tokens,
            cost,
            by_profile: ArcSwap::from_pointee(Vec::new()),
        });
        table.models.insert(Box::from(label), slot.clone());
        let own = own + usize::from(label != OTHER);
        table.full = own >= MAX_MODELS && table.models.contains_key(OTHER);
        self.table.store(Arc::new(table));
        slot
    }

    #[cold]
    fn add_profile(&self, slot: &ModelSlot, profile: &str) -> ByOutcome {
        let _writer = self.lock();
        let current = slot.by_profile.load_full();
        if let Some((_, c)) = current.iter().find(|(p, _)| &**p == profile) {
            return c.clone();
        }
        let profile: Arc<str> = Arc::from(profile);
        let counters = Arc::new(Outcome::ALL.map(|o| {
            self.fam.requests.get_or_create_owned(&RequestLabels {
                profile: profile.clone(),
                endpoint: self.endpoint.clone(),
                model: slot.model.clone(),
                outcome: o.as_str(),
            })
        }));
        let mut next = (*current).clone();
        next.push((profile, counters.clone()));
        slot.by_profile.store(Arc::new(next));
        counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers() -> Answers {
        Answers::new("e7c1a0", Arc::new(Families::default()))
    }

    #[test]
    fn models_past_the_cap_are_other() {
        let a = answers();
        for i in 0..MAX_MODELS {
            assert_eq!(&*a.label_of(&format!("model-{i}")), format!("model-{i}"));
        }
        assert_eq!(&*a.label_of("one-too-many"), OTHER);
        assert_eq!(&*a.label_of("and-another"), OTHER);
        // The first ones keep their label.
        assert_eq!(&*a.label_of("model-0"), "model-0");
        assert_eq!(&*a.label_of("model-63"), "model-63");
        a.record("p", "late", Outcome::Success, &Tokens::default(), None);
        a.record("p", "later", Outcome::Success, &Tokens::default(), None);
        let other = a.slot(OTHER);
        let c = &other.by_profile.load()[0].1;
        assert_eq!(c[Outcome::Success as usize].get(), 2);
        assert_eq!(a.table.load().models.len(), MAX_MODELS + 1);
    }

    #[test]
    fn a_client_named_other_does_not_lift_the_cap() {
        let a = answers();
        a.label_of(OTHER);
        for i in 0..MAX_MODELS {
            a.label_of(&format!("m{i}"));
        }
        assert_eq!(&*a.label_of("new"), OTHER);
        assert!(a.table.load().full);
    }

    #[test]
    fn labels_are_cut_and_empty_is_unknown() {
        assert_eq!(model_label(""), UNKNOWN);
        assert_eq!(model_label("  "), UNKNOWN);
        assert_eq!(model_label("claude-sonnet-4-5"), "claude-sonnet-4-5");
        let long = "é".repeat(100);
        let cut = model_label(&long);
        assert!(cut.len() <= MAX_MODEL_LEN && cut.len() >= MAX_MODEL_LEN - 1);
        assert!(cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn tokens_and_outcomes_are_counted_per_profile() {
        let a = answers();
        let t = Tokens {
            input: 10,
            output: 5,
            cache_read: 7,
            ..Tokens::default()
        };
        a.record("work", "claude-x", Outcome::Success, &t, Some(0.25));
        a.record("work", "claude-x", Outcome::FailedStream, &t, None);
        a.record("renamed", "claude-x", Outcome::ClientError, &t, None);
        let slot = a.slot("claude-x");
        let profiles = slot.by_profile.load();
        assert_eq!(profiles.len(), 2);
        assert_eq!(profiles[0].1[Outcome::Success as usize].get(), 1);
        assert_eq!(profiles[0].1[Outcome::FailedStream as usize].get(), 1);
        assert_eq!(profiles[1].1[Outcome::ClientError as usize].get(), 1);
        let n: Vec<u64> = slot.tokens.iter().map(Counter::get).collect();
        assert_eq!(n, vec![30, 15, 0, 0, 21]);
        assert_eq!(slot.cost.get(), 0.25);
    }
}
