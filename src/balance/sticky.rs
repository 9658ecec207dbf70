//! Sticky conversations: requests of one conversation keep going to the endpoint that served
//! the previous turn while it stays available, so the provider's prompt cache stays warm.
//! The conversation is named by Claude Code's `x-claude-code-session-id` header, else by the
//! session inside the body's `metadata.user_id`. Pins expire after a TTL of inactivity.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Conversation → endpoint id.
#[derive(Default)]
pub struct StickyMap {
    pins: Mutex<HashMap<String, (String, Instant)>>,
}

impl StickyMap {
    /// The endpoint pinned for `session`, if the pin is younger than `ttl`.
    pub fn get(&self, session: &str, ttl: Duration) -> Option<String> {
        let pins = self
            .pins
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pins.get(session)
            .filter(|(_, at)| at.elapsed() < ttl)
            .map(|(id, _)| id.clone())
    }

    /// Pin (or re-pin) `session` to `endpoint`, refreshing its TTL.
    pub fn pin(&self, session: &str, endpoint: &str) {
        let mut pins = self
            .pins
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match pins.get_mut(session) {
            Some((id, at)) => {
                if id != endpoint {
                    *id = endpoint.to_owned();
                }
                *at = Instant::now();
            }
            None => {
                pins.insert(session.to_owned(), (endpoint.to_owned(), Instant::now()));
            }
        }
    }

    /// Drop pins idle for longer than `ttl`.
    pub fn sweep(&self, ttl: Duration) {
        self.pins
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, (_, at)| at.elapsed() < ttl);
    }

    /// Live pins per endpoint id.
    pub fn counts(&self, ttl: Duration) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for (id, at) in self
            .pins
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
        {
            if at.elapsed() < ttl {
                *out.entry(id.clone()).or_default() += 1;
            }
        }
        out
    }
}

/// The conversation a request belongs to: the `x-claude-code-session-id` header, else the
/// session in `metadata.user_id` (a JSON string with `session_id`, or the older
/// `user_…_session_<uuid>` form), else the whole `user_id`.
pub fn session_key(header: Option<&str>, user_id: Option<&str>) -> Option<String> {
    if let Some(h) = header.map(str::trim).filter(|h| !h.is_empty()) {
        return Some(h.to_owned());
    }
    let user_id = user_id.map(str::trim).filter(|u| !u.is_empty())?;
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(user_id)
        && let Some(s) = v["session_id"].as_str().filter(|s| !s.is_empty())
    {
        return Some(s.to_owned());
    }
    if let Some((_, s)) = user_id.rsplit_once("_session_") {
        return Some(s.to_owned());
    }
    Some(user_id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_from_header_then_body() {
        assert_eq!(session_key(Some("abc"), Some("x")).as_deref(), Some("abc"));
        assert_eq!(
            session_key(
                None,
                Some(r#"{"device_id":"d","account_uuid":"","session_id":"s-1"}"#)
            )
            .as_deref(),
            Some("s-1")
        );
        assert_eq!(
            session_key(None, Some("user_abc_account__session_uuid-9")).as_deref(),
            Some("uuid-9")
        );
        assert_eq!(session_key(None, Some("plain")).as_deref(), Some("plain"));
        assert_eq!(session_key(Some(" "), None), None);
    }

    #[test]
    fn pins_expire_and_move() {
        let m = StickyMap::default();
        m.pin("s", "a");
        assert_eq!(m.get("s", Duration::from_secs(60)).as_deref(), Some("a"));
        m.pin("s", "b");
        assert_eq!(m.get("s", Duration::from_secs(60)).as_deref(), Some("b"));
        assert_eq!(m.get("s", Duration::ZERO), None);
        assert_eq!(m.counts(Duration::from_secs(60))["b"], 1);
        m.sweep(Duration::ZERO);
        assert!(m.counts(Duration::from_secs(60)).is_empty());
    }
}
