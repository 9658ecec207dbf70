//! `qcc config import FILE`

use std::io::Read;
use std::path::PathBuf;

use crate::cli::config::parse_config;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::state::Config;
use crate::ui::{self, style};

/// Replace the whole config with FILE (`-`: standard input). The file is checked whole
/// first — JSON, shape, names, ids, URLs, weights, keys, tiers — and the config is replaced
/// atomically, or not at all. Endpoints without a key (a default export) keep the key of
/// the endpoint with the same id. A running proxy reloads it.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc config import qcc-config.json --dry-run   # what would change
  qcc config import backup.json
  ssh old-box qcc config export --with-keys | qcc config import -")]
pub struct Args {
    /// The config file, or - for standard input
    pub file: PathBuf,
    /// Say what would change; write nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// Profiles and endpoints added, removed and changed between two configs.
fn changes(old: &Config, new: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for p in &new.profiles {
        match old.profiles.iter().find(|o| o.name == p.name) {
            None => out.push(format!(
                "+ profile {} ({} endpoints)",
                p.name,
                p.endpoints.len()
            )),
            Some(o) if o != p => out.push(format!("~ profile {}", p.name)),
            _ => {}
        }
    }
    for o in &old.profiles {
        if !new.profiles.iter().any(|p| p.name == o.name) {
            out.push(format!("- profile {}", o.name));
        }
    }
    for (_, e) in new.endpoints() {
        match old.endpoints().find(|(_, o)| o.id == e.id) {
            None => out.push(format!("+ endpoint {} {}", e.id, e.url)),
            Some((_, o)) if o != e => out.push(format!("~ endpoint {} {}", e.id, e.url)),
            _ => {}
        }
    }
    for (_, o) in old.endpoints() {
        if !new.endpoints().any(|(_, e)| e.id == o.id) {
            out.push(format!("- endpoint {} {}", o.id, o.url));
        }
    }
    let rest = |c: &Config| {
        (
            c.active.clone(),
            c.tiers.clone(),
            c.policy.clone(),
            c.proxy.clone(),
            c.queue.clone(),
            c.health.clone(),
        )
    };
    if rest(old) != rest(new) {
        out.push("~ settings (active profile, tiers, policy, proxy, queue or health)".into());
    }
    out
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let what = args.file.display().to_string();
    let text = if what == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| CliError::failed(format!("cannot read standard input: {e}"), None))?;
        s
    } else {
        std::fs::read_to_string(&args.file).map_err(|e| {
            CliError::failed(
                format!("cannot read {what}: {e}"),
                Some("check the path".into()),
            )
        })?
    };
    let current = ctx.config()?;
    let new = parse_config(&text, &current, &what)?;
    let changed = changes(&current, &new);
    if !args.dry_run && !changed.is_empty() {
        ctx.update(|c| {
            *c = new.clone();
            Ok(())
        })?;
    }
    if ctx.json {
        ui::print_json(&serde_json::json!({
            "file": what, "dry_run": args.dry_run, "changes": changed,
        }));
        return Ok(());
    }
    if changed.is_empty() {
        println!("{what} is the config already: nothing to change");
        return Ok(());
    }
    for c in &changed {
        println!("{c}");
    }
    if args.dry_run {
        println!("(dry run: nothing written)");
    } else {
        style::success(&format!("config replaced from {what}"));
    }
    Ok(())
}
