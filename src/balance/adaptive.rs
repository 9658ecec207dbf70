//! `adaptive`: one score per available endpoint, the best first. Each factor is in 0..1,
//! 1 the best among the available endpoints:
//!
//! - `latency`: the lowest cost / this cost, where cost = peak-EWMA time to headers ×
//!   (requests in flight + 1), as `fastest` computes it; an endpoint without a sample yet
//!   costs nothing (so it is tried, and measured, first);
//! - `success`: the recent success rate (1 before any outcome);
//! - `cost`: the cheapest blended price / this one (see [`cost`](super::cost)); 0 without a
//!   price while another endpoint has one, 1 for all when none has;
//! - `weight`: the effective weight / the heaviest;
//! - `quota`: the remaining quota, `Upstream::quota_headroom`.
//!
//! score = state × Σ wᶠ·factorᶠ / Σ wᶠ, with the profile's factor weights wᶠ (`--score`)
//! and state the endpoint's share (1 healthy, less while recovering or degraded). The order
//! is by score, ties by weight, then list order: deterministic, so the fallbacks are the
//! next best. Stickiness is the router's: a running conversation stays on its endpoint.

use std::cmp::Reverse;
use std::sync::Arc;

use arc_swap::ArcSwapOption;

use crate::balance::Load;
use crate::report::status::EndpointScore;
use crate::state::score::ScoreWeights;

pub struct Adaptive {
    pub weights: ScoreWeights,
    /// The model last requested of the profile (what `proxy status` prices the endpoints
    /// for); swapped only when it changes.
    last_model: ArcSwapOption<String>,
}

/// One endpoint's factors (in [`crate::state::score::FACTORS`] order), state and score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score {
    pub factors: [f64; 5],
    pub state: f64,
    pub score: f64,
}

impl Score {
    pub fn report(&self, model: Option<String>) -> EndpointScore {
        let [latency, success, cost, weight, quota] = self.factors;
        let r = |v: f64| (v * 1000.0).round() / 1000.0;
        EndpointScore {
            score: r(self.score),
            latency: r(latency),
            success: r(success),
            cost: r(cost),
            weight: r(weight),
            quota: r(quota),
            state: r(self.state),
            model,
        }
    }
}

/// `best / value` in 0..1 for a smaller-is-better figure (`0 / 0` is 1).
fn relative(best: f64, value: f64) -> f64 {
    if value <= 0.0 {
        1.0
    } else {
        (best / value).clamp(0.0, 1.0)
    }
}

impl Adaptive {
    pub fn new(weights: ScoreWeights) -> Self {
        Self {
            weights,
            last_model: ArcSwapOption::empty(),
        }
    }

    /// Remember the model requested (a load, and a store only when it changed).
    pub fn note_model(&self, model: Option<&str>) {
        let Some(model) = model else { return };
        if self.last_model.load().as_deref().map(String::as_str) != Some(model) {
            self.last_model.store(Some(Arc::new(model.to_owned())));
        }
    }

    pub fn last_model(&self) -> Option<String> {
        self.last_model.load().as_deref().cloned()
    }

    /// The score of each of `available`, in that order.
    pub fn scores<L: Load>(&self, endpoints: &[L], available: &[usize]) -> Vec<Score> {
        let load = |i: usize| endpoints[i].latency_estimate_us() * (endpoints[i].in_flight() + 1);
        let best_load = available.iter().map(|&i| load(i)).min().unwrap_or(0) as f64;
        let best_price = available
            .iter()
            .filter_map(|&i| endpoints[i].price())
            .min_by(f64::total_cmp);
        let heaviest = available
            .iter()
            .map(|&i| endpoints[i].weight())
            .max()
            .unwrap_or(0);
        let w = self.weights.values();
        let total = self.weights.total();
        available
            .iter()
            .map(|&i| {
                let e = &endpoints[i];
                let cost = match (best_price, e.price()) {
                    (None, _) => 1.0,
                    (Some(_), None) => 0.0,
                    (Some(best), Some(p)) => relative(best, p),
                };
                let weight = if heaviest == 0 {
                    1.0
                } else {
                    e.weight() as f64 / heaviest as f64
                };
                let factors = [
                    relative(best_load, load(i) as f64),
                    e.success_rate().unwrap_or(1.0).clamp(0.0, 1.0),
                    cost,
                    weight,
                    e.headroom().clamp(0.0, 1.0),
                ];
                let state = e.state_share().clamp(0.0, 1.0);
                let sum: f64 = factors.iter().zip(w).map(|(f, w)| f * w).sum();
                let score = if total > 0.0 {
                    state * sum / total
                } else {
                    0.0
                };
                Score {
                    factors,
                    state,
                    score,
                }
            })
            .collect()
    }

    pub fn order<L: Load>(&self, endpoints: &[L], available: &[usize]) -> Vec<usize> {
        let scores = self.scores(endpoints, available);
        let mut ranked: Vec<(usize, f64)> = available
            .iter()
            .zip(&scores)
            .map(|(&i, s)| (i, s.score))
            .collect();
        // Stable: equal scores and weights keep list order.
        ranked.sort_by(|a, b| {
            b.1.total_cmp(&a.1).then_with(|| {
                Reverse(endpoints[a.0].weight()).cmp(&Reverse(endpoints[b.0].weight()))
            })
        });
        ranked.into_iter().map(|(i, _)| i).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balance::tests::Fake;

    fn only(name: &str) -> Adaptive {
        Adaptive::new(ScoreWeights::parse(&format!("{name}=1")).unwrap())
    }

    /// Endpoint 0 is fast, 1 succeeds, 2 is cheap, 3 is heavy, 4 has quota left; each
    /// is the worst on every other factor.
    fn contenders() -> [Fake; 5] {
        let worst = || Fake {
            weight: 10,
            in_flight: 0,
            latency_us: 900_000,
            success: Some(0.2),
            headroom: 0.1,
            share: 1.0,
            price: Some(50.0),
        };
        [
            Fake {
                latency_us: 1_000,
                ..worst()
            },
            Fake {
                success: Some(1.0),
                ..worst()
            },
            Fake {
                price: Some(1.0),
                ..worst()
            },
            Fake {
                weight: 1000,
                ..worst()
            },
            Fake {
                headroom: 1.0,
                ..worst()
            },
        ]
    }

    #[test]
    fn each_factor_moves_the_choice_when_its_weight_dominates() {
        let eps = contenders();
        let all = [0, 1, 2, 3, 4];
        for (winner, name) in ["latency", "success", "cost", "weight", "quota"]
            .into_iter()
            .enumerate()
        {
            assert_eq!(only(name).order(&eps, &all)[0], winner, "{name}");
            // Dominating, not alone: the others at a tenth each.
            let mixed = crate::state::score::FACTORS
                .iter()
                .map(|f| format!("{f}={}", if *f == name { 1.0 } else { 0.1 }))
                .collect::<Vec<_>>()
                .join(",");
            let a = Adaptive::new(ScoreWeights::parse(&mixed).unwrap());
            assert_eq!(a.order(&eps, &all)[0], winner, "{mixed}");
        }
    }

    #[test]
    fn the_score_is_the_weighted_mean_of_the_factors_times_the_state() {
        let eps = [
            Fake {
                latency_us: 100_000,
                price: Some(2.0),
                ..Fake::weighted(100)
            },
            Fake {
                latency_us: 200_000,
                price: Some(1.0),
                success: Some(0.5),
                ..Fake::weighted(50)
            },
        ];
        let a = Adaptive::new(ScoreWeights::default());
        let s = a.scores(&eps, &[0, 1]);
        // 0: latency 1, success 1, cost 0.5, weight 1, quota 1.
        assert_eq!(s[0].factors, [1.0, 1.0, 0.5, 1.0, 1.0]);
        assert!((s[0].score - (0.3 + 0.3 + 0.1 + 0.1 + 0.1)).abs() < 1e-9);
        // 1: latency 0.5, success 0.5, cost 1, weight 0.5, quota 1.
        assert_eq!(s[1].factors, [0.5, 0.5, 1.0, 0.5, 1.0]);
        assert!((s[1].score - (0.15 + 0.15 + 0.2 + 0.05 + 0.1)).abs() < 1e-9);
        assert_eq!(a.order(&eps, &[0, 1]), [0, 1]);
        // A recovering endpoint's score is scaled by its share.
        let mut eps = eps;
        eps[0].share = 0.5;
        assert_eq!(a.order(&eps, &[0, 1]), [1, 0]);
        let r = a.scores(&eps, &[0, 1])[0].report(Some("m".into()));
        assert_eq!((r.state, r.score), (0.5, 0.45));
    }

    #[test]
    fn unmeasured_and_unpriced_endpoints() {
        // Without a sample an endpoint costs nothing: tried first on latency.
        let eps = [Fake::timed(5_000, 0), Fake::timed(0, 0)];
        assert_eq!(only("latency").order(&eps, &[0, 1]), [1, 0]);
        // Unpriced is the worst cost while another has a price; no price anywhere: a tie,
        // decided by weight, then list order.
        let eps = [
            Fake::priced(None, 100),
            Fake::priced(Some(3.0), 100),
            Fake::priced(None, 200),
        ];
        assert_eq!(only("cost").order(&eps, &[0, 1, 2]), [1, 2, 0]);
        assert_eq!(only("cost").order(&eps, &[0, 2]), [2, 0]);
        // The model last asked for is kept for the status.
        let a = only("cost");
        assert_eq!(a.last_model(), None);
        a.note_model(Some("claude-x"));
        a.note_model(None);
        assert_eq!(a.last_model().as_deref(), Some("claude-x"));
    }
}
