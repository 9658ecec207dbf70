//! `qcc health history <endpoint>`

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::ui::table::HistoryRow;
use crate::ui::{self, table};

/// An endpoint's probe results and state changes, newest first. A probe: when, why it ran
/// (recovery, interval, manual), pass or fail, latency, first-byte time, the model that
/// answered and what happened. A state change: when, from → to (healthy, degraded, open,
/// half-open, recovering, disabled, rejected, billing) and why. The daemon keeps the last
/// 50 of each per endpoint (also across restarts); `qcc health test` results are not kept.
/// In `--json` every row has `kind`: `probe` or `state`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc health history e7c1
  qcc health history relay-a           # by name
  qcc health history e7c1 -n 5 --json")]
pub struct Args {
    /// Endpoint id, name or unique id prefix
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
    let probes = report.history.get(&id).into_iter().flatten();
    let states = report.states.get(&id).into_iter().flatten();
    let mut rows: Vec<HistoryRow> = probes
        .map(HistoryRow::Probe)
        .chain(states.map(HistoryRow::State))
        .collect();
    // Newest first (a stable sort: equal times keep probes before state changes).
    rows.sort_by_key(|r| std::cmp::Reverse(r.at()));
    rows.truncate(args.count);
    if ctx.json {
        ui::print_json(&rows);
        return Ok(());
    }
    super::note_source(ctx, &report);
    if rows.is_empty() {
        println!(
            "No probes or state changes of {id} yet (the proxy probes an endpoint while its \
             breaker is open, or on `qcc health check`)."
        );
    } else {
        println!("{}", table::health_history(&rows));
    }
    Ok(())
}
