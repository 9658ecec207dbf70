//! API keys: a wrapper that never prints itself, and the masking rule used everywhere
//! (`sk-ant-api03-…9f2c`).

use serde::{Deserialize, Serialize};

/// An endpoint credential. Serialized in full (state files are 0600); `Debug` and `Display`
/// show only the masked form.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The real value, for the few places that must send or export it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({})", self.masked())
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked())
    }
}

/// Mask a key: keep a recognisable prefix (up to the last `-` within the first 13 characters,
/// e.g. `sk-ant-api03-`) and the last 4 characters; short keys show only their last 2.
pub fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let n = chars.len();
    if n == 0 {
        return String::new();
    }
    if n <= 12 {
        let tail: String = chars[n.saturating_sub(2)..].iter().collect();
        return format!("…{tail}");
    }
    let head_len = chars
        .iter()
        .take(13)
        .rposition(|&c| c == '-' || c == '_')
        .map(|i| i + 1)
        .unwrap_or(3)
        .min(n - 8);
    let head: String = chars[..head_len].iter().collect();
    let tail: String = chars[n - 4..].iter().collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_anthropic_keys_with_prefix_and_tail() {
        assert_eq!(
            mask("sk-ant-api03-abcdefghijklmnop9f2c"),
            "sk-ant-api03-…9f2c"
        );
        assert_eq!(mask("sk-abcdefghijklmnopqrstu"), "sk-…rstu");
    }

    #[test]
    fn short_and_plain_keys_reveal_little() {
        assert_eq!(mask("abc"), "…bc");
        assert_eq!(mask(""), "");
        assert_eq!(mask("abcdefghijklmnopq"), "abc…nopq");
        // A long dash-free prefix never reveals more than 3 characters.
        assert!(!mask("0123456789abcdef0123").contains("0123456"));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let s = Secret::new("sk-ant-api03-SECRETSECRETSECRET1234");
        assert!(!format!("{s:?}").contains("SECRETSECRET"));
        assert!(!format!("{s}").contains("SECRETSECRET"));
    }
}
