//! `qcc health status`

use serde_json::json;

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::ui::{self, table};

/// One line per endpoint: breaker state, recent success rate, p50 latency, failures in a
/// row, weight and last probe. Live from the running proxy; when it is not running, the
/// last known values it saved (and a note saying so).
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc health status
  qcc health status --json | jq '.endpoints[] | {id, breaker, success_rate}'")]
pub struct Args {}

pub fn run(ctx: &Ctx, _args: &Args) -> Result<(), CliError> {
    let report = super::report(ctx)?;
    if ctx.json {
        ui::print_json(&json!({
            "live": report.live,
            "as_of": report.as_of,
            "endpoints": report.endpoints,
        }));
        return Ok(());
    }
    super::note_source(ctx, &report);
    if report.endpoints.is_empty() {
        println!("No endpoints yet.");
    } else {
        println!("{}", table::health_status(&report.endpoints));
    }
    Ok(())
}
