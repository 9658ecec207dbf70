//! cc-switch's Claude providers as a plan: one profile per provider, named after it.
//!
//! The shapes read (github.com/farion1231/cc-switch, `src-tauri/src/app_config.rs`,
//! `provider.rs`, `database/schema.rs`):
//! - v2 `~/.cc-switch/config.json` (3.x until the database): `{"version": 2, "claude":
//!   {"providers": {ID: PROVIDER}, "current": ID}, "codex": …}`;
//! - v1 (before 3.0): `{"providers": {ID: PROVIDER}, "current": ID}`;
//! - rows of the newer SQLite database (`~/.cc-switch/cc-switch.db`, table `providers`)
//!   as `sqlite3 -json` prints them: `[{"id", "name", "settings_config": "<JSON text>",
//!   "is_current": 0|1, "app_type"?}]`.
//!
//! A PROVIDER is `{"id", "name", "settingsConfig": {"env": {ANTHROPIC_*}, …}, "sortIndex"?,
//! …}`; `settingsConfig` is a Claude Code settings object, read by
//! [`super::from_settings`]. The database itself is not read (no SQLite here): a file
//! starting with SQLite's magic is [`ImportError::Sqlite`], whose hint is the export.

use serde_json::{Map, Value};

use super::{ImportError, Plan, Planned, Skipped, from_settings, parse_json, profile_name};

const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

const HINT: &str = "each provider needs a key in settingsConfig.env (ANTHROPIC_AUTH_TOKEN or \
ANTHROPIC_API_KEY); see them with `qcc import cc-switch --dry-run`";

/// One provider as found, before it is judged.
struct Found {
    id: String,
    name: String,
    settings: Option<Map<String, Value>>,
    current: bool,
    sort_index: Option<u64>,
}

/// Plan the import of the cc-switch file `file` holding `bytes`.
pub fn plan(bytes: &[u8], file: &str) -> Result<Plan, ImportError> {
    if bytes.starts_with(SQLITE_MAGIC) {
        return Err(ImportError::Sqlite {
            file: file.to_owned(),
        });
    }
    let doc = parse_json(bytes, file)?;
    let mut found = providers(&doc).ok_or_else(|| ImportError::UnknownFormat {
        file: file.to_owned(),
    })?;
    // cc-switch lists providers by sortIndex when set, else in file order.
    found.sort_by_key(|f| f.sort_index.unwrap_or(u64::MAX));
    let mut plan = Plan::new(file, HINT);
    let mut taken: Vec<String> = Vec::new();
    for f in found {
        let origin = format!("cc-switch provider '{}'", f.name);
        let skip = |reason: String| Skipped {
            origin: origin.clone(),
            reason,
            name: Some(f.name.clone()),
        };
        let Some(settings) = &f.settings else {
            plan.skipped
                .push(skip("settingsConfig is not an object".into()));
            continue;
        };
        match from_settings(settings) {
            Ok(ok) => {
                let base = profile_name(&f.name)
                    .or_else(|| profile_name(&f.id))
                    .unwrap_or_else(|| "cc-switch".into());
                let name = super::unique_name(&base, &taken);
                taken.push(name.clone());
                plan.notes
                    .extend(ok.notes.into_iter().map(|n| format!("{origin}: {n}")));
                plan.profiles.push(Planned {
                    profile: name,
                    origin: origin.clone(),
                    source_name: Some(f.name.clone()),
                    source_id: Some(f.id.clone()),
                    description: format!("cc-switch provider '{}'", f.name),
                    endpoint: ok.endpoint,
                    current: f.current,
                });
            }
            Err(reason) => plan.skipped.push(skip(reason)),
        }
    }
    Ok(plan)
}

/// The Claude providers of any of the known shapes, or `None` for another file.
fn providers(doc: &Value) -> Option<Vec<Found>> {
    match doc {
        Value::Array(rows) => Some(rows.iter().filter_map(row).collect()),
        Value::Object(root) => {
            let manager = match root.get("claude") {
                Some(Value::Object(claude)) if claude.contains_key("providers") => claude,
                _ if root.contains_key("providers") => root,
                _ => return None,
            };
            let current = manager.get("current").and_then(Value::as_str).unwrap_or("");
            let Some(Value::Object(list)) = manager.get("providers") else {
                return None;
            };
            Some(
                list.iter()
                    .map(|(key, p)| {
                        let id = p
                            .get("id")
                            .and_then(Value::as_str)
                            .unwrap_or(key)
                            .to_owned();
                        Found {
                            name: text(p.get("name")).unwrap_or_else(|| id.clone()),
                            settings: p.get("settingsConfig").and_then(object),
                            current: !current.is_empty() && (key == current || id == current),
                            sort_index: p.get("sortIndex").and_then(Value::as_u64),
                            id,
                        }
                    })
                    .collect(),
            )
        }
        _ => None,
    }
}

/// One `sqlite3 -json` row of the providers table (other apps' rows left out).
fn row(r: &Value) -> Option<Found> {
    let app = r.get("app_type").and_then(Value::as_str);
    if app.is_some_and(|a| a != "claude") {
        return None;
    }
    let id = text(r.get("id")).unwrap_or_default();
    let settings = match r.get("settings_config") {
        Some(Value::String(s)) => serde_json::from_str::<Value>(s)
            .ok()
            .as_ref()
            .and_then(object),
        other => other.and_then(object),
    };
    let current = match r.get("is_current") {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        Some(Value::String(s)) => s == "1" || s == "true",
        _ => false,
    };
    Some(Found {
        name: text(r.get("name")).unwrap_or_else(|| id.clone()),
        id,
        settings,
        current,
        sort_index: r.get("sort_index").and_then(Value::as_u64),
    })
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn object(v: &Value) -> Option<Map<String, Value>> {
    v.as_object().cloned()
}
