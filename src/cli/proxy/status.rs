//! `qcc proxy status`

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::daemon::liveness::{self, Liveness};
use crate::ipc::client::IpcError;
use crate::ui::{self, table};

/// Show whether the daemon runs, and if so: pid, version, uptime, address, active profile
/// and tier, the model routes in force, and per endpoint: in-flight, requests, errors,
/// latency, tokens, last error.
/// Exits 3 when the daemon is not running.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc proxy status
  qcc proxy status --json | jq '.endpoints[] | {id, errors}'
  qcc proxy status >/dev/null 2>&1 || qcc proxy start")]
pub struct Args {}

pub fn run(ctx: &Ctx, _args: &Args) -> Result<(), CliError> {
    let installed = crate::daemon::service::installed();
    if liveness::probe(&ctx.paths) == Liveness::NotRunning {
        if ctx.json {
            ui::print_json(&serde_json::json!({ "running": false, "installed": installed }));
        } else if let Some(unit) = &installed {
            println!(
                "qcc proxy is not running; it starts at login ({})",
                unit.display()
            );
        }
        return Err(IpcError::NotRunning.into());
    }
    let report = ctx.daemon()?.status()?;
    if ctx.json {
        let mut v = serde_json::to_value(&report).expect("serializable");
        v["running"] = true.into();
        v["installed"] = serde_json::to_value(&installed).expect("serializable");
        ui::print_json(&v);
        return Ok(());
    }
    println!(
        "qcc proxy {} running (pid {}), up {}",
        report.version,
        report.pid,
        table::duration(report.uptime_secs)
    );
    println!("  listening: http://{}", report.listen);
    if let Some(unit) = &installed {
        println!("  at login:  started by {}", unit.display());
    }
    println!(
        "  serving:   {}{}",
        report.active_profile.as_deref().unwrap_or("-"),
        report
            .active_tier
            .as_deref()
            .map(|t| format!(" ({t} tier)"))
            .unwrap_or_default()
    );
    if let Some(from) = &report.failed_over_from {
        println!(
            "  failover:  from '{from}' (returns when it is healthy again, if auto-recovery is on)"
        );
    }
    for (i, r) in report.routes.iter().enumerate() {
        let label = if i == 0 { "routes:" } else { "" };
        let down = if r.available {
            ""
        } else {
            " (no endpoint available: the tiers serve)"
        };
        println!("  {label:<10} {} → {}{down}", r.model, r.profile);
    }
    println!(
        "  requests:  {} total, {} in flight",
        report.requests, report.in_flight
    );
    if let Some(e) = &report.config_error {
        crate::ui::style::warn(&format!(
            "config reload refused, previous config in force: {e}"
        ));
    }
    println!("{}", table::proxy_endpoints(&report.endpoints));
    Ok(())
}
