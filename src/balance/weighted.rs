//! `weighted` (the default): smooth weighted round-robin (as nginx does it) on effective
//! weights (the configured ones, or scaled by health with `health.weight_adjust`). Every
//! pick, each available endpoint's current value grows by its weight; the largest wins and
//! is lowered by the total. Over any window the shares match the weights exactly, and picks
//! of one endpoint are spread out, not bunched.

use std::sync::{Arc, Mutex};

use crate::balance::front;
use crate::proxy::routing::Upstream;

pub struct SmoothWeighted {
    current: Mutex<Vec<i64>>,
}

impl SmoothWeighted {
    pub fn new(endpoints: usize) -> Self {
        Self {
            current: Mutex::new(vec![0; endpoints]),
        }
    }

    pub fn order(&self, endpoints: &[Arc<Upstream>], available: &[usize]) -> Vec<usize> {
        // Effective weights: the configured ones, or scaled by health (`weight_adjust`).
        let weights: Vec<u32> = endpoints.iter().map(|u| u.effective_weight()).collect();
        let pick = {
            let mut current = self.current.lock().expect("balancer lock");
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
