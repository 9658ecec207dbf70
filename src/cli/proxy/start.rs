//! `qcc proxy start`

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::cli::proxy::TokenArgs;
use crate::daemon::spawn::{self, StartOptions, Started};
use crate::ui::{self, style};

/// Start the proxy as a background daemon and wait until it is ready.
///
/// Prints the pid, the address and the `export` line for clients. If a daemon is already
/// running, says so and exits 0. A startup failure (port in use, no profile, bad config)
/// prints the daemon's own error and exits 1.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc proxy start
  export ANTHROPIC_BASE_URL=http://127.0.0.1:7860
  qcc proxy start --listen 127.0.0.1:8080
  QCC_ACCESS_TOKEN=s3cret qcc proxy start --listen 0.0.0.0:7860")]
pub struct Args {
    /// Address to listen on (default: config.json proxy.listen, 127.0.0.1:7860)
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    #[command(flatten)]
    pub token: TokenArgs,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let opts = StartOptions {
        listen: args.listen.clone(),
        access_token: args.token.resolve()?,
        verbose: ctx.verbose,
    };
    let started = spawn::start(&ctx.paths, &opts)?;
    report(ctx, &started);
    Ok(())
}

/// Print the outcome of a start (shared with `restart`).
pub fn report(ctx: &Ctx, started: &Started) {
    let (pid, listen, already) = match started {
        Started::New { pid, listen } => (Some(*pid), Some(listen.clone()), false),
        Started::AlreadyRunning { pid } => (*pid, ctx.daemon_status().map(|s| s.listen), true),
    };
    let base_url = listen.as_ref().map(|l| format!("http://{l}"));
    if ctx.json {
        ui::print_json(&serde_json::json!({
            "pid": pid,
            "listen": listen,
            "base_url": base_url,
            "already_running": already,
        }));
        return;
    }
    let pid = pid.map_or("?".into(), |p| p.to_string());
    let url = base_url.unwrap_or_else(|| "?".into());
    if already {
        println!("qcc proxy is already running (pid {pid}) on {url}");
    } else {
        style::success(&format!("qcc proxy started (pid {pid}) on {url}"));
    }
    println!("export ANTHROPIC_BASE_URL={url}");
}
