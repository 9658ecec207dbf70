//! `cost`: the cheapest endpoint for the requested model. An endpoint's price is that of
//! the model it would be sent (its model map applied), from the price book (the user's
//! rules, the endpoint's multiplier, the list), blended 3 : 1 input to output per million
//! tokens — Claude Code sends far more than it gets back. Endpoints without a price for that
//! model come after the priced ones; ties go to the heavier endpoint, then list order. The
//! rest follow in the same order, so failing over goes to the next cheapest.

use std::cmp::Reverse;

use crate::balance::Load;
use crate::state::models::{ModelRule, map};
use crate::state::prices::Price;
use crate::usage::PriceBook;

/// Input tokens per output token in the blend.
pub const INPUT_PARTS: f64 = 3.0;

/// The representative price ($ per million tokens) strategies compare:
/// (3 × input + output) / 4.
pub fn blended(p: &Price) -> f64 {
    (INPUT_PARTS * p.input + p.output) / (INPUT_PARTS + 1.0)
}

/// The blended price of `requested` at the endpoint `id` with model map `models` (`None`:
/// no model, or no price for the model it would be sent).
pub fn price_for(
    book: &PriceBook,
    id: &str,
    models: &[ModelRule],
    requested: Option<&str>,
) -> Option<f64> {
    let requested = requested?;
    let sent = map(models, requested).unwrap_or(requested);
    book.price(id, sent).map(|(p, _)| blended(&p))
}

/// An endpoint with the price of the request's model there: what `cost` and `adaptive`
/// are given (an endpoint alone does not know the request).
pub struct Priced<'a, L> {
    pub endpoint: &'a L,
    pub price: Option<f64>,
}

impl<L: Load> Load for Priced<'_, L> {
    fn weight(&self) -> u32 {
        self.endpoint.weight()
    }

    fn in_flight(&self) -> u64 {
        self.endpoint.in_flight()
    }

    fn latency_estimate_us(&self) -> u64 {
        self.endpoint.latency_estimate_us()
    }

    fn success_rate(&self) -> Option<f64> {
        self.endpoint.success_rate()
    }

    fn headroom(&self) -> f64 {
        self.endpoint.headroom()
    }

    fn state_share(&self) -> f64 {
        self.endpoint.state_share()
    }

    fn price(&self) -> Option<f64> {
        self.price
    }
}

pub fn order<L: Load>(endpoints: &[L], available: &[usize]) -> Vec<usize> {
    let mut v = available.to_vec();
    // Stable: equal price and weight keep list order.
    v.sort_by(|&a, &b| {
        let (pa, pb) = (endpoints[a].price(), endpoints[b].price());
        pa.is_none()
            .cmp(&pb.is_none())
            .then_with(|| pa.unwrap_or(0.0).total_cmp(&pb.unwrap_or(0.0)))
            .then_with(|| Reverse(endpoints[a].weight()).cmp(&Reverse(endpoints[b].weight())))
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balance::tests::Fake;
    use crate::state::prices::{EndpointPrices, PriceRule, Prices};

    #[test]
    fn cheapest_priced_first_unpriced_last_ties_by_weight() {
        let eps = [
            Fake::priced(None, 100),
            Fake::priced(Some(9.0), 100),
            Fake::priced(Some(2.0), 100),
            Fake::priced(Some(9.0), 300),
            Fake::priced(None, 500),
        ];
        assert_eq!(order(&eps, &[0, 1, 2, 3, 4]), [2, 3, 1, 4, 0]);
        // Only what is available; the cheapest gone, the next cheapest leads.
        assert_eq!(order(&eps, &[0, 1, 3]), [3, 1, 0]);
        // Equal price and weight: list order.
        let same = [Fake::priced(Some(1.0), 100), Fake::priced(Some(1.0), 100)];
        assert_eq!(order(&same, &[0, 1]), [0, 1]);
    }

    #[test]
    fn the_price_is_of_the_model_sent_blended_three_to_one() {
        let mut user = Prices::default();
        user.endpoints.insert(
            "half".into(),
            EndpointPrices {
                multiplier: Some(0.5),
                models: Vec::new(),
            },
        );
        user.models.push(PriceRule {
            model: "deepseek-*".into(),
            price: Price::list(0.4, 1.6),
        });
        let book = PriceBook::new(&user);
        let sonnet = Some("claude-sonnet-4-5");
        // Sonnet's list price 3 / 15: (9 + 15) / 4 = 6; at half price 3.
        assert_eq!(price_for(&book, "x", &[], sonnet), Some(6.0));
        assert_eq!(price_for(&book, "half", &[], sonnet), Some(3.0));
        // Mapped to a model with the user's price: (1.2 + 1.6) / 4 = 0.7.
        let rules = vec!["claude-*=deepseek-chat".parse::<ModelRule>().unwrap()];
        let p = price_for(&book, "x", &rules, sonnet).unwrap();
        assert!((p - 0.7).abs() < 1e-9, "{p}");
        // No price for the model sent, or no model at all.
        assert_eq!(price_for(&book, "x", &[], Some("gpt-4.1")), None);
        assert_eq!(price_for(&book, "x", &[], None), None);
    }
}
