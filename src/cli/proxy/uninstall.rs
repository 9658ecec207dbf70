//! `qcc proxy uninstall`

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::daemon::service;
use crate::ui::style;

/// Stop starting the proxy at login: disable and stop the systemd user unit that `qcc proxy
/// install` wrote, and remove it. Nothing to do (exit 0) when it is not installed.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc proxy uninstall")]
pub struct Args {}

pub fn run(ctx: &Ctx, _args: &Args) -> Result<(), CliError> {
    let removed = service::uninstall()?;
    if ctx.json {
        crate::ui::print_json(&serde_json::json!({ "removed": removed }));
        return Ok(());
    }
    match removed {
        Some(path) => style::success(&format!(
            "removed {} (disabled and stopped)",
            path.display()
        )),
        None => println!("not installed: nothing to do"),
    }
    Ok(())
}
