//! `fastest`: the lowest latency estimate, chosen by the power of two choices. Each
//! endpoint's estimate is a peak-EWMA of its time to response headers (jumps up at once on a
//! slow answer, decays slowly) times its requests in flight plus one; two random available
//! endpoints are compared and the cheaper wins, so that one slow sample does not starve an
//! endpoint forever and a burst does not all land on one. Endpoints without a sample yet
//! cost nothing, so they are tried first.

use std::sync::Arc;

use rand::RngExt;

use crate::balance::front;
use crate::proxy::routing::Upstream;

pub struct Fastest;

fn cost(u: &Upstream) -> u64 {
    u.stats.latency_estimate_us() * (u.stats.in_flight() + 1)
}

impl Fastest {
    pub fn order(&self, endpoints: &[Arc<Upstream>], available: &[usize]) -> Vec<usize> {
        // Two distinct random positions.
        let n = available.len();
        let mut rng = rand::rng();
        let i = rng.random_range(0..n);
        let mut j = rng.random_range(0..n - 1);
        if j >= i {
            j += 1;
        }
        let (a, b) = (available[i], available[j]);
        let pick = if cost(&endpoints[b]) < cost(&endpoints[a]) {
            b
        } else {
            a
        };
        let mut rest = available.to_vec();
        rest.sort_by_key(|&i| cost(&endpoints[i]));
        front(rest, pick)
    }
}
