//! `qcc config edit`

use std::process::Command;

use crate::cli::config::parse_config;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::state::store::write_atomic;
use crate::ui::style;

/// Edit the config in $VISUAL or $EDITOR (else vi). The editor gets a copy; when it exits
/// the copy is checked whole and, if good, replaces the config atomically (a running proxy
/// reloads it). A broken edit is refused — the config stays as it was — and kept as
/// `config.json.rejected` beside it, to fix and import with `qcc config import`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc config edit
  EDITOR='code --wait' qcc config edit")]
pub struct Args {}

pub fn run(ctx: &Ctx, _args: &Args) -> Result<(), CliError> {
    let before = ctx.config()?;
    let mut text = serde_json::to_string_pretty(&before).expect("JSON");
    text.push('\n');
    let copy = ctx.paths.document("config.edit.json");
    write_atomic(&copy, text.as_bytes(), 0o600)?;
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|e| !e.trim().is_empty()))
        .unwrap_or_else(|| "vi".into());
    // The editor value may carry arguments (`code --wait`): the shell splits it.
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&copy)
        .status();
    let cleanup = || {
        let _ = std::fs::remove_file(&copy);
    };
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => {
            cleanup();
            return Err(CliError::failed(
                format!("the editor ({editor}) exited with {s}; nothing was changed"),
                Some("set $EDITOR to an editor that exits 0 when you save".into()),
            ));
        }
        Err(e) => {
            cleanup();
            return Err(CliError::failed(
                format!("cannot run the editor ({editor}): {e}"),
                None,
            ));
        }
    }
    let edited = std::fs::read_to_string(&copy)
        .map_err(|e| CliError::failed(format!("cannot read the edited copy: {e}"), None))?;
    if edited == text {
        cleanup();
        println!("no changes");
        return Ok(());
    }
    let new = match parse_config(&edited, &before, "the edited config") {
        Ok(c) => c,
        Err(e) => {
            let kept = ctx.paths.document("config.json.rejected");
            let moved = std::fs::rename(&copy, &kept);
            if moved.is_err() {
                cleanup();
            }
            let (message, hint) = (e.to_string(), e.hint());
            let hint = match moved {
                Ok(()) => format!(
                    "your edit is kept in {} (fix it, then `qcc config import` it); {}",
                    kept.display(),
                    hint.unwrap_or_default()
                ),
                Err(_) => hint.unwrap_or_default(),
            };
            return Err(CliError::failed(
                format!("{message}; the config was not changed"),
                Some(hint),
            ));
        }
    };
    let replaced = ctx.update(|c| {
        if *c != before {
            return Err(CliError::failed(
                "the config changed while you were editing; your edit was not applied",
                Some(format!(
                    "your edit is in {}: import it with `qcc config import`",
                    copy.display()
                )),
            ));
        }
        *c = new;
        Ok(())
    });
    if replaced.is_ok() {
        cleanup();
        style::success("config updated");
    }
    replaced
}
