//! `qcc route …`: model routes — requests whose `model` matches a glob are served by a
//! profile of their own first (its strategy, breakers and stickiness), then by the normal
//! tiers (docs/behavior.md §6). Stored top-down in `config.json` → `routes`; first match
//! wins.

pub mod add;
pub mod list;
pub mod remove;

use clap::Subcommand;

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Send requests for the models a glob matches to a profile first
    Add(add::Args),
    /// Show the model routes, in the order they are tried
    #[command(alias = "ls")]
    List(list::Args),
    /// Remove the route of a pattern
    #[command(alias = "rm")]
    Remove(remove::Args),
}

pub fn run(ctx: &Ctx, cmd: &Cmd) -> Result<(), CliError> {
    match cmd {
        Cmd::Add(a) => add::run(ctx, a),
        Cmd::List(a) => list::run(ctx, a),
        Cmd::Remove(a) => remove::run(ctx, a),
    }
}
