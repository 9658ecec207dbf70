//! `ordered`: the first available endpoint in list order; the others are fallbacks in order.

pub fn order(available: &[usize]) -> Vec<usize> {
    available.to_vec()
}

#[cfg(test)]
mod tests {
    #[test]
    fn list_order() {
        assert_eq!(super::order(&[1, 3, 4]), [1, 3, 4]);
    }
}
