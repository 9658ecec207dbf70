//! Live values for TAB completion: profile names and endpoint ids read from the current
//! config. Attached to clap args with `ArgValueCandidates` / `ArgValueCompleter`; the shell
//! calls `qcc` back (`COMPLETE=bash qcc -- <words>`) and these run then.
//!
//! Completion must never fail loudly: any error reading state yields no candidates.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use clap_complete::engine::CompletionCandidate;

use crate::state::{Config, Paths, Store};

/// The words the shell is completing (everything after `--`), when called by the shell.
fn words() -> Vec<OsString> {
    let args: Vec<OsString> = std::env::args_os().collect();
    match args.iter().position(|a| a == "--") {
        Some(i) => args[i + 1..].to_vec(),
        None => Vec::new(),
    }
}

/// Load the config the command being completed would use (honouring `--config-dir`).
fn load(words: &[OsString]) -> Option<Config> {
    let mut flag: Option<PathBuf> = None;
    for (i, w) in words.iter().enumerate() {
        let w = w.to_string_lossy();
        if let Some(v) = w.strip_prefix("--config-dir=") {
            flag = Some(v.into());
        } else if w == "--config-dir" {
            flag = words.get(i + 1).map(PathBuf::from);
        }
    }
    let paths = Paths::resolve(flag.as_deref()).ok()?;
    if !paths.config_dir().is_dir() {
        return None;
    }
    Store::open(paths).ok()?.read().ok()
}

/// Profile names, with their descriptions as help.
pub fn profiles() -> Vec<CompletionCandidate> {
    let Some(config) = load(&words()) else {
        return Vec::new();
    };
    config
        .profiles
        .iter()
        .map(|p| {
            let help = match &p.description {
                Some(d) => format!("{} endpoints — {d}", p.endpoints.len()),
                None => format!("{} endpoints", p.endpoints.len()),
            };
            CompletionCandidate::new(&p.name).help(Some(help.into()))
        })
        .collect()
}

/// The profile named by the first positional word after `endpoint <verb>`, if any.
fn profile_in(words: &[OsString]) -> Option<String> {
    let start = words.iter().position(|w| w == "endpoint")? + 2;
    let mut skip_value = false;
    for w in words.get(start..)? {
        let w = w.to_string_lossy();
        if skip_value {
            skip_value = false;
        } else if w == "--config-dir" || w == "--color" {
            skip_value = true;
        } else if !w.starts_with('-') {
            return Some(w.into_owned());
        }
    }
    None
}

/// Endpoint ids starting with `current`: those of the profile on the command line if one is
/// there, else all of them. Help text shows profile, name and URL.
pub fn endpoint_ids(current: &OsStr) -> Vec<CompletionCandidate> {
    let words = words();
    let Some(config) = load(&words) else {
        return Vec::new();
    };
    let scope = profile_in(&words).filter(|p| config.profile(p).is_ok());
    let prefix = current.to_string_lossy().to_ascii_lowercase();
    config
        .endpoints()
        .filter(|(p, e)| scope.as_deref().is_none_or(|s| s == p.name) && e.id.starts_with(&prefix))
        .map(|(p, e)| {
            CompletionCandidate::new(&e.id).help(Some(
                format!("{} · {} · {}", p.name, e.label(), e.url).into(),
            ))
        })
        .collect()
}
