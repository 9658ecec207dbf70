//! `weighted` (the default): smooth weighted round-robin (as nginx does it) on effective
//! weights (the configured ones, or scaled by health with `health.weight_adjust`). Every
//! pick, each available endpoint's current value grows by its weight; the largest wins and
//! is lowered by the total. Over any window the shares match the weights exactly, and picks
//! of one endpoint are spread out, not bunched.

use std::sync::{Mutex, PoisonError};

use crate::balance::{Load, front};

pub struct SmoothWeighted {
    current: Mutex<Vec<i64>>,
}

impl SmoothWeighted {
    pub fn new(endpoints: usize) -> Self {
        Self {
            current: Mutex::new(vec![0; endpoints]),
        }
    }

    pub fn order<L: Load>(&self, endpoints: &[L], available: &[usize]) -> Vec<usize> {
        // Effective weights: the configured ones, or scaled by health (`weight_adjust`).
        let weights: Vec<u32> = endpoints.iter().map(Load::weight).collect();
        let pick = {
            let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
            let total: i64 = available.iter().map(|&i| weights[i] as i64).sum();
            let mut best = available[0];
            for &i in available {
                current[i] += weights[i] as i64;
                if current[i] > current[best] {
                    best = i;
                }
            }
            current[best] -= total;
            best
        };
        // The rest, heaviest first, as fallbacks.
        let mut rest: Vec<usize> = available.to_vec();
        rest.sort_by_key(|&i| std::cmp::Reverse(weights[i]));
        front(rest, pick)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balance::tests::Fake;

    #[test]
    fn shares_match_the_weights_and_picks_are_spread() {
        let eps = [
            Fake::weighted(300),
            Fake::weighted(100),
            Fake::weighted(100),
        ];
        let w = SmoothWeighted::new(eps.len());
        let picks: Vec<usize> = (0..10).map(|_| w.order(&eps, &[0, 1, 2])[0]).collect();
        assert_eq!(picks, [0, 1, 0, 2, 0, 0, 1, 0, 2, 0]);
        // The rest follow by weight: a failover goes to the next heaviest.
        assert_eq!(w.order(&eps, &[1, 2])[1..].len(), 1);
        // A down endpoint's share spreads over the others.
        let picks: Vec<usize> = (0..4).map(|_| w.order(&eps, &[1, 2])[0]).collect();
        assert_eq!(picks.iter().filter(|&&p| p == 1).count(), 2);
    }
}
