//! `qcc priority list`

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::ui::views::PriorityView;
use crate::ui::{self, table};

/// Show the tiers in failover order, the active profile (*) and the failover policy.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc priority list
  qcc priority list --json | jq -r .active")]
pub struct Args {}

pub fn run(ctx: &Ctx, _args: &Args) -> Result<(), CliError> {
    let config = ctx.config()?;
    let view = PriorityView::new(&config);
    if ctx.json {
        ui::print_json(&view);
        return Ok(());
    }
    if view.entries.is_empty() {
        println!("No profiles yet. Create one with: qcc profile add <name>");
        return Ok(());
    }
    println!("{}", table::tiers(&view.entries));
    println!(
        "Active: {}    auto-failover: {}    auto-recovery: {}",
        view.active.as_deref().unwrap_or("-"),
        if view.policy.auto_failover {
            "on"
        } else {
            "off"
        },
        if view.policy.auto_recovery {
            "on"
        } else {
            "off"
        },
    );
    Ok(())
}
