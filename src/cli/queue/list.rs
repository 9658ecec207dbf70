//! `qcc queue list`

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::cli::queue::store;
use crate::queue::ItemState;
use crate::ui::views::QueueItemView;
use crate::ui::{self, table};

/// List queued requests, newest first.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc queue list
  qcc queue list --state dead -n 5
  qcc queue list --json | jq -r '.[] | select(.state == \"pending\") | .id'")]
pub struct Args {
    /// How many
    #[arg(short = 'n', long, default_value_t = 50, value_name = "N")]
    pub count: usize,
    /// Only items in this state
    #[arg(long, value_enum)]
    pub state: Option<ItemState>,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let index = store(ctx)?.read()?;
    let rows: Vec<QueueItemView> = index
        .items
        .iter()
        .rev()
        .filter(|i| args.state.is_none_or(|s| i.state == s))
        .take(args.count)
        .map(QueueItemView::from)
        .collect();
    if ctx.json {
        ui::print_json(&rows);
    } else if rows.is_empty() {
        println!("The queue is empty.");
    } else {
        println!("{}", table::queue_items(&rows));
    }
    Ok(())
}
