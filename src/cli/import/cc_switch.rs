//! `qcc import cc-switch [PATH]`

use std::path::PathBuf;

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::cli::import::{Common, import, read_source};
use crate::import::SQLITE_EXPORT;

/// Import cc-switch's Claude providers: one profile per provider, named after it.
///
/// Reads ~/.cc-switch/config.json (cc-switch 3.x: providers under "claude"; the older
/// top-level "providers" too). Newer cc-switch keeps providers in its SQLite database
/// (~/.cc-switch/cc-switch.db), which qcc does not read: export the rows with sqlite3 (see
/// the examples) and import that file. Each provider's settingsConfig.env is read like
/// `qcc import claude-settings` reads env; providers without a key are skipped with the
/// reason. When qcc has no profile yet, cc-switch's current provider becomes the active
/// profile. Keys are copied into qcc's config and always shown masked.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc import cc-switch --dry-run
  qcc import cc-switch --only Kimi --only 'GLM Coding'
  qcc import cc-switch --only Kimi --profile kimi
  sqlite3 -json ~/.cc-switch/cc-switch.db \\
    \"SELECT id, name, settings_config, is_current FROM providers WHERE app_type = 'claude'\" \\
    | qcc import cc-switch -")]
pub struct Args {
    /// cc-switch's config.json, or its providers as `sqlite3 -json` rows (default:
    /// ~/.cc-switch/config.json; '-' reads standard input)
    pub path: Option<PathBuf>,
    /// Import only this provider (its name or id, or the profile name; repeatable)
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
        &format!(
            "pass cc-switch's config.json as PATH; newer cc-switch versions keep providers in \
             ~/.cc-switch/cc-switch.db: `{SQLITE_EXPORT}`, then `qcc import cc-switch \
             cc-switch.json`"
        ),
    )?;
    let mut plan = crate::import::cc_switch::plan(&bytes, &path.display().to_string())?;
    plan.select(&args.only)?;
    import(ctx, plan, &args.common)
}

/// `~/.cc-switch/config.json`, or the database when only that exists (which then says how
/// to export it).
fn default_path() -> Result<PathBuf, CliError> {
    let home = directories::BaseDirs::new().ok_or(crate::state::StoreError::NoHome)?;
    let dir = home.home_dir().join(".cc-switch");
    let json = dir.join("config.json");
    let db = dir.join("cc-switch.db");
    Ok(if !json.exists() && db.exists() {
        db
    } else {
        json
    })
}
