//! `qcc queue show <id>`

use std::io::Write;

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::cli::queue::store;
use crate::ui::views::QueueItemView;
use crate::ui::{self, table};

/// Show a queued request's metadata; with --response, print the stored response body
/// exactly as the upstream sent it (for a stream, the raw SSE).
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc queue show q7f3a9c2e
  qcc queue show q7f3 --response > answer.json")]
pub struct Args {
    /// Queue id (or a unique prefix)
    pub id: String,
    /// Print the stored response body
    #[arg(long)]
    pub response: bool,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let queue = store(ctx)?;
    let item = queue.find(&args.id)?;
    if args.response {
        let body = queue.response(&item)?;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&body);
        let _ = out.flush();
        return Ok(());
    }
    if ctx.json {
        let mut v = serde_json::to_value(QueueItemView::from(&item)).expect("serializable");
        v["headers"] = serde_json::to_value(&item.headers).expect("serializable");
        ui::print_json(&v);
        return Ok(());
    }
    println!("{}", table::queue_items(&[QueueItemView::from(&item)]));
    println!("headers kept (credentials are never stored):");
    for (k, v) in &item.headers {
        println!("  {k}: {v}");
    }
    Ok(())
}
