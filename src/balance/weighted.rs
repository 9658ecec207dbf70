//! `weighted` (the default): smooth weighted round-robin (as nginx does it). Every pick, each
//! available endpoint's current value grows by its weight; the largest wins and is lowered
//! by the total. Over any window the shares match the weights exactly, and picks of one
//! endpoint are spread out, not bunched.

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
        let pick = {
            let mut current = self.current.lock().expect("balancer lock");
            let total: i64 = available.iter().map(|&i| endpoints[i].weight as i64).sum();
            let mut best = available[0];
            for &i in available {
                current[i] += endpoints[i].weight as i64;
                if current[i] > current[best] {
                    best = i;
                }
            }
            current[best] -= total;
            best
        };
        // The rest, heaviest first, as fallbacks.
        let mut rest: Vec<usize> = available.to_vec();
        rest.sort_by_key(|&i| std::cmp::Reverse(endpoints[i].weight));
        front(rest, pick)
    }
}
