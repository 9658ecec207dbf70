//! `qcc proxy …`: the local failover proxy's lifecycle (start, stop, restart, run in the
//! foreground, start at login), its status and its log.

pub mod install;
pub mod logs;
pub mod restart;
pub mod run;
pub mod start;
pub mod status;
pub mod stop;
pub mod uninstall;

use clap::Subcommand;

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Start the proxy as a background daemon
    Start(start::Args),
    /// Stop the daemon, letting in-flight requests finish
    Stop(stop::Args),
    /// Stop and start again (keeping the listen address)
    Restart(restart::Args),
    /// Show the daemon's state, the model routes in force and per-endpoint figures
    Status(status::Args),
    /// Show the daemon's log
    Logs(logs::Args),
    /// Run the proxy in the foreground (for systemd, containers, debugging)
    Run(run::Args),
    /// Start the proxy at login (a systemd user unit)
    Install(install::Args),
    /// Stop starting the proxy at login
    Uninstall(uninstall::Args),
}

pub fn run(ctx: &Ctx, cmd: &Cmd) -> Result<(), CliError> {
    match cmd {
        Cmd::Start(a) => start::run(ctx, a),
        Cmd::Stop(a) => stop::run(ctx, a),
        Cmd::Restart(a) => restart::run(ctx, a),
        Cmd::Status(a) => status::run(ctx, a),
        Cmd::Logs(a) => logs::run(ctx, a),
        Cmd::Run(a) => run::run(ctx, a),
        Cmd::Install(a) => install::run(ctx, a),
        Cmd::Uninstall(a) => uninstall::run(ctx, a),
    }
}

/// `--access-token-env VAR`: read the access token from a variable.
#[derive(Debug, Default, clap::Args)]
pub struct TokenArgs {
    /// Read the access token clients must present from this variable (default:
    /// QCC_ACCESS_TOKEN). Required when listening on a non-loopback address.
    #[arg(long, value_name = "VAR")]
    pub access_token_env: Option<String>,
}

impl TokenArgs {
    pub fn resolve(&self) -> Result<Option<String>, CliError> {
        let Some(var) = &self.access_token_env else {
            return Ok(None);
        };
        match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(Some(v)),
            _ => Err(CliError::usage(
                format!("environment variable {var} is not set or empty"),
                format!("export {var}=<token> first"),
            )),
        }
    }
}
