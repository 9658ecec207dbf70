//! Live values for TAB completion: profile names, endpoint ids, endpoint names and model
//! route patterns read from the current config. Attached to clap args with `ArgValueCandidates` /
//! `ArgValueCompleter`; the shell calls `qcc` back (`COMPLETE=bash qcc -- <words>`) and
//! these run then.
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

/// The patterns of the model routes, in order, with the profile each sends to as help.
pub fn route_patterns() -> Vec<CompletionCandidate> {
    let Some(config) = load(&words()) else {
        return Vec::new();
    };
    config
        .routes
        .iter()
        .map(|r| CompletionCandidate::new(&r.model).help(Some(format!("→ {}", r.profile).into())))
        .collect()
}

/// The profile an endpoint being completed belongs to, if the command line names one: the
/// `--from` profile of `endpoint add … --from P --only`, else the first positional word
/// after `endpoint <verb>`, `profile use` or `env`.
fn profile_in(words: &[OsString]) -> Option<String> {
    let mut positionals: Vec<String> = Vec::new();
    let mut from = None;
    let mut value_of: Option<String> = None;
    for w in words.iter().skip(1) {
        let w = w.to_string_lossy().into_owned();
        if let Some(flag) = value_of.take() {
            if flag == "--from" || flag == "-f" {
                from = Some(w);
            }
        } else if let Some(v) = w.strip_prefix("--from=") {
            from = Some(v.to_owned());
        } else if matches!(
            w.as_str(),
            "--config-dir" | "--color" | "--from" | "-f" | "--endpoint" | "-e" | "--only"
        ) {
            value_of = Some(w);
        } else if !w.starts_with('-') {
            positionals.push(w);
        }
    }
    let words: Vec<&str> = positionals.iter().map(String::as_str).collect();
    let at = match words.as_slice() {
        ["endpoint", "add", ..] => return from,
        ["endpoint", _, ..] | ["profile", "use", ..] => 2,
        ["env", ..] => 1,
        _ => return None,
    };
    words.get(at).map(|w| (*w).to_owned())
}

/// Endpoint ids, then endpoint names, starting with `current` (names ignoring ASCII case):
/// those of the profile on the command line if one is there, else all of them. A name
/// several endpoints share (ignoring ASCII case) is offered once; names with white space are not offered (the
/// shell would split them). Help text shows profile, name and URL (ids) or the ids (names).
pub fn endpoint_ids(current: &OsStr) -> Vec<CompletionCandidate> {
    let words = words();
    let Some(config) = load(&words) else {
        return Vec::new();
    };
    let scope = profile_in(&words).filter(|p| config.profile(p).is_ok());
    let typed = current.to_string_lossy();
    let prefix = typed.to_ascii_lowercase();
    let in_scope: Vec<_> = config
        .endpoints()
        .filter(|(p, _)| scope.as_deref().is_none_or(|s| s == p.name))
        .collect();
    let mut out: Vec<CompletionCandidate> = in_scope
        .iter()
        .filter(|(_, e)| e.id.starts_with(&prefix))
        .map(|(p, e)| {
            CompletionCandidate::new(&e.id).help(Some(
                format!("{} · {} · {}", p.name, e.label(), e.url).into(),
            ))
        })
        .collect();
    // name -> the endpoints carrying it, in config order.
    let mut names: Vec<(&str, Vec<String>)> = Vec::new();
    for (p, e) in &in_scope {
        let Some(name) = e.name.as_deref().map(str::trim) else {
            continue;
        };
        let offered = name.len() >= typed.len()
            && name.is_char_boundary(typed.len())
            && name[..typed.len()].eq_ignore_ascii_case(&typed);
        if name.is_empty()
            || !offered
            || name.chars().any(|c| c.is_whitespace() || c.is_control())
            || in_scope
                .iter()
                .any(|(_, o)| o.id.eq_ignore_ascii_case(name))
        {
            continue;
        }
        let who = format!("{} ({})", e.id, p.name);
        match names.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some((_, ids)) => ids.push(who),
            None => names.push((name, vec![who])),
        }
    }
    out.extend(names.into_iter().map(|(name, ids)| {
        let help = match ids.as_slice() {
            [one] => format!("name of {one}"),
            many => format!("name of {} endpoints: {}", many.len(), many.join(", ")),
        };
        CompletionCandidate::new(name).help(Some(help.into()))
    }));
    out
}
