//! The shared-state URL (`proxy.shared_state`, or `QCC_REDIS_URL` in the daemon's
//! environment): a Redis server several daemons keep their limits' counters and breaker
//! trips in (docs/team.md). Pure: parsing, checking and masking the URL; the client is
//! `crate::shared`.

/// The daemon's environment variable for the URL; it wins over `proxy.shared_state`.
pub const REDIS_URL_ENV: &str = "QCC_REDIS_URL";

/// A shared-state URL that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{url}' is not a Redis URL: {reason}")]
pub struct BadSharedUrl {
    /// The URL with any password masked.
    pub url: String,
    pub reason: String,
}

impl BadSharedUrl {
    pub fn hint() -> &'static str {
        "write redis://HOST:PORT/DB or rediss://HOST:PORT/DB (TLS), e.g. redis://127.0.0.1:6379/0; \
         \"none\" or no value turns sharing off"
    }
}

/// Check a shared-state URL: `redis://` or `rediss://`, a host, an optional port, an
/// optional database number as the path (`/0`…), no query or fragment. Returns it trimmed.
pub fn check_url(raw: &str) -> Result<String, BadSharedUrl> {
    let trimmed = raw.trim();
    let bad = |reason: &str| BadSharedUrl {
        url: mask(trimmed),
        reason: reason.to_owned(),
    };
    let parsed = url::Url::parse(trimmed).map_err(|e| match e {
        url::ParseError::RelativeUrlWithoutBase => bad("it has no scheme (redis:// or rediss://)"),
        e => bad(&e.to_string()),
    })?;
    if !matches!(parsed.scheme(), "redis" | "rediss") {
        return Err(bad(&format!(
            "the scheme '{}' is not redis or rediss",
            parsed.scheme()
        )));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("it has no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("it has a query or a fragment"));
    }
    let db = parsed.path().trim_start_matches('/');
    if !db.is_empty() && db.parse::<u16>().is_err() {
        return Err(bad(&format!("the database '{db}' is not a number")));
    }
    Ok(trimmed.to_owned())
}

/// The URL as it may be shown or logged: a password replaced by `***`.
pub fn mask(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => raw.to_owned(),
    }
}

/// Where the URL in force comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Env,
    Config,
}

/// The URL the daemon uses: `QCC_REDIS_URL` when it is set and not empty (`none` turns
/// sharing off whatever the config says), else `proxy.shared_state` (`none` or empty: off).
pub fn resolve(env: Option<&str>, config: Option<&str>) -> Option<(String, Source)> {
    fn set(v: Option<&str>) -> Option<&str> {
        v.map(str::trim).filter(|v| !v.is_empty())
    }
    match set(env) {
        Some(v) if v.eq_ignore_ascii_case("none") => None,
        Some(v) => Some((v.to_owned(), Source::Env)),
        None => set(config)
            .filter(|v| !v.eq_ignore_ascii_case("none"))
            .map(|v| (v.to_owned(), Source::Config)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        for good in [
            "redis://127.0.0.1:6379/0",
            "redis://localhost",
            "rediss://cache.example:6380/3",
            "redis://:secret@host:1/2",
            " redis://h:1 ",
        ] {
            check_url(good).unwrap();
        }
        for (bad, why) in [
            ("127.0.0.1:6379", "scheme"),
            ("http://h:1", "scheme"),
            ("redis://", "host"),
            ("redis://h:1/x", "database"),
            ("redis://h:99999", "port"),
            ("redis://h/0?x=1", "query"),
            ("not a url", "scheme"),
        ] {
            let e = check_url(bad).unwrap_err();
            assert!(e.to_string().contains(why), "{bad}: {e}");
        }
        let e = check_url("redis://:hunter2@h/x").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert_eq!(mask("redis://u:pw@h:1/0"), "redis://u:***@h:1/0");
    }

    #[test]
    fn the_environment_wins() {
        let c = Some("redis://c/0");
        assert_eq!(
            resolve(None, c),
            Some(("redis://c/0".into(), Source::Config))
        );
        assert_eq!(
            resolve(Some("redis://e/1"), c),
            Some(("redis://e/1".into(), Source::Env))
        );
        assert_eq!(resolve(Some(" "), c).unwrap().1, Source::Config);
        assert_eq!(resolve(Some("none"), c), None);
        assert_eq!(resolve(None, Some("none")), None);
        assert_eq!(resolve(None, None), None);
    }
}
