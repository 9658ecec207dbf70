//! Importing other tools' configurations: turning a file another tool wrote into a
//! [`Plan`] of profiles (one endpoint each) and model routes, and applying a plan to a
//! [`Config`].
//!
//! Pure: no IO, no clock, no randomness (the caller reads the file, passes `now` and the id
//! generator), so every rule is unit-tested here. One file per source format:
//! [`claude_settings`] (Claude Code's `settings.json`), [`cc_switch`] (cc-switch's
//! provider list) and [`ccr`] (claude-code-router's `config.json`). What they share lives
//! here: reading Claude Code's `ANTHROPIC_*` environment into an endpoint, profile names,
//! the loop check against qcc's own proxy, and applying. Reading files, printing and the
//! locked write are the CLI's (`cli::import`).

pub mod cc_switch;
pub mod ccr;
pub mod claude_settings;
mod json5;
mod jsonc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::state::keyref::KeyRef;
use crate::state::model::{
    AuthStyle, Config, Credential, EndpointKind, ModelError, NewEndpoint, Strategy, WEIGHT_DEFAULT,
    normalize_url,
};
use crate::state::models::ModelRule;
use crate::state::secret::Secret;

pub use jsonc::parse as parse_json;

/// Where Claude Code sends requests when only a key is configured.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";

/// Why a file cannot be imported. Each knows the hint that helps the user fix it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImportError {
    #[error("{file} is not valid JSON (line {line}, column {column}): {message}")]
    Json {
        file: String,
        line: usize,
        column: usize,
        message: String,
        /// Read as JSON5 (claude-code-router's files), not JSON with comments.
        json5: bool,
    },
    #[error("{file}: {what}")]
    Shape { file: String, what: String },
    #[error("{file} is cc-switch's SQLite database, which qcc does not read")]
    Sqlite { file: String },
    #[error("{file} is not a cc-switch config (no Claude provider list in it)")]
    UnknownFormat { file: String },
    #[error("{file} is not a claude-code-router config (no \"Providers\" list in it)")]
    NotCcr { file: String },
    #[error("route '{pattern}' already goes to profile '{profile}'")]
    RouteExists { pattern: String, profile: String },
    #[error("nothing to import from {file}: {}", .reasons.join("; "))]
    Nothing {
        file: String,
        reasons: Vec<String>,
        hint: String,
    },
    #[error("{} already exist{}", quoted(.0), if .0.len() == 1 { "s" } else { "" })]
    ProfileExists(Vec<String>),
    #[error("no provider named '{name}' in {file}")]
    UnknownProvider {
        name: String,
        file: String,
        known: Vec<String>,
    },
    #[error("--profile names one profile, but {0} providers would be imported")]
    ProfileNeedsOne(usize),
    #[error(transparent)]
    Model(#[from] ModelError),
}

fn quoted(names: &[String]) -> String {
    let list: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    let word = if names.len() == 1 {
        "profile"
    } else {
        "profiles"
    };
    format!("{word} {}", list.join(", "))
}

/// The command that turns cc-switch's database into rows `qcc import cc-switch` reads.
pub const SQLITE_EXPORT: &str = "sqlite3 -json ~/.cc-switch/cc-switch.db \"SELECT id, name, \
settings_config, is_current FROM providers WHERE app_type = 'claude'\" > cc-switch.json";

impl ImportError {
    /// A one-line suggestion for the user.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            ImportError::Json { json5: false, .. } => {
                "fix the file: it is read as JSON (// and /* */ comments and trailing commas \
                 are allowed)"
                    .into()
            }
            ImportError::Json { json5: true, .. } => {
                "fix the file: it is read as JSON5, as claude-code-router reads it (comments, \
                 trailing commas, unquoted keys and 'single quotes' are allowed)"
                    .into()
            }
            ImportError::Shape { .. } => "fix the file, or pass the right one as PATH".into(),
            ImportError::Sqlite { .. } => format!(
                "export its Claude providers first: `{SQLITE_EXPORT}`, then \
                 `qcc import cc-switch cc-switch.json`"
            ),
            ImportError::UnknownFormat { .. } => format!(
                "pass cc-switch's ~/.cc-switch/config.json (providers under \"claude\"), or \
                 rows from its database: `{SQLITE_EXPORT}`"
            ),
            ImportError::NotCcr { .. } => {
                "pass claude-code-router's ~/.claude-code-router/config.json, which lists its \
                 providers under \"Providers\""
                    .into()
            }
            ImportError::RouteExists { pattern, .. } => format!(
                "pass --force to point it at the imported profile, or remove it first: \
                 `qcc route remove '{pattern}'`"
            ),
            ImportError::Nothing { hint, .. } => hint.clone(),
            ImportError::ProfileExists(_) => {
                "pass --force to replace (tier and active profile kept), or choose another \
                 name with --profile"
                    .into()
            }
            ImportError::UnknownProvider { known, .. } if known.is_empty() => {
                "the file has no providers".into()
            }
            ImportError::UnknownProvider { known, .. } => {
                format!("its providers: {}", known.join(", "))
            }
            ImportError::ProfileNeedsOne(_) => "pick one provider with --only NAME".into(),
            ImportError::Model(e) => return e.hint(),
        })
    }

    /// Usage errors (what the user typed) exit 2, the rest 1.
    pub fn is_usage(&self) -> bool {
        match self {
            ImportError::ProfileNeedsOne(_) | ImportError::UnknownProvider { .. } => true,
            ImportError::Model(e) => matches!(e, ModelError::InvalidProfileName(_)),
            _ => false,
        }
    }
}

/// One profile to create (or replace), with its one endpoint.
#[derive(Clone, Debug)]
pub struct Planned {
    /// The profile's name in qcc.
    pub profile: String,
    /// What it came from, for output (`cc-switch provider 'Kimi'`, a file).
    pub origin: String,
    /// The source's own name and id for it, if it has them (`--only` matches both).
    pub source_name: Option<String>,
    pub source_id: Option<String>,
    pub description: String,
    pub endpoint: NewEndpoint,
    /// The source's current provider.
    pub current: bool,
}

/// A model route to add (or, with `--force`, to point at its profile).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedRoute {
    /// The model glob (`claude-*haiku*`).
    pub pattern: String,
    /// The planned profile it goes to (a [`Planned::profile`]).
    pub profile: String,
    /// What it came from, for output (`Router.background`).
    pub origin: String,
}

/// Something the source has that is not imported, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub origin: String,
    pub reason: String,
    /// The source's name for it (`--only` matches it).
    #[serde(skip)]
    pub name: Option<String>,
}

/// What a source file would become.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The file, as shown to the user.
    pub source: String,
    pub profiles: Vec<Planned>,
    /// Routes to the planned profiles, in order (appended after the config's own).
    pub routes: Vec<PlannedRoute>,
    pub skipped: Vec<Skipped>,
    /// Things worth saying that do not stop the import (a variable that was ignored).
    pub notes: Vec<String>,
    /// The hint given when nothing is left to import.
    pub nothing_hint: String,
}

impl Plan {
    /// An empty plan for `source`, with the hint to give if nothing is found in it.
    pub fn new(source: &str, nothing_hint: &str) -> Self {
        Self {
            source: source.to_owned(),
            profiles: Vec::new(),
            routes: Vec::new(),
            skipped: Vec::new(),
            notes: Vec::new(),
            nothing_hint: nothing_hint.to_owned(),
        }
    }

    /// Keep only the providers named (by name, id or profile name, ignoring ASCII case).
    pub fn select(&mut self, only: &[String]) -> Result<(), ImportError> {
        if only.is_empty() {
            return Ok(());
        }
        let matches = |p: &Planned, q: &str| {
            let q = q.trim();
            p.profile.eq_ignore_ascii_case(q)
                || p.source_id
                    .as_deref()
                    .is_some_and(|i| i.eq_ignore_ascii_case(q))
                || p.source_name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(q))
        };
        let skipped_is = |s: &Skipped, q: &str| {
            s.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(q.trim()))
        };
        for q in only {
            let known = self.profiles.iter().any(|p| matches(p, q))
                || self.skipped.iter().any(|s| skipped_is(s, q));
            if !known {
                return Err(ImportError::UnknownProvider {
                    name: q.clone(),
                    file: self.source.clone(),
                    known: self.profiles.iter().map(|p| p.profile.clone()).collect(),
                });
            }
        }
        self.profiles.retain(|p| only.iter().any(|q| matches(p, q)));
        self.skipped
            .retain(|s| only.iter().any(|q| skipped_is(s, q)));
        let kept: Vec<&str> = self.profiles.iter().map(|p| p.profile.as_str()).collect();
        self.routes.retain(|r| kept.contains(&r.profile.as_str()));
        Ok(())
    }

    /// Name the one profile (`--profile NAME`); refused when several would be imported.
    pub fn rename(&mut self, name: &str) -> Result<(), ImportError> {
        crate::state::model::validate_profile_name(name)?;
        match self.profiles.as_mut_slice() {
            [one] => {
                for r in &mut self.routes {
                    if r.profile == one.profile {
                        name.clone_into(&mut r.profile);
                    }
                }
                one.profile = name.to_owned();
                Ok(())
            }
            [] => Ok(()),
            many => Err(ImportError::ProfileNeedsOne(many.len())),
        }
    }
}

/// Whether a profile is new or replaces one of the same name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Replace,
}

/// An imported endpoint as output may show it: the key masked, or its reference.
#[derive(Clone, Debug, Serialize)]
pub struct EndpointReport {
    /// Set once written (a dry run has none).
    pub id: Option<String>,
    pub url: String,
    pub kind: EndpointKind,
    /// An `openai` endpoint's chat path when it is not the default one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_path: Option<String>,
    pub auth: AuthStyle,
    /// The masked key, or the key reference (`cmd:…`).
    pub key: String,
    /// `value` (the key is stored) or `ref` (where to read it is stored).
    pub key_kind: &'static str,
    pub models: Vec<String>,
}

/// One profile of the result.
#[derive(Clone, Debug, Serialize)]
pub struct ProfileReport {
    pub name: String,
    pub action: Action,
    pub origin: String,
    pub description: String,
    pub endpoint: EndpointReport,
}

/// What happens to a planned route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouteAction {
    /// Appended to the routes.
    Create,
    /// The config had the pattern for another profile; `--force` points it at this one (in
    /// its place).
    Replace,
    /// The config already routes the pattern to this profile.
    Keep,
}

/// One route of the result.
#[derive(Clone, Debug, Serialize)]
pub struct RouteReport {
    pub pattern: String,
    pub profile: String,
    pub action: RouteAction,
    pub origin: String,
}

/// What an import did (or, on a copy of the config, would do). Holds no secret.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub source: String,
    pub dry_run: bool,
    pub profiles: Vec<ProfileReport>,
    pub routes: Vec<RouteReport>,
    pub skipped: Vec<Skipped>,
    pub notes: Vec<String>,
    /// The profile made active by this import, if any.
    pub activated: Option<String>,
}

/// Apply `plan` to `config`: one profile per planned entry, with its endpoint, then the
/// planned routes.
///
/// - An endpoint pointing at qcc's own proxy (`proxy.listen`) is skipped: it would loop
///   (and so are the routes to its profile).
/// - Nothing left to import is [`ImportError::Nothing`].
/// - A profile of the same name is refused ([`ImportError::ProfileExists`], all of them
///   named, nothing changed) unless `force`; with `force` it is replaced wholesale —
///   description, strategy, endpoints — keeping its place in the list, its tier and
///   whether it is active.
/// - A planned route whose pattern the config routes elsewhere is refused
///   ([`ImportError::RouteExists`]) unless `force`, which points it at the imported profile
///   in its place; one already routed there is kept; the others are appended.
/// - When qcc had no profile before, the source's current provider becomes active (else
///   the first profile created, as always).
///
/// Callers apply to a copy for a dry run; an error leaves the caller to drop the changes.
pub fn apply(
    plan: &Plan,
    config: &mut Config,
    force: bool,
    now: DateTime<Utc>,
    mut new_id: impl FnMut() -> String,
) -> Result<Report, ImportError> {
    let mut skipped = plan.skipped.clone();
    let mut keep = Vec::new();
    for p in &plan.profiles {
        if is_own_proxy(&p.endpoint.url, &config.proxy.listen) {
            skipped.push(Skipped {
                origin: p.origin.clone(),
                name: p.source_name.clone(),
                reason: format!(
                    "{} is qcc's own proxy (proxy.listen {}): importing it would make a loop",
                    p.endpoint.url, config.proxy.listen
                ),
            });
        } else {
            keep.push(p);
        }
    }
    if keep.is_empty() {
        return Err(ImportError::Nothing {
            file: plan.source.clone(),
            reasons: skipped
                .iter()
                .map(|s| format!("{}: {}", s.origin, s.reason))
                .collect(),
            hint: plan.nothing_hint.clone(),
        });
    }
    let existing: Vec<String> = keep
        .iter()
        .filter(|p| config.profile(&p.profile).is_ok())
        .map(|p| p.profile.clone())
        .collect();
    if !existing.is_empty() && !force {
        return Err(ImportError::ProfileExists(existing));
    }
    let mut routes = Vec::new();
    for r in &plan.routes {
        if !keep.iter().any(|p| p.profile == r.profile) {
            skipped.push(Skipped {
                origin: r.origin.clone(),
                name: None,
                reason: format!(
                    "route '{}': its profile '{}' is not imported",
                    r.pattern, r.profile
                ),
            });
            continue;
        }
        let action = match config.routes.iter().find(|c| c.model == r.pattern) {
            None => RouteAction::Create,
            Some(c) if c.profile == r.profile => RouteAction::Keep,
            Some(_) if force => RouteAction::Replace,
            Some(c) => {
                return Err(ImportError::RouteExists {
                    pattern: r.pattern.clone(),
                    profile: c.profile.clone(),
                });
            }
        };
        routes.push((r, action));
    }
    let was_empty = config.profiles.is_empty();
    let mut profiles = Vec::new();
    for p in keep {
        let action = match config.profile_mut(&p.profile) {
            Ok(old) => {
                old.description = Some(p.description.clone());
                old.strategy = Strategy::default();
                old.endpoints.clear();
                old.created_at = now;
                old.extra.clear();
                Action::Replace
            }
            Err(_) => {
                config.add_profile(
                    &p.profile,
                    Some(p.description.clone()),
                    Strategy::default(),
                    now,
                )?;
                Action::Create
            }
        };
        let e = config.add_endpoint(&p.profile, p.endpoint.clone(), &mut new_id)?;
        profiles.push(ProfileReport {
            name: p.profile.clone(),
            action,
            origin: p.origin.clone(),
            description: p.description.clone(),
            endpoint: EndpointReport {
                id: Some(e.id.clone()),
                url: e.url.clone(),
                kind: e.kind,
                chat_path: e.chat_path.clone(),
                auth: e.auth,
                key: e.key_shown(),
                key_kind: if e.key_ref.is_some() { "ref" } else { "value" },
                models: e.models.iter().map(ToString::to_string).collect(),
            },
        });
    }
    let mut route_reports = Vec::new();
    for (r, action) in routes {
        match action {
            RouteAction::Create => {
                config.add_route(&r.pattern, &r.profile, None)?;
            }
            RouteAction::Replace => {
                if let Some(c) = config.routes.iter_mut().find(|c| c.model == r.pattern) {
                    c.profile.clone_from(&r.profile);
                }
            }
            RouteAction::Keep => {}
        }
        route_reports.push(RouteReport {
            pattern: r.pattern.clone(),
            profile: r.profile.clone(),
            action,
            origin: r.origin.clone(),
        });
    }
    let mut activated = None;
    if was_empty {
        let current = plan
            .profiles
            .iter()
            .find(|p| p.current && profiles.iter().any(|r| r.name == p.profile));
        let name = current.map_or_else(|| profiles[0].name.clone(), |p| p.profile.clone());
        config.active = Some(name.clone());
        activated = Some(name);
    }
    Ok(Report {
        source: plan.source.clone(),
        dry_run: false,
        profiles,
        routes: route_reports,
        skipped,
        notes: plan.notes.clone(),
        activated,
    })
}

/// Whether `url` is qcc's own proxy listening on `listen` (`127.0.0.1:7860`): same port on
/// a loopback name, or on the listen address itself.
pub fn is_own_proxy(url: &str, listen: &str) -> bool {
    let Ok(listen) = listen.parse::<std::net::SocketAddr>() else {
        return false;
    };
    let Ok(u) = url::Url::parse(url) else {
        return false;
    };
    if u.scheme() != "http" || u.port_or_known_default() != Some(listen.port()) {
        return false;
    }
    let host_ip = match u.host() {
        Some(url::Host::Domain(d)) => {
            return d.eq_ignore_ascii_case("localhost") && listen_is_local(listen.ip());
        }
        Some(url::Host::Ipv4(ip)) => std::net::IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) => std::net::IpAddr::V6(ip),
        None => return false,
    };
    host_ip == listen.ip()
        || (host_ip.is_loopback() || host_ip.is_unspecified()) && listen_is_local(listen.ip())
}

/// A listener that loopback names reach: loopback itself or every address.
fn listen_is_local(ip: std::net::IpAddr) -> bool {
    ip.is_loopback() || ip.is_unspecified()
}

/// A profile name from another tool's label: runs of anything but `[A-Za-z0-9._-]` become
/// one `-`, no leading `-`/`.`, no trailing `-`, at most 64 characters. `None` when nothing
/// is left (a name of only non-ASCII letters).
pub fn profile_name(label: &str) -> Option<String> {
    let mut out = String::new();
    for c in label.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_start_matches(['-', '.']).trim_end_matches('-');
    let mut name: String = trimmed.chars().take(64).collect();
    while name.ends_with('-') {
        name.pop();
    }
    (!name.is_empty()).then_some(name)
}

/// `name`, or `name-2`, `name-3` … — the first not in `taken`.
pub fn unique_name(name: &str, taken: &[String]) -> String {
    if !taken.iter().any(|t| t == name) {
        return name.to_owned();
    }
    (2..)
        .map(|n| {
            let suffix = format!("-{n}");
            let base: String = name.chars().take(64 - suffix.len()).collect();
            format!("{base}{suffix}")
        })
        .find(|c| !taken.iter().any(|t| t == c))
        .expect("an unused suffix exists")
}

/// An endpoint read from Claude Code settings (a `settings.json` object, or cc-switch's
/// `settingsConfig`), with notes on what was ignored.
pub struct FromSettings {
    pub endpoint: NewEndpoint,
    pub notes: Vec<String>,
}

/// Read the endpoint Claude Code would use from its settings: `env.ANTHROPIC_BASE_URL`
/// (default [`DEFAULT_BASE_URL`]), the key from `ANTHROPIC_AUTH_TOKEN` (bearer), else
/// `ANTHROPIC_API_KEY` (api-key), else `apiKeyHelper` (a `cmd:` reference, api-key); the
/// model variables become model rules, family rules before `*`. `Err` is why there is
/// nothing to import.
pub fn from_settings(settings: &Map<String, Value>) -> Result<FromSettings, String> {
    let empty = Map::new();
    let env = match settings.get("env") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(env)) => env,
        Some(_) => return Err("\"env\" is not an object".into()),
    };
    let var = |name: &str| {
        env.get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let helper = settings
        .get("apiKeyHelper")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let mut notes = Vec::new();
    let (key, auth) = match (
        var("ANTHROPIC_AUTH_TOKEN"),
        var("ANTHROPIC_API_KEY"),
        helper,
    ) {
        (Some(token), api_key, _) => {
            if api_key.is_some() {
                notes.push(
                    "ANTHROPIC_API_KEY ignored: ANTHROPIC_AUTH_TOKEN is used (bearer)".into(),
                );
            }
            (Credential::Value(Secret::new(token)), AuthStyle::Bearer)
        }
        (None, Some(k), _) => (Credential::Value(Secret::new(k)), AuthStyle::ApiKey),
        (None, None, Some(script)) => (
            Credential::Ref(KeyRef::Cmd(script.to_owned())),
            AuthStyle::ApiKey,
        ),
        (None, None, None) => {
            return Err(
                "no key (no ANTHROPIC_AUTH_TOKEN or ANTHROPIC_API_KEY in env, no apiKeyHelper)"
                    .into(),
            );
        }
    };
    if helper.is_some() && matches!(key, Credential::Value(_)) {
        notes.push("apiKeyHelper ignored: a key in env is used".into());
    }
    let raw_url = var("ANTHROPIC_BASE_URL").unwrap_or(DEFAULT_BASE_URL);
    let url = normalize_url(raw_url).map_err(|e| format!("ANTHROPIC_BASE_URL: {e}"))?;
    Ok(FromSettings {
        endpoint: NewEndpoint {
            name: None,
            url,
            key,
            auth,
            weight: WEIGHT_DEFAULT,
            models: model_rules(&var),
            kind: Default::default(),
            chat_path: None,
        },
        notes,
    })
}

/// The model variables as rules: families first (sonnet, opus, haiku — the legacy
/// `ANTHROPIC_SMALL_FAST_MODEL` when no haiku one is set), then `*=ANTHROPIC_MODEL`.
fn model_rules<'a>(var: &impl Fn(&str) -> Option<&'a str>) -> Vec<ModelRule> {
    let families = [
        ("claude-sonnet-*", var("ANTHROPIC_DEFAULT_SONNET_MODEL")),
        ("claude-opus-*", var("ANTHROPIC_DEFAULT_OPUS_MODEL")),
        (
            "claude-haiku-*",
            var("ANTHROPIC_DEFAULT_HAIKU_MODEL").or_else(|| var("ANTHROPIC_SMALL_FAST_MODEL")),
        ),
        ("*", var("ANTHROPIC_MODEL")),
    ];
    families
        .into_iter()
        .filter_map(|(pattern, target)| {
            target.map(|t| ModelRule {
                pattern: pattern.to_owned(),
                target: t.to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
