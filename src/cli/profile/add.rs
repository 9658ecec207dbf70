//! `qcc profile add <name>`

use chrono::Utc;

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::state::model::Strategy;
use crate::ui::{self, style, views::ProfileView};

/// Create a profile: a named group of endpoints that traffic is balanced across.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc profile add work
  qcc profile add backup --description 'Relays for outages' --strategy ordered")]
pub struct Args {
    /// Profile name: letters, digits, '.', '_' or '-'
    pub name: String,
    /// What this profile is for
    #[arg(short, long)]
    pub description: Option<String>,
    /// How new conversations are spread over the endpoints
    #[arg(short, long, value_enum, default_value_t = Strategy::Weighted)]
    pub strategy: Strategy,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let view = ctx.update(|c| {
        let description = args.description.clone().filter(|d| !d.trim().is_empty());
        c.add_profile(&args.name, description, args.strategy, Utc::now())?;
        let p = c.profile(&args.name)?;
        Ok(ProfileView::new(c, p))
    })?;
    if ctx.json {
        ui::print_json(&view);
    } else {
        style::success(&format!("created profile '{}'", view.name));
        style::note(&format!(
            "next: qcc endpoint add {} --url <URL> --key-env <VAR>",
            view.name
        ));
    }
    Ok(())
}
