//! `qcc profile use <name>`

use chrono::Utc;

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::state::claude;
use crate::ui::{self, style};

/// Point Claude Code at a profile directly, without the proxy.
///
/// Merges ANTHROPIC_BASE_URL and the key (ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN, by the
/// endpoint's auth style; the other one is removed) into the `env` object of Claude Code's
/// settings.json ($CLAUDE_CONFIG_DIR or ~/.claude). Everything else in the file is kept, and
/// the previous file is copied to settings.json.qcc-backup-<time> first. Uses the profile's
/// first enabled endpoint unless --endpoint says otherwise.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc profile use work
  qcc profile use work --endpoint e7c1")]
pub struct Args {
    /// The profile
    #[arg(add = clap_complete::ArgValueCandidates::new(complete::profiles))]
    pub name: String,
    /// Which endpoint of the profile (id, name or unique id prefix)
    #[arg(short, long, value_name = "ENDPOINT", add = clap_complete::ArgValueCompleter::new(complete::endpoint_ids))]
    pub endpoint: Option<String>,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let config = ctx.config()?;
    let e = config.direct_endpoint(&args.name, args.endpoint.as_deref())?;
    if let Some(r) = &e.key_ref {
        return Err(CliError::failed(
            format!(
                "endpoint {} keeps its key in a reference ({r}); writing it into Claude Code's settings would copy it",
                e.id
            ),
            Some(format!(
                "point Claude Code at the proxy instead (`qcc proxy start`), or use `eval \"$(qcc env {})\"` in one shell",
                args.name
            )),
        ));
    }
    let path = claude::settings_path()?;
    let stamp = Utc::now().format("%Y%m%dT%H%M%S").to_string();
    let applied = claude::merge_env(&path, &claude::env_for(e, &e.key), &stamp)?;
    if ctx.json {
        ui::print_json(&serde_json::json!({
            "settings": applied.path,
            "backup": applied.backup,
            "profile": args.name,
            "endpoint": e.id,
            "url": e.url,
            "key": e.key.masked(),
        }));
    } else {
        style::success(&format!(
            "Claude Code now uses {} ({}) from profile '{}'",
            e.url,
            e.key.masked(),
            args.name
        ));
        println!("  settings: {}", applied.path.display());
        if let Some(b) = &applied.backup {
            println!("  backup:   {}", b.display());
        }
    }
    Ok(())
}
