//! Claude Code's own settings file (`~/.claude/settings.json`, or `$CLAUDE_CONFIG_DIR`):
//! merging environment values into its `env` object for `qcc profile use`.
//!
//! Everything else in the file is kept as it was (key order included); the original is
//! copied to a timestamped backup first; the new file is written atomically with mode 0600
//! because it now holds a key.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::state::model::{AuthStyle, Endpoint};
use crate::state::secret::Secret;
use crate::state::store::{StoreError, write_atomic};

/// The environment a client needs to talk to `e` directly with `key` (its stored key, or
/// the one its reference gave): the base URL and the key in the variable matching its auth
/// style; the other key variable is unset so that Claude Code does not send both.
pub fn env_for<'a>(e: &'a Endpoint, key: &'a Secret) -> Vec<(&'static str, Option<&'a str>)> {
    let key = Some(key.expose());
    let (api_key, auth_token) = match e.auth {
        AuthStyle::ApiKey => (key, None),
        AuthStyle::Bearer => (None, key),
    };
    vec![
        ("ANTHROPIC_BASE_URL", Some(e.url.as_str())),
        ("ANTHROPIC_API_KEY", api_key),
        ("ANTHROPIC_AUTH_TOKEN", auth_token),
    ]
}

/// Where Claude Code reads its user settings.
pub fn settings_path() -> Result<PathBuf, StoreError> {
    if let Some(dir) = std::env::var_os("CLAUDE_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("settings.json"));
    }
    let home = directories::BaseDirs::new().ok_or(StoreError::NoHome)?;
    Ok(home.home_dir().join(".claude").join("settings.json"))
}

/// What was written.
#[derive(Debug)]
pub struct Applied {
    pub path: PathBuf,
    /// The copy of the previous file, if there was one.
    pub backup: Option<PathBuf>,
}

/// Set (`Some`) or remove (`None`) variables in the settings' `env` object.
pub fn merge_env(
    path: &Path,
    vars: &[(&str, Option<&str>)],
    stamp: &str,
) -> Result<Applied, StoreError> {
    let original = match fs::read(path) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(StoreError::Io {
                action: "read",
                path: path.to_owned(),
                source,
            });
        }
    };
    let mut doc: Value = match &original {
        Some(bytes) if !bytes.iter().all(u8::is_ascii_whitespace) => serde_json::from_slice(bytes)
            .map_err(|e| StoreError::Corrupt {
                path: path.to_owned(),
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })?,
        _ => Value::Object(Map::new()),
    };
    let not_object = |what: &str| StoreError::Corrupt {
        path: path.to_owned(),
        line: 1,
        column: 1,
        message: format!("{what} is not a JSON object"),
    };
    let root = doc.as_object_mut().ok_or_else(|| not_object("the file"))?;
    let env = root
        .entry("env")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| not_object("\"env\""))?;
    for (name, value) in vars {
        match value {
            Some(v) => {
                env.insert((*name).to_owned(), Value::String((*v).to_owned()));
            }
            None => {
                env.remove(*name);
            }
        }
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            action: "create",
            path: dir.to_owned(),
            source,
        })?;
    }
    let backup = match &original {
        Some(bytes) => {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let backup = path.with_file_name(format!("{name}.qcc-backup-{stamp}"));
            write_atomic(&backup, bytes, 0o600)?;
            Some(backup)
        }
        None => None,
    };
    let mut bytes = serde_json::to_vec_pretty(&doc).expect("a JSON value serializes");
    bytes.push(b'\n');
    write_atomic(path, &bytes, 0o600)?;
    Ok(Applied {
        path: path.to_owned(),
        backup,
    })
}
