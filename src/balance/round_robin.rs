//! `round-robin`: each available endpoint in turn, whatever its weight.

use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Default)]
pub struct RoundRobin {
    next: AtomicUsize,
}

impl RoundRobin {
    pub fn order(&self, available: &[usize]) -> Vec<usize> {
        let n = available.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        (0..n).map(|k| available[(start + k) % n]).collect()
    }
}
