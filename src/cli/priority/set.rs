//! `qcc priority set <profile> <tier>`

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::state::model::Tier;
use crate::ui::{self, style};

/// Put a profile at the end of a tier, or take it out of the tiers with `none`.
///
/// Failover goes through the tiers in order: the profiles of the active profile's tier
/// first, then the lower tiers.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc priority set work primary
  qcc priority set relays secondary
  qcc priority set old none")]
pub struct Args {
    /// The profile
    #[arg(add = clap_complete::ArgValueCandidates::new(complete::profiles))]
    pub profile: String,
    /// The tier
    #[arg(value_enum)]
    pub tier: TierArg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TierArg {
    Primary,
    Secondary,
    Fallback,
    /// In no tier
    None,
}

impl TierArg {
    fn tier(self) -> Option<Tier> {
        match self {
            TierArg::Primary => Some(Tier::Primary),
            TierArg::Secondary => Some(Tier::Secondary),
            TierArg::Fallback => Some(Tier::Fallback),
            TierArg::None => None,
        }
    }
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let tier = args.tier.tier();
    ctx.update(|c| Ok(c.set_tier(&args.profile, tier)?))?;
    if ctx.json {
        ui::print_json(&serde_json::json!({ "profile": args.profile, "tier": tier }));
    } else {
        match tier {
            Some(t) => style::success(&format!("'{}' is now in the {t} tier", args.profile)),
            None => style::success(&format!("'{}' is now in no tier", args.profile)),
        }
    }
    Ok(())
}
