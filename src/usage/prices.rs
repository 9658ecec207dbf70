//! What a request cost: the built-in list prices of Claude models (dated, with their
//! source), under the user's prices (`config.json` → `prices`: per endpoint, then per
//! model, then a multiplier of the list price per endpoint). A model in no table has no
//! price: its requests are counted as "no price", never as $0.

use crate::state::prices::{Price, Prices};
use crate::state::usage::Tokens;

/// When the built-in table was written, and from where.
pub const LIST_AS_OF: &str = "2025-11-24";
pub const LIST_SOURCE: &str = "https://docs.claude.com/en/docs/about-claude/pricing";

/// One row of the built-in table: the models a glob matches and their list price.
#[derive(Clone, Copy, Debug)]
pub struct ListPrice {
    pub pattern: &'static str,
    pub name: &'static str,
    pub price: Price,
}

/// Anthropic's list prices in US dollars per million tokens (cache writes 1.25× / 2× the
/// input price for 5 minutes / 1 hour, cache reads 0.1×), most specific first. The
/// long-context premium of Sonnet (inputs over 200k tokens) is not modelled.
pub const LIST: &[ListPrice] = &[
    ListPrice {
        pattern: "claude-opus-4-1*",
        name: "Claude Opus 4.1",
        price: Price::list(15.0, 75.0),
    },
    ListPrice {
        pattern: "claude-opus-4-0*",
        name: "Claude Opus 4",
        price: Price::list(15.0, 75.0),
    },
    ListPrice {
        pattern: "claude-opus-4-2025*",
        name: "Claude Opus 4",
        price: Price::list(15.0, 75.0),
    },
    ListPrice {
        pattern: "claude-opus-4*",
        name: "Claude Opus 4.5",
        price: Price::list(5.0, 25.0),
    },
    ListPrice {
        pattern: "claude-3-opus*",
        name: "Claude Opus 3",
        price: Price::list(15.0, 75.0),
    },
    ListPrice {
        pattern: "claude-sonnet-4*",
        name: "Claude Sonnet 4 / 4.5",
        price: Price::list(3.0, 15.0),
    },
    ListPrice {
        pattern: "claude-3-7-sonnet*",
        name: "Claude Sonnet 3.7",
        price: Price::list(3.0, 15.0),
    },
    ListPrice {
        pattern: "claude-3-5-sonnet*",
        name: "Claude Sonnet 3.5",
        price: Price::list(3.0, 15.0),
    },
    ListPrice {
        pattern: "claude-haiku-4*",
        name: "Claude Haiku 4.5",
        price: Price::list(1.0, 5.0),
    },
    ListPrice {
        pattern: "claude-3-5-haiku*",
        name: "Claude Haiku 3.5",
        price: Price::list(0.8, 4.0),
    },
    ListPrice {
        pattern: "claude-3-haiku*",
        name: "Claude Haiku 3",
        price: Price::list(0.25, 1.25),
    },
];

/// The list price of `model` (a provider prefix such as `anthropic/` is ignored).
pub fn list_price(model: &str) -> Option<&'static ListPrice> {
    let bare = model.rsplit('/').next().unwrap_or(model);
    LIST.iter()
        .find(|l| crate::state::models::glob_match(l.pattern, bare))
}

/// Where a price came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The endpoint's own rule.
    Endpoint,
    /// The user's rule for the model.
    User,
    /// The built-in list.
    List,
}

/// The prices in force: the user's over the list.
#[derive(Clone, Debug, Default)]
pub struct PriceBook {
    user: Prices,
}

impl PriceBook {
    pub fn new(user: &Prices) -> Self {
        Self { user: user.clone() }
    }

    /// The price of `model` served by `endpoint`, and where it came from.
    pub fn price(&self, endpoint: &str, model: &str) -> Option<(Price, Source)> {
        let (user, multiplier) = self.user.user_price(endpoint, model);
        let (price, source) = match (user, multiplier) {
            (Some(p), None) if self.endpoint_rule(endpoint, model) => (p, Source::Endpoint),
            (Some(p), _) => (p, Source::User),
            (None, _) => (list_price(model)?.price, Source::List),
        };
        match (source, multiplier) {
            (Source::Endpoint, _) | (_, None) => Some((price, source)),
            (_, Some(m)) => Some((price.times(m), source)),
        }
    }

    fn endpoint_rule(&self, endpoint: &str, model: &str) -> bool {
        self.user.endpoints.get(endpoint).is_some_and(|e| {
            e.models
                .iter()
                .any(|r| crate::state::models::glob_match(&r.model, model))
        })
    }

    /// What `tokens` of `model` at `endpoint` cost, in US dollars (`None`: no price).
    pub fn cost(&self, endpoint: &str, model: &str, tokens: &Tokens) -> Option<f64> {
        let (p, _) = self.price(endpoint, model)?;
        let per = |n: u64, usd: f64| n as f64 * usd / 1_000_000.0;
        Some(
            per(tokens.input, p.input)
                + per(tokens.output, p.output)
                + per(tokens.cache_write_5m, p.cache_write_5m())
                + per(tokens.cache_write_1h, p.cache_write_1h())
                + per(tokens.cache_read, p.cache_read()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::prices::{EndpointPrices, PriceRule};

    fn tokens() -> Tokens {
        Tokens {
            input: 1_000_000,
            output: 100_000,
            cache_write_5m: 200_000,
            cache_write_1h: 100_000,
            cache_read: 2_000_000,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn list_prices_match_dated_ids_aliases_and_provider_prefixes() {
        for (model, name) in [
            ("claude-sonnet-4-5-20250929", "Claude Sonnet 4 / 4.5"),
            ("claude-sonnet-4-5", "Claude Sonnet 4 / 4.5"),
            ("anthropic/claude-sonnet-4.5", "Claude Sonnet 4 / 4.5"),
            ("claude-opus-4-1-20250805", "Claude Opus 4.1"),
            ("claude-opus-4-20250514", "Claude Opus 4"),
            ("claude-opus-4-5-20251101", "Claude Opus 4.5"),
            ("claude-haiku-4-5", "Claude Haiku 4.5"),
            ("claude-3-5-haiku-latest", "Claude Haiku 3.5"),
        ] {
            assert_eq!(list_price(model).map(|l| l.name), Some(name), "{model}");
        }
        assert!(list_price("deepseek-chat").is_none());
        assert!(list_price("gpt-4.1").is_none());
    }

    #[test]
    fn cost_counts_every_token_kind_at_its_price() {
        let book = PriceBook::default();
        // Sonnet: 1M in × 3 + 0.1M out × 15 + 0.2M × 3.75 + 0.1M × 6 + 2M × 0.3.
        let c = book.cost("e1", "claude-sonnet-4-5", &tokens()).unwrap();
        assert!(close(c, 3.0 + 1.5 + 0.75 + 0.6 + 0.6), "{c}");
        assert_eq!(book.cost("e1", "deepseek-chat", &tokens()), None);
    }

    #[test]
    fn the_users_prices_come_first_and_multipliers_scale_the_list() {
        let mut user = Prices::default();
        user.models.push(PriceRule {
            model: "deepseek-*".into(),
            price: Price {
                cache_read: Some(0.07),
                ..Price::list(0.27, 1.1)
            },
        });
        user.endpoints.insert(
            "relay".into(),
            EndpointPrices {
                multiplier: Some(0.5),
                models: Vec::new(),
            },
        );
        user.endpoints.insert(
            "own".into(),
            EndpointPrices {
                multiplier: Some(10.0),
                models: vec![PriceRule {
                    model: "*".into(),
                    price: Price::list(1.0, 1.0),
                }],
            },
        );
        let book = PriceBook::new(&user);
        let only_in = Tokens {
            input: 1_000_000,
            ..Tokens::default()
        };
        let (p, s) = book.price("x", "deepseek-chat").unwrap();
        assert_eq!((p.input, p.cache_read(), s), (0.27, 0.07, Source::User));
        let relay = book.cost("relay", "claude-sonnet-4-5", &only_in).unwrap();
        assert!(close(relay, 1.5), "half of list: {relay}");
        let (_, s) = book.price("own", "claude-sonnet-4-5").unwrap();
        assert_eq!(s, Source::Endpoint);
        let own = book.cost("own", "claude-sonnet-4-5", &only_in).unwrap();
        assert!(close(own, 1.0), "its own rule, no multiplier: {own}");
    }
}
