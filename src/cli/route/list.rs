//! `qcc route list`

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::ui::views::RouteView;
use crate::ui::{self, table};

/// Show the model routes in the order they are tried (the first match wins): position,
/// model glob, profile and its enabled endpoints.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc route list
  qcc route list --json | jq -r '.[].model'")]
pub struct Args {}

pub fn run(ctx: &Ctx, _args: &Args) -> Result<(), CliError> {
    let config = ctx.config()?;
    let rows = RouteView::all(&config);
    if ctx.json {
        ui::print_json(&rows);
    } else if rows.is_empty() {
        println!("No model routes. Add one with: qcc route add 'claude-haiku-*' <profile>");
    } else {
        println!("{}", table::routes(&rows));
    }
    Ok(())
}
