//! The whole-config check: everything the domain rules enforce one change at a time
//! (`model`), checked at once over a config that arrived whole — `qcc config import`, `qcc
//! config edit`. Pure; the first problem is reported with where it is
//! (`profiles[1].endpoints[0].url: …`). Not here: the rules themselves (`model`), reading
//! or writing files (`store`, the CLI).

use std::collections::HashSet;

use crate::state::model::{
    CONFIG_VERSION, Config, ModelError, check_kind, normalize_url, validate_profile_name,
    validate_weight,
};
use crate::state::models::check_pattern;

/// The first thing wrong with a config, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{place}: {problem}")]
pub struct Invalid {
    pub place: String,
    pub problem: String,
    pub hint: Option<String>,
}

fn invalid(place: impl Into<String>, problem: impl Into<String>) -> Invalid {
    Invalid {
        place: place.into(),
        problem: problem.into(),
        hint: None,
    }
}

fn from_model(place: String, e: ModelError) -> Invalid {
    Invalid {
        place,
        problem: e.to_string(),
        hint: e.hint(),
    }
}

/// Check a whole config.
pub fn validate(c: &Config) -> Result<(), Invalid> {
    if c.version == 0 || c.version > CONFIG_VERSION {
        return Err(invalid(
            "version",
            format!(
                "{} is not a config version this qcc reads (it reads {CONFIG_VERSION})",
                c.version
            ),
        ));
    }
    let mut names = HashSet::new();
    let mut ids = HashSet::new();
    for (pi, p) in c.profiles.iter().enumerate() {
        let place = format!("profiles[{pi}]");
        validate_profile_name(&p.name).map_err(|e| from_model(format!("{place}.name"), e))?;
        if !names.insert(p.name.as_str()) {
            return Err(invalid(
                format!("{place}.name"),
                format!("profile '{}' appears twice", p.name),
            ));
        }
        if let Some(w) = &p.score {
            w.check().map_err(|err| Invalid {
                place: format!("{place}.score"),
                problem: err.to_string(),
                hint: Some(err.hint().to_owned()),
            })?;
        }
        for (ei, e) in p.endpoints.iter().enumerate() {
            let place = format!("{place}.endpoints[{ei}]");
            if e.id.trim().is_empty() {
                return Err(invalid(format!("{place}.id"), "an endpoint has no id"));
            }
            if !ids.insert(e.id.to_ascii_lowercase()) {
                return Err(invalid(
                    format!("{place}.id"),
                    format!("endpoint id '{}' appears twice", e.id),
                ));
            }
            let normal =
                normalize_url(&e.url).map_err(|err| from_model(format!("{place}.url"), err))?;
            if normal != e.url.trim_end_matches('/') && normal != e.url {
                return Err(invalid(
                    format!("{place}.url"),
                    format!(
                        "'{}' is not a normalised base URL (write '{normal}')",
                        e.url
                    ),
                ));
            }
            validate_weight(u32::from(e.weight))
                .map_err(|err| from_model(format!("{place}.weight"), err))?;
            check_kind(e.kind, e.auth, e.chat_path.as_deref())
                .map_err(|err| from_model(format!("{place}.kind"), err))?;
            crate::state::models::check_unique(&e.models).map_err(|err| Invalid {
                place: format!("{place}.models"),
                problem: err.to_string(),
                hint: Some(err.hint().to_owned()),
            })?;
            e.limits.check().map_err(|err| Invalid {
                place: format!("{place}.limits"),
                problem: err.to_string(),
                hint: Some(err.hint()),
            })?;
            match (&e.key_ref, e.key.expose().trim().is_empty()) {
                (None, true) => {
                    return Err(invalid(
                        format!("{place}.key"),
                        "the endpoint has neither a key nor a key_ref",
                    ));
                }
                (Some(_), false) => {
                    return Err(invalid(
                        format!("{place}.key"),
                        "the endpoint has both a key and a key_ref: keep one",
                    ));
                }
                _ => {}
            }
        }
    }
    // Names: never another endpoint's id (it could not be looked up).
    for (pi, p) in c.profiles.iter().enumerate() {
        for (ei, e) in p.endpoints.iter().enumerate() {
            if let Some(n) = e.name.as_deref().map(str::trim).filter(|n| !n.is_empty())
                && c.endpoints()
                    .any(|(_, other)| other.id != e.id && other.id.eq_ignore_ascii_case(n))
            {
                return Err(invalid(
                    format!("profiles[{pi}].endpoints[{ei}].name"),
                    format!("the name '{n}' is another endpoint's id"),
                ));
            }
        }
    }
    if let Some(active) = &c.active
        && !names.contains(active.as_str())
    {
        return Err(invalid("active", format!("no profile named '{active}'")));
    }
    let mut tiered = HashSet::new();
    for (tier, name) in c.tiers.ordered() {
        if !names.contains(name) {
            return Err(invalid(
                format!("tiers.{tier}"),
                format!("no profile named '{name}'"),
            ));
        }
        if !tiered.insert(name) {
            return Err(invalid(
                format!("tiers.{tier}"),
                format!("profile '{name}' is in the tiers twice"),
            ));
        }
    }
    let mut patterns = HashSet::new();
    for (ri, r) in c.routes.iter().enumerate() {
        let place = format!("routes[{ri}]");
        match check_pattern(&r.model) {
            Ok(p) if p == r.model => {}
            Ok(_) => {
                return Err(invalid(
                    format!("{place}.model"),
                    format!("'{}' has white space around it", r.model),
                ));
            }
            Err(e) => {
                return Err(Invalid {
                    place: format!("{place}.model"),
                    problem: e.to_string(),
                    hint: Some(e.hint().into()),
                });
            }
        }
        if !patterns.insert(r.model.as_str()) {
            return Err(invalid(
                format!("{place}.model"),
                format!("the pattern '{}' has a route twice", r.model),
            ));
        }
        if !names.contains(r.profile.as_str()) {
            return Err(invalid(
                format!("{place}.profile"),
                format!("no profile named '{}'", r.profile),
            ));
        }
    }
    if let Some(url) = c.proxy.shared_state.as_deref()
        && !url.trim().is_empty()
        && !url.trim().eq_ignore_ascii_case("none")
    {
        crate::state::shared::check_url(url).map_err(|e| Invalid {
            place: "proxy.shared_state".into(),
            problem: e.to_string(),
            hint: Some(crate::state::shared::BadSharedUrl::hint().into()),
        })?;
    }
    if c.proxy.shared_timeout_ms == 0 || c.proxy.shared_timeout_ms > 10_000 {
        return Err(invalid(
            "proxy.shared_timeout_ms",
            format!(
                "{} ms is not between 1 and 10000",
                c.proxy.shared_timeout_ms
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: serde_json::Value) -> Config {
        serde_json::from_value(json).unwrap()
    }

    fn good() -> serde_json::Value {
        serde_json::json!({
            "version": 1, "active": "work",
            "profiles": [
                {"name": "work", "created_at": "2026-01-01T00:00:00Z", "endpoints": [
                    {"id": "aaa111", "url": "https://api.anthropic.com", "key": "sk-1", "weight": 100},
                    {"id": "bbb222", "name": "relay", "url": "https://relay.example/api", "key_ref": "env:K"}
                ]},
                {"name": "spare", "created_at": "2026-01-01T00:00:00Z"}
            ],
            "tiers": {"primary": ["work"], "secondary": ["spare"]},
            "proxy": {"shared_state": "redis://127.0.0.1:6379/0"},
            "routes": [
                {"model": "claude-haiku-*", "profile": "spare"},
                {"model": "claude-opus-*", "profile": "work"}
            ]
        })
    }

    #[test]
    fn a_good_config_passes() {
        validate(&config(good())).unwrap();
        let mut v = good();
        v.as_object_mut().unwrap().remove("routes");
        validate(&config(v)).unwrap();
        validate(&Config::default()).unwrap();
    }

    #[test]
    fn each_problem_is_named_with_its_place() {
        let cases: [(&str, serde_json::Value, &str); 15] = [
            (
                "/proxy",
                serde_json::json!({"shared_state": "redis:/x/y"}),
                "proxy.shared_state",
            ),
            (
                "/proxy",
                serde_json::json!({"shared_timeout_ms": 0}),
                "proxy.shared_timeout_ms",
            ),
            ("/version", 9.into(), "version"),
            ("/profiles/1/name", "work".into(), "profiles[1].name"),
            ("/profiles/1/name", "-bad".into(), "profiles[1].name"),
            (
                "/profiles/0/endpoints/1/id",
                "AAA111".into(),
                "profiles[0].endpoints[1].id",
            ),
            (
                "/profiles/0/endpoints/0/url",
                "ftp://x".into(),
                "profiles[0].endpoints[0].url",
            ),
            (
                "/profiles/0/endpoints/0/weight",
                0.into(),
                "profiles[0].endpoints[0].weight",
            ),
            (
                "/profiles/0/endpoints/0/key",
                "".into(),
                "profiles[0].endpoints[0].key",
            ),
            ("/active", "gone".into(), "active"),
            ("/tiers/secondary/0", "gone".into(), "tiers.secondary"),
            ("/routes/1/profile", "gone".into(), "routes[1].profile"),
            (
                "/routes/1/model",
                "claude-haiku-*".into(),
                "routes[1].model",
            ),
            ("/routes/0/model", "".into(), "routes[0].model"),
            ("/routes/0/model", " claude-* ".into(), "routes[0].model"),
        ];
        for (pointer, value, place) in cases {
            let mut v = good();
            *v.pointer_mut(pointer).unwrap() = value;
            let e = validate(&config(v)).unwrap_err();
            assert_eq!(e.place, place, "{pointer}: {e}");
        }
        let mut v = good();
        v["profiles"][0]["endpoints"][1]["name"] = "aaa111".into();
        assert_eq!(
            validate(&config(v)).unwrap_err().place,
            "profiles[0].endpoints[1].name"
        );
        let mut v = good();
        v["profiles"][0]["endpoints"][1]["key"] = "sk-2".into();
        assert!(validate(&config(v)).unwrap_err().problem.contains("both"));
        let mut v = good();
        v["profiles"][0]["endpoints"][0]["limits"] = serde_json::json!({"rpm": 0});
        assert_eq!(
            validate(&config(v)).unwrap_err().place,
            "profiles[0].endpoints[0].limits"
        );
        let mut v = good();
        v["profiles"][0]["endpoints"][0]["limits"] = serde_json::json!({"budget_day_usd": -2.0});
        assert!(
            validate(&config(v))
                .unwrap_err()
                .problem
                .contains("positive")
        );
        let mut v = good();
        v["profiles"][0]["endpoints"][0]["limits"] =
            serde_json::json!({"rpm": 5, "budget_month_usd": 20.5});
        validate(&config(v)).unwrap();
        let mut v = good();
        v["tiers"]["secondary"] = serde_json::json!(["work"]);
        assert!(validate(&config(v)).unwrap_err().problem.contains("twice"));
    }
}
