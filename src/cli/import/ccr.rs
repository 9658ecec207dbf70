//! `qcc import ccr [PATH]`

use std::path::PathBuf;

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::cli::import::{Common, import, read_source};

/// Import claude-code-router's providers: one profile per provider, named after it.
///
/// Reads ~/.claude-code-router/config.json (JSON5, as ccr reads it). Each provider becomes an
/// `openai` endpoint whose URL and chat path send to exactly its api_base_url (a provider
/// with the Anthropic transformer or a …/v1/messages URL an `anthropic` one). An api_key
/// that is `$VAR` or `${VAR}` becomes the key reference env:VAR (read from the daemon's
/// environment), any other key is copied and always shown masked. Router.default
/// "provider,model" maps every model to that model on its provider's profile, which becomes
/// the active profile when qcc has none; Router.background adds the route
/// 'claude-*haiku*' to its provider's profile, mapped to its model. think, longContext,
/// webSearch, image, custom routers and transformers have no counterpart in qcc: they are
/// listed as skipped or noted.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc import ccr --dry-run                   # ~/.claude-code-router/config.json, nothing written
  qcc import ccr --json --dry-run            # the plan as JSON, keys masked
  qcc import ccr --only deepseek --only ollama
  qcc import ccr ~/backup/ccr-config.json --force   # replace profiles imported before
  qcc import ccr --only openrouter --profile cheap")]
pub struct Args {
    /// ccr's config.json (default: ~/.claude-code-router/config.json; '-' reads standard
    /// input)
    pub path: Option<PathBuf>,
    /// Import only this provider (its name, or the profile name; repeatable)
    #[arg(long, value_name = "NAME")]
    pub only: Vec<String>,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let path = match &args.path {
        Some(p) => p.clone(),
        None => default_path()?,
    };
    let bytes = read_source(
        &path,
        "pass claude-code-router's config.json as PATH, e.g. `qcc import ccr \
         ~/.claude-code-router/config.json`",
    )?;
    let mut plan = crate::import::ccr::plan(&bytes, &path.display().to_string())?;
    plan.select(&args.only)?;
    import(ctx, plan, &args.common)
}

/// `~/.claude-code-router/config.json`.
fn default_path() -> Result<PathBuf, CliError> {
    let home = directories::BaseDirs::new().ok_or(crate::state::StoreError::NoHome)?;
    Ok(home
        .home_dir()
        .join(".claude-code-router")
        .join("config.json"))
}
