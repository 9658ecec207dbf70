//! The typed views every output of the proxy serialises: the control socket's answers,
//! `/_qcc/status` and `--json`. Data only — no IO, no computation beyond formatting —
//! depending on `state` and the queue's model alone, so that the wire format never depends
//! on the data plane.
//!
//! - [`status`]: `proxy status`, the endpoint identity (state word, breaker) every
//!   per-endpoint view starts with.
//! - [`health`]: health figures and histories, probe results.
//! - [`queue`]: what a batch of replays did.
//! - [`usage`]: token counts by kind, cost, and the series of the status page.

pub mod health;
pub mod queue;
pub mod status;
pub mod usage;
