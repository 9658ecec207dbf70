//! `qcc health history <endpoint>`

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::state::health::ProbeRecord;
use crate::ui::{self, table};

/// An endpoint's probe results, newest first: when, why it ran (recovery, interval,
/// manual), pass or fail, latency, first-byte time, the model that answered and what
/// happened. The daemon keeps the last 50 per endpoint (also across restarts); `qcc health
/// test` results are not kept.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc health history e7c1
  qcc health history e7c1 -n 5 --json")]
pub struct Args {
    /// Endpoint id (or a unique prefix)
    #[arg(add = clap_complete::ArgValueCompleter::new(complete::endpoint_ids))]
    pub endpoint: String,
    /// How many results
    #[arg(short = 'n', long, default_value_t = 20, value_name = "N")]
    pub count: usize,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let config = ctx.config()?;
    let id = config
        .endpoint(config.find_endpoint(None, &args.endpoint)?)
        .id
        .clone();
    let report = super::report(ctx)?;
    let rows: Vec<&ProbeRecord> = report
        .history
        .get(&id)
        .map(|h| h.iter().rev().take(args.count).collect())
        .unwrap_or_default();
    if ctx.json {
        ui::print_json(&rows);
        return Ok(());
    }
    super::note_source(ctx, &report);
    if rows.is_empty() {
        println!(
            "No probes of {id} yet (the proxy probes an endpoint while its breaker is open, \
             or on `qcc health check`)."
        );
    } else {
        println!("{}", table::probe_history(&rows));
    }
    Ok(())
}
