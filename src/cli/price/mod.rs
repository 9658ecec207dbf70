//! `qcc price …`: what requests cost. The built-in list prices of Claude models, and your
//! own rules over them (`config.json` → `prices`): per model (globs over the model the
//! endpoint is sent, first match wins), per endpoint (its own rules, or a multiplier of the
//! list price). The usage accounting prices each request when it is answered.

pub mod list;
pub mod remove;
pub mod set;

use clap::Subcommand;

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::state::Config;
use crate::state::prices::PriceError;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Show the prices in force: yours, then the built-in list
    #[command(alias = "ls")]
    List(list::Args),
    /// Set a price for models (or an endpoint's multiplier of the list price)
    Set(set::Args),
    /// Remove a price rule (or an endpoint's multiplier)
    #[command(alias = "rm")]
    Remove(remove::Args),
}

pub fn run(ctx: &Ctx, cmd: &Cmd) -> Result<(), CliError> {
    match cmd {
        Cmd::List(a) => list::run(ctx, a),
        Cmd::Set(a) => set::run(ctx, a),
        Cmd::Remove(a) => remove::run(ctx, a),
    }
}

impl From<PriceError> for CliError {
    fn from(e: PriceError) -> Self {
        CliError::usage(e.to_string(), e.hint())
    }
}

/// The id of the endpoint `query` names (id, name or unique id prefix).
pub fn endpoint_id(config: &Config, query: &str) -> Result<String, CliError> {
    let r = config.find_endpoint(None, query)?;
    Ok(config.endpoint(r).id.clone())
}
