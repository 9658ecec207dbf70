//! Endpoint health.
//!
//! - [`breaker`]: the per-endpoint circuit breaker that decides which endpoints are
//!   available.
//! - [`probe`]: the conversational test (a tiny real conversation that must echo a nonce),
//!   used by `qcc health test` directly and by the daemon.
//! - [`monitor`]: the daemon's probe scheduler, probes on demand, the live health report
//!   and the dynamic weights.
//! - [`state`]: the one state word of an endpoint (healthy, degraded, open, …), the
//!   `degraded` thresholds and the share of new conversations each state gets.
//! - [`metrics`]: success rate, percentiles, stability score and weight factor, and the
//!   report shapes shared by the control socket and `--json`.
//! - [`persist`]: `health.json` — saved periodically and at shutdown, loaded at start, read
//!   by the CLI when the daemon is down.
//!
//! Passive figures (from real traffic) are counted in `proxy::stats`; nothing here prints.

pub mod breaker;
pub mod metrics;
pub mod monitor;
pub mod persist;
pub mod probe;
pub mod state;
