//! `qcc priority …`: tiers (primary / secondary / fallback), the active profile, manual
//! switches and their history, and the failover policy.

pub mod history;
pub mod list;
pub mod policy;
pub mod set;
pub mod switch;

use clap::Subcommand;

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Put a profile in a tier (or take it out with `none`)
    Set(set::Args),
    /// Show the tiers, the model routes, the active profile and the policy
    #[command(alias = "ls")]
    List(list::Args),
    /// Make a profile the active one (non-interactive; safe in scripts and cron)
    Switch(switch::Args),
    /// Show the switch records (manual, failover, recovery), newest first
    History(history::Args),
    /// Show or change the failover policy
    Policy(policy::Args),
}

pub fn run(ctx: &Ctx, cmd: &Cmd) -> Result<(), CliError> {
    match cmd {
        Cmd::Set(a) => set::run(ctx, a),
        Cmd::List(a) => list::run(ctx, a),
        Cmd::Switch(a) => switch::run(ctx, a),
        Cmd::History(a) => history::run(ctx, a),
        Cmd::Policy(a) => policy::run(ctx, a),
    }
}
