//! `qcc proxy stop`

use std::time::Duration;

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::daemon::liveness::{self, Liveness};
use crate::ipc::client::IpcError;

use crate::ui::{self, style};

/// Stop the daemon: it stops accepting, lets in-flight requests and streams finish (up to
/// --timeout), removes its socket and pid file, and exits. Waits until it is gone. Stopping
/// a daemon that is not running is not an error.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc proxy stop
  qcc proxy stop --timeout 5")]
pub struct Args {
    /// Seconds to let in-flight requests finish
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub timeout: u64,
}

/// Stop the daemon if it runs; returns its pid if one was stopped.
pub fn stop_daemon(ctx: &Ctx, timeout: u64) -> Result<Option<u32>, CliError> {
    let pid = match liveness::probe(&ctx.paths) {
        Liveness::NotRunning => return Ok(None),
        Liveness::Running { pid } => pid,
    };
    let mut client = match ctx.daemon() {
        Ok(c) => c,
        Err(CliError::Ipc(IpcError::NotRunning)) => return Ok(None),
        Err(e) => return Err(e),
    };
    client.stop(timeout)?;
    // The daemon closes the connection by exiting.
    let closed = client.wait_closed(Duration::from_secs(timeout + 10))?;
    if !closed || liveness::probe(&ctx.paths) != Liveness::NotRunning {
        return Err(CliError::failed(
            format!("the daemon (pid {}) did not stop in time", pid.unwrap_or(0)),
            Some("see `qcc proxy logs`; `kill` it if it hangs".into()),
        ));
    }
    Ok(pid.or(Some(0)))
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let stopped = stop_daemon(ctx, args.timeout)?;
    if ctx.json {
        ui::print_json(&serde_json::json!({ "stopped": stopped.is_some(), "pid": stopped }));
    } else {
        match stopped {
            Some(pid) => style::success(&format!("qcc proxy stopped (pid {pid})")),
            None => println!("qcc proxy is not running"),
        }
    }
    Ok(())
}
