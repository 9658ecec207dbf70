//! `random`: a uniformly random order of the available endpoints.

use rand::seq::SliceRandom;

pub fn order(available: &[usize], rng: &mut impl rand::Rng) -> Vec<usize> {
    let mut v = available.to_vec();
    v.shuffle(rng);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balance::tests::seeded;

    #[test]
    fn every_endpoint_leads_about_equally_often() {
        let mut rng = seeded();
        let mut firsts = [0usize; 3];
        for _ in 0..3000 {
            let o = order(&[0, 1, 2], &mut rng);
            let mut sorted = o.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, [0, 1, 2], "a permutation");
            firsts[o[0]] += 1;
        }
        assert!(
            firsts.iter().all(|&n| (850..1150).contains(&n)),
            "{firsts:?}"
        );
    }
}
