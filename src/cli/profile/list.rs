//! `qcc profile list`

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::ui::{self, table, views::ProfileView};

/// List profiles: active marker (*), tier, strategy, enabled/total endpoints.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc profile list
  qcc profile list --json | jq -r '.[].name'")]
pub struct Args {}

pub fn run(ctx: &Ctx, _args: &Args) -> Result<(), CliError> {
    let config = ctx.config()?;
    let rows: Vec<ProfileView> = config
        .profiles
        .iter()
        .map(|p| ProfileView::new(&config, p))
        .collect();
    if ctx.json {
        ui::print_json(&rows);
    } else if rows.is_empty() {
        println!("No profiles yet. Create one with: qcc profile add <name>");
    } else {
        println!("{}", table::profiles(&rows));
    }
    Ok(())
}
