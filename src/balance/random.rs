//! `random`: a uniformly random order of the available endpoints.

use rand::seq::SliceRandom;

pub fn order(available: &[usize]) -> Vec<usize> {
    let mut v = available.to_vec();
    v.shuffle(&mut rand::rng());
    v
}
