//! `qcc priority history`

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::state::History;
use crate::ui::views::SwitchView;
use crate::ui::{self, table};

/// Show switch records, newest first: time, kind (manual, failover, recovery), from, to,
/// reason.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc priority history
  qcc priority history -n 5 --json")]
pub struct Args {
    /// How many records
    #[arg(short = 'n', long, default_value_t = 20, value_name = "N")]
    pub count: usize,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let history: History = ctx.store()?.read()?;
    let rows: Vec<SwitchView> = history.latest(args.count).map(SwitchView::from).collect();
    if ctx.json {
        ui::print_json(&rows);
    } else if rows.is_empty() {
        println!("No switches yet.");
    } else {
        println!("{}", table::history(&rows));
    }
    Ok(())
}
