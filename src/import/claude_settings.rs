//! Claude Code's `settings.json` (user or project) as a plan: its `env` (and
//! `apiKeyHelper`) describe one provider, which becomes one profile named after the base
//! URL's host. Reading the file is the caller's; what the variables mean is
//! [`super::from_settings`].

use serde_json::Value;

use super::{ImportError, Plan, Planned, from_settings, parse_json, profile_name};

/// What to say when the file has nothing to import.
const HINT: &str = "Claude Code settings need env.ANTHROPIC_AUTH_TOKEN or env.ANTHROPIC_API_KEY \
(or apiKeyHelper), and env.ANTHROPIC_BASE_URL for anything but api.anthropic.com";

/// Plan the import of the settings file `file` holding `bytes`.
pub fn plan(bytes: &[u8], file: &str) -> Result<Plan, ImportError> {
    let doc = parse_json(bytes, file)?;
    let Value::Object(root) = doc else {
        return Err(ImportError::Shape {
            file: file.to_owned(),
            what: "the file is not a JSON object".into(),
        });
    };
    let origin = file.to_owned();
    let mut plan = Plan::new(file, HINT);
    match from_settings(&root) {
        Ok(found) => {
            let host = url::Url::parse(&found.endpoint.url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default();
            plan.notes = found.notes;
            plan.profiles.push(Planned {
                profile: profile_name(&host).unwrap_or_else(|| "claude-settings".into()),
                origin: origin.clone(),
                source_name: None,
                source_id: None,
                description: format!("Imported from {file}"),
                endpoint: found.endpoint,
                current: true,
            });
        }
        Err(reason) => {
            return Err(ImportError::Nothing {
                file: file.to_owned(),
                reasons: vec![reason],
                hint: HINT.into(),
            });
        }
    }
    Ok(plan)
}
