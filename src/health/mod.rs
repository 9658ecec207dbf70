//! Endpoint health as the proxy sees it. [`breaker`]: the per-endpoint circuit breaker that
//! decides which endpoints are available. (Passive metrics live in `proxy::stats`; active
//! probes come later.)

pub mod breaker;
