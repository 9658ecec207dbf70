//! Everything qcc keeps on disk: where it lives ([`paths`]), what it means ([`model`], pure
//! types and domain rules with no IO; [`health`], the daemon's `health.json`), how secrets
//! are shown ([`secret`]), the user's prices ([`prices`]), the usage accounting's day files
//! ([`usage`]), the shared-state URL ([`shared`]), and the module that reads, locks and writes the documents ([`store`]).
//!
//! Nothing here prints to a terminal or knows about the CLI; the daemon and tests use it too.

pub mod claude;
pub mod health;
pub mod keyref;
pub mod limits;
pub mod model;
pub mod models;
pub mod paths;
pub mod prices;
pub mod score;
pub mod secret;
pub mod shared;
pub mod store;
pub mod usage;
pub mod validate;

pub use model::{Config, History, ModelError};
pub use paths::Paths;
pub use store::{Store, StoreError};
