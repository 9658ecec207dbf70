//! `qcc import claude-settings [PATH]`

use std::path::PathBuf;

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::cli::import::{Common, import, read_source};

/// Import the provider a Claude Code settings file points at, as one profile.
///
/// Reads `env`: ANTHROPIC_BASE_URL (default https://api.anthropic.com),
/// ANTHROPIC_AUTH_TOKEN (sent as bearer) or ANTHROPIC_API_KEY (x-api-key); without either,
/// an `apiKeyHelper` script becomes the key reference cmd:<script>. ANTHROPIC_MODEL
/// becomes the model rule '*=MODEL'; ANTHROPIC_DEFAULT_{SONNET,OPUS,HAIKU}_MODEL (and the
/// legacy ANTHROPIC_SMALL_FAST_MODEL for haiku) become 'claude-sonnet-*=MODEL' etc., before
/// the '*' rule. The profile is named after the base URL's host unless --profile is given.
/// Keys are copied into qcc's config and always shown masked.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc import claude-settings --dry-run          # ~/.claude/settings.json, nothing written
  qcc import claude-settings --profile relay
  qcc import claude-settings .claude/settings.local.json --profile project-relay
  qcc import claude-settings --force            # replace the profile imported before")]
pub struct Args {
    /// The settings file (default: $CLAUDE_CONFIG_DIR/settings.json, else
    /// ~/.claude/settings.json; '-' reads standard input)
    pub path: Option<PathBuf>,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let path = match &args.path {
        Some(p) => p.clone(),
        None => crate::state::claude::settings_path()?,
    };
    let bytes = read_source(
        &path,
        "pass the settings file as PATH, e.g. `qcc import claude-settings .claude/settings.json`",
    )?;
    let plan = crate::import::claude_settings::plan(&bytes, &path.display().to_string())?;
    import(ctx, plan, &args.common)
}
