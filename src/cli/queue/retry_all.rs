//! `qcc queue retry-all`

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::cli::queue::{replay, report};

/// Replay every pending request now, whatever its schedule — what to run after an outage.
/// The daemon does the work when it runs; otherwise it happens here, through the same
/// routing, with a progress bar. Two runs at once never send the same request twice.
/// Exits 1 if any request still failed.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc queue retry-all
  qcc queue retry-all --json | jq .succeeded")]
pub struct Args {}

pub fn run(ctx: &Ctx, _args: &Args) -> Result<(), CliError> {
    let bar = crate::ui::progress::Progress::new(ctx.json, "replaying");
    let summary = replay(ctx, None, |_, total| bar.step(total))?;
    bar.finish();
    report(ctx, &summary)
}
