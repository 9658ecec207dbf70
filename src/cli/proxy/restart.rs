//! `qcc proxy restart`

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::cli::proxy::TokenArgs;
use crate::cli::proxy::{start, stop};
use crate::daemon::spawn::{self, StartOptions};

/// Stop the daemon (draining in-flight requests) and start it again. Keeps the address it
/// listened on unless --listen says otherwise. Also the cure for a "protocol mismatch" after
/// upgrading qcc.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc proxy restart
  qcc proxy restart --listen 127.0.0.1:9000")]
pub struct Args {
    /// Address to listen on (default: where it listened before)
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Seconds to let in-flight requests finish
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub timeout: u64,
    #[command(flatten)]
    pub token: TokenArgs,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let previous = ctx.daemon_status().map(|s| s.listen);
    stop::stop_daemon(ctx, args.timeout)?;
    let opts = StartOptions {
        listen: args.listen.clone().or(previous),
        access_token: args.token.resolve()?,
        verbose: ctx.verbose,
    };
    let started = spawn::start(&ctx.paths, &opts)?;
    start::report(ctx, &started);
    Ok(())
}
