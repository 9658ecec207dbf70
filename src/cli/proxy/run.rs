//! `qcc proxy run`

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::cli::proxy::TokenArgs;
use crate::daemon::run::{ACCESS_TOKEN_ENV, RunOptions};

/// Run the proxy in the foreground, logging to stderr, until Ctrl-C or SIGTERM (which
/// drain in-flight requests first). SIGHUP reloads the config. For systemd, containers and
/// debugging; `qcc proxy start` runs this same code detached.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc proxy run
  qcc proxy run --listen 127.0.0.1:8080 -v")]
pub struct Args {
    /// Address to listen on (default: config.json proxy.listen, 127.0.0.1:7860)
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    #[command(flatten)]
    pub token: TokenArgs,
    /// (internal) report readiness on this fd
    #[arg(long, hide = true)]
    pub ready_fd: Option<i32>,
    /// (internal) stdout/stderr are this log file: rotate it
    #[arg(long, hide = true)]
    pub log_file: Option<std::path::PathBuf>,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    if let Some(token) = args.token.resolve()? {
        // SAFETY: single-threaded at this point; the runtime starts later.
        unsafe { std::env::set_var(ACCESS_TOKEN_ENV, token) };
    }
    crate::daemon::run::run(
        ctx.paths.clone(),
        RunOptions {
            listen: args.listen.clone(),
            ready_fd: args.ready_fd,
            log_file: args.log_file.clone(),
            verbose: ctx.verbose,
        },
    )?;
    Ok(())
}
