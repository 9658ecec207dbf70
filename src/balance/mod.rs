//! Choosing among a profile's endpoints. A [`Balancer`] orders the *available* endpoints of
//! one profile, best first; the proxy tries them in that order, so failing over is "take the
//! next one" whatever the strategy. Health filtering happens before (the breaker decides
//! what is available); stickiness after (a pinned conversation's endpoint moves to the
//! front). One small file per strategy.
//!
//! Strategies see an endpoint only through [`Load`] (its weight, requests in flight,
//! latency estimate, success rate, quota headroom, state share and — for `cost` and
//! `adaptive`, wrapped in [`cost::Priced`] by the router — the price of the request's model
//! there) and take their randomness as an argument, so each has seeded unit tests without
//! a proxy.

pub mod adaptive;
pub mod cost;
pub mod fastest;
pub mod least_connections;
pub mod ordered;
pub mod random;
pub mod round_robin;
pub mod sticky;
pub mod weighted;

use std::sync::Arc;
use std::time::Instant;

use crate::state::model::Strategy;
use crate::state::score::ScoreWeights;
use crate::upstream::Upstream;

/// What a strategy may know of an endpoint. Every method is cheap and lock-free.
pub trait Load {
    /// The weight `weighted` uses (configured, or scaled by health).
    fn weight(&self) -> u32;
    /// Requests in flight now.
    fn in_flight(&self) -> u64;
    /// Peak-EWMA time to response headers in µs (0 before any sample).
    fn latency_estimate_us(&self) -> u64;
    /// Recent success rate, 0..1 (`None` before any outcome).
    fn success_rate(&self) -> Option<f64>;
    /// Remaining quota, 0..1 (`Upstream::quota_headroom`).
    fn headroom(&self) -> f64;
    /// The share its state gives it: 1 healthy, less while recovering or degraded.
    fn state_share(&self) -> f64;
    /// The blended price ($ per million tokens) of the request's model sent there (`None`:
    /// no price, or no request known — an endpoint alone is never priced; see
    /// [`cost::Priced`]).
    fn price(&self) -> Option<f64>;
}

impl Load for Upstream {
    fn weight(&self) -> u32 {
        self.effective_weight()
    }

    fn in_flight(&self) -> u64 {
        self.stats.in_flight()
    }

    fn latency_estimate_us(&self) -> u64 {
        self.stats.latency_estimate_us()
    }

    fn success_rate(&self) -> Option<f64> {
        self.stats.success_rate()
    }

    fn headroom(&self) -> f64 {
        self.quota_headroom()
    }

    fn state_share(&self) -> f64 {
        self.share(Instant::now())
    }

    fn price(&self) -> Option<f64> {
        None
    }
}

impl<T: Load + ?Sized> Load for Arc<T> {
    fn weight(&self) -> u32 {
        (**self).weight()
    }

    fn in_flight(&self) -> u64 {
        (**self).in_flight()
    }

    fn latency_estimate_us(&self) -> u64 {
        (**self).latency_estimate_us()
    }

    fn success_rate(&self) -> Option<f64> {
        (**self).success_rate()
    }

    fn headroom(&self) -> f64 {
        (**self).headroom()
    }

    fn state_share(&self) -> f64 {
        (**self).state_share()
    }

    fn price(&self) -> Option<f64> {
        (**self).price()
    }
}

/// Per-profile balancing state for one routing snapshot.
pub enum Balancer {
    Weighted(weighted::SmoothWeighted),
    RoundRobin(round_robin::RoundRobin),
    LeastConnections(least_connections::LeastConnections),
    Fastest(fastest::Fastest),
    Ordered,
    Random,
    Cost,
    Adaptive(adaptive::Adaptive),
}

impl Balancer {
    /// `score`: the factor weights, used by `adaptive` only.
    pub fn new(strategy: Strategy, endpoints: usize, score: ScoreWeights) -> Self {
        match strategy {
            Strategy::Weighted => Balancer::Weighted(weighted::SmoothWeighted::new(endpoints)),
            Strategy::RoundRobin => Balancer::RoundRobin(round_robin::RoundRobin::default()),
            Strategy::LeastConnections => {
                Balancer::LeastConnections(least_connections::LeastConnections::default())
            }
            Strategy::Fastest => Balancer::Fastest(fastest::Fastest),
            Strategy::Ordered => Balancer::Ordered,
            Strategy::Random => Balancer::Random,
            Strategy::Cost => Balancer::Cost,
            Strategy::Adaptive => Balancer::Adaptive(adaptive::Adaptive::new(score)),
        }
    }

    /// Whether it orders by the request's model's price: the router then hands it the
    /// endpoints [`cost::Priced`] (the others never pay for a price lookup).
    pub fn needs_prices(&self) -> bool {
        matches!(self, Balancer::Cost | Balancer::Adaptive(_))
    }

    /// Order `available` (indexes into `endpoints`, ascending) best first.
    pub fn order<L: Load>(&self, endpoints: &[L], available: &[usize]) -> Vec<usize> {
        self.order_with(endpoints, available, &mut rand::rng())
    }

    /// [`order`](Self::order) with the given randomness (`fastest`, `random`).
    pub fn order_with<L: Load>(
        &self,
        endpoints: &[L],
        available: &[usize],
        rng: &mut impl rand::Rng,
    ) -> Vec<usize> {
        if available.len() <= 1 {
            return available.to_vec();
        }
        match self {
            Balancer::Weighted(w) => w.order(endpoints, available),
            Balancer::RoundRobin(r) => r.order(available),
            Balancer::LeastConnections(l) => l.order(endpoints, available),
            Balancer::Fastest(f) => f.order(endpoints, available, rng),
            Balancer::Ordered => ordered::order(available),
            Balancer::Random => random::order(available, rng),
            Balancer::Cost => cost::order(endpoints, available),
            Balancer::Adaptive(a) => a.order(endpoints, available),
        }
    }
}

/// Move the element at `pick` to the front, keeping the others in order.
pub(crate) fn front(mut v: Vec<usize>, pick: usize) -> Vec<usize> {
    if let Some(pos) = v.iter().position(|&i| i == pick) {
        let chosen = v.remove(pos);
        v.insert(0, chosen);
    }
    v
}

/// Apply each endpoint's share (see `upstream::state::share`): an endpoint whose share is
/// below 1 keeps its place in `order` with that probability (`draw` yields uniform numbers
/// in [0, 1)) and otherwise moves behind the endpoints at full share — still a candidate,
/// only later. How a `recovering` endpoint's traffic ramps up, whatever the strategy.
pub fn apply_shares(
    order: Vec<usize>,
    share: impl Fn(usize) -> f64,
    mut draw: impl FnMut() -> f64,
) -> Vec<usize> {
    // Alone, an endpoint takes everything whatever its share.
    if order.len() <= 1 {
        return order;
    }
    let shares: Vec<f64> = order.iter().map(|&i| share(i)).collect();
    if shares.iter().all(|&s| s >= 1.0) {
        return order;
    }
    let (mut kept, mut later) = (Vec::with_capacity(order.len()), Vec::new());
    for (i, s) in order.into_iter().zip(shares) {
        if s >= 1.0 || draw() < s {
            kept.push(i);
        } else {
            later.push(i);
        }
    }
    kept.append(&mut later);
    kept
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::SeedableRng;

    /// An endpoint as a strategy sees it.
    pub(crate) struct Fake {
        pub weight: u32,
        pub in_flight: u64,
        pub latency_us: u64,
        pub success: Option<f64>,
        pub headroom: f64,
        pub share: f64,
        pub price: Option<f64>,
    }

    impl Fake {
        pub fn weighted(weight: u32) -> Self {
            Self {
                weight,
                in_flight: 0,
                latency_us: 0,
                success: None,
                headroom: 1.0,
                share: 1.0,
                price: None,
            }
        }

        pub fn priced(price: Option<f64>, weight: u32) -> Self {
            Self {
                price,
                ..Self::weighted(weight)
            }
        }

        pub fn busy(in_flight: u64) -> Self {
            Self {
                in_flight,
                ..Self::weighted(100)
            }
        }

        pub fn timed(latency_us: u64, in_flight: u64) -> Self {
            Self {
                latency_us,
                in_flight,
                ..Self::weighted(100)
            }
        }
    }

    impl Load for Fake {
        fn weight(&self) -> u32 {
            self.weight
        }

        fn in_flight(&self) -> u64 {
            self.in_flight
        }

        fn latency_estimate_us(&self) -> u64 {
            self.latency_us
        }

        fn success_rate(&self) -> Option<f64> {
            self.success
        }

        fn headroom(&self) -> f64 {
            self.headroom
        }

        fn state_share(&self) -> f64 {
            self.share
        }

        fn price(&self) -> Option<f64> {
            self.price
        }
    }

    /// The same random numbers every run.
    pub(crate) fn seeded() -> rand::rngs::StdRng {
        rand::rngs::StdRng::seed_from_u64(7)
    }

    #[test]
    fn one_available_endpoint_needs_no_strategy() {
        for s in Strategy::ALL {
            let b = Balancer::new(s, 3, ScoreWeights::default());
            let eps = [Fake::weighted(1), Fake::weighted(1), Fake::weighted(1)];
            assert_eq!(b.order_with(&eps, &[2], &mut seeded()), [2]);
            assert_eq!(b.order_with(&eps, &[], &mut seeded()), Vec::<usize>::new());
        }
    }

    #[test]
    fn shares_move_endpoints_back_in_proportion() {
        let mut seq = [0.05, 0.95, 0.3].into_iter().cycle();
        // Endpoint 0 has share 0.5: kept on a low draw, moved back on a high one.
        let share = |i: usize| if i == 0 { 0.5 } else { 1.0 };
        assert_eq!(
            apply_shares(vec![0, 1, 2], share, || seq.next().unwrap()),
            [0, 1, 2]
        );
        assert_eq!(
            apply_shares(vec![0, 1, 2], share, || seq.next().unwrap()),
            [1, 2, 0]
        );
        assert_eq!(
            apply_shares(vec![2, 0, 1], share, || seq.next().unwrap()),
            [2, 0, 1]
        );
        // Over many draws the kept fraction is the share.
        let mut x: u64 = 12345;
        let mut lcg = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        let kept = (0..10_000)
            .filter(|_| {
                apply_shares(vec![0, 1], |i| if i == 0 { 0.3 } else { 1.0 }, &mut lcg)[0] == 0
            })
            .count();
        assert!((2_800..3_200).contains(&kept), "{kept}");
        assert_eq!(apply_shares(vec![], |_| 0.0, || 0.0), Vec::<usize>::new());
    }
}
