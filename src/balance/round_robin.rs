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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_in_turn_over_the_available_ones() {
        let r = RoundRobin::default();
        let firsts: Vec<usize> = (0..4).map(|_| r.order(&[0, 2, 5])[0]).collect();
        assert_eq!(firsts, [0, 2, 5, 0]);
        assert_eq!(
            r.order(&[0, 2, 5]),
            [2, 5, 0],
            "the rest follow as fallbacks"
        );
    }
}
