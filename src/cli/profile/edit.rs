//! `qcc profile edit <name>`

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::state::model::Strategy;
use crate::ui::{self, style, views::ProfileView};

/// Change a profile's description or balancing strategy.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc profile edit work --strategy least-connections
  qcc profile edit work --description ''          # clear the description")]
pub struct Args {
    /// The profile
    #[arg(add = clap_complete::ArgValueCandidates::new(complete::profiles))]
    pub name: String,
    /// New description (empty to clear)
    #[arg(short, long)]
    pub description: Option<String>,
    /// New balancing strategy
    #[arg(short, long, value_enum)]
    pub strategy: Option<Strategy>,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    if args.description.is_none() && args.strategy.is_none() {
        return Err(CliError::usage(
            "nothing to change",
            "pass --description and/or --strategy",
        ));
    }
    let view = ctx.update(|c| {
        let p = c.profile_mut(&args.name)?;
        if let Some(d) = &args.description {
            p.description = Some(d.trim().to_owned()).filter(|d| !d.is_empty());
        }
        if let Some(s) = args.strategy {
            p.strategy = s;
        }
        let p = c.profile(&args.name)?;
        Ok(ProfileView::new(c, p))
    })?;
    if ctx.json {
        ui::print_json(&view);
    } else {
        style::success(&format!("updated profile '{}'", view.name));
    }
    Ok(())
}
