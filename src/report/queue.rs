//! `qcc queue retry | retry-all`: what a batch of replays did; the queue's counts by state
//! (`proxy status`, the status page). Data only.

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

/// The failure queue's items by state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCounts {
    pub pending: usize,
    pub retrying: usize,
    pub succeeded: usize,
    pub dead: usize,
}

impl QueueCounts {
    pub fn of(index: &crate::queue::QueueIndex) -> Self {
        let count = |s: ItemState| index.items.iter().filter(|i| i.state == s).count();
        Self {
            pending: count(ItemState::Pending),
            retrying: count(ItemState::Retrying),
            succeeded: count(ItemState::Succeeded),
            dead: count(ItemState::Dead),
        }
    }
}
