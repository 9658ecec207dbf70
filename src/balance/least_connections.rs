//! `least-connections`: the endpoint with the fewest requests in flight; ties go round-robin
//! so that idle endpoints share the load.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::balance::Load;

#[derive(Default)]
pub struct LeastConnections {
    tie: AtomicUsize,
}

impl LeastConnections {
    pub fn order<L: Load>(&self, endpoints: &[L], available: &[usize]) -> Vec<usize> {
        let n = available.len();
        let start = self.tie.fetch_add(1, Ordering::Relaxed) % n;
        let mut v: Vec<usize> = (0..n).map(|k| available[(start + k) % n]).collect();
        // Stable: among equal loads the rotated order decides.
        v.sort_by_key(|&i| endpoints[i].in_flight());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balance::tests::Fake;

    #[test]
    fn fewest_in_flight_first_ties_in_turn() {
        let eps = [Fake::busy(3), Fake::busy(0), Fake::busy(0), Fake::busy(1)];
        let l = LeastConnections::default();
        let orders: Vec<Vec<usize>> = (0..3).map(|_| l.order(&eps, &[0, 1, 2, 3])).collect();
        assert_eq!(orders[0], [1, 2, 3, 0]);
        assert_eq!(orders[1], [1, 2, 3, 0]);
        assert_eq!(
            orders[2],
            [2, 1, 3, 0],
            "the tie between 1 and 2 goes in turn"
        );
        assert_eq!(l.order(&eps, &[0, 3]), [3, 0]);
    }
}
