//! `qcc config path`

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::ui;

/// Print the config file's path; with --json also the config dir, the runtime dir (socket,
/// pid, locks) and the daemon's log.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc config path
  $EDITOR \"$(qcc config path)\"      # prefer `qcc config edit`: it checks the result
  qcc config path --json | jq -r .log_file")]
pub struct Args {}

pub fn run(ctx: &Ctx, _args: &Args) -> Result<(), CliError> {
    let file = ctx.paths.document("config.json");
    if ctx.json {
        ui::print_json(&serde_json::json!({
            "config_file": file,
            "config_dir": ctx.paths.config_dir(),
            "runtime_dir": ctx.paths.runtime_dir(),
            "log_file": ctx.paths.log_file(),
        }));
    } else {
        println!("{}", file.display());
    }
    Ok(())
}
