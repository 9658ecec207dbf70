//! `qcc route add <model-glob> <profile>`

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::ui::views::RouteView;
use crate::ui::{self, style};

/// Send requests whose `model` matches a glob to a profile first.
///
/// The profile serves them with its own strategy, breakers and sticky conversations; when
/// it has no available endpoint, the normal tiers serve them (within the same request).
/// Routes are tried top-down and the first match wins: a new route goes at the end unless
/// --position says where. Globs are those of model maps: `*` any run of characters, `?`
/// one; quote them so the shell leaves them alone. A running proxy applies the change to
/// its next request.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc route add 'claude-haiku-*' cheap        # Claude Code's background requests
  qcc route add 'claude-opus-*' official
  qcc route add 'claude-haiku-4-5' fast --position 1")]
pub struct Args {
    /// A glob over the requested model (`*` any run, `?` one character)
    #[arg(value_name = "MODEL_GLOB")]
    pub pattern: String,
    /// The profile that serves the matching requests first
    #[arg(add = clap_complete::ArgValueCandidates::new(complete::profiles))]
    pub profile: String,
    /// Insert at this position (1 = tried first; the others move down) instead of at the end
    #[arg(long, value_name = "N")]
    pub position: Option<usize>,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let (view, total) = ctx.update(|c| {
        let at = c.add_route(&args.pattern, &args.profile, args.position)?;
        Ok((RouteView::new(c, at, &c.routes[at - 1]), c.routes.len()))
    })?;
    if ctx.json {
        ui::print_json(&view);
        return Ok(());
    }
    style::success(&format!(
        "route '{}' → {} added ({} of {total})",
        view.model, view.profile, view.position
    ));
    if view.enabled_endpoints == 0 {
        style::warn(&format!(
            "'{}' has no enabled endpoint yet: the normal tiers serve these requests until it has one",
            view.profile
        ));
    }
    Ok(())
}
