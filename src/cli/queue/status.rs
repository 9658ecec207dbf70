//! `qcc queue status`

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::cli::queue::store;
use crate::queue::{ItemState, QueueStore};
use crate::ui;

/// Show how many requests are queued in each state, the oldest one, the bytes stored, and
/// the running totals (enqueued, retried, succeeded, failed, evicted).
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc queue status
  qcc queue status --json | jq .counts.pending")]
pub struct Args {}

pub fn run(ctx: &Ctx, _args: &Args) -> Result<(), CliError> {
    let index = store(ctx)?.read()?;
    let count = |s: ItemState| index.items.iter().filter(|i| i.state == s).count();
    let oldest = index.items.iter().map(|i| i.created_at).min();
    let bytes = QueueStore::bytes(&index);
    let policy = ctx.config()?.queue;
    if ctx.json {
        ui::print_json(&serde_json::json!({
            "counts": {
                "pending": count(ItemState::Pending),
                "retrying": count(ItemState::Retrying),
                "succeeded": count(ItemState::Succeeded),
                "dead": count(ItemState::Dead),
            },
            "oldest": oldest,
            "bytes": bytes,
            "totals": index.totals,
            "mode": policy.mode,
            "auto_retry": policy.auto_retry,
        }));
        return Ok(());
    }
    println!(
        "pending {}, retrying {}, succeeded {}, dead {}  ({} items, {} bytes)",
        count(ItemState::Pending),
        count(ItemState::Retrying),
        count(ItemState::Succeeded),
        count(ItemState::Dead),
        index.items.len(),
        bytes
    );
    if let Some(o) = oldest {
        println!("oldest:  {}", o.format("%Y-%m-%d %H:%M:%S UTC"));
    }
    let t = &index.totals;
    println!(
        "totals:  {} enqueued, {} replays ({} succeeded, {} failed), {} evicted",
        t.enqueued, t.retried, t.succeeded, t.failed, t.evicted
    );
    println!(
        "policy:  queue {:?} requests, auto-retry {}",
        policy.mode,
        if policy.auto_retry { "on" } else { "off" }
    );
    Ok(())
}
