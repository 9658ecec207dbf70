//! `qcc endpoint list [profile]`

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::ui::views::EndpointView;
use crate::ui::{self, table};

/// List endpoints: id, name, URL, masked key, auth style, weight, enabled. All profiles'
/// endpoints unless a profile is given.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc endpoint list
  qcc endpoint list work --show-keys
  qcc endpoint list --json | jq -r '.[] | select(.enabled) | .id'")]
pub struct Args {
    /// Only this profile's endpoints
    #[arg(add = clap_complete::ArgValueCandidates::new(complete::profiles))]
    pub profile: Option<String>,
    /// Show keys in full
    #[arg(long)]
    pub show_keys: bool,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let config = ctx.config()?;
    if let Some(p) = &args.profile {
        config.profile(p)?;
    }
    let rows: Vec<EndpointView> = config
        .endpoints()
        .filter(|(p, _)| args.profile.as_deref().is_none_or(|n| n == p.name))
        .map(|(p, e)| EndpointView::new(p, e, args.show_keys))
        .collect();
    if ctx.json {
        ui::print_json(&rows);
    } else if rows.is_empty() {
        println!("No endpoints. Add one with: qcc endpoint add <profile>");
    } else {
        println!("{}", table::endpoints(&rows, args.profile.is_none()));
    }
    Ok(())
}
