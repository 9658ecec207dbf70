//! Choosing among a profile's endpoints. A [`Balancer`] orders the *available* endpoints of
//! one profile, best first; the proxy tries them in that order, so failing over is "take the
//! next one" whatever the strategy. Health filtering happens before (the breaker decides
//! what is available); stickiness after (a pinned conversation's endpoint moves to the
//! front). One small file per strategy.

pub mod fastest;
pub mod least_connections;
pub mod ordered;
pub mod random;
pub mod round_robin;
pub mod sticky;
pub mod weighted;

use std::sync::Arc;

use crate::proxy::routing::Upstream;
use crate::state::model::Strategy;

/// Per-profile balancing state for one routing snapshot.
pub enum Balancer {
    Weighted(weighted::SmoothWeighted),
    RoundRobin(round_robin::RoundRobin),
    LeastConnections(least_connections::LeastConnections),
    Fastest(fastest::Fastest),
    Ordered,
    Random,
}

impl Balancer {
    pub fn new(strategy: Strategy, endpoints: usize) -> Self {
        match strategy {
            Strategy::Weighted => Balancer::Weighted(weighted::SmoothWeighted::new(endpoints)),
            Strategy::RoundRobin => Balancer::RoundRobin(round_robin::RoundRobin::default()),
            Strategy::LeastConnections => {
                Balancer::LeastConnections(least_connections::LeastConnections::default())
            }
            Strategy::Fastest => Balancer::Fastest(fastest::Fastest),
            Strategy::Ordered => Balancer::Ordered,
            Strategy::Random => Balancer::Random,
        }
    }

    /// Order `available` (indexes into `endpoints`, ascending) best first.
    pub fn order(&self, endpoints: &[Arc<Upstream>], available: &[usize]) -> Vec<usize> {
        if available.len() <= 1 {
            return available.to_vec();
        }
        match self {
            Balancer::Weighted(w) => w.order(endpoints, available),
            Balancer::RoundRobin(r) => r.order(available),
            Balancer::LeastConnections(l) => l.order(endpoints, available),
            Balancer::Fastest(f) => f.order(endpoints, available),
            Balancer::Ordered => ordered::order(available),
            Balancer::Random => random::order(available),
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

/// Apply each endpoint's share (see `health::state::share`): an endpoint whose share is
/// below 1 keeps its place in `order` with that probability (`draw` yields uniform numbers
/// in [0, 1)) and otherwise moves behind the endpoints at full share — still a candidate,
/// only later. How a `recovering` endpoint's traffic ramps up, whatever the strategy.
pub fn apply_shares(
    order: Vec<usize>,
    share: impl Fn(usize) -> f64,
    mut draw: impl FnMut() -> f64,
) -> Vec<usize> {
    if order.iter().all(|&i| share(i) >= 1.0) {
        return order;
    }
    let (mut kept, mut later) = (Vec::with_capacity(order.len()), Vec::new());
    for i in order {
        let s = share(i);
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
mod tests {
    use super::*;

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
