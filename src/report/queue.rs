//! `qcc queue retry | retry-all`: what a batch of replays did. Data only.

use serde::{Deserialize, Serialize};

use crate::queue::model::ItemState;

/// How one item's replay ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemResult {
    pub id: String,
    /// `succeeded`, `pending` (failed again, will be retried) or `dead`.
    pub state: ItemState,
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// What a batch did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RetrySummary {
    pub attempted: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub dead: usize,
    pub items: Vec<ItemResult>,
}
