//! `qcc health check [endpoint]`

use std::time::Duration;

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::ipc::client::IpcError;

use crate::ui::progress;

/// Ask the running proxy to probe endpoints now (all enabled ones, or one), with the same
/// conversational test as `qcc health test`. Unlike `test`, the results count: a pass
/// closes the endpoint's breaker, a failure counts against it, and the result goes into
/// the endpoint's probe history. Exits 3 when the proxy is not running, 1 if any endpoint
/// failed.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc health check
  qcc health check e7c1
  qcc health check relay-a             # by name
  qcc health check --json | jq '.[] | select(.passed | not)'")]
pub struct Args {
    /// Endpoint id, name or unique id prefix; default: every enabled endpoint
    #[arg(add = clap_complete::ArgValueCompleter::new(complete::endpoint_ids))]
    pub endpoint: Option<String>,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let config = ctx.config()?;
    // Resolve the name or prefix here, so the daemon is only ever sent an exact id.
    let endpoint = match &args.endpoint {
        Some(q) => Some(config.endpoint(config.find_endpoint(None, q)?).id.clone()),
        None => None,
    };
    // Long enough for every probe to finish, in waves of `max_concurrency`.
    let h = &config.health;
    let n = match &endpoint {
        Some(_) => 1,
        None => config.endpoints().filter(|(_, e)| e.enabled).count().max(1),
    };
    let waves = n.div_ceil(h.max_concurrency.max(1) as usize) as u64;
    let per_probe = h.probe_timeout_secs.max(1) + config.proxy.connect_timeout_secs + 5;
    let wait = Duration::from_secs(per_probe * waves + 10);
    let mut client = ctx.daemon_for(wait)?;
    let spinner = progress::spinner(ctx.json, "probing");
    let answer = client.probe(endpoint);
    spinner.finish();
    match answer {
        Ok(results) => super::print_results(ctx, &results),
        Err(IpcError::Daemon(message)) => Err(CliError::failed(
            message,
            Some("see the ids and names with `qcc endpoint list`".into()),
        )),
        Err(e) => Err(e.into()),
    }
}
