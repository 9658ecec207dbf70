//! `qcc queue retry <id>`

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::cli::queue::{replay, report, store};

/// Replay one queued request now (pending or dead), through the daemon if it runs, else
/// right here through the same routing. Exits 1 if it failed again.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc queue retry q7f3a9c2e")]
pub struct Args {
    /// Queue id (or a unique prefix)
    pub id: String,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let item = store(ctx)?.find(&args.id)?;
    let summary = replay(ctx, Some(vec![item.id.clone()]), |_, _| {})?;
    if summary.attempted == 0 {
        return Err(CliError::failed(
            format!("{} is {}: nothing to retry", item.id, item.state),
            Some("only pending and dead items can be retried".into()),
        ));
    }
    report(ctx, &summary)
}
