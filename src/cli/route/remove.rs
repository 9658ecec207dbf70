//! `qcc route remove <model-glob>`

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::ui::views::RouteView;
use crate::ui::{self, style};

/// Remove the route of a pattern (compared exactly, as `qcc route list` shows it). The
/// requests it matched go to the next matching route, or the normal tiers.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc route remove 'claude-haiku-*'")]
pub struct Args {
    /// The route's model glob
    #[arg(value_name = "MODEL_GLOB", add = clap_complete::ArgValueCandidates::new(complete::route_patterns))]
    pub pattern: String,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let view = ctx.update(|c| {
        let (at, route) = c.remove_route(&args.pattern)?;
        Ok(RouteView::new(c, at, &route))
    })?;
    if ctx.json {
        ui::print_json(&view);
    } else {
        style::success(&format!(
            "removed route '{}' → {}",
            view.model, view.profile
        ));
    }
    Ok(())
}
