//! Everything qcc keeps on disk: where it lives ([`paths`]), what it means ([`model`], pure
//! types and domain rules with no IO; [`health`], the daemon's `health.json`), how secrets
//! are shown ([`secret`]), and the one module that reads, locks and writes files
//! ([`store`]).
//!
//! Nothing here prints to a terminal or knows about the CLI; the daemon and tests use it too.

pub mod claude;
pub mod health;
pub mod keyref;
pub mod model;
pub mod models;
pub mod paths;
pub mod secret;
pub mod store;
pub mod validate;

pub use model::{Config, History, ModelError};
pub use paths::Paths;
pub use store::{Store, StoreError};
