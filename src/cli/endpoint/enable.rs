//! `qcc endpoint enable <profile> <id>`

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;

/// Put a disabled endpoint back into rotation.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc endpoint enable work e7c1")]
pub struct Args {
    /// The profile
    #[arg(add = clap_complete::ArgValueCandidates::new(complete::profiles))]
    pub profile: String,
    /// Endpoint id, name or unique id prefix
    #[arg(value_name = "ENDPOINT", add = clap_complete::ArgValueCompleter::new(complete::endpoint_ids))]
    pub id: String,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    super::set_enabled(ctx, &args.profile, &args.id, true)
}
