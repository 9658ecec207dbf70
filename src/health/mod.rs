//! Endpoint health, active side (the passive figures, breakers and state words are in
//! [`crate::upstream`]; the report shapes in [`crate::report::health`]).
//!
//! - [`probe`]: the conversational test (a tiny real conversation that must echo a nonce),
//!   used by `qcc health test` directly and by the daemon.
//! - [`monitor`]: the daemon's probe scheduler, probes on demand, the live health report
//!   and the dynamic weights.
//! - [`persist`]: `health.json` — saved periodically and at shutdown, loaded at start, read
//!   by the CLI when the daemon is down.
//!
//! Nothing here prints.

pub mod monitor;
pub mod persist;
pub mod probe;
