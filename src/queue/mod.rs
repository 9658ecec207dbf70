//! The failure queue (docs/behavior.md §8): requests that failed on every candidate are kept
//! and replayed later.
//!
//! - [`model`]: the index document and the pure rules (enqueue, limits, claims, the retry
//!   schedule, outcomes) — no IO, no clock, unit-tested.
//! - [`store`]: the files — `queue/index.json` (locked, atomic, via the state store) and one
//!   file per request body and per stored response (0600); claim locks.
//!
//! Replaying (sending a stored request through the proxy's routing) is the proxy's:
//! [`crate::proxy::replay`]. This module depends on `state` only.

pub mod model;
pub mod store;

pub use model::{ItemState, QueueIndex, QueueItem};
pub use store::{QueueError, QueueStore};
