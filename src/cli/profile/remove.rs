//! `qcc profile remove <name>`

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::state::ModelError;
use crate::ui::{self, style};

/// Remove a profile and its endpoints.
///
/// Asks first on a terminal; without one, pass --yes. A profile that is in a priority tier,
/// or that a model route sends requests to, is only removed with --force (or after
/// confirming on a terminal), which also removes its routes. --force asks nothing.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc profile remove old-relay
  qcc profile remove old-relay --yes       # in a script
  qcc profile remove backup --force        # even though it is in a tier or routed to")]
pub struct Args {
    /// The profile
    #[arg(add = clap_complete::ArgValueCandidates::new(complete::profiles))]
    pub name: String,
    /// Remove it even if it is in a priority tier or routed to (its routes go with it)
    #[arg(long)]
    pub force: bool,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let config = ctx.config()?;
    let p = config.profile(&args.name)?;
    // --force skips every question; otherwise a tiered profile needs a terminal to confirm.
    let routes = config.routes_to(&args.name);
    if !args.force {
        let tier = config.tiers.tier_of(&args.name);
        if tier.is_some() || !routes.is_empty() {
            if !ctx.prompt.is_interactive() {
                return Err(match tier {
                    Some(tier) => ModelError::ProfileInTier {
                        profile: args.name.clone(),
                        tier,
                    },
                    None => ModelError::ProfileRouted {
                        profile: args.name.clone(),
                        patterns: routes,
                    },
                }
                .into());
            }
            let why = match (tier, routes.as_slice()) {
                (Some(t), []) => format!("is in the {t} tier"),
                (Some(t), r) => format!("is in the {t} tier and routed to by {}", r.join(", ")),
                (None, r) => format!("is routed to by {}", r.join(", ")),
            };
            if !ctx
                .prompt
                .confirm(&format!("'{}' {why}. Remove it anyway?", args.name), false)?
            {
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
    let (removed, routes) = ctx.update(|c| {
        // Under the write lock: the routes that go with it now.
        let routes = c.routes_to(&args.name);
        Ok((c.remove_profile(&args.name, true)?, routes))
    })?;
    if ctx.json {
        ui::print_json(&serde_json::json!({
            "removed": removed.name,
            "endpoints": removed.endpoints.len(),
            "routes_removed": routes,
        }));
    } else {
        style::success(&format!(
            "removed profile '{}' ({} endpoint(s))",
            removed.name,
            removed.endpoints.len()
        ));
        if !routes.is_empty() {
            style::success(&format!("removed its route(s): {}", routes.join(", ")));
        }
    }
    Ok(())
}
