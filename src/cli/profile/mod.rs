//! `qcc profile …`: create, list, show, edit, rename, remove profiles, and point Claude Code
//! at one directly (`use`).

pub mod add;
pub mod edit;
pub mod list;
pub mod remove;
pub mod rename;
pub mod show;
pub mod r#use;

use clap::Subcommand;

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Create a profile
    Add(add::Args),
    /// List profiles
    #[command(alias = "ls")]
    List(list::Args),
    /// Show a profile and its endpoints
    Show(show::Args),
    /// Change a profile's description or balancing strategy
    Edit(edit::Args),
    /// Rename a profile (tiers and the active profile follow)
    Rename(rename::Args),
    /// Remove a profile and its endpoints
    #[command(alias = "rm")]
    Remove(remove::Args),
    /// Point Claude Code at a profile directly (writes ~/.claude/settings.json)
    Use(r#use::Args),
}

pub fn run(ctx: &Ctx, cmd: &Cmd) -> Result<(), CliError> {
    match cmd {
        Cmd::Add(a) => add::run(ctx, a),
        Cmd::List(a) => list::run(ctx, a),
        Cmd::Show(a) => show::run(ctx, a),
        Cmd::Edit(a) => edit::run(ctx, a),
        Cmd::Rename(a) => rename::run(ctx, a),
        Cmd::Remove(a) => remove::run(ctx, a),
        Cmd::Use(a) => r#use::run(ctx, a),
    }
}
