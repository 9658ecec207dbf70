//! claude-code-router's `config.json` as a plan: one profile per provider, named after
//! it, with one endpoint (`openai`, or `anthropic` for a provider ccr sends Anthropic's API
//! to), model maps from `Router.default` and `Router.background`, and the route that sends
//! Claude Code's haiku-class requests to the background provider.
//!
//! The shape read (github.com/musistudio/claude-code-router: README "Configuration",
//! `src/utils/index.ts` `readConfigFile`, `src/utils/router.ts`; the providers' URLs and
//! keys as `@musistudio/llms` sends them), parsed as JSON5 like ccr does, with ccr's `$VAR` /
//! `${VAR}` interpolation recognised in keys:
//!
//! ```text
//! { "APIKEY", "HOST", "PORT", "PROXY_URL", "LOG", "CUSTOM_ROUTER_PATH", "transformers": [..],
//!   "Providers": [{ "name", "api_base_url": full chat URL, "api_key", "models": [..],
//!                   "transformer": { "use": [NAME | [NAME, {options}]], MODEL: { "use" } } }],
//!   "Router": { "default": "provider,model", "background", "think", "longContext",
//!               "longContextThreshold", "webSearch", "image" } }
//! ```
//!
//! ccr posts to `api_base_url` as it is, with `Authorization: Bearer KEY` — or, with the
//! `Anthropic` transformer, passes the request through with `x-api-key` (`Bearer` with its
//! `UseBearer` option). qcc's base URL and chat path are chosen so that it sends to exactly
//! that URL.

use serde_json::{Map, Value};

use super::json5;
use super::{ImportError, Plan, Planned, PlannedRoute, Skipped, profile_name, unique_name};
use crate::state::keyref::KeyRef;
use crate::state::model::{
    AuthStyle, Credential, EndpointKind, NewEndpoint, WEIGHT_DEFAULT, normalize_url,
};
use crate::state::models::ModelRule;
use crate::state::secret::Secret;

/// The route (and model-map pattern) for Claude Code's haiku-class requests, which ccr
/// sends to `Router.background` (any model containing "haiku"; older ccr versions only
/// `claude-3-5-haiku*`).
pub const BACKGROUND_PATTERN: &str = "claude-*haiku*";

const HINT: &str = "each provider needs a name, an api_key and an api_base_url ending in \
/chat/completions (or /v1/messages for the Anthropic transformer); see them with `qcc import \
ccr --dry-run`";

/// A provider's endpoint as read, before the Router gives it models.
struct Parsed {
    endpoint: NewEndpoint,
    models: Vec<String>,
    /// Transformers not imported: names only (a note), and those with options (skipped).
    plain: Vec<String>,
    with_options: Vec<String>,
}

/// One entry of `Providers`.
struct Provider {
    /// Its `name`, if it has one.
    name: Option<String>,
    origin: String,
    parsed: Result<Parsed, String>,
}

/// Plan the import of the ccr config `file` holding `bytes`.
pub fn plan(bytes: &[u8], file: &str) -> Result<Plan, ImportError> {
    let doc = json5::parse(bytes, file)?;
    let shape = |what: &str| ImportError::Shape {
        file: file.to_owned(),
        what: what.to_owned(),
    };
    let Value::Object(root) = doc else {
        return Err(shape("the file is not a JSON object"));
    };
    let list = match root.get("Providers") {
        Some(Value::Array(list)) => list,
        Some(_) => return Err(shape("\"Providers\" is not a list")),
        None => {
            return Err(ImportError::NotCcr {
                file: file.to_owned(),
            });
        }
    };
    if list.is_empty() {
        return Err(ImportError::Nothing {
            file: file.to_owned(),
            reasons: vec!["its \"Providers\" list is empty".into()],
            hint: HINT.into(),
        });
    }
    let empty = Map::new();
    let router = match root.get("Router") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(r)) => r,
        Some(_) => return Err(shape("\"Router\" is not an object")),
    };

    let providers: Vec<Provider> = list.iter().enumerate().map(provider).collect();
    let mut plan = Plan::new(file, HINT);

    // Profile names for the providers that can be imported, in file order.
    let mut taken: Vec<String> = Vec::new();
    let mut names: Vec<Option<String>> = Vec::new();
    for (i, p) in providers.iter().enumerate() {
        names.push(p.parsed.as_ref().ok().map(|_| {
            let base = p
                .name
                .as_deref()
                .and_then(profile_name)
                .unwrap_or_else(|| format!("ccr-{}", i + 1));
            let name = unique_name(&base, &taken);
            taken.push(name.clone());
            name
        }));
    }

    // Router.default and Router.background: which provider, which model.
    let mut skipped = Vec::new();
    let mut target = |key: &str| -> Option<(usize, String)> {
        let value = router.get(key)?;
        let origin = format!("Router.{key}");
        let mut skip = |reason: String| {
            skipped.push(Skipped {
                origin: origin.clone(),
                reason,
                name: None,
            });
        };
        let text = value.as_str().map(str::trim).unwrap_or_default();
        if text.is_empty() && !value.is_string() {
            skip("it is not a \"provider,model\" text".into());
            return None;
        }
        if text.is_empty() {
            return None;
        }
        let Some((prov, model)) = text
            .split_once(',')
            .map(|(p, m)| (p.trim(), m.trim()))
            .filter(|(p, m)| !p.is_empty() && !m.is_empty())
        else {
            skip(format!("'{text}' is not \"provider,model\""));
            return None;
        };
        let found = providers
            .iter()
            .position(|p| p.name.as_deref() == Some(prov))
            .or_else(|| {
                providers.iter().position(|p| {
                    p.name
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(prov))
                })
            });
        match found {
            None => skip(format!(
                "'{text}' names provider '{prov}', which is not in Providers"
            )),
            Some(i) if names[i].is_none() => skip(format!(
                "'{text}': provider '{prov}' is not imported (see why above)"
            )),
            Some(i) => return Some((i, model.to_owned())),
        }
        None
    };
    let default = target("default");
    let background = target("background");

    for (i, p) in providers.into_iter().enumerate() {
        let parsed = match p.parsed {
            Ok(parsed) => parsed,
            Err(reason) => {
                plan.skipped.push(Skipped {
                    origin: p.origin,
                    reason,
                    name: p.name,
                });
                continue;
            }
        };
        let profile = names[i].clone().expect("named above");
        let mut endpoint = parsed.endpoint;
        let is_default = default.as_ref().is_some_and(|(d, _)| *d == i);
        if let Some((_, model)) = background.as_ref().filter(|(b, _)| *b == i)
            && is_default
        {
            endpoint.models.push(rule(BACKGROUND_PATTERN, model));
        }
        match (&default, &background) {
            (Some((d, model)), _) if *d == i => endpoint.models.push(rule("*", model)),
            (_, Some((b, model))) if *b == i => endpoint.models.push(rule("*", model)),
            _ => match parsed.models.first() {
                Some(first) => endpoint.models.push(rule("*", first)),
                None => plan.notes.push(format!(
                    "{}: no models listed; give it a model map (`qcc endpoint edit {profile} \
                     ID --model '*=MODEL'`)",
                    p.origin
                )),
            },
        }
        if !parsed.plain.is_empty() {
            plan.notes.push(format!(
                "{}: transformer{} {} not imported (qcc translates requests itself)",
                p.origin,
                if parsed.plain.len() == 1 { "" } else { "s" },
                parsed.plain.join(", ")
            ));
        }
        for t in parsed.with_options {
            plan.skipped.push(Skipped {
                origin: p.origin.clone(),
                reason: format!(
                    "transformer {t} not imported: qcc has no setting for its options (it \
                     translates requests itself)"
                ),
                name: p.name.clone(),
            });
        }
        let source_name = p.name.clone().unwrap_or_else(|| profile.clone());
        plan.profiles.push(Planned {
            profile: profile.clone(),
            origin: p.origin.clone(),
            source_name: Some(source_name.clone()),
            source_id: None,
            description: format!("claude-code-router provider '{source_name}'"),
            endpoint,
            current: is_default,
        });
    }
    if let Some((b, _)) = &background {
        plan.routes.push(PlannedRoute {
            pattern: BACKGROUND_PATTERN.into(),
            profile: names[*b].clone().expect("imported"),
            origin: "Router.background".into(),
        });
    }
    plan.skipped.extend(skipped);
    plan.skipped.extend(unsupported(&root, router));
    plan.notes.extend(settings_notes(&root));
    Ok(plan)
}

fn rule(pattern: &str, target: &str) -> ModelRule {
    ModelRule {
        pattern: pattern.to_owned(),
        target: target.to_owned(),
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Read `Providers[i]`.
fn provider((i, v): (usize, &Value)) -> Provider {
    let name = text(v.get("name"));
    let origin = match &name {
        Some(n) => format!("ccr provider '{n}'"),
        None => format!("ccr Providers[{i}]"),
    };
    let parsed = match v {
        Value::Object(p) if name.is_some() => endpoint(p),
        Value::Object(_) => Err("it has no name".into()),
        _ => Err("it is not an object".into()),
    };
    Provider {
        name,
        origin,
        parsed,
    }
}

/// A provider's endpoint: its URL split into a base (and chat path), its key, its kind.
fn endpoint(p: &Map<String, Value>) -> Result<Parsed, String> {
    let raw_url = text(p.get("api_base_url")).ok_or("no api_base_url")?;
    if has_var(&raw_url) {
        return Err(format!(
            "api_base_url '{raw_url}' uses an environment variable: qcc stores the URL \
             itself; add the endpoint with `qcc endpoint add`"
        ));
    }
    let transformers = Transformers::read(p.get("transformer"));
    let url = raw_url.trim_end_matches('/');
    let (kind, base, chat_path, auth) = if transformers.anthropic.is_some()
        || url.ends_with("/v1/messages")
    {
        let base = url.strip_suffix("/v1/messages").ok_or_else(|| {
            format!(
                "api_base_url '{raw_url}' (Anthropic transformer) does not end in \
                 /v1/messages, the path qcc sends Anthropic requests to"
            )
        })?;
        let auth = if transformers.anthropic == Some(true) {
            AuthStyle::Bearer
        } else {
            AuthStyle::ApiKey
        };
        (EndpointKind::Anthropic, base, None, auth)
    } else if let Some(base) = url.strip_suffix("/chat/completions") {
        // qcc's default path is /chat/completions after a base ending in /v1, else
        // /v1/chat/completions: name the path only when the default would miss.
        let chat_path = (!base.ends_with("/v1")).then(|| "/chat/completions".to_owned());
        (EndpointKind::Openai, base, chat_path, AuthStyle::Bearer)
    } else {
        let with = if transformers.plain.is_empty() {
            String::new()
        } else {
            format!(" (transformer {})", transformers.plain.join(", "))
        };
        return Err(format!(
            "api_base_url '{raw_url}'{with} is neither a Chat Completions URL (…/chat/completions) \
             nor an Anthropic one (…/v1/messages), the APIs qcc speaks"
        ));
    };
    let base = normalize_url(base).map_err(|e| format!("api_base_url: {e}"))?;
    let key = key(p.get("api_key"))?;
    let models = match p.get("models") {
        Some(Value::Array(m)) => m.iter().filter_map(|v| text(Some(v))).collect(),
        _ => Vec::new(),
    };
    Ok(Parsed {
        endpoint: NewEndpoint {
            name: None,
            url: base,
            key,
            auth,
            weight: WEIGHT_DEFAULT,
            models: Vec::new(),
            kind,
            chat_path,
        },
        models,
        plain: transformers.plain,
        with_options: transformers.with_options,
    })
}

/// `api_key`: `$VAR` or `${VAR}` alone is a reference to that variable (ccr reads it from
/// its environment, qcc from the daemon's); a key mixing text and variables cannot be
/// stored; anything else is the key.
fn key(v: Option<&Value>) -> Result<Credential, String> {
    let Some(raw) = v.and_then(Value::as_str) else {
        return Err("no api_key".into());
    };
    let t = raw.trim();
    if t.is_empty() {
        return Err("api_key is empty".into());
    }
    if let Some(var) = whole_var(t) {
        return KeyRef::parse(&format!("env:{var}"))
            .map(Credential::Ref)
            .map_err(|e| format!("api_key: {e}"));
    }
    if has_var(t) {
        return Err(
            "api_key mixes text with a ${VAR}: qcc reads a key whole, from one variable, a \
             file or a command; add it with `qcc endpoint add … --key-ref`"
                .into(),
        );
    }
    Ok(Credential::Value(Secret::new(t)))
}

/// The variable `t` is, if it is exactly one `${VAR}` or `$VAR` (ccr's unbraced form:
/// `[A-Z_][A-Z0-9_]*`).
fn whole_var(t: &str) -> Option<&str> {
    if let Some(inner) = t.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
        return (!inner.is_empty() && !inner.contains('}')).then_some(inner);
    }
    let rest = t.strip_prefix('$')?;
    (rest.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
        && rest
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
    .then_some(rest)
}

/// Whether ccr would interpolate anything in `t`.
fn has_var(t: &str) -> bool {
    t.match_indices('$').any(|(i, _)| {
        let rest = &t[i + 1..];
        match rest.strip_prefix('{') {
            Some(r) => r.find('}').is_some_and(|end| end > 0),
            None => rest.starts_with(|c: char| c.is_ascii_uppercase() || c == '_'),
        }
    })
}

/// A provider's `transformer`: `{"use": [NAME | [NAME, {options}]], MODEL: {"use": …}}`.
#[derive(Default)]
struct Transformers {
    /// Set when the provider-wide list has `Anthropic`: whether its `UseBearer` is on.
    anthropic: Option<bool>,
    /// Names, with `(for MODEL)` when model-specific.
    plain: Vec<String>,
    /// Names with options: `maxtoken (max_tokens)` — option names only, never values.
    with_options: Vec<String>,
}

impl Transformers {
    fn read(v: Option<&Value>) -> Self {
        let mut t = Transformers::default();
        let Some(Value::Object(map)) = v else {
            return t;
        };
        if let Some(list) = map.get("use") {
            t.add(list, None);
        }
        for (model, scoped) in map {
            if model != "use"
                && let Some(list) = scoped.get("use")
            {
                t.add(list, Some(model));
            }
        }
        t
    }

    fn add(&mut self, list: &Value, model: Option<&str>) {
        let Value::Array(items) = list else { return };
        let scope = model.map(|m| format!(" (for {m})")).unwrap_or_default();
        for item in items {
            let (name, options) = match item {
                Value::String(n) => (n.trim(), None),
                Value::Array(pair) => match pair.first().and_then(Value::as_str) {
                    Some(n) => (n.trim(), pair.get(1).and_then(Value::as_object)),
                    None => continue,
                },
                _ => continue,
            };
            if name.is_empty() {
                continue;
            }
            if model.is_none() && name.eq_ignore_ascii_case("anthropic") {
                let bearer = options
                    .and_then(|o| o.get("UseBearer"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                self.anthropic = Some(bearer);
                let rest: Vec<&str> = options
                    .into_iter()
                    .flat_map(|o| o.keys())
                    .map(String::as_str)
                    .filter(|k| *k != "UseBearer")
                    .collect();
                if !rest.is_empty() {
                    self.with_options
                        .push(format!("{name} ({}){scope}", rest.join(", ")));
                }
                continue;
            }
            match options.filter(|o| !o.is_empty()) {
                Some(o) => {
                    let keys: Vec<&str> = o.keys().map(String::as_str).collect();
                    self.with_options
                        .push(format!("{name} ({}){scope}", keys.join(", ")));
                }
                None => self.plain.push(format!("{name}{scope}")),
            }
        }
    }
}

/// What ccr routes on that qcc does not: each set `Router` scenario but `default` and
/// `background`, and a custom router script.
fn unsupported(root: &Map<String, Value>, router: &Map<String, Value>) -> Vec<Skipped> {
    let mut out = Vec::new();
    let skip = |origin: &str, reason: String| Skipped {
        origin: origin.to_owned(),
        reason,
        name: None,
    };
    for (key, value) in router {
        if matches!(
            key.as_str(),
            "default" | "background" | "longContextThreshold"
        ) {
            continue;
        }
        let Some(target) = text(Some(value)) else {
            continue;
        };
        let why = match key.as_str() {
            "think" => "not by whether a request thinks".to_owned(),
            "longContext" => {
                let threshold = router
                    .get("longContextThreshold")
                    .and_then(Value::as_u64)
                    .unwrap_or(60_000);
                format!("not by a request's length (over {threshold} tokens)")
            }
            "webSearch" => "not by the tools a request has".to_owned(),
            "image" => "not by whether a request has images".to_owned(),
            _ => "not by ccr's other scenarios".to_owned(),
        };
        out.push(skip(
            &format!("Router.{key}"),
            format!("'{target}': qcc routes by the model asked for, {why}"),
        ));
    }
    if let Some(path) = text(root.get("CUSTOM_ROUTER_PATH")) {
        out.push(skip(
            "CUSTOM_ROUTER_PATH",
            format!("{path}: qcc runs no router script; add routes with `qcc route add`"),
        ));
    }
    out
}

/// Notes on ccr's own settings that have no counterpart.
fn settings_notes(root: &Map<String, Value>) -> Vec<String> {
    let mut notes = Vec::new();
    if text(root.get("APIKEY")).is_some() {
        notes.push(
            "APIKEY (the key clients give ccr) not imported: qcc's proxy on loopback needs \
             none, and has its own access token off loopback"
                .into(),
        );
    }
    if text(root.get("PROXY_URL")).is_some() {
        // Not shown: a proxy URL can hold credentials.
        notes.push("PROXY_URL not imported: qcc connects to providers directly".into());
    }
    if root
        .get("transformers")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty())
    {
        notes.push(
            "custom transformers (\"transformers\") not imported: qcc runs no plugins".into(),
        );
    }
    notes
}
