//! The `prices` section of `config.json`: the user's prices, over the built-in table
//! (`usage::prices`): per model (globs, first match wins) and per endpoint (its own rules,
//! or a multiplier of the list price — relays often bill a multiple). Data and checks only.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::state::models::glob_match;

/// US dollars per million tokens. The cache prices default to Anthropic's ratios of the
/// input price (5-minute write 1.25×, 1-hour write 2×, read 0.1×).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_5m: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_1h: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<f64>,
}

impl Price {
    /// A price with the cache prices at Anthropic's ratios.
    pub const fn list(input: f64, output: f64) -> Self {
        Self {
            input,
            output,
            cache_write_5m: None,
            cache_write_1h: None,
            cache_read: None,
        }
    }

    pub fn cache_write_5m(&self) -> f64 {
        self.cache_write_5m.unwrap_or(self.input * 1.25)
    }

    pub fn cache_write_1h(&self) -> f64 {
        self.cache_write_1h.unwrap_or(self.input * 2.0)
    }

    pub fn cache_read(&self) -> f64 {
        self.cache_read.unwrap_or(self.input * 0.1)
    }

    /// Every figure scaled by `m`.
    pub fn times(&self, m: f64) -> Self {
        Self {
            input: self.input * m,
            output: self.output * m,
            cache_write_5m: Some(self.cache_write_5m() * m),
            cache_write_1h: Some(self.cache_write_1h() * m),
            cache_read: Some(self.cache_read() * m),
        }
    }

    fn check(&self) -> Result<(), PriceError> {
        let all = [
            Some(self.input),
            Some(self.output),
            self.cache_write_5m,
            self.cache_write_1h,
            self.cache_read,
        ];
        if all.into_iter().flatten().any(|v| !v.is_finite() || v < 0.0) {
            return Err(PriceError::Negative);
        }
        Ok(())
    }
}

/// A price for the models a glob matches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriceRule {
    pub model: String,
    #[serde(flatten)]
    pub price: Price,
}

/// One endpoint's prices.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointPrices {
    /// The list (or the user's global) price times this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiplier: Option<f64>,
    /// Its own prices, before anything else.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<PriceRule>,
}

impl EndpointPrices {
    pub fn is_empty(&self) -> bool {
        self.multiplier.is_none() && self.models.is_empty()
    }
}

/// `config.json` → `prices`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Prices {
    /// The user's prices per model (upstream model names), before the built-in table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<PriceRule>,
    /// Per endpoint id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoints: BTreeMap<String, EndpointPrices>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Prices {
    pub fn is_empty(&self) -> bool {
        self.models.is_empty() && self.endpoints.is_empty() && self.extra.is_empty()
    }
}

/// Why a price cannot be stored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PriceError {
    #[error("prices are US dollars per million tokens, finite and not negative")]
    Negative,
    #[error("a multiplier must be a positive number")]
    Multiplier,
    #[error("the model pattern '{0}' is empty or has spaces")]
    Pattern(String),
    #[error("the model pattern '{0}' appears twice")]
    Duplicate(String),
}

impl PriceError {
    pub fn hint(&self) -> &'static str {
        match self {
            PriceError::Negative => "e.g. --input 3 --output 15 (Claude Sonnet's list price)",
            PriceError::Multiplier => "e.g. --multiplier 1.2 for a relay billing 120 % of list",
            PriceError::Pattern(_) => "give a model name or glob, e.g. 'claude-sonnet-*'",
            PriceError::Duplicate(_) => "each pattern once: the first match wins",
        }
    }
}

fn check_rules(rules: &[PriceRule]) -> Result<(), PriceError> {
    for (i, r) in rules.iter().enumerate() {
        let p = r.model.trim();
        if p.is_empty() || p.chars().any(char::is_whitespace) {
            return Err(PriceError::Pattern(r.model.clone()));
        }
        if rules[..i].iter().any(|o| o.model == r.model) {
            return Err(PriceError::Duplicate(r.model.clone()));
        }
        r.price.check()?;
    }
    Ok(())
}

impl Prices {
    /// Check every rule and multiplier.
    pub fn check(&self) -> Result<(), PriceError> {
        check_rules(&self.models)?;
        for e in self.endpoints.values() {
            check_rules(&e.models)?;
            if let Some(m) = e.multiplier
                && (!m.is_finite() || m <= 0.0)
            {
                return Err(PriceError::Multiplier);
            }
        }
        Ok(())
    }

    /// The user's price for `model` at `endpoint`, and whether the endpoint's multiplier
    /// still applies (it does to the global rules and the built-in table, not to the
    /// endpoint's own rules). `None`: no user rule matches.
    pub fn user_price(&self, endpoint: &str, model: &str) -> (Option<Price>, Option<f64>) {
        let e = self.endpoints.get(endpoint);
        if let Some(r) = e
            .into_iter()
            .flat_map(|e| &e.models)
            .find(|r| glob_match(&r.model, model))
        {
            return (Some(r.price), None);
        }
        let multiplier = e.and_then(|e| e.multiplier);
        let global = self
            .models
            .iter()
            .find(|r| glob_match(&r.model, model))
            .map(|r| r.price);
        (global, multiplier)
    }
}
