//! `least-connections`: the endpoint with the fewest requests in flight; ties go round-robin
//! so that idle endpoints share the load.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::proxy::routing::Upstream;

#[derive(Default)]
pub struct LeastConnections {
    tie: AtomicUsize,
}

impl LeastConnections {
    pub fn order(&self, endpoints: &[Arc<Upstream>], available: &[usize]) -> Vec<usize> {
        let n = available.len();
        let start = self.tie.fetch_add(1, Ordering::Relaxed) % n;
        let mut v: Vec<usize> = (0..n).map(|k| available[(start + k) % n]).collect();
        // Stable: among equal loads the rotated order decides.
        v.sort_by_key(|&i| endpoints[i].stats.in_flight());
        v
    }
}
