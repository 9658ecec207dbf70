//! `qcc profile rename <old> <new>`

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::ui::{self, style};

/// Rename a profile. Its tier, the model routes to it and the active-profile choice follow;
/// switch history keeps the old name.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc profile rename work acme")]
pub struct Args {
    /// The profile's current name
    #[arg(add = clap_complete::ArgValueCandidates::new(complete::profiles))]
    pub old: String,
    /// The new name
    pub new: String,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    ctx.update(|c| Ok(c.rename_profile(&args.old, &args.new)?))?;
    if ctx.json {
        ui::print_json(&serde_json::json!({ "from": args.old, "to": args.new }));
    } else {
        style::success(&format!("renamed profile '{}' → '{}'", args.old, args.new));
    }
    Ok(())
}
