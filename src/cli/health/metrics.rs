//! `qcc health metrics [endpoint]`

use serde_json::json;

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::ui::{self, table};

/// Every health figure from real traffic: requests, successes and failures, recent success
/// rate, latency and first-byte p50/p95, stability score (0–100), last error, last probe,
/// effective weight. Probes never count here. Live from the running proxy, else the last
/// known values.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc health metrics
  qcc health metrics e7c1
  qcc health metrics e7c1 --json | jq '.endpoints[0].stability'")]
pub struct Args {
    /// Endpoint id, name or unique id prefix; default: all
    #[arg(add = clap_complete::ArgValueCompleter::new(complete::endpoint_ids))]
    pub endpoint: Option<String>,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let id = match &args.endpoint {
        Some(q) => {
            let config = ctx.config()?;
            Some(config.endpoint(config.find_endpoint(None, q)?).id.clone())
        }
        None => None,
    };
    let mut report = super::report(ctx)?;
    if let Some(id) = &id {
        report.endpoints.retain(|e| &e.endpoint.id == id);
        if report.endpoints.is_empty() {
            return Err(CliError::failed(
                format!("the proxy has no figures for endpoint {id} yet"),
                Some("it reloads the config within a second; try again".into()),
            ));
        }
    }
    if ctx.json {
        ui::print_json(&json!({
            "live": report.live,
            "as_of": report.as_of,
            "endpoints": report.endpoints,
        }));
        return Ok(());
    }
    super::note_source(ctx, &report);
    match report.endpoints.as_slice() {
        [] => println!("No endpoints yet."),
        [one] if id.is_some() => println!("{}", table::health_metrics_detail(one)),
        all => println!("{}", table::health_metrics(all)),
    }
    Ok(())
}
