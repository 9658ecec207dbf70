//! `qcc queue clear`

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::cli::queue::store;
use crate::queue::ItemState;
use crate::ui::{self, style};

/// Remove queued requests (all, or those in one state) and their stored bodies and
/// responses. Asks twice on a terminal; without one, pass --yes.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc queue clear --state succeeded --yes
  qcc queue clear")]
pub struct Args {
    /// Only items in this state
    #[arg(long, value_enum)]
    pub state: Option<ItemState>,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let queue = store(ctx)?;
    let index = queue.read()?;
    let n = index
        .items
        .iter()
        .filter(|i| args.state.is_none_or(|s| i.state == s))
        .count();
    let what = match args.state {
        Some(s) => format!("the {n} {s} queued request(s)"),
        None => format!("all {n} queued request(s)"),
    };
    if !ctx.yes {
        ctx.confirm(&format!("Remove {what}?"), &format!("removing {what}"))?;
        ctx.confirm(
            "They cannot be replayed afterwards. Really remove them?",
            &format!("removing {what}"),
        )?;
    }
    let gone = queue.clear(args.state)?;
    if ctx.json {
        ui::print_json(&serde_json::json!({ "removed": gone }));
    } else {
        style::success(&format!("removed {} queued request(s)", gone.len()));
    }
    Ok(())
}
