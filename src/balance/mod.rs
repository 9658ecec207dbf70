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
