//! `qcc profile remove <name>`

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::state::ModelError;
use crate::ui::{self, style};

/// Remove a profile and its endpoints.
///
/// Asks first on a terminal; without one, pass --yes. A profile that is in a priority tier
/// is only removed with --force (or after confirming on a terminal). --force asks nothing.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc profile remove old-relay
  qcc profile remove old-relay --yes       # in a script
  qcc profile remove backup --force        # even though it is in a tier")]
pub struct Args {
    /// The profile
    #[arg(add = clap_complete::ArgValueCandidates::new(complete::profiles))]
    pub name: String,
    /// Remove it even if it is in a priority tier
    #[arg(long)]
    pub force: bool,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let config = ctx.config()?;
    let p = config.profile(&args.name)?;
    // --force skips every question; otherwise a tiered profile needs a terminal to confirm.
    if !args.force {
        if let Some(tier) = config.tiers.tier_of(&args.name) {
            if !ctx.prompt.is_interactive() {
                return Err(ModelError::ProfileInTier {
                    profile: args.name.clone(),
                    tier,
                }
                .into());
            }
            if !ctx.prompt.confirm(
                &format!("'{}' is in the {tier} tier. Remove it anyway?", args.name),
                false,
            )? {
                return Err(CliError::Cancelled);
            }
        } else {
            ctx.confirm(
                &format!(
                    "Remove profile '{}' and its {} endpoint(s)?",
                    args.name,
                    p.endpoints.len()
                ),
                &format!("removing profile '{}'", args.name),
            )?;
        }
    }
    let removed = ctx.update(|c| Ok(c.remove_profile(&args.name, true)?))?;
    if ctx.json {
        ui::print_json(&serde_json::json!({
            "removed": removed.name,
            "endpoints": removed.endpoints.len(),
        }));
    } else {
        style::success(&format!(
            "removed profile '{}' ({} endpoint(s))",
            removed.name,
            removed.endpoints.len()
        ));
    }
    Ok(())
}
