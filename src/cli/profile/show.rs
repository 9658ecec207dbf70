//! `qcc profile show <name>`

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::ui::views::{EndpointView, ProfileDetail, ProfileView};
use crate::ui::{self, table};

/// Show a profile's settings and its endpoints (keys masked).
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc profile show work
  qcc profile show work --json")]
pub struct Args {
    /// The profile
    #[arg(add = clap_complete::ArgValueCandidates::new(complete::profiles))]
    pub name: String,
    /// Show keys in full
    #[arg(long)]
    pub show_keys: bool,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let config = ctx.config()?;
    let p = config.profile(&args.name)?;
    let detail = ProfileDetail {
        profile: ProfileView::new(&config, p),
        endpoints: p
            .endpoints
            .iter()
            .map(|e| EndpointView::new(p, e, args.show_keys))
            .collect(),
    };
    if ctx.json {
        ui::print_json(&detail);
        return Ok(());
    }
    let v = &detail.profile;
    println!(
        "Profile:     {}{}",
        v.name,
        if v.active { " (active)" } else { "" }
    );
    if let Some(d) = &v.description {
        println!("Description: {d}");
    }
    println!(
        "Tier:        {}",
        v.tier
            .map(|t| t.to_string())
            .unwrap_or_else(|| "none".into())
    );
    println!("Strategy:    {}", v.strategy);
    if let Some(w) = &v.score {
        println!("Score:       {w}");
    }
    println!("Created:     {}", v.created_at.format("%Y-%m-%d %H:%M UTC"));
    if detail.endpoints.is_empty() {
        println!("\nNo endpoints. Add one with: qcc endpoint add {}", v.name);
    } else {
        println!("{}", table::endpoints(&detail.endpoints, false));
    }
    Ok(())
}
