//! `qcc config …`: the config file as a whole — where it is, export, import, edit. Also the
//! pieces the verbs share: reading a config text (keys masked in exports are filled back
//! from the current config) and checking it whole before anything is written.

pub mod edit;
pub mod export;
pub mod import;
pub mod path;

use clap::Subcommand;
use serde_json::Value;

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::state::Config;
use crate::state::validate::validate;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Print where the config file (and the other state) lives
    Path(path::Args),
    /// Print the whole config as JSON (keys masked unless --with-keys)
    Export(export::Args),
    /// Replace the config with a file, after checking it whole
    Import(import::Args),
    /// Edit the config in $EDITOR; a broken edit is refused and kept aside
    Edit(edit::Args),
}

pub fn run(ctx: &Ctx, cmd: &Cmd) -> Result<(), CliError> {
    match cmd {
        Cmd::Path(a) => path::run(ctx, a),
        Cmd::Export(a) => export::run(ctx, a),
        Cmd::Import(a) => import::run(ctx, a),
        Cmd::Edit(a) => edit::run(ctx, a),
    }
}

/// A config from its JSON text, checked whole. An endpoint without `key` and `key_ref` (a
/// default export masks keys) takes the key of the endpoint with the same id in `current`;
/// `key_masked` is ignored. `what` names the text in errors (a file name).
pub fn parse_config(text: &str, current: &Config, what: &str) -> Result<Config, CliError> {
    let hint = || Some("fix it and run the command again; nothing was changed".to_owned());
    let mut v: Value = serde_json::from_str(text)
        .map_err(|e| CliError::failed(format!("{what} is not valid JSON: {e}"), hint()))?;
    let mut missing = Vec::new();
    for p in v["profiles"].as_array_mut().into_iter().flatten() {
        for e in p["endpoints"].as_array_mut().into_iter().flatten() {
            let Some(obj) = e.as_object_mut() else {
                continue;
            };
            obj.remove("key_masked");
            let has_key = obj
                .get("key")
                .and_then(Value::as_str)
                .is_some_and(|k| !k.is_empty());
            if has_key || obj.contains_key("key_ref") {
                continue;
            }
            let id = obj
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            match current.endpoints().find(|(_, c)| c.id == id) {
                Some((_, c)) if c.key_ref.is_some() => {
                    obj.insert(
                        "key_ref".into(),
                        c.key_ref.as_ref().map(ToString::to_string).into(),
                    );
                }
                Some((_, c)) if !c.key.is_empty() => {
                    obj.insert("key".into(), c.key.expose().into());
                }
                _ => missing.push(if id.is_empty() {
                    "(no id)".to_owned()
                } else {
                    id
                }),
            }
        }
    }
    if !missing.is_empty() {
        return Err(CliError::failed(
            format!(
                "{what}: endpoint(s) {} have no key, and no endpoint with that id has one now",
                missing.join(", ")
            ),
            Some("export with --with-keys, or give those endpoints a key or a key_ref".into()),
        ));
    }
    let config: Config = serde_json::from_value(v)
        .map_err(|e| CliError::failed(format!("{what} is not a qcc config: {e}"), hint()))?;
    validate(&config).map_err(|e| {
        CliError::failed(
            format!("{what}: {e}"),
            e.hint
                .or_else(|| Some("fix it and run the command again; nothing was changed".into())),
        )
    })?;
    Ok(config)
}
