//! `fastest`: the lowest latency estimate, chosen by the power of two choices. Each
//! endpoint's estimate is a peak-EWMA of its time to response headers (jumps up at once on a
//! slow answer, decays slowly) times its requests in flight plus one; two random available
//! endpoints are compared and the cheaper wins, so that one slow sample does not starve an
//! endpoint forever and a burst does not all land on one. Endpoints without a sample yet
//! cost nothing, so they are tried first.

use rand::RngExt;

use crate::balance::{Load, front};

pub struct Fastest;

fn cost(u: &impl Load) -> u64 {
    u.latency_estimate_us() * (u.in_flight() + 1)
}

impl Fastest {
    pub fn order<L: Load>(
        &self,
        endpoints: &[L],
        available: &[usize],
        rng: &mut impl rand::Rng,
    ) -> Vec<usize> {
        // Two distinct random positions.
        let n = available.len();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balance::tests::{Fake, seeded};

    #[test]
    fn the_cheaper_of_two_random_choices_wins() {
        let eps = [
            Fake::timed(10_000, 0),
            Fake::timed(1_000, 0),
            Fake::timed(1_000, 4),
        ];
        let mut rng = seeded();
        let mut firsts = [0usize; 3];
        for _ in 0..300 {
            let order = Fastest.order(&eps, &[0, 1, 2], &mut rng);
            assert_eq!(order.len(), 3);
            firsts[order[0]] += 1;
        }
        // 1 (1 ms, idle) wins every pair it is in; 0 (10 ms) never beats 2 (1 ms × 5).
        assert_eq!(firsts[0], 0, "{firsts:?}");
        assert!(firsts[1] > firsts[2], "{firsts:?}");
        // Without a sample an endpoint costs nothing: it is tried first.
        let fresh = [Fake::timed(5_000, 0), Fake::timed(0, 0)];
        assert_eq!(Fastest.order(&fresh, &[0, 1], &mut rng)[0], 1);
    }
}
