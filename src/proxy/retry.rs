//! Which upstream outcomes may be retried on another endpoint (before the commit point),
//! and which go back to the client as they are. behavior.md §5.

use http::StatusCode;

/// What to do with an upstream answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Hand it to the client (success, or a client error that is not the endpoint's fault).
    Deliver,
    /// The endpoint failed: try the next candidate if there is one.
    Retry,
}

/// Classify a response status.
pub fn classify_status(status: StatusCode) -> Verdict {
    match status.as_u16() {
        401 | 402 | 403 | 408 | 429 | 500 | 502 | 503 | 504 | 529 => Verdict::Retry,
        _ => Verdict::Deliver,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_statuses() {
        for s in [401, 402, 403, 408, 429, 500, 502, 503, 504, 529] {
            assert_eq!(
                classify_status(StatusCode::from_u16(s).unwrap()),
                Verdict::Retry,
                "{s}"
            );
        }
        for s in [200, 201, 400, 404, 413, 422] {
            assert_eq!(
                classify_status(StatusCode::from_u16(s).unwrap()),
                Verdict::Deliver,
                "{s}"
            );
        }
    }
}
