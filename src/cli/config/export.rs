//! `qcc config export`

use std::path::PathBuf;

use serde_json::Value;

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::state::secret::mask;
use crate::state::store::write_atomic;
use crate::ui::style;

/// Print the whole config as JSON. Stored keys are left out and shown masked
/// (`key_masked`) unless --with-keys; key references are kept as they are. `qcc config
/// import` takes the result back (masked keys are filled from the endpoints with the same
/// ids).
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc config export > qcc-config.json          # keys masked: safe to share
  qcc config export --with-keys -o backup.json # a full backup (written 0600)
  qcc config export | jq '.profiles[].name'")]
pub struct Args {
    /// Include stored keys in full
    #[arg(long)]
    pub with_keys: bool,
    /// Write to this file (0600, atomically) instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let config = ctx.config()?;
    let mut v = serde_json::to_value(&config).expect("a config serialises");
    if !args.with_keys {
        for p in v["profiles"].as_array_mut().into_iter().flatten() {
            for e in p["endpoints"].as_array_mut().into_iter().flatten() {
                let Some(obj) = e.as_object_mut() else {
                    continue;
                };
                if let Some(Value::String(k)) = obj.remove("key") {
                    obj.insert("key_masked".into(), mask(&k).into());
                }
            }
        }
    }
    let mut text = serde_json::to_string_pretty(&v).expect("JSON");
    text.push('\n');
    match &args.output {
        Some(path) => {
            write_atomic(path, text.as_bytes(), 0o600)?;
            if !ctx.json {
                style::success(&format!("config written to {}", path.display()));
            }
        }
        None => print!("{text}"),
    }
    if args.with_keys
        && args.output.is_none()
        && std::io::IsTerminal::is_terminal(&std::io::stdout())
    {
        style::warn("the export holds your keys in full");
    }
    Ok(())
}
