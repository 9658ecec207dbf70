//! `qcc health …`: the conversational test run from the CLI (`test`), the daemon's health
//! figures (`status`, `metrics`, `history` — live, or the last known values from
//! `health.json` when the daemon is down), probes on demand (`check`) and the health
//! settings (`config`).

pub mod check;
pub mod config;
pub mod history;
pub mod metrics;
pub mod status;
pub mod test;

use clap::Subcommand;

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::daemon::liveness::{self, Liveness};
use crate::ipc::client::IpcError;
use crate::report::health::{HealthReport, ProbeReport};

use crate::state::health::HealthDoc;
use crate::ui::{self, table};

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Have a tiny real conversation with endpoints now (no daemon needed)
    Test(test::Args),
    /// One line per endpoint: state, success rate, p50 latency, failures in a row
    Status(status::Args),
    /// Every health figure, of all endpoints or one
    Metrics(metrics::Args),
    /// An endpoint's probe results and state changes, newest first
    History(history::Args),
    /// Ask the running proxy to probe endpoints now
    Check(check::Args),
    /// Show or change the health settings (probe interval, model, weight adjustment, …)
    Config(config::Args),
}

pub fn run(ctx: &Ctx, cmd: &Cmd) -> Result<(), CliError> {
    match cmd {
        Cmd::Test(a) => test::run(ctx, a),
        Cmd::Status(a) => status::run(ctx, a),
        Cmd::Metrics(a) => metrics::run(ctx, a),
        Cmd::History(a) => history::run(ctx, a),
        Cmd::Check(a) => check::run(ctx, a),
        Cmd::Config(a) => config::run(ctx, a),
    }
}

/// The health report: live from the daemon when it runs, else the last known values from
/// `health.json` (`live: false`).
pub(crate) fn report(ctx: &Ctx) -> Result<HealthReport, CliError> {
    if liveness::probe(&ctx.paths) != Liveness::NotRunning {
        match ctx.daemon().and_then(|mut c| Ok(c.health()?)) {
            Ok(r) => return Ok(r),
            Err(CliError::Ipc(IpcError::Daemon(message))) => {
                return Err(CliError::failed(
                    format!("the daemon cannot report health: {message}"),
                    Some("run `qcc proxy restart` to start the daemon of this qcc version".into()),
                ));
            }
            Err(CliError::Ipc(IpcError::NotRunning)) => {}
            Err(e) => return Err(e),
        }
    }
    let config = ctx.config()?;
    let doc: HealthDoc = ctx.store()?.read()?;
    Ok(crate::health::persist::offline_report(&config, &doc))
}

/// On stderr, when the figures are not live: where they come from.
pub(crate) fn note_source(ctx: &Ctx, report: &HealthReport) {
    if report.live || ctx.json {
        return;
    }
    let msg = match report.as_of {
        Some(at) => format!(
            "the proxy is not running: last known values, saved {} (health.json)",
            at.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        None => "the proxy is not running and has saved no health figures yet".to_owned(),
    };
    eprintln!("{} {msg}", console::style("note:").for_stderr().cyan());
}

/// Print probe results (`test`, `check`) and fail (exit 1) if any endpoint failed.
pub(crate) fn print_results(ctx: &Ctx, results: &[ProbeReport]) -> Result<(), CliError> {
    if ctx.json {
        ui::print_json(results);
    } else {
        println!("{}", table::probe_results(results));
        if ctx.verbose > 0 {
            for r in results {
                println!(
                    "{}: asked {} to echo nonce {}; {} answered: {:?}",
                    r.id,
                    r.model_asked,
                    r.nonce,
                    r.model.as_deref().unwrap_or("the endpoint"),
                    r.answer
                );
            }
        }
    }
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| r.id.as_str())
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    Err(CliError::failed(
        format!(
            "{} of {} endpoints failed the test: {}",
            failed.len(),
            results.len(),
            failed.join(", ")
        ),
        Some("see the WHY column; `-v` shows each answer".into()),
    ))
}
