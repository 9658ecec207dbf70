//! `ordered`: the first available endpoint in list order; the others are fallbacks in order.

pub fn order(available: &[usize]) -> Vec<usize> {
    available.to_vec()
}
