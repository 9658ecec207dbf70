//! `qcc endpoint remove <profile> <id>`

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::ui::views::EndpointView;
use crate::ui::{self, style};

/// Remove an endpoint from a profile. Asks first on a terminal; without one, pass --yes.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc endpoint remove work e7c1
  qcc endpoint remove work e7c1 --yes")]
pub struct Args {
    /// The profile
    #[arg(add = clap_complete::ArgValueCandidates::new(complete::profiles))]
    pub profile: String,
    /// Endpoint id, name or unique id prefix
    #[arg(value_name = "ENDPOINT", add = clap_complete::ArgValueCompleter::new(complete::endpoint_ids))]
    pub id: String,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let config = ctx.config()?;
    let r = config.find_endpoint(Some(&args.profile), &args.id)?;
    let e = config.endpoint(r);
    ctx.confirm(
        &format!(
            "Remove endpoint {} ({}) from '{}'?",
            e.id, e.url, args.profile
        ),
        &format!("removing endpoint {}", e.id),
    )?;
    let id = e.id.clone();
    let view = ctx.update(|c| {
        // Resolve again under the write lock: the config may have changed meanwhile.
        let r = c.find_endpoint(Some(&args.profile), &id)?;
        let view = EndpointView::new(&c.profiles[r.profile], c.endpoint(r), false);
        c.remove_endpoint(r);
        Ok(view)
    })?;
    if ctx.json {
        ui::print_json(&view);
    } else {
        style::success(&format!(
            "removed endpoint {} ({}) from '{}'",
            view.id, view.url, view.profile
        ));
    }
    Ok(())
}
